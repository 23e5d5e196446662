"""``openfyp eval``: compare openfyp's engine with baselines on an interaction file.

Heavy libraries load inside the command, so registering it keeps ``openfyp --help`` fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer


def _csv_list(text: str, field: str, cast=str) -> list[Any]:
    try:
        values = [cast(part.strip()) for part in text.split(",") if part.strip()]
    except ValueError:
        raise _UsageError("bad_option", f"--{field} must be a comma-separated list", field) from None
    if not values:
        raise _UsageError("bad_option", f"--{field} must not be empty", field)
    return values


class _UsageError(Exception):
    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


def _fail(error: Any, as_json: bool) -> None:
    payload = {"error": {"code": error.code, "message": error.message, "field": getattr(error, "field", None)}}
    if as_json:
        typer.echo(json.dumps(payload))
    else:
        typer.echo(f"error [{error.code}]: {error.message}", err=True)
    raise typer.Exit(code=2)


def print_table(result, console) -> None:
    """Metrics as rows and models as columns, best mean in bold; narrow enough for a terminal."""
    from rich.table import Table

    summary = result.summary("test")
    first = result.config.ks[0]
    metrics = [f"{m}@{first}" for m in ("ndcg", "recall", "mrr", "hit", "precision", "coverage", "novelty")]
    metrics += [f"{m}@{k}" for k in result.config.ks[1:] for m in ("ndcg", "recall")]
    table = Table(title=f"test, mean±std over seeds {','.join(map(str, result.config.seeds))} "
                        f"({result.config.protocol})")
    table.add_column("metric", no_wrap=True)
    for name in summary:
        table.add_column(name, justify="right", no_wrap=True)
    for metric in metrics:
        best = max(summary[n][metric]["mean"] for n in summary)
        cells = []
        for name in summary:
            value = summary[name][metric]
            text = f"{value['mean']:.4f}±{value['std']:.3f}"
            cells.append(f"[bold]{text}[/bold]" if value["mean"] == best else text)
        table.add_row(metric, *cells)
    console.print(table)


def eval_command(
    data: Path = typer.Option(..., "--data", help="Interaction file or folder."),
    data_format: str = typer.Option("movielens", "--format", help="movielens, csv or recbole."),
    protocol: str = typer.Option("random", "--protocol", help="random (RS 80/10/10) or temporal (leave-last-out)."),
    seeds: str = typer.Option("2020,2021,2022", "--seeds", help="Comma-separated seeds."),
    k: str = typer.Option("10", "--k", help="Cut-offs, e.g. 10,20."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    out: Path | None = typer.Option(None, "--out", help="Folder for results.json and report.html."),
    html_path: Path | None = typer.Option(None, "--html", help="Where to write the HTML report."),
    models: str | None = typer.Option(None, "--models", help="Comma-separated models (default: all six)."),
    threshold: float | None = typer.Option(None, "--threshold", help="Only values >= this count as positives."),
) -> None:
    """Evaluate recommenders offline with full ranking and the same metric code for every model."""
    from pydantic import ValidationError
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from openfyp.recsys.datasets import load_interactions
    from openfyp.recsys.evaluation.harness import DEFAULT_MODELS, EvalConfig, count_steps, run_evaluation
    from openfyp.recsys.evaluation.report import write_html_report
    from openfyp.recsys.interactions import InteractionDataError
    from openfyp.recsys.models import RecsysModelError

    console = Console(stderr=True)
    try:
        if protocol not in ("random", "temporal"):
            raise _UsageError("bad_protocol", "--protocol must be random or temporal", "protocol")
        config = EvalConfig(
            protocol=protocol, seeds=_csv_list(seeds, "seeds", int), ks=_csv_list(k, "k", int),
            models=_csv_list(models, "models") if models else list(DEFAULT_MODELS), threshold=threshold)
        interactions = load_interactions(data, data_format)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True, disable=not console.is_terminal) as progress:
            task = progress.add_task("evaluating", total=count_steps(config))
            result = run_evaluation(interactions, config,
                                    lambda advance, label: progress.update(task, advance=advance, description=label))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or None
        _fail(_UsageError("bad_option", str(first.get("msg", "invalid option")), field), as_json)
    except (_UsageError, InteractionDataError, RecsysModelError) as exc:
        _fail(exc, as_json)

    document = result.to_json()
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(document, indent=2), encoding="utf-8")
        write_html_report(result, out / "report.html")
    if html_path is not None:
        write_html_report(result, html_path)
    if as_json:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        print_table(result, Console())


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
