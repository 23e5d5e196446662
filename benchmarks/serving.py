"""For You serving latency: one page of 10 videos, in process and over HTTP.

In process: synthetic catalogues of 10k, 100k and 1M videos with 100k viewers, built directly in memory
(catalog columns, per-video stats, ALS-like embeddings clustered by topic, co-watch neighbours, LightGBM
boosters trained on synthetic impressions). Every request runs the real engine: all six sources (the
embedding source through the faiss IVF index), filters, features, six boosters, re-ranking, reasons and
the logged inputs. Viewers' states are built from synthetic histories on first use, as a server builds them
from the event log; "warm" requests find the state cached, "cold" ones build it.

Over HTTP: a real deployment (SQLite, migrations, the web app under uvicorn on 127.0.0.1) with a smaller
catalogue, driven open-loop at a fixed request rate for a bounded time by a light raw-HTTP/1.1 client; latency
is measured from each request's scheduled send time, so a slow server cannot hide its queueing.

    .venv/bin/python benchmarks/serving.py            # full run, writes benchmarks/results/serving.json
    .venv/bin/python benchmarks/serving.py --quick    # seconds; writes serving-quick.json
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from openfyp.recsys.contracts import FeedContext
from openfyp.recsys.engine import EngineSettings, ForYouEngine
from openfyp.recsys.ranking.features import FEATURE_INDEX, FEATURE_NAMES
from openfyp.recsys.ranking.learn import ImpressionLabels, RankerTrainingConfig, fit_ranker
from openfyp.recsys.ranking.predictors import BoostedPredictor
from openfyp.recsys.sources.cowatch import CoWatchIndex
from openfyp.recsys.sources.models import FoldIn, KeyedVectors, ServingModels
from openfyp.recsys.state import Catalog, EventRecord, VideoStats, ViewerRelations

RESULTS = Path(__file__).resolve().parent / "results"
NOW = datetime.now(UTC)
NOW_TS = NOW.timestamp()


# ---- the synthetic world ------------------------------------------------------------------------------


class SyntheticWorld:
    """Videos on ``topics`` topics; each viewer loves two topics and has a history of ~60 events."""

    def __init__(self, n_videos: int, n_viewers: int, *, dim: int = 32, topics: int = 200, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.n_videos, self.n_viewers, self.topics, self.dim = n_videos, n_viewers, topics, dim
        self.rng_seed = seed
        started = time.perf_counter()
        n = n_videos
        self.video_topic = rng.integers(0, topics, n)
        creators = max(n // 20, 10)
        created = np.sort(NOW_TS - rng.uniform(0, 30 * 86400, n))
        hashtags = np.stack([self.video_topic, topics + rng.integers(0, 2000, n)], axis=1)
        self.catalog = Catalog.from_arrays(
            "us", np.arange(1, n + 1), 1_000_000 + rng.integers(0, creators, n), created,
            sound_ids=rng.integers(0, max(n // 50, 10), n), duration_s=rng.uniform(5, 60, n).astype(np.float32),
            adult_only=rng.uniform(size=n) < 0.02, eligible=rng.uniform(size=n) > 0.01, hashtags=hashtags)
        self.rows_by_topic = [np.flatnonzero(self.video_topic == t) for t in range(topics)]
        self.stats = VideoStats(self.catalog)
        plays = np.floor(rng.lognormal(3.0, 1.5, n))
        quality = rng.beta(2, 5, n)
        col = self.stats.columns
        col["impressions"][:n] = plays * 1.3
        col["plays"][:n] = plays
        col["completes"][:n] = np.floor(plays * quality)
        col["likes"][:n] = np.floor(plays * quality * 0.2)
        col["shares"][:n] = np.floor(plays * quality * 0.02)
        col["comments"][:n] = np.floor(plays * quality * 0.03)
        col["follows"][:n] = np.floor(plays * quality * 0.01)
        col["skips"][:n] = np.floor(plays * (1 - quality) * 0.5)
        col["early_skips"][:n] = np.floor(plays * (1 - quality) * 0.3)
        col["watch_n"][:n] = col["completes"][:n] + col["skips"][:n]
        col["watch_sum"][:n] = col["completes"][:n] + col["skips"][:n] * 0.3
        self.stats.trend_acc[:n] = plays * quality * np.exp2(-(NOW_TS - created) / (24 * 3600.0))
        self.stats.ref_ts = NOW_TS
        self.build_seconds = {"catalog_and_stats": time.perf_counter() - started}

    def models(self) -> ServingModels:
        started = time.perf_counter()
        rng = np.random.default_rng(self.rng_seed + 1)
        centroids = rng.normal(size=(self.topics, self.dim)).astype(np.float32)
        vectors = centroids[self.video_topic] + 0.6 * rng.normal(size=(self.n_videos, self.dim)).astype(np.float32)
        vectors *= 0.3
        video_ids = self.catalog.video_ids[: self.n_videos]
        # The newest 0.5% have no trained vector: they get the cold-start mean of their hashtags' vectors.
        trained = np.arange(self.n_videos) < int(self.n_videos * 0.995)
        tag_ids = np.arange(self.topics)
        empty = KeyedVectors(np.zeros(0, np.int64), np.zeros((0, self.dim), np.float32))
        cowatch = self._cowatch(rng)
        models = ServingModels("synthetic", video_ids[trained], vectors[trained],
                               hashtags=KeyedVectors(tag_ids, 0.3 * centroids), sounds=empty, creators=empty,
                               fold_in=FoldIn("als", 0.05, 1.0, True), cowatch=cowatch,
                               predictor=self._predictor(rng), ivf_min_items=50_000, nprobe=16)
        models.attach(self.catalog)
        self.build_seconds["models"] = time.perf_counter() - started
        self.build_seconds["index_kind"] = models.index.kind  # type: ignore[assignment]
        return models

    def _cowatch(self, rng: np.random.Generator, neighbours: int = 10) -> CoWatchIndex:
        import scipy.sparse as sp

        n = self.n_videos
        rows = np.repeat(np.arange(n), neighbours)
        cols = np.empty(n * neighbours, dtype=np.int64)
        for topic, members in enumerate(self.rows_by_topic):
            picks = members[rng.integers(0, len(members), (len(members), neighbours))]
            cols[(members[:, None] * neighbours + np.arange(neighbours)).ravel()] = picks.ravel()
        weights = rng.uniform(0.05, 1.0, n * neighbours).astype(np.float32)
        matrix = sp.csr_matrix((weights, (rows, cols)), shape=(n, n))
        return CoWatchIndex(self.catalog.video_ids[:n].copy(), matrix)

    def _predictor(self, rng: np.random.Generator, rows: int = 20_000) -> BoostedPredictor:
        """Boosters trained on synthetic impressions whose outcomes depend on fit and quality."""
        X = np.zeros((rows, len(FEATURE_NAMES)))
        for name in FEATURE_NAMES:
            X[:, FEATURE_INDEX[name]] = rng.uniform(0, 1, rows)
        fit = 2 * X[:, FEATURE_INDEX["emb_sim"]] + X[:, FEATURE_INDEX["hashtag_affinity"]]
        base = X[:, FEATURE_INDEX["video_completion_rate"]]
        p = 1 / (1 + np.exp(-(3 * base + fit - 2.5)))
        finish = (rng.uniform(size=rows) < p).astype(float)
        labels = ImpressionLabels(finish, finish * (rng.uniform(size=rows) < 0.3),
                                  finish * (rng.uniform(size=rows) < 0.05), finish * (rng.uniform(size=rows) < 0.05),
                                  finish * (rng.uniform(size=rows) < 0.03), finish + rng.uniform(0, 0.3, rows))
        trained = fit_ranker(X, labels, np.arange(rows, dtype=float), list(FEATURE_NAMES),
                             RankerTrainingConfig(early_stopping_rounds=1000, threads=2,
                                                  min_positives=5))
        return BoostedPredictor("synthetic", trained.boosters, list(FEATURE_NAMES))

    # ---- viewers ------------------------------------------------------------------------------------------
    def viewer_events(self, user_id: int, since_ts: float | None) -> list[EventRecord]:
        rng = np.random.default_rng([self.rng_seed, user_id])
        loves = rng.integers(0, self.topics, 2)
        events = []
        ts = NOW_TS - 3 * 86400
        for seq in range(60):
            topic = loves[seq % 2] if rng.uniform() < 0.8 else rng.integers(0, self.topics)
            members = self.rows_by_topic[topic]
            row = int(members[rng.integers(0, len(members))])
            video = int(self.catalog.video_ids[row])
            ts += rng.uniform(10, 3600)
            if topic in loves:
                kind, ratio = ("complete", 1.0) if rng.uniform() < 0.7 else ("like", None)
            else:
                kind, ratio = "skip", 0.1
            events.append(EventRecord(user_id * 1000 + seq, user_id, video, None, kind, ratio, ts))
        return events

    def relations(self, user_id: int) -> ViewerRelations:
        rng = np.random.default_rng([self.rng_seed, user_id, 7])
        creators = self.catalog.creator_ids[rng.integers(0, self.n_videos, 6)]
        return ViewerRelations(following=frozenset(int(c) for c in creators[:5]),
                               blocked_creators=frozenset({int(creators[5])}))

    def engine(self, models: ServingModels) -> ForYouEngine:
        engine = ForYouEngine("us", engine_settings=EngineSettings(viewer_cache_size=200_000),
                              catalog=self.catalog, stats=self.stats, relations_provider=self.relations,
                              viewer_events_loader=self.viewer_events)
        engine.models, engine.predictor = models, models.predictor
        return engine


def context(user_id: int, seen: frozenset[int] = frozenset()) -> FeedContext:
    return FeedContext(region="us", user_id=user_id, request_id=str(uuid.uuid4()), now=NOW, limit=10,
                       seen_video_ids=seen)


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    values = np.asarray(samples_ms)
    return {"n": int(len(values)), "p50_ms": round(float(np.percentile(values, 50)), 3),
            "p90_ms": round(float(np.percentile(values, 90)), 3), "p99_ms": round(float(np.percentile(values, 99)), 3),
            "max_ms": round(float(values.max()), 3), "mean_ms": round(float(values.mean()), 3)}


def in_process(n_videos: int, n_viewers: int, requests: int, seed: int = 0) -> dict:
    world = SyntheticWorld(n_videos, n_viewers, seed=seed)
    models = world.models()
    engine = world.engine(models)
    rng = np.random.default_rng(seed + 2)
    viewers = rng.choice(np.arange(1, n_viewers + 1), size=min(requests, n_viewers), replace=False)
    cold, warm, warm_cpu, stages = [], [], [], []
    gc.collect()
    for viewer in viewers:  # first request of each viewer: the state is built from the history
        started = time.perf_counter()
        engine.recommend(context(int(viewer)))
        cold.append((time.perf_counter() - started) * 1000)
    items = 0
    for i in range(requests):
        viewer = int(viewers[i % len(viewers)])
        started, cpu = time.perf_counter(), time.thread_time()
        result = engine.recommend(context(viewer))
        warm.append((time.perf_counter() - started) * 1000)
        warm_cpu.append((time.thread_time() - cpu) * 1000)
        items += len(result.items)
        if i < 200:
            stages.append(result.logged_inputs["source_timings_ms"])
    anonymous = []
    for _ in range(min(requests, 300)):
        started = time.perf_counter()
        engine.recommend(FeedContext(region="us", user_id=None, request_id=str(uuid.uuid4()), now=NOW, limit=10,
                                     personalised=False))
        anonymous.append((time.perf_counter() - started) * 1000)
    source_ms = {name: round(float(np.mean([s.get(name, 0.0) for s in stages])), 3) for name in stages[0]}
    return {"videos": n_videos, "viewers": n_viewers, "embedding_dim": world.dim,
            "candidates_per_request": len(result.logged_inputs["candidates"]["video_ids"]),
            "candidates_before_filters": result.logged_inputs["candidates_before_filters"],
            "items_per_page": items / requests, "build_seconds": world.build_seconds,
            "warm": percentiles(warm), "warm_cpu_time": percentiles(warm_cpu), "cold_viewer": percentiles(cold),
            "signed_out_popularity": percentiles(anonymous),
            "mean_source_ms": source_ms}


# ---- over HTTP -------------------------------------------------------------------------------------------


def machine_facts() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average": os.getloadavg()}


def save_report(report: dict, name: str, *, quick: bool, out: str | None) -> Path:
    """Write ``report`` as ``results/<name>.json`` (``<name>-quick.json`` for a smoke run) or to ``out``."""
    path = Path(out) if out else RESULTS / (f"{name}-quick.json" if quick else f"{name}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_deployment(data_dir: Path, n_videos: int, n_viewers: int, events_per_viewer: int, seed: int = 0,
                     impressions_per_viewer: int = 0) -> list[str]:
    """A real deployment: users with bearer sessions, videos with hashtags, an event log. Returns tokens.

    ``impressions_per_viewer``: pages already served to each viewer (10 impressions a page), so that requests
    are for returning viewers with a history rather than for viewers on their first page."""
    from sqlalchemy import insert

    from openfyp.services import build_services
    from openfyp.settings import Settings
    from openfyp.store.tables import AuthSession, EventRow, FeedRequest, Hashtag, Impression, User, Video, VideoHashtag

    settings = Settings(data_dir=data_dir, region="us", job_workers=0, secret_key="bench-secret",
                        write_rate_per_minute=1_000_000)
    services = build_services(settings)
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    creators = max(n_videos // 20, 5)
    tokens: list[str] = []
    with services.engine.begin() as conn:
        conn.execute(insert(User), [
            {"id": i + 1, "region": "us", "username": f"user{i + 1}", "password_hash": "x",
             "birth_date": date(1990, 1, 1), "display_name": f"User {i + 1}", "created_at": now}
            for i in range(creators + n_viewers)])
        conn.execute(insert(Hashtag), [{"id": t + 1, "region": "us", "name": f"topic{t}", "created_at": now}
                                       for t in range(50)])
        topics = rng.integers(0, 50, n_videos)
        ages = np.sort(rng.uniform(0, 20 * 86400, n_videos))[::-1]
        conn.execute(insert(Video), [
            {"id": i + 1, "region": "us", "creator_id": int(rng.integers(1, creators + 1)), "caption": "",
             "status": "ready", "visibility": "public", "moderation_state": "ok", "media_key": f"v{i + 1}.mp4",
             "poster_key": f"v{i + 1}.jpg", "duration_s": 15.0, "width": 720, "height": 1280,
             "created_at": now - timedelta(seconds=float(ages[i])),
             "ready_at": now - timedelta(seconds=float(ages[i]))} for i in range(n_videos)])
        conn.execute(insert(VideoHashtag), [{"video_id": i + 1, "hashtag_id": int(topics[i]) + 1}
                                            for i in range(n_videos)])
        events = []
        for viewer in range(creators + 1, creators + n_viewers + 1):
            for _ in range(events_per_viewer):
                events.append({"event_id": str(uuid.uuid4()), "region": "us", "user_id": viewer,
                               "video_id": int(rng.integers(1, n_videos + 1)),
                               "kind": str(rng.choice(["play", "complete", "like", "skip"])), "watch_ratio": 0.5,
                               "server_ts": now - timedelta(seconds=float(rng.uniform(0, 86400)))})
        for start in range(0, len(events), 20_000):
            conn.execute(insert(EventRow), events[start:start + 20_000])
        for viewer in range(creators + 1, creators + n_viewers + 1) if impressions_per_viewer else ():
            shown = rng.choice(n_videos, size=min(impressions_per_viewer, n_videos), replace=False) + 1
            pages = [str(uuid.uuid4()) for _ in range(0, len(shown), 10)]
            conn.execute(insert(FeedRequest), [{"id": page, "region": "us", "user_id": viewer, "surface": "foryou",
                                                "created_at": now} for page in pages])
            conn.execute(insert(Impression), [{"region": "us", "request_id": pages[i // 10], "user_id": viewer,
                                               "video_id": int(video_id), "position": i % 10, "created_at": now}
                                              for i, video_id in enumerate(shown)])
        sessions = []
        for viewer in range(creators + 1, creators + n_viewers + 1):
            token = secrets.token_urlsafe(32)
            tokens.append(token)
            sessions.append({"token_hash": hashlib.sha256(token.encode()).hexdigest(), "user_id": viewer,
                             "kind": "bearer", "expires_at": now + timedelta(days=1), "last_seen_at": now,
                             "created_at": now})
        conn.execute(insert(AuthSession), sessions)
    services.close()
    return tokens


def train_deployment(data_dir: Path) -> str:
    """Retrain from the deployment's log and release the model as the demo does (trainer's signature, overseer's
    approval), so the server ranks with trained embeddings and ranker. Returns the model version."""
    from openfyp.demo.training import train_and_promote
    from openfyp.services import build_services
    from openfyp.settings import Settings

    services = build_services(Settings(data_dir=data_dir, region="us", job_workers=0, secret_key="bench-secret"))
    try:
        return train_and_promote(services)
    finally:
        services.close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status, length = int(lines[0].split()[1]), 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, (await reader.readexactly(length) if length else b"")


async def drive(base_url: str, tokens: list[str], rate: float, seconds: float, timeout: float = 10.0) -> dict:
    """Open loop: request i is sent at start + i/rate whatever came back before, over raw keep-alive HTTP/1.1
    connections (a new one whenever none is idle). A full HTTP client costs the client ~1-2 ms of CPU per
    request and fell over first at overload; this one stays cheap, so the server is what is measured."""
    import orjson

    host, port = base_url.removeprefix("http://").split(":")
    latencies: list[float] = []
    service: list[float] = []
    statuses: dict[int | str, int] = {}
    items: list[int] = []
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    total = int(rate * seconds)
    rng = np.random.default_rng(3)
    picks = rng.integers(0, len(tokens), total)
    start = time.perf_counter() + 0.2

    async def one(i: int) -> None:
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        sent = time.perf_counter()
        request = (f"GET /api/feed/foryou?limit=10 HTTP/1.1\r\nHost: {host}\r\n"
                   f"Authorization: Bearer {tokens[picks[i]]}\r\n\r\n").encode()
        body = b""
        for attempt in range(2):
            reused = bool(idle) and attempt == 0  # a retry opens a new connection: other idle ones may be stale too
            connection = idle.pop() if reused else None
            try:
                if connection is None:
                    connection = await asyncio.open_connection(host, int(port))
                reader, writer = connection
                writer.write(request)
                left = max(0.1, sent + timeout - time.perf_counter())
                status, body = await asyncio.wait_for(_read_response(reader), left)
                idle.append(connection)
                break
            except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                # An overloaded server times out: count it, drop the connection, keep measuring.
                status = type(exc).__name__
                if connection is not None:
                    connection[1].close()
                if not (reused and isinstance(exc, (asyncio.IncompleteReadError, ConnectionError))):
                    break  # (a kept-alive connection the server had closed gets one retry on a new one)
        done = time.perf_counter()
        statuses[status] = statuses.get(status, 0) + 1
        latencies.append((done - scheduled) * 1000)
        service.append((done - sent) * 1000)
        if status == 200:
            items.append(len(orjson.loads(body)["items"]))

    await asyncio.gather(*(one(i) for i in range(total)))
    elapsed = time.perf_counter() - start
    for _, writer in idle:
        writer.close()
    return {"target_rate": rate, "achieved_rate": round(len(latencies) / elapsed, 1),
            # Pages answered 200 per second: the throughput (achieved_rate also counts requests that timed out).
            "ok_rate": round(statuses.get(200, 0) / elapsed, 1), "seconds": seconds,
            "statuses": {str(k): v for k, v in statuses.items()},
            "mean_items": round(float(np.mean(items)), 2) if items else 0.0,
            "from_schedule": percentiles(latencies), "from_send": percentiles(service)}


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time the process and its live child processes (server workers) have used so far
    (Linux ``/proc``)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().rsplit(")", 1)
        except OSError:  # gone meanwhile
            continue
        fields = tail.split()
        if int(stat.parent.name) == pid or int(fields[1]) == pid:  # fields[1]: the parent's pid
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def over_http(n_videos: int, n_viewers: int, rates: list[float], seconds: float, history: int = 0,
              workers: int = 1, train: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder) / "data"
        started = time.perf_counter()
        tokens = build_deployment(data_dir, n_videos, n_viewers, events_per_viewer=20, impressions_per_viewer=history)
        model_version = train_deployment(data_dir) if train else None
        built = time.perf_counter() - started
        port = free_port()
        env = {**os.environ, "OPENFYP_DATA_DIR": str(data_dir), "OPENFYP_REGION": "us", "OPENFYP_JOB_WORKERS": "0",
               "OPENFYP_SECRET_KEY": "bench-secret", "OPENFYP_WRITE_RATE_PER_MINUTE": "1000000"}
        server_log = (Path(folder) / "server.log").open("w")
        # `openfyp serve` as a deployment runs it (with --workers N: N processes behind one port).
        server = subprocess.Popen([sys.executable, "-m", "openfyp.cli", "serve", "--host", "127.0.0.1", "--port",
                                   str(port), "--workers", str(workers), "--no-access-log"], env=env, stdout=server_log,
                                  stderr=subprocess.STDOUT)
        try:
            import httpx

            deadline = time.time() + 600  # a 1M catalogue takes ~2 minutes to load
            while time.time() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/api/feed/foryou", timeout=2).status_code < 500:
                        break
                except httpx.HTTPError:
                    time.sleep(0.3)
            warm = asyncio.run(drive(f"http://127.0.0.1:{port}", tokens, 10, 2.0))
            runs = []
            for each in rates:
                cpu_before = process_cpu_seconds(server.pid)
                runs.append(asyncio.run(drive(f"http://127.0.0.1:{port}", tokens, each, seconds)))
                answered = runs[-1]["statuses"].get("200", 0)
                # The server's own CPU per answered page: what a core can serve, whatever else runs on the box.
                runs[-1]["server_cpu_ms_per_ok_request"] = (
                    round((process_cpu_seconds(server.pid) - cpu_before) * 1000 / answered, 2) if answered else None)
                runs[-1]["load_average"] = os.getloadavg()
                print(f"  {each:>5} req/s -> achieved {runs[-1]['achieved_rate']} ({runs[-1]['ok_rate']} ok/s), p50 "
                      f"{runs[-1]['from_schedule']['p50_ms']} ms, p99 {runs[-1]['from_schedule']['p99_ms']} ms, "
                      f"statuses {runs[-1]['statuses']}, server cpu/request "
                      f"{runs[-1]['server_cpu_ms_per_ok_request']} ms, load {runs[-1]['load_average'][0]:.1f}",
                      flush=True)
                time.sleep(2.0)  # let a backlog drain before the next rate
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:  # still working off an overload backlog: the numbers are taken
                server.kill()
                server.wait(timeout=30)
            server_log.close()
            errors = (Path(folder) / "server.log").read_text().count("Traceback")
    return {"videos": n_videos, "viewers": n_viewers, "impressions_per_viewer": history, "database": "sqlite",
            "server": f"openfyp serve (uvicorn), {workers} worker process{'es' if workers > 1 else ''}",
            "endpoint": "GET /api/feed/foryou?limit=10 (auth, engine, hydration, FeedRequest+Impression logging)",
            "model": model_version or "none trained (heuristic ranker, online embeddings)",
            "setup_seconds": round(built, 1), "warmup": warm["from_send"], "runs": runs,
            "server_tracebacks": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="Small sizes and few requests (a smoke run).")
    parser.add_argument("--sizes", default=None, help="Catalogue sizes, comma separated.")
    parser.add_argument("--viewers", type=int, default=None)
    parser.add_argument("--requests", type=int, default=None)
    parser.add_argument("--http-rates", default="5,10,25,50,200", help="Request rates to hold, comma separated.")
    parser.add_argument("--http-seconds", type=float, default=None)
    parser.add_argument("--http-videos", type=int, default=None)
    parser.add_argument("--http-viewers", type=int, default=None,
                        help="Signed-in viewers the HTTP requests are spread over (2,000; 300 with --quick). Fewer "
                             "viewers than requests means most pages are for viewers the server already knows.")
    parser.add_argument("--http-history", type=int, default=0,
                        help="Impressions already logged for each viewer (their seen set) before the HTTP runs.")
    parser.add_argument("--http-workers", type=int, default=1, help="Server processes (openfyp serve --workers).")
    parser.add_argument("--http-train", action="store_true",
                        help="Train and release a model on the deployment before serving (as `openfyp train`).")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--no-in-process", action="store_true", help="Only the HTTP section.")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else (
        [2_000, 10_000] if args.quick else [10_000, 100_000, 1_000_000])
    viewers = args.viewers or (2_000 if args.quick else 100_000)
    requests = args.requests or (100 if args.quick else 2_000)
    report = {"benchmark": "serving", "quick": args.quick, "machine": {
        "cpus": os.cpu_count(), "python": platform.python_version(), "load_average": os.getloadavg()},
        "in_process": [], "http": None, "targets": {"in_process_p99_ms_at_1M": 10, "http_p99_ms_at_200rps": 30}}
    out = Path(args.out) if args.out else RESULTS / ("serving-quick.json" if args.quick else "serving.json")
    out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after every section, so a long run that is stopped still leaves its numbers
        report["machine"]["load_average_after"] = os.getloadavg()
        out.write_text(json.dumps(report, indent=2) + "\n")

    for size in [] if args.no_in_process else sizes:
        print(f"in process: {size:,} videos, {viewers:,} viewers ...", flush=True)
        row = in_process(size, viewers, requests)
        report["in_process"].append(row)
        save()
        print(f"  warm p50 {row['warm']['p50_ms']} ms  p99 {row['warm']['p99_ms']} ms (cpu p50 "
              f"{row['warm_cpu_time']['p50_ms']} p99 {row['warm_cpu_time']['p99_ms']}) | cold p99 "
              f"{row['cold_viewer']['p99_ms']} ms | {row['candidates_before_filters']} candidates", flush=True)
        gc.collect()
    if not args.no_http:
        videos = args.http_videos or (2_000 if args.quick else 20_000)
        seconds = args.http_seconds or (3.0 if args.quick else 20.0)
        rates = [float(r) for r in args.http_rates.split(",")]
        print(f"over HTTP: {videos:,} videos, {seconds}s at each of {rates} req/s ...", flush=True)
        report["http"] = over_http(videos, args.http_viewers or (300 if args.quick else 2_000), rates, seconds,
                                   args.http_history, args.http_workers, args.http_train)
    save()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
