"""Catalog loads at scale: a server process's start-up, the engine's full catalog reload, and how long that
reload holds the serving lock (every page waits meanwhile).

Builds the deployment ``serving.py`` serves over HTTP (SQLite, N videos with a hashtag each, signed-in viewers
with a short history), then: builds the deployment's services as a server process does at start
(``build_services``: migrations, the event log, the For You engine's catalog, stats and models), and runs a
full catalog reload - which a running engine does every ``catalog_full_reload_seconds`` (15 min) - timing
the engine's serving lock while it is held.

    .venv/bin/python benchmarks/catalog_reload.py --videos 1000000   # writes results/catalog_reload.json
    .venv/bin/python benchmarks/catalog_reload.py --quick            # seconds
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import serving  # noqa: E402 - the deployment builder shared with the serving benchmarks


class HeldTimer:
    """Wraps a lock and records how long each ``with`` block held it."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.held: list[float] = []
        self._since = 0.0

    def __enter__(self):
        self.inner.__enter__()
        self._since = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.held.append(time.perf_counter() - self._since)
        return self.inner.__exit__(*exc)

    def acquire(self, *args, **kwargs):
        return self.inner.acquire(*args, **kwargs)

    def release(self):
        return self.inner.release()


def measure(data_dir: Path) -> dict:
    from openfyp.services import build_services
    from openfyp.settings import Settings

    started = time.perf_counter()
    services = build_services(Settings(data_dir=data_dir, region="us", job_workers=0, secret_key="bench-secret"))
    start_up = time.perf_counter() - started
    try:
        engine = services.feed
        engine._lock = HeldTimer(engine._lock)  # (the engine's serving lock, timed for this run only)
        started = time.perf_counter()
        engine.refresh_catalog(full=True)
        reload_seconds = time.perf_counter() - started
        held = engine._lock.held
        return {"catalog_videos": len(engine.catalog), "start_up_seconds": round(start_up, 2),
                "full_reload_seconds": round(reload_seconds, 2),
                "serving_lock_held_seconds": round(max(held), 3) if held else 0.0}
    finally:
        services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="A small catalogue (a smoke run).")
    parser.add_argument("--videos", type=int, default=1_000_000)
    parser.add_argument("--viewers", type=int, default=2_000)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    videos, viewers = (20_000, 200) if args.quick else (args.videos, args.viewers)
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder) / "data"
        print(f"building a deployment of {videos:,} videos ...", flush=True)
        serving.build_deployment(data_dir, videos, viewers, events_per_viewer=20)
        print("measuring ...", flush=True)
        result = measure(data_dir)
    print(json.dumps(result, indent=2))
    serving.save_report({"benchmark": "catalog_reload", "quick": args.quick, "machine": serving.machine_facts(),
                         "videos": videos, "viewers": viewers, **result}, "catalog_reload", quick=args.quick,
                        out=args.out)


if __name__ == "__main__":
    main()
