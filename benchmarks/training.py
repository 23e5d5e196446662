"""Full retrain time from a synthetic event log of 1M events in a real (SQLite) deployment.

The log is what a busy region produces: viewers with two favourite topics browse For You pages (logged
requests with their ranker features, and impressions), then play, finish, skip, like, share, comment and
follow. Writing the data is not timed; ``openfyp.recsys.training.train`` is, end to end: reading the log,
grading signals, ALS embeddings, co-watch, impression labels, six LightGBM boosters, saving, sealing and
signing the artifact.

    .venv/bin/python benchmarks/training.py           # 1M events -> benchmarks/results/training.json
    .venv/bin/python benchmarks/training.py --quick   # 50k events -> training-quick.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_SECONDS = 60.0


def build_log(settings, n_events: int, seed: int = 0) -> dict[str, int]:
    from sqlalchemy import insert

    from openfyp.recsys.ranking.features import FEATURE_INDEX, FEATURE_NAMES
    from openfyp.services import build_services
    from openfyp.store.tables import EventRow, FeedRequest, Hashtag, Impression, User, Video, VideoHashtag

    rng = np.random.default_rng(seed)
    services = build_services(settings)
    now = datetime.now(UTC)
    n_viewers = max(n_events // 50, 100)
    n_videos = max(n_events // 20, 200)
    n_creators = max(n_videos // 25, 10)
    topics = 100
    video_topic = rng.integers(0, topics, n_videos)
    creator_of = rng.integers(1, n_creators + 1, n_videos)
    loves = rng.integers(0, topics, (n_viewers, 2))
    page = 10
    # Each impression brings ~2.2 events on average (play + finish or skip, sometimes a like...).
    n_requests = max(int(n_events / (page * 2.2)), 10)
    counts = {"viewers": n_viewers, "videos": n_videos}
    with services.engine.begin() as conn:
        conn.execute(insert(User), [{"id": i, "region": "us", "username": f"u{i}", "password_hash": "x",
                                     "birth_date": date(1990, 1, 1), "created_at": now}
                                    for i in range(1, n_creators + n_viewers + 1)])
        conn.execute(insert(Hashtag), [{"id": t + 1, "region": "us", "name": f"topic{t}", "created_at": now}
                                       for t in range(topics)])
        conn.execute(insert(Video), [{"id": v + 1, "region": "us", "creator_id": int(creator_of[v]),
                                      "status": "ready", "visibility": "public", "moderation_state": "ok",
                                      "duration_s": 15.0, "created_at": now - timedelta(days=30)}
                                     for v in range(n_videos)])
        conn.execute(insert(VideoHashtag), [{"video_id": v + 1, "hashtag_id": int(video_topic[v]) + 1}
                                            for v in range(n_videos)])
    events: list[dict] = []
    requests: list[dict] = []
    impressions: list[dict] = []
    start = now - timedelta(days=14)
    step = (14 * 86400) / n_requests
    by_topic = [np.flatnonzero(video_topic == t) for t in range(topics)]
    r = -1
    while len(events) < n_events:
        r += 1
        viewer = int(rng.integers(0, n_viewers))
        user_id = n_creators + 1 + viewer
        ts = start + timedelta(seconds=r * step)
        request_id = str(uuid.uuid4())
        picks = []
        for _ in range(page):
            topic = loves[viewer, int(rng.integers(0, 2))] if rng.uniform() < 0.5 else int(rng.integers(0, topics))
            picks.append(int(by_topic[topic][rng.integers(0, len(by_topic[topic]))]))
        features = rng.uniform(0, 1, (page, len(FEATURE_NAMES)))
        loved = np.isin(video_topic[picks], loves[viewer])
        features[:, FEATURE_INDEX["hashtag_affinity"]] = loved * rng.uniform(0.5, 2.0, page)
        features[:, FEATURE_INDEX["emb_sim"]] = np.where(loved, 0.6, 0.0) + rng.normal(0, 0.2, page)
        requests.append({"id": request_id, "region": "us", "user_id": user_id, "surface": "foryou",
                         "model_version": "heuristic-1", "config_version": "default", "created_at": ts,
                         "inputs": {"schema": 1, "feature_names": list(FEATURE_NAMES),
                                    "candidates": {"video_ids": [v + 1 for v in picks],
                                                   "features": np.round(features, 4).tolist()}}})
        for position, video in enumerate(picks):
            impressions.append({"region": "us", "request_id": request_id, "user_id": user_id,
                                "video_id": video + 1, "position": position, "created_at": ts})
            t = ts + timedelta(seconds=position * 20)
            p_finish = 0.75 if loved[position] else 0.15

            def event(kind: str, ratio: float | None = None, target: int | None = None) -> None:
                events.append({"event_id": str(uuid.uuid4()), "region": "us", "user_id": user_id,
                               "video_id": None if target else video + 1, "target_user_id": target,
                               "kind": kind, "watch_ratio": ratio, "request_id": request_id, "server_ts": t})

            event("play")
            if rng.uniform() < p_finish:
                event("complete", 1.0)
                if rng.uniform() < 0.3:
                    event("like")
                if rng.uniform() < 0.05:
                    event("share")
                if rng.uniform() < 0.05:
                    event("comment")
                if rng.uniform() < 0.03:
                    event("follow", target=int(creator_of[video]))
            else:
                event("skip", float(rng.uniform(0, 0.5)))
                if rng.uniform() < 0.03:
                    event("not_interested")
    with services.engine.begin() as conn:
        for chunk in range(0, len(requests), 2000):
            conn.execute(insert(FeedRequest), requests[chunk:chunk + 2000])
        for chunk in range(0, len(impressions), 20_000):
            conn.execute(insert(Impression), impressions[chunk:chunk + 20_000])
        for chunk in range(0, len(events), 20_000):
            conn.execute(insert(EventRow), events[chunk:chunk + 20_000])
    services.close()
    counts.update({"events": len(events), "impressions": len(impressions), "requests": len(requests)})
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="50k events instead of 1M.")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    n_events = args.events or (50_000 if args.quick else 1_000_000)

    from openfyp.recsys.training import train
    from openfyp.settings import Settings
    from openfyp.store import make_engine, make_session_factory

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder) / "data", region="us", job_workers=0, secret_key="bench")
        print(f"writing a synthetic log of {n_events:,} events ...", flush=True)
        started = time.perf_counter()
        counts = build_log(settings, n_events)
        written = time.perf_counter() - started
        engine = make_engine(settings.resolved_database_url)
        steps: list[tuple[str, float]] = []
        print("training ...", flush=True)
        started = time.perf_counter()
        report = train(settings, make_session_factory(engine),
                       progress=lambda step, done: steps.append((step, time.perf_counter() - started)))
        seconds = time.perf_counter() - started
        engine.dispose()
        manifest = report.artifact.manifest
    result = {
        "benchmark": "training", "quick": args.quick, "target_seconds": TARGET_SECONDS,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average": os.getloadavg()},
        "data": counts, "write_seconds": round(written, 1), "train_seconds": round(seconds, 2),
        "within_target": seconds <= TARGET_SECONDS,
        "steps_started_at_s": {name: round(at, 2) for name, at in steps},
        "timings_s": manifest.metrics.get("timings_s"), "rows": manifest.rows,
        "ranker": manifest.metrics.get("ranker"), "ranker_skipped": manifest.metrics.get("ranker_skipped"),
    }
    out = Path(args.out) if args.out else RESULTS / ("training-quick.json" if args.quick else "training.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"trained {counts['events']:,} events in {seconds:.1f}s (target {TARGET_SECONDS:.0f}s); "
          f"steps {result['timings_s']}; wrote {out}")


if __name__ == "__main__":
    main()
