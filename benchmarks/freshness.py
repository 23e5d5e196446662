"""Freshness: time from an acknowledged event to the first For You page that reflects it, over HTTP.

A real server (the web app under uvicorn in a child process, SQLite, group-commit ingest, online learner) with
a catalog of videos on topics, and a background of other viewers posting events. Each probe is a new viewer:

1. their first page is cold start: no item is there for a personal reason (sources: trending, fresh);
2. they post that they finished and liked one video; the server acknowledges (t_ack);
3. they ask for pages until one holds an item proposed for them personally (a source among affinity,
   co-watch, embedding): that page reflects the event. Freshness = its arrival time - t_ack.

Reported: p50/p99 of freshness, how many pages it took (1 = the very next page), and the page latency alone
(the floor of any freshness measured through HTTP).

    .venv/bin/python benchmarks/freshness.py           # 100 probes, writes results/freshness.json
    .venv/bin/python benchmarks/freshness.py --quick   # 10 probes
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
PERSONAL_SOURCES = {"affinity", "cowatch", "embedding"}
TOPICS = ("cooking", "cats", "football", "dance", "travel", "gaming", "fitness", "science", "music", "comedy")

SERVER = """
import sys
import uvicorn
from openfyp.settings import Settings
from openfyp.web.app import create_app
uvicorn.run(create_app(settings=Settings()), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(data_dir: Path, per_topic: int) -> dict[str, list[int]]:
    from datetime import date, timedelta

    from openfyp.services import build_services
    from openfyp.settings import Settings
    from openfyp.store.tables import Hashtag, Sound, User, Video, VideoHashtag

    services = build_services(Settings(data_dir=data_dir, region="us", secret_key="fresh", job_workers=0))
    now = datetime.now(UTC)
    by_topic: dict[str, list[int]] = {t: [] for t in TOPICS}
    with services.session_factory() as db:
        creators = [User(region="us", username=f"creator{i}", password_hash="x", birth_date=date(1990, 1, 1))
                    for i in range(23)]
        tags = {t: Hashtag(region="us", name=t) for t in TOPICS}
        sounds = {t: [Sound(region="us", title=f"{t} beat {k}") for k in range(3)] for t in TOPICS}
        db.add_all(creators + list(tags.values()) + [s for group in sounds.values() for s in group])
        db.flush()
        for i in range(per_topic * len(TOPICS)):
            topic = TOPICS[i % len(TOPICS)]
            created = now - timedelta(hours=1 + i * 0.1)
            video = Video(region="us", creator_id=creators[i % len(creators)].id, status="ready",
                          visibility="public", moderation_state="ok", duration_s=15.0,
                          sound_id=sounds[topic][i % 3].id, created_at=created, ready_at=created,
                          caption=f"#{topic}")
            db.add(video)
            db.flush()
            db.add(VideoHashtag(video_id=video.id, hashtag_id=tags[topic].id))
            by_topic[topic].append(video.id)
        db.commit()
    services.close()
    return by_topic


class Server:
    def __init__(self, data_dir: Path, log_path: Path, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "OPENFYP_DATA_DIR": str(data_dir), "OPENFYP_SECRET_KEY": "fresh",
               "OPENFYP_JOB_WORKERS": "0", "OPENFYP_WRITE_RATE_PER_MINUTE": "1000000", "OPENFYP_REGION": "us"}
        # Several processes: `openfyp serve --workers N`, as a deployment would run them.
        command = ([sys.executable, "-c", SERVER, str(self.port)] if workers == 1 else
                   [sys.executable, "-m", "openfyp.cli", "serve", "--port", str(self.port), "--workers", str(workers),
                    "--no-access-log"])
        self.process = subprocess.Popen(command, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/api/auth/me", timeout=1.0)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"the server did not start: {log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


def signup(http: httpx.Client, name: str) -> dict[str, str]:
    response = http.post("/api/auth/signup", json={"username": name, "password": "correct horse battery",
                                                   "birth_date": "1990-01-01", "session": "bearer"})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['token']}"}


def finish_events(video_id: int, like: bool = True) -> list[dict]:
    now = datetime.now(UTC).isoformat()
    events = [{"id": str(uuid.uuid4()), "kind": "play", "video_id": video_id, "client_ts": now},
              {"id": str(uuid.uuid4()), "kind": "complete", "video_id": video_id, "watch_ratio": 1.0,
               "watch_seconds": 15.0, "client_ts": now}]
    if like:
        events.append({"id": str(uuid.uuid4()), "kind": "like", "video_id": video_id, "client_ts": now})
    return events


def personal(page: dict) -> bool:
    return any(PERSONAL_SOURCES & set(item["reason"]["sources"]) for item in page["items"])


def background(url: str, by_topic: dict[str, list[int]], rate: float, stop: threading.Event,
               counter: list[int]) -> None:
    """Other viewers' events at ``rate`` events per second (batches of 50), as load on the same server."""
    if rate <= 0:
        return
    rng = random.Random(1)
    videos = [v for vs in by_topic.values() for v in vs]
    with httpx.Client(base_url=url, timeout=30.0) as http:
        headers = signup(http, f"bg{uuid.uuid4().hex[:8]}")
        interval = 50 / rate
        next_at = time.monotonic()
        while not stop.is_set():
            batch = [e for _ in range(17) for e in finish_events(rng.choice(videos), like=False)][:50]
            if http.post("/api/events", json={"events": batch}, headers=headers).status_code == 200:
                counter[0] += len(batch)
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--probes", type=int, default=None)
    parser.add_argument("--background-rate", type=float, default=None, help="Other viewers' events per second.")
    parser.add_argument("--workers", type=int, default=1, help=(
        "Server processes (openfyp serve --workers). With more than one, every probe request is on a new "
        "connection, so the event and the pages after it reach either process."))
    args = parser.parse_args()
    probes = args.probes or (10 if args.quick else 100)
    rate = args.background_rate if args.background_rate is not None else (200.0 if args.quick else 500.0)

    results: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                 "load_average_before": os.getloadavg()},
                     "probes": probes, "background_events_per_s_target": rate, "server_processes": args.workers}
    # One process: the probe keeps its connection. Several: a new connection per request, so an event and the
    # pages after it land on any process (the learners read each other's events from the shared log).
    per_request = {"Connection": "close"} if args.workers > 1 else {}
    with tempfile.TemporaryDirectory(prefix="openfyp-fresh-") as tmp:
        data_dir = Path(tmp) / "data"
        by_topic = prepare(data_dir, per_topic=30)
        server = Server(data_dir, Path(tmp) / "server.log", args.workers)
        stop, sent = threading.Event(), [0]
        loader = threading.Thread(target=background, args=(server.url, by_topic, rate, stop, sent), daemon=True)
        loader.start()
        rng = random.Random(7)
        freshness, pages_needed, page_ms, cold_ok = [], [], [], 0
        bg_started = time.monotonic()
        try:
            with httpx.Client(base_url=server.url, timeout=30.0, headers=per_request) as http:
                for probe in range(probes):
                    headers = signup(http, f"probe{probe}_{uuid.uuid4().hex[:6]}")
                    started = time.perf_counter()
                    first = http.get("/api/feed/foryou", params={"limit": 10}, headers=headers).json()
                    page_ms.append((time.perf_counter() - started) * 1000)
                    cold_ok += not personal(first)
                    served = {item["id"] for item in first["items"]}
                    topic = rng.choice(TOPICS)
                    video = next(v for v in by_topic[topic] if v not in served)
                    ack = http.post("/api/events", json={"events": finish_events(video)}, headers=headers)
                    ack.raise_for_status()
                    acknowledged = time.perf_counter()
                    cursor, pages = first.get("next_cursor"), 0
                    while True:
                        pages += 1
                        params = {"limit": 10, **({"cursor": cursor} if cursor else {})}
                        page = http.get("/api/feed/foryou", params=params, headers=headers).json()
                        if personal(page) or pages >= 50:
                            break
                        cursor = page.get("next_cursor")
                    freshness.append((time.perf_counter() - acknowledged) * 1000)
                    pages_needed.append(pages)
        finally:
            stop.set()
            loader.join(timeout=30)
            elapsed_bg = time.monotonic() - bg_started
            server.stop()
    f = np.array(freshness)
    results.update({
        "freshness_ms_p50": round(float(np.percentile(f, 50)), 1),
        "freshness_ms_p99": round(float(np.percentile(f, 99)), 1),
        "freshness_ms_max": round(float(f.max()), 1),
        "pages_needed": {"1": int(sum(p == 1 for p in pages_needed)), "more": int(sum(p > 1 for p in pages_needed))},
        "first_pages_cold_start": f"{cold_ok}/{probes}",
        "page_latency_ms_p50": round(float(np.percentile(page_ms, 50)), 1),
        "page_latency_ms_p99": round(float(np.percentile(page_ms, 99)), 1),
        "background_events_per_s": round(sent[0] / max(elapsed_bg, 1e-9)),
        "target_p99_ms": 1000,
    })
    results["machine"]["load_average_after"] = os.getloadavg()
    print(json.dumps(results, indent=2))
    RESULTS.mkdir(exist_ok=True)
    suffix = f"-workers{args.workers}" if args.workers > 1 else ""
    out = RESULTS / (f"freshness-quick{suffix}.json" if args.quick else f"freshness{suffix}.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
