"""Sustained event ingest into the embedded store (SQLite) with the online learner running.

A real deployment on a temporary data directory: migrations, a catalog of videos with hashtags and sounds,
a history of simulated viewing, a model trained on it and released, then the server's background parts
started (the online learner applying every event to the engine's stats and viewer states, the online
embedding tables, co-watch and traffic pools). Producer threads append batches through the deployment's
event log as request handlers do (each append returns once its group commit is durable). Measured:

* committed events per second over the run, and per-append acknowledgement latency;
* the learner: its lag behind the log head during the run, and how long it needs to reach the head once
  producers stop (it keeps up when the lag stays bounded and the catch-up is short);
* where the events are: acknowledged into the staging file, then moved into the indexed ``events`` table
  (openfyp.events.staged); the rate also counted until the last event is in that table;
* baselines in the same run: each group committed straight into ``events`` (the previous design), and
  one transaction per append.

    .venv/bin/python benchmarks/ingest.py            # 600k events (about a minute), writes results/ingest.json
    .venv/bin/python benchmarks/ingest.py --quick    # 60k events, writes results/ingest-quick.json
    .venv/bin/python benchmarks/ingest.py --quick --schema 0002   # same, with the events indexes before 0003
    .venv/bin/python benchmarks/ingest.py --ids uuid4    # random event ids, as third-party clients may send
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import inspect as sa_inspect

from openfyp.events.ids import new_event_id
from openfyp.events.log import GroupStats, SqlEventLog
from openfyp.events.schema import Event, EventKind
from openfyp.services import build_services
from openfyp.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"
TOPICS = 12


def build_world(data_dir: Path, n_videos: int, n_viewers: int, history: int, seed: int = 0, ids: str = "uuid7"):
    """A deployment with videos on topics and ``history`` events of viewers who each like two topics."""
    from openfyp.store.tables import Hashtag, Sound, User, Video, VideoHashtag

    settings = Settings(data_dir=data_dir, region="us", secret_key="bench", job_workers=0,
                        realtime_checkpoint_seconds=5.0)
    services = build_services(settings)
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    with services.session_factory() as db:
        creators = [User(region="us", username=f"creator{i}", password_hash="x", birth_date=date(1990, 1, 1))
                    for i in range(50)]
        tags = [Hashtag(region="us", name=f"topic{t}") for t in range(TOPICS)]
        sounds = [Sound(region="us", title=f"sound{t}-{k}") for t in range(TOPICS) for k in range(3)]
        db.add_all(creators + tags + sounds)
        db.flush()
        videos = []
        for i in range(n_videos):
            created = now - timedelta(hours=float(rng.uniform(0.5, 200)))
            videos.append(Video(region="us", creator_id=creators[i % 50].id, status="ready", visibility="public",
                                moderation_state="ok", duration_s=15.0, sound_id=sounds[(i % TOPICS) * 3 + i % 3].id,
                                created_at=created, ready_at=created))
        db.add_all(videos)
        db.flush()
        db.add_all([VideoHashtag(video_id=v.id, hashtag_id=tags[i % TOPICS].id) for i, v in enumerate(videos)])
        db.commit()
        video_ids = np.array([v.id for v in videos], dtype=np.int64)
    services.feed.refresh_catalog(full=True)
    topics = np.arange(len(video_ids)) % TOPICS
    likes = rng.integers(0, TOPICS, size=(n_viewers, 2))
    viewers = np.arange(1_000_000, 1_000_000 + n_viewers)
    generator = EventFactory(video_ids, topics, viewers, likes, seed, ids)
    for start in range(0, history, 5000):
        services.events.append(generator.batch(min(5000, history - start), ts_offset=-3600.0))
    return services, generator


class EventFactory:
    """Plausible viewing: a viewer watches a video, finishing (and sometimes liking) the topics they like."""

    def __init__(self, video_ids, topics, viewers, likes, seed: int, ids: str = "uuid7") -> None:
        self.video_ids, self.topics, self.viewers, self.likes = video_ids, topics, viewers, likes
        self.rng = random.Random(seed)
        # openfyp's own clients send UUIDv7 event ids; "uuid4" stands for third-party clients sending random ones.
        self.new_id = new_event_id if ids == "uuid7" else (lambda: str(uuid.uuid4()))

    def batch(self, n: int, ts_offset: float = 0.0) -> list[Event]:
        rng = self.rng
        now = datetime.now(UTC) + timedelta(seconds=ts_offset)
        events: list[Event] = []
        while len(events) < n:
            viewer = rng.randrange(len(self.viewers))
            video = rng.randrange(len(self.video_ids))
            loved = self.topics[video] in self.likes[viewer]
            kinds: list[tuple[EventKind, float | None]] = [(EventKind.impression, None), (EventKind.play, None)]
            if rng.random() < (0.7 if loved else 0.15):
                kinds.append((EventKind.complete, 1.0))
                if rng.random() < 0.3:
                    kinds.append((EventKind.like, None))
            else:
                kinds.append((EventKind.skip, round(rng.uniform(0.02, 0.3), 3)))
            for kind, ratio in kinds:
                events.append(Event.model_construct(
                    seq=None, event_id=self.new_id(), region="us", user_id=int(self.viewers[viewer]),
                    video_id=int(self.video_ids[video]), target_user_id=None, kind=kind, watch_seconds=None,
                    watch_ratio=ratio, source="foryou", request_id=None, position=None, client_ts=now,
                    server_ts=now, extra=None))
        return events[:n]


def train_and_release(services, overseer_dir: Path) -> str:
    from openfyp.governance.ceremony import ensure_overseer_key, release
    from openfyp.recsys.training import TrainingConfig, train

    report = train(services.settings, services.session_factory,
                   config=TrainingConfig(embedding={"factors": 32, "iterations": 6, "threads": 1}))
    key = ensure_overseer_key(services.settings, overseer_dir)
    release(services.settings, report.version, overseer_key=key, reason="ingest benchmark")
    services.feed.reload()
    return report.version


def process_io() -> dict[str, int]:
    """This process's I/O counters (Linux): bytes handed to write calls, write calls, bytes sent to storage."""
    try:
        text = Path("/proc/self/io").read_text()
    except OSError:
        return {}
    return {key: int(value) for key, value in (line.split(": ") for line in text.splitlines())}


def drive(log, batches: list[list[Event]], producers: int, sample=None) -> dict:
    """Producers append the prepared batches as fast as the log acknowledges them; returns the rates."""
    queue = list(reversed(batches))
    queue_lock = threading.Lock()
    latencies: list[list[float]] = [[] for _ in range(producers)]
    counts = [0] * producers
    done = threading.Event()

    def produce(index: int) -> None:
        while True:
            with queue_lock:
                if not queue:
                    return
                events = queue.pop()
            started = time.perf_counter()
            result = log.append(events)
            latencies[index].append(time.perf_counter() - started)
            counts[index] += result.accepted

    threads = [threading.Thread(target=produce, args=(i,), daemon=True) for i in range(producers)]
    io_started = process_io()
    cpu_started, started = time.process_time(), time.perf_counter()
    for thread in threads:
        thread.start()
    samples = []

    def sampler() -> None:
        while not done.wait(0.25):
            if sample is not None:
                samples.append(sample())

    watcher = threading.Thread(target=sampler, daemon=True)
    watcher.start()
    for thread in threads:
        thread.join()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    io = {key: value - io_started[key] for key, value in process_io().items() if key in io_started}
    done.set()
    watcher.join()
    flat = np.array([x for part in latencies for x in part]) * 1000
    total = int(sum(counts))
    return {"producers": producers, "batch": len(batches[0]) if batches else 0, "seconds": round(elapsed, 2),
            "events": total, "events_per_s": round(total / elapsed), "appends": len(flat),
            "process_cpu_us_per_event": round(cpu / max(total, 1) * 1e6, 1),
            # Load-independent: how much the process wrote per event (WAL frames, checkpoints, learner files).
            "written_kib_per_event": round(io["wchar"] / 1024 / max(total, 1), 2) if io else None,
            "write_calls_per_event": round(io["syscw"] / max(total, 1), 2) if io else None,
            "ack_ms_p50": round(float(np.percentile(flat, 50)), 2) if len(flat) else None,
            "ack_ms_p99": round(float(np.percentile(flat, 99)), 2) if len(flat) else None,
            "samples": samples}


def prepare(factory: EventFactory, total: int, batch: int) -> list[list[Event]]:
    return [factory.batch(batch) for _ in range(max(1, total // batch))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--events", type=int, default=None, help="Events to ingest in the main run.")
    parser.add_argument("--producers", type=int, default=40, help="Concurrent appenders (a server's request threads).")
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--ids", choices=("uuid7", "uuid4"), default="uuid7",
                        help="Event ids as openfyp's clients make them (uuid7), or random ones (uuid4).")
    parser.add_argument("--schema", default="head",
                        help="Alembic revision to run on, e.g. 0002 for the events indexes before 0003 (before/after "
                             "comparisons on the same machine and data).")
    args = parser.parse_args()
    total = args.events or (60_000 if args.quick else 600_000)
    n_videos, n_viewers, history = (600, 2000, 20_000) if args.quick else (5000, 20_000, 200_000)

    results: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                 "load_average_before": os.getloadavg()},
                     "catalog_videos": n_videos, "viewers": n_viewers, "history_events": history}
    with tempfile.TemporaryDirectory(prefix="openfyp-ingest-") as tmp:
        tmp_path = Path(tmp)
        setup_started = time.perf_counter()
        services, factory = build_world(tmp_path / "data", n_videos, n_viewers, history, ids=args.ids)
        results["event_ids"] = args.ids
        results["model_version"] = train_and_release(services, tmp_path / "overseer")
        results["setup_seconds"] = round(time.perf_counter() - setup_started, 1)
        results["schema_revision"] = args.schema
        if args.schema != "head":
            from alembic import command

            from openfyp.store.db import alembic_config
            command.downgrade(alembic_config(services.engine), args.schema)
        results["events_indexes"] = sorted(f"{index['name']}({', '.join(index['column_names'])})"
                                           for index in sa_inspect(services.engine).get_indexes("events"))
        realtime = services.extras["realtime"]
        learner = realtime.learner
        services.start()
        learner.catch_up()

        def run_with_learner(log, label: str) -> dict:
            """Drive ``log`` with the learner applying its events; the rates, lags and the writer's phases."""
            def lag_sample() -> dict:
                head = log.head()
                staged = log.staged_count() if hasattr(log, "staged_count") else 0
                return {"lag": head - learner.position, "staged": staged}

            print(f"{label}: preparing {total} events ...")
            batches = prepare(factory, total, args.batch)
            busy_before, applied_before = learner.busy_seconds, learner.applied
            cpu_before = learner.busy_cpu_seconds
            log.stats = GroupStats()  # the writer's phase timings of this run only
            moves_before = log.moves.summary()["events"] if hasattr(log, "moves") else 0
            print(f"{label}: {args.producers} producers x {args.batch} events ...")
            started = time.perf_counter()
            run = drive(log, batches, args.producers, lag_sample)
            stopped = time.perf_counter()
            head = log.head()
            while learner.position < head and time.perf_counter() - stopped < 120:
                time.sleep(0.01)
            learner_done = time.perf_counter()
            settled = log.settle(timeout=300)
            table_done = time.perf_counter()
            applied = learner.applied - applied_before
            samples = run.pop("samples")
            lags = [s["lag"] for s in samples]
            staged = [s["staged"] for s in samples]
            run.update({
                # Wall time while applying (GIL waits included), and the learner thread's own CPU time.
                "learner_us_per_event": round((learner.busy_seconds - busy_before) / max(applied, 1) * 1e6, 1),
                "learner_cpu_us_per_event": round((learner.busy_cpu_seconds - cpu_before) / max(applied, 1) * 1e6, 1),
                "learner_lag_events_p50": int(np.percentile(lags, 50)) if lags else None,
                "learner_lag_events_max": int(max(lags)) if lags else None,
                "learner_catch_up_after_stop_s": round(learner_done - stopped, 3),
                "learner_caught_up": learner.position >= head,
                # Sustained means the indexed table keeps up too: events not yet moved out of staging, and
                # the rate counted until the last acknowledged event was in the `events` table.
                "staged_events_p50": int(np.percentile(staged, 50)) if staged else None,
                "staged_events_max": int(max(staged)) if staged else None,
                "table_catch_up_after_stop_s": round(table_done - stopped, 3),
                "all_in_events_table": settled,
                "events_per_s_into_table": round(run["events"] / (table_done - started)),
                "mean_group_events": round(log.stats.mean_group, 1),
                "largest_group_events": log.stats.largest_group,
                # Wall time of the (serial) writer per event, by phase: what bounds the acknowledgement rate.
                "writer_us_per_event": log.stats.microseconds_per_event(),
            })
            if hasattr(log, "moves"):
                run["mover"] = {**log.moves.summary(), "events": log.moves.summary()["events"] - moves_before}
            print(json.dumps(run))
            return run

        # The previous design first (so a table grown by the runs before it weighs on the staged log, not on
        # it): each group committed straight into the indexed `events` table.
        direct = SqlEventLog(services.session_factory, "us")
        direct.add_listener(learner._on_append)
        results["events_table_group_commit_with_learner"] = run_with_learner(direct, "events table, group commit")
        direct.close()
        results["staged_log_with_learner"] = run_with_learner(services.events, "staged log")
        results["staged_log_with_learner"]["online"] = realtime.state.status()

        # The events table without group commit: one transaction (and fsync) per append.
        single = SqlEventLog(services.session_factory, "us", group_commit=False)
        print("without group commit ...")
        run = drive(single, prepare(factory, max(5000, total // 10), args.batch), args.producers)
        run.pop("samples")
        run["writer_us_per_event"] = single.stats.microseconds_per_event()
        results["one_commit_per_append"] = run
        print(json.dumps(run))
        single.close()
        services.close()
    results["machine"]["load_average_after"] = os.getloadavg()
    results["target_events_per_s"] = 20_000
    RESULTS.mkdir(exist_ok=True)
    suffix = ("" if args.schema == "head" else f"-schema{args.schema}") + ("" if args.ids == "uuid7" else f"-{args.ids}")
    out = RESULTS / (f"ingest{'-quick' if args.quick else ''}{suffix}.json")
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
