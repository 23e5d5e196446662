"""``openfyp serve``: the web app under uvicorn."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", help="Address to listen on."),
        port: int = typer.Option(8000, help="Port to listen on."),
    ) -> None:
        """Serve openfyp (API, web client and media) on embedded defaults unless OPENFYP_* says otherwise."""
        import uvicorn

        from openfyp.settings import get_settings
        from openfyp.web.app import create_app

        settings = get_settings()
        typer.echo(f"openfyp region={settings.region} data={settings.data_dir} -> http://{host}:{port}")
        uvicorn.run(create_app(settings=settings), host=host, port=port, log_level="info")
