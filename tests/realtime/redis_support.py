"""Redis for tests: a stream of its own on the shared test server (``OPENFYP_TEST_REDIS_URL``), or a redis-server
of the test's own that fsyncs every write (what a deployment demands), and a deployment built on it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from datetime import UTC, datetime

import pytest

from openfyp.events import Event, EventKind
from openfyp.realtime.redis_log import RedisEventLog

REDIS_URL = os.environ.get("OPENFYP_TEST_REDIS_URL")


def need_redis() -> None:
    if not REDIS_URL:
        pytest.skip("no Redis server (set OPENFYP_TEST_REDIS_URL)")


@pytest.fixture
def stream():
    """A stream of this test's own on the shared server (not durable: tests only)."""
    need_redis()
    log = RedisEventLog(REDIS_URL, "us", prefix=f"test-{uuid.uuid4().hex[:10]}", require_durable=False)
    try:
        yield log
    finally:
        log.drop()
        log.close()


@pytest.fixture
def durable_redis_url(tmp_path):
    """A redis-server of this test's own with the AOF fsynced on every write (the production setting)."""
    import redis

    need_redis()
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server to start")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "yes", "--appendfsync", "always", "--dir", str(tmp_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        for _ in range(100):
            try:
                if redis.Redis.from_url(url).ping():
                    break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def stream_event(user_id: int = 7, video_id: int | None = 1, region: str = "us", kind: EventKind = EventKind.watch,
                 target_user_id: int | None = None) -> Event:
    now = datetime.now(UTC)
    return Event(event_id=str(uuid.uuid4()), region=region, user_id=user_id, video_id=video_id, kind=kind,
                 target_user_id=target_user_id, watch_ratio=0.5, client_ts=now, server_ts=now,
                 extra={"n": video_id})
