"""``openfyp train``: rebuild the For You models from this region's event log, with a progress bar."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def train(
        config: str = typer.Option("default", help="Ranking config: a name in recsys/configs/ or a JSON path."),
        embedding: str = typer.Option("als", help="Embedding model: als or bpr."),
        activate: bool = typer.Option(True, help="Point 'current' at the new version so servers pick it up."),
        as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON instead of a summary."),
    ) -> None:
        """Train embeddings, co-watch and the multi-task ranker; save a versioned artifact under models_dir."""
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from openfyp.recsys.contracts import RecsysError
        from openfyp.recsys.ranking.config import load_ranking_config
        from openfyp.recsys.training import TrainingConfig
        from openfyp.recsys.training import train as run_training
        from openfyp.services import open_event_log
        from openfyp.settings import get_settings
        from openfyp.store import make_engine, make_session_factory, migrate

        console = Console(stderr=True)
        settings = get_settings()
        if embedding not in ("als", "bpr"):
            raise typer.BadParameter("use als or bpr", param_hint="--embedding")
        try:
            ranking_config = load_ranking_config(Path(config) if config.endswith(".json") else config)
        except RecsysError as exc:
            raise typer.BadParameter(exc.message, param_hint="--config") from None
        settings.ensure_dirs()
        engine = make_engine(settings.resolved_database_url)
        migrate(engine)
        session_factory = make_session_factory(engine)
        # Events a server acknowledged but (stopped, or killed) had not moved into the table yet go in first.
        event_log = open_event_log(settings, session_factory)
        event_log.settle()
        event_log.close()
        try:
            with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(),
                          console=console, transient=as_json) as progress:
                task = progress.add_task("starting", total=1.0)
                report = run_training(settings, session_factory,
                                      config=TrainingConfig(embedding_model=embedding),
                                      ranking_config=ranking_config, activate=activate,
                                      progress=lambda step, done: progress.update(task, description=step,
                                                                                  completed=done))
        except RecsysError as exc:
            console.print(f"[red]training failed[/red] ({exc.code}): {exc.message}")
            raise typer.Exit(1) from None
        finally:
            engine.dispose()
        manifest = report.artifact.manifest
        if as_json:
            typer.echo(json.dumps(json.loads(manifest.model_dump_json()), indent=2))
            return
        console.print(f"model [bold]{manifest.version}[/bold] for region {manifest.region} "
                      f"in {report.seconds:.1f}s ({'active' if report.activated else 'not activated'})")
        console.print(f"events {manifest.event_seq_from}..{manifest.event_seq_to}, rows {manifest.rows}")
        for task_name, metrics in manifest.metrics.get("ranker", {}).items():
            shown = {k: round(v, 4) for k, v in metrics.items() if k.startswith(("validation", "heuristic"))}
            console.print(f"  ranker {task_name}: {shown}")
        for task_name, why in manifest.metrics.get("ranker_skipped", {}).items():
            console.print(f"  ranker {task_name}: heuristic ({why})")
        typer.echo(manifest.version)
