"""``openfyp demo``: build the demo catalog and audience into the data directory."""

from __future__ import annotations

import time

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        clips: int = typer.Option(300, min=1, help="How many clips the creators upload."),
        creators: int = typer.Option(50, min=1, help="How many creators."),
        viewers: int = typer.Option(300, min=1, help="How many simulated viewers."),
        rounds: int = typer.Option(2, min=1, help="Rounds of viewing, each followed by training."),
        seed: int = typer.Option(7, help="Seed for the catalog and the audience."),
        force: bool = typer.Option(False, help="Build again even if this data directory has a demo."),
    ) -> None:
        """Generate a catalog, simulate viewers through the real API and train the For You engine."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from openfyp.demo.build import (CREATOR_PASSWORD, DEMO_LOGIN, DemoBuilder, DemoOptions, write_hidden_traits,
                                        write_summary)
        from openfyp.services import build_services
        from openfyp.settings import get_settings

        console = Console()
        settings = get_settings()
        summary = settings.data_dir / "demo.json"
        if summary.exists() and not force:
            console.print(f"A demo is already built in {settings.data_dir} (use --force to rebuild).")
            raise typer.Exit(0)
        options = DemoOptions(seed=seed, creators=creators, clips=clips, viewers=viewers, rounds=rounds)
        # Demo clips are synthetic and small; a faster x264 preset halves the build time at no visible cost.
        services = build_services(settings.model_copy(update={"job_workers": 0, "transcode_preset": "superfast"}))
        started = time.perf_counter()
        tasks: dict[str, int] = {}
        with Progress(TextColumn("{task.description:<44}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as progress:
            def report(label: str, done: int, total: int) -> None:
                if label not in tasks:
                    tasks[label] = progress.add_task(label, total=total)
                progress.update(tasks[label], completed=done, total=total)

            try:
                result = DemoBuilder(services, options, report).run()
            finally:
                services.close()
        result.seconds["total"] = time.perf_counter() - started
        write_hidden_traits(settings.data_dir, result)
        write_summary(summary, result, options, settings.public_base_url)
        console.print(f"\n[bold]openfyp demo ready[/] in {result.seconds['total']:.0f} s: "
                      f"{result.videos_ready} videos, {result.viewers} viewers, {result.events} events.")
        console.print(f"Open {settings.public_base_url} (after `openfyp serve`) and sign in as "
                      f"[bold]{DEMO_LOGIN[0]}[/] / [bold]{DEMO_LOGIN[1]}[/] — a viewer into cooking and cats.")
        console.print(f"Creators: e.g. [bold]ana_cooking[/] / [bold]{CREATOR_PASSWORD}[/].")
