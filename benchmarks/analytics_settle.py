"""Analytics latency with and without waiting for the event log to settle, idle and under ingest.

Creator analytics read the ``events`` table; with the staged event log (the SQLite default) an acknowledged
event reaches it a moment later, so analytics first call ``settle(timeout)``. This measures what that wait
costs: the in-process latency of a creator's dashboard and of one video's numbers (the platform functions the
API calls), with ``event_log=None`` (no wait, the old behaviour) and with the deployment's log, while the log is
idle, while a background thread appends 1000 events a second, and while it appends as fast as it can
(saturating ingest, the worst case for the wait: the mover always has something to move).

    .venv/bin/python benchmarks/analytics_settle.py           # 60 calls a case, writes results/analytics_settle.json
    .venv/bin/python benchmarks/analytics_settle.py --quick   # 20 calls a case, results/analytics_settle-quick.json
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import random
import tempfile
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Self

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def seed(services, videos: int, viewers: int, events: int) -> tuple[int, list[int], list[int]]:
    from openfyp.events.schema import Event, EventKind
    from openfyp.store.tables import User, Video

    with services.session_factory() as db:
        people = [User(region=services.region, username=f"user{i}", password_hash="!", display_name=f"user{i}",
                       birth_date=date(1990, 1, 1)) for i in range(viewers + 1)]
        db.add_all(people)
        db.flush()
        creator, viewer_ids = people[0].id, [p.id for p in people[1:]]
        clips = [Video(region=services.region, creator_id=creator, caption=f"clip {i}", status="ready",
                       visibility="public", media_key=f"videos/{i}.mp4", duration_s=12.0) for i in range(videos)]
        db.add_all(clips)
        db.commit()
        video_ids = [v.id for v in clips]
    rng = random.Random(7)
    kinds = [EventKind.play, EventKind.watch, EventKind.complete, EventKind.like]
    for start in range(0, events, 2000):
        services.events.append([Event.server_side(rng.choice(kinds), user_id=rng.choice(viewer_ids),
                                                  region=services.region, video_id=rng.choice(video_ids),
                                                  source="foryou")
                                for _ in range(min(2000, events - start))])
    services.events.settle()
    return creator, video_ids, viewer_ids


def summary(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2), "mean_ms": round(float(ms.mean()), 2)}


def measure_pair(call, event_log, calls: int) -> dict[str, dict[str, float]]:
    """``call(event_log=...)`` without and with the wait, alternately (under ingest the table grows as it runs, and
    each variant must see the same table)."""
    timings: dict[str, list[float]] = {"no_settle": [], "settle": []}
    for i in range(calls * 2):
        name = ("no_settle", "settle")[i % 2]
        started = time.perf_counter()
        call(event_log=event_log if name == "settle" else None)
        timings[name].append(time.perf_counter() - started)
    return {name: summary(seconds) for name, seconds in timings.items()}


class Ingest:
    """A background writer appending batches of 20 events (one client's upload), paced to ``per_second`` or as
    fast as the log takes them."""

    def __init__(self, services, video_ids: list[int], viewer_ids: list[int], per_second: float | None) -> None:
        self.services, self.video_ids, self.viewer_ids, self.per_second = services, video_ids, viewer_ids, per_second
        self.appended = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self._started = time.perf_counter()
        self._thread.start()
        time.sleep(0.5)  # under way before the first measurement
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()

    def rate(self) -> float:
        return self.appended / (time.perf_counter() - self._started)

    def _run(self) -> None:
        from openfyp.events.schema import Event, EventKind

        rng = random.Random(11)
        while not self._stop.is_set():
            self.services.events.append([
                Event.server_side(EventKind.watch, user_id=rng.choice(self.viewer_ids), region=self.services.region,
                                  video_id=rng.choice(self.video_ids), source="foryou") for _ in range(20)])
            self.appended += 20
            if self.per_second is not None:
                ahead = self.appended / self.per_second - (time.perf_counter() - self._started)
                if ahead > 0:
                    self._stop.wait(ahead)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    calls = 20 if args.quick else 60

    from openfyp.platform import analytics
    from openfyp.services import build_services
    from openfyp.settings import Settings
    from openfyp.store.tables import User, Video

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as folder:
        services = build_services(Settings(data_dir=Path(folder), region="us", job_workers=0,
                                           secret_key="benchmark"))
        try:
            creator_id, video_ids, viewer_ids = seed(services, videos=20, viewers=500, events=50_000)
            for load, per_second in (("idle", 0.0), ("ingest_1000_per_s", 1000.0), ("ingest_flat_out", None)):
                ingest = Ingest(services, video_ids, viewer_ids, per_second) if per_second != 0.0 else None
                with ingest or contextlib.nullcontext(), services.session_factory() as db:
                    creator, video = db.get(User, creator_id), db.get(Video, video_ids[0])
                    cases = {"dashboard": functools.partial(analytics.creator_analytics, db, creator),
                             "video": functools.partial(analytics.video_analytics, db, video)}
                    for case, call in cases.items():
                        for variant, figures in measure_pair(call, services.events, calls).items():
                            results[f"{load}/{case}/{variant}"] = figures
                    if ingest is not None:
                        results[f"{load}/events_per_second"] = {"value": round(ingest.rate())}
        finally:
            services.close()

    report = {"benchmark": "analytics_settle", "calls_per_case": calls, "seeded_events": 50_000,
              "results": results, "load_average": os.getloadavg(), "cpus": os.cpu_count(),
              "python": platform.python_version(), "at": datetime.now(UTC).isoformat()}
    for name, figures in results.items():
        print(f"{name:40s} {figures}")
    print("load average", report["load_average"])
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("analytics_settle-quick.json" if args.quick else "analytics_settle.json")
    out.write_text(json.dumps(report, indent=2) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
