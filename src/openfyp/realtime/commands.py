"""``openfyp realtime …``: look at the online learner's durable state, or make it start over."""

from __future__ import annotations

import json

import typer


def register(app: typer.Typer) -> None:
    realtime = typer.Typer(help="The online learner: its checkpoint, its lag behind the event log.",
                           no_args_is_help=True)
    app.add_typer(realtime, name="realtime")

    @realtime.command()
    def status(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
        """Where the learner's last checkpoint stands against the head of the event log."""
        import numpy as np

        from openfyp.realtime.wiring import checkpoint_path
        from openfyp.services import open_event_log
        from openfyp.settings import get_settings
        from openfyp.store import make_engine, make_session_factory

        settings = get_settings()
        path = checkpoint_path(settings)
        engine = make_engine(settings.resolved_database_url)
        event_log = open_event_log(settings, make_session_factory(engine))
        try:
            head = event_log.head()  # staged events included
        finally:
            event_log.close()
            engine.dispose()
        report: dict = {"checkpoint": str(path), "log_head": head}
        if path.is_file():
            with np.load(path, allow_pickle=False) as data:
                position = int(data["_position"])
                report.update({
                    "position": position, "lag": max(0, head - position), "base": str(data["_identity"]),
                    "users_with_vectors": len(data["users_vector_ids"]) if "users_vector_ids" in data else 0,
                    "videos_with_vectors": len(data["videos_vector_ids"]) if "videos_vector_ids" in data else 0,
                    "cowatch_links": len(data["cowatch_heads"]) if "cowatch_heads" in data else 0,
                })
        else:
            report["position"] = None
        if as_json:
            typer.echo(json.dumps(report, indent=2))
            return
        if report["position"] is None:
            typer.echo(f"no checkpoint yet ({path}); the log head is at {head}")
            return
        typer.echo(f"learner checkpoint at {report['position']} of {head} (lag {report['lag']}), "
                   f"based on {report['base']}")
        typer.echo(f"  vectors: {report['users_with_vectors']} viewers, {report['videos_with_vectors']} videos; "
                   f"co-watch links: {report['cowatch_links']}")

    @realtime.command()
    def reset(yes: bool = typer.Option(False, "--yes", help="Do not ask.")) -> None:
        """Delete the learner's checkpoint: the next server start rebuilds the online state from the log."""
        from openfyp.realtime.wiring import checkpoint_path
        from openfyp.settings import get_settings

        path = checkpoint_path(get_settings())
        if not path.is_file():
            typer.echo("no checkpoint to delete")
            return
        if not yes and not typer.confirm(f"delete {path}?"):
            raise typer.Exit(1)
        path.unlink()
        typer.echo(f"deleted {path}")
