"""Kill -9 the server at random moments while clients send events: no acknowledged event is ever lost, and
the online learner resumes from its durable checkpoint and catches up with the log.

The server is the real web app under uvicorn in a child process (group-commit ingest, online learner
checkpointing every half second). Client threads post batches to ``POST /api/events`` and record the ids of
every batch the server acknowledged. ``OPENFYP_CRASH_ROUNDS`` sets how many kills (3 by default).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from openfyp.realtime.learner import read_checkpoint_position
from openfyp.realtime.wiring import checkpoint_path
from openfyp.services import build_services
from openfyp.settings import Settings
from tests.recsys.world import World

ROUNDS = int(os.environ.get("OPENFYP_CRASH_ROUNDS", "3"))
CLIENTS = 4
BATCH = 20

CHILD = """
import logging, sys
import uvicorn
from openfyp.settings import Settings
from openfyp.web.app import create_app

logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s: %(message)s")
logging.getLogger("openfyp.realtime").setLevel(logging.INFO)
uvicorn.run(create_app(settings=Settings()), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, env: dict[str, str], port: int, log_path: Path) -> None:
        self.env, self.port, self.log_path = env, port, log_path
        self.process: subprocess.Popen | None = None
        self.base_url = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen([sys.executable, "-c", CHILD, str(self.port)], env=self.env,
                                        stdout=log, stderr=log)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base_url}/api/auth/me", timeout=1.0).status_code in (200, 401):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("server did not start")

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


class Clients:
    """Threads posting event batches; ``acknowledged`` holds the ids of every batch answered 200."""

    def __init__(self, base_url: str, token: str, video_ids: list[int], seed: int) -> None:
        self.base_url, self.token, self.video_ids = base_url, token, video_ids
        self.acknowledged: set[str] = set()
        self.sent_batches = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._rng = random.Random(seed)
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(CLIENTS)]

    def __enter__(self) -> Clients:  # noqa: PYI034 - a plain class, not meant for subclassing
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def wait_for_acknowledgements(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.sent_batches == 0 and time.monotonic() < deadline:
            time.sleep(0.02)

    def _batch(self) -> list[dict]:
        now = datetime.now(UTC).isoformat()
        events = []
        for _ in range(BATCH):
            kind = self._rng.choice(["impression", "play", "watch", "complete", "skip"])
            event = {"id": str(uuid.uuid4()), "kind": kind, "video_id": self._rng.choice(self.video_ids),
                     "client_ts": now, "source": "foryou"}
            if kind in ("watch", "skip", "complete"):
                event["watch_ratio"] = 1.0 if kind == "complete" else round(self._rng.random(), 3)
            events.append(event)
        return events

    def _run(self, _index: int) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=10.0) as http:
            while not self._stop.is_set():
                batch = self._batch()
                try:
                    response = http.post("/api/events", json={"events": batch})
                except httpx.HTTPError:
                    time.sleep(0.05)  # the server is down (killed): try again until told to stop
                    continue
                if response.status_code == 200:
                    with self._lock:
                        self.acknowledged.update(e["id"] for e in batch)
                        self.sent_batches += 1


def _staging(database: Path) -> Path:
    """Where the log acknowledges events before they move into ``events`` (see openfyp.events.staged)."""
    return database.with_name(f"{database.stem}.events-staging.db")


def _ids_in(path: Path, table: str) -> set[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        return {row[0] for row in connection.execute(f"SELECT event_id FROM {table}")}


def _stored_ids(database: Path) -> set[str]:
    """Ids in the log: moved into ``events`` or still staged (a kill can land between the two)."""
    return _ids_in(database, "events") | _ids_in(_staging(database), "events_staging")


def _head(database: Path) -> int:
    heads = []
    for path, table in ((database, "events"), (_staging(database), "events_staging")):
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            heads.append(connection.execute(f"SELECT coalesce(max(seq), 0) FROM {table}").fetchone()[0])
    return max(heads)


@pytest.mark.slow
def test_no_acknowledged_event_is_lost_when_the_server_is_killed_repeatedly(tmp_path):
    data_dir = tmp_path / "data"
    values = {"data_dir": data_dir, "region": "us", "secret_key": "crash-test-secret", "job_workers": 0,
              "write_rate_per_minute": 1_000_000, "realtime_checkpoint_seconds": 0.5}
    settings = Settings(**values)
    services = build_services(settings)
    world = World(services)
    world.user("creator")
    video_ids = [world.video("creator", ["crash"], sound="beat") for _ in range(8)]
    services.close()

    env = {**os.environ, **{f"OPENFYP_{key.upper()}": str(value) for key, value in values.items()}}
    server = Server(env, _free_port(), tmp_path / "server.log")
    database = data_dir / "openfyp.db"
    checkpoint = checkpoint_path(settings)
    rng = random.Random(20240601)

    server.start()
    signed_up = httpx.post(f"{server.base_url}/api/auth/signup", json={
        "username": "viewer", "password": "correct horse", "birth_date": "1990-01-01", "session": "bearer"})
    assert signed_up.status_code == 201, signed_up.text
    token = signed_up.json()["token"]

    acknowledged: set[str] = set()
    checkpoints: list[int] = []
    for round_ in range(ROUNDS):
        with Clients(server.base_url, token, video_ids, seed=round_) as clients:
            clients.wait_for_acknowledgements(timeout=60)
            time.sleep(rng.uniform(0.1, 1.5))  # the kill lands at a random moment of the traffic
            server.kill()
        acknowledged |= clients.acknowledged
        assert clients.sent_batches > 0, "the clients got acknowledgements before the kill"
        stored = _stored_ids(database)
        lost = acknowledged - stored
        assert not lost, f"round {round_}: {len(lost)} acknowledged events are not in the log"
        position = read_checkpoint_position(checkpoint)
        if position is not None:
            assert position <= _head(database)
            checkpoints.append(position)
        server.start()

    # Resumed from its checkpoint (not from the start of the log), the learner catches up with the head.
    head = _head(database)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (read_checkpoint_position(checkpoint) or 0) < head:
        time.sleep(0.2)
    assert read_checkpoint_position(checkpoint) == head
    server.terminate()
    assert acknowledged <= _ids_in(database, "events"), "a clean stop moves everything staged into the table"
    assert len(acknowledged) >= ROUNDS * BATCH
    log = (tmp_path / "server.log").read_text()
    assert checkpoints and max(checkpoints) > 0, "a checkpoint was written before some kill"
    assert log.count("resumed from its checkpoint at log position") >= 1, log[-3000:]
