"""``openfyp serve``: the web app under uvicorn, in one process or several."""

from __future__ import annotations

import os

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", help="Address to listen on."),
        port: int = typer.Option(8000, help="Port to listen on."),
        workers: int = typer.Option(None, min=1, max=64, help=(
            "Server processes sharing the port and the database (default: OPENFYP_WEB_WORKERS, else 1). Use "
            "up to one per core: each holds its own copy of the models and online state.")),
        access_log: bool = typer.Option(True, help="Log every request (a line each, some CPU per request)."),
    ) -> None:
        """Serve openfyp (API, web client and media) on embedded defaults unless OPENFYP_* says otherwise."""
        import uvicorn

        from openfyp.settings import get_settings
        from openfyp.web.app import create_app

        settings = get_settings()
        workers = workers or settings.web_workers
        typer.echo(f"openfyp region={settings.region} data={settings.data_dir} workers={workers} "
                   f"-> http://{host}:{port}")
        if workers == 1:
            uvicorn.run(create_app(settings=settings), host=host, port=port, log_level="info",
                        access_log=access_log)
            return
        prepare_shared_state(settings)
        os.environ["OPENFYP_WEB_WORKERS"] = str(workers)  # each worker reads its settings from the environment
        uvicorn.run("openfyp.web.app:create_app", factory=True, workers=workers, host=host, port=port,
                    log_level="info", access_log=access_log)


def prepare_shared_state(settings) -> None:
    """What the worker processes must not race each other for, done once here before any of them starts: the
    schema migrated and the signing key made. (Each worker settles the event log and repairs interrupted
    like/save/follow state as it starts; those writes skip what another worker already wrote.)"""
    from openfyp.store import make_engine, migrate

    settings.ensure_dirs()
    settings.resolved_secret_key()
    engine = make_engine(settings.resolved_database_url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
