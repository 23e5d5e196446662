"""Where a For You page's CPU goes: CPU time per stage of the request path, in process.

Builds the same deployment as ``serving.py --http-...`` (SQLite, signed-in viewers with a short history, optionally
a trained and released model), starts the web app's services as ``openfyp serve`` does, and asks for pages
through the For You handler itself - session, engine, policy check, hydration, durable logging, JSON - without
the HTTP server. Each stage is timed with ``time.thread_time`` around the real function (the request thread's
CPU, not wall time); the process's CPU over the same pages adds what the other threads did for them (the feed
log's writer, the event mover, the engine's upkeep). Stages nest: ``engine`` includes ``engine.sources``...

    .venv/bin/python benchmarks/serving_stages.py --videos 1000000 --train   # writes results/serving-stages.json
    .venv/bin/python benchmarks/serving_stages.py --quick                   # seconds
    .venv/bin/python benchmarks/serving_stages.py --data DIR                # an existing deployment (copied)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import serving  # noqa: E402 - the deployment builder shared with the HTTP benchmark


def _timed(owner: object, name: str, label: str, spent: Counter) -> Callable[[], None]:
    """Replace ``owner.name`` with a wrapper adding its thread CPU to ``spent[label]``; returns the undo."""
    original = getattr(owner, name)

    def timed(*args, **kwargs):
        started = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent[label] += time.thread_time() - started

    setattr(owner, name, timed)
    return lambda: setattr(owner, name, original)


def instrument(spent: Counter) -> list[Callable[[], None]]:
    from openfyp.platform import feeds
    from openfyp.recsys import engine, pipeline
    from openfyp.recsys.state import ViewerStateStore
    from openfyp.web.routers import feeds as feed_routes

    # Each function is replaced where its caller looks it up (a module that imported it by name has its own).
    stages = [
        (feed_routes, "optional_viewer", "session"),
        (feeds, "seen_state", "seen set"),
        (engine.ForYouEngine, "recommend", "engine"),
        (engine.ForYouEngine, "maintain", "engine.log tails"),
        (engine.ForYouEngine, "_relations", "engine.relations"),
        (engine.ForYouEngine, "_load_viewer_events", "engine.viewer history read"),
        (ViewerStateStore, "build", "engine.viewer state build"),
        (pipeline.ForYouPipeline, "gather", "engine.sources"),
        (pipeline, "build_features", "engine.features"),
        (pipeline.ForYouPipeline, "build_inputs", "engine.inputs (sources and features included)"),
        (engine, "rank_logged", "engine.ranking and re-ranking"),
        (feeds, "_recommendable", "policy check of the picks"),
        (feeds, "_log", "feed log write (waiting for the commit)"),
        (feed_routes, "_page_out", "hydration (videos, counters, flags)"),
        (feed_routes, "_json_response", "JSON"),
    ]
    return [_timed(owner, name, label, spent) for owner, name, label in stages]


async def measure(data_dir: Path, tokens: list[str], pages: int, warmup: int) -> dict:
    from starlette.requests import Request

    from openfyp.settings import Settings
    from openfyp.web.app import create_app
    from openfyp.web.routers import feeds as feed_routes

    settings = Settings(data_dir=data_dir, region="us", job_workers=0, secret_key="bench-secret",
                        write_rate_per_minute=1_000_000)
    app = create_app(settings=settings)
    spent: Counter = Counter()
    undo = instrument(spent)
    try:
        async with app.router.lifespan_context(app):
            def page(token: str) -> int:
                scope = {"type": "http", "method": "GET", "path": "/api/feed/foryou", "query_string": b"limit=10",
                         "headers": [(b"authorization", f"Bearer {token}".encode())], "app": app}
                return feed_routes._foryou_response(Request(scope), None, 10).status_code

            statuses: Counter = Counter(page(tokens[i % len(tokens)]) for i in range(warmup))
            spent.clear()
            process_started, thread_started = time.process_time(), time.thread_time()
            wall_started = time.perf_counter()
            # A stride through the viewers: most pages are a viewer's first, as in the HTTP benchmark.
            statuses.update(page(tokens[(warmup + i * 7919) % len(tokens)]) for i in range(pages))
            thread = time.thread_time() - thread_started
            process = time.process_time() - process_started
            wall = time.perf_counter() - wall_started
    finally:
        for restore in undo:
            restore()
    per_page = {label: round(seconds * 1000 / pages, 3) for label, seconds in spent.most_common()}
    return {"pages": pages, "statuses": {str(k): v for k, v in statuses.items()},
            "request_thread_cpu_ms_per_page": round(thread * 1000 / pages, 3),
            "process_cpu_ms_per_page": round(process * 1000 / pages, 3),
            "other_threads_cpu_ms_per_page": round((process - thread) * 1000 / pages, 3),
            "wall_ms_per_page": round(wall * 1000 / pages, 3), "stages_cpu_ms_per_page": per_page}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="A small deployment and few pages (a smoke run).")
    parser.add_argument("--videos", type=int, default=20_000)
    parser.add_argument("--viewers", type=int, default=2_000)
    parser.add_argument("--pages", type=int, default=1_500)
    parser.add_argument("--train", action="store_true", help="Train and release a model before measuring.")
    parser.add_argument("--data", default=None, help="A deployment built before (its data dir's parent, holding "
                                                     "data/ and tokens.json); measured on a copy.")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    videos, viewers, pages = (2_000, 200, 100) if args.quick else (args.videos, args.viewers, args.pages)
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder) / "data"
        started = time.perf_counter()
        if args.data:
            shutil.copytree(Path(args.data) / "data", data_dir)
            tokens = json.loads((Path(args.data) / "tokens.json").read_text())
            model = None
        else:
            tokens = serving.build_deployment(data_dir, videos, viewers, events_per_viewer=20)
            model = serving.train_deployment(data_dir) if args.train else None
        setup = time.perf_counter() - started
        print(f"measuring {pages} pages ...", flush=True)
        result = asyncio.run(measure(data_dir, tokens, pages, warmup=min(60, len(tokens))))
    report = {"benchmark": "serving_stages", "quick": args.quick, "machine": serving.machine_facts(),
              "deployment": {"videos": videos if not args.data else None, "viewers": viewers if not args.data else None,
                             "source": args.data or "built", "model": model, "setup_seconds": round(setup, 1)},
              **result}
    print(f"request thread {result['request_thread_cpu_ms_per_page']} ms/page, process "
          f"{result['process_cpu_ms_per_page']} ms/page, statuses {result['statuses']}")
    for label, ms in result["stages_cpu_ms_per_page"].items():
        print(f"  {label:48s} {ms:7.3f} ms")
    serving.save_report(report, "serving-stages", quick=args.quick, out=args.out)

if __name__ == "__main__":
    main()
