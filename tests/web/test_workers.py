"""``openfyp serve --workers 2``: two server processes on one database, and a viewer still never sees a video
twice, however their requests are spread over the processes and however much they overlap."""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert, select

from openfyp.services import build_services
from openfyp.settings import Settings
from openfyp.store.tables import AuthSession, EventRow, Impression, Like, User, Video
from tests.web.browser_support import free_port

VIDEOS = 400  # more than the 128 a viewer asks for: pages come back full
VIEWERS = 3


def _deployment(data_dir: Path) -> list[tuple[int, str]]:
    services = build_services(Settings(data_dir=data_dir, region="us", job_workers=0, secret_key="workers-test"))
    now = datetime.now(UTC)
    viewers: list[tuple[int, str]] = []
    with services.engine.begin() as conn:
        conn.execute(insert(User), [{"id": i, "region": "us", "username": f"user{i}", "password_hash": "x",
                                     "birth_date": date(1990, 1, 1), "display_name": f"User {i}", "created_at": now}
                                    for i in range(1, 6 + VIEWERS)])
        conn.execute(insert(Video), [
            {"id": i, "region": "us", "creator_id": 1 + i % 5, "caption": "", "status": "ready",
             "visibility": "public", "moderation_state": "ok", "media_key": f"v{i}.mp4", "poster_key": f"v{i}.jpg",
             "duration_s": 15.0, "width": 720, "height": 1280, "created_at": now - timedelta(minutes=i),
             "ready_at": now - timedelta(minutes=i)} for i in range(1, VIDEOS + 1)])
        # Plays by the creators: trending then has every video to offer (these rows skip the upload path that
        # would put them in traffic pools).
        conn.execute(insert(EventRow), [
            {"event_id": str(uuid.uuid4()), "region": "us", "user_id": 1 + (i + k) % 5, "video_id": i, "kind": "play",
             "watch_ratio": 0.5, "server_ts": now - timedelta(minutes=k)} for i in range(1, VIDEOS + 1)
            for k in range(3)])
        # A like whose state a crash kept from being written: set right once, before the workers start.
        conn.execute(insert(EventRow), {"event_id": str(uuid.uuid4()), "region": "us", "user_id": 6, "video_id": 1,
                                        "kind": "like", "server_ts": now})
        for viewer in range(6, 6 + VIEWERS):
            token = secrets.token_urlsafe(32)
            viewers.append((viewer, token))
            conn.execute(insert(AuthSession), {
                "token_hash": hashlib.sha256(token.encode()).hexdigest(), "user_id": viewer, "kind": "bearer",
                "expires_at": now + timedelta(days=1), "last_seen_at": now, "created_at": now})
    services.close()
    return viewers


def test_two_worker_processes_never_serve_a_viewer_the_same_video_twice(tmp_path):
    data_dir = tmp_path / "data"
    viewers = _deployment(data_dir)
    port = free_port()
    env = {**os.environ, "OPENFYP_DATA_DIR": str(data_dir), "OPENFYP_REGION": "us", "OPENFYP_JOB_WORKERS": "0",
           "OPENFYP_SECRET_KEY": "workers-test", "OPENFYP_WRITE_RATE_PER_MINUTE": "100000"}
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen([sys.executable, "-m", "openfyp.cli", "serve", "--port", str(port), "--workers",
                                   "2"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/api/feed/foryou", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.2)

        def page(token: str) -> list[int]:
            # A new connection each time, so the requests land on either process.
            response = httpx.get(f"{base}/api/feed/foryou?limit=8", timeout=60,
                                 headers={"Authorization": f"Bearer {token}", "Connection": "close"})
            assert response.status_code == 200, response.text
            return [item["id"] for item in response.json()["items"]]

        served: dict[int, list[int]] = {viewer: [] for viewer, _ in viewers}
        with ThreadPoolExecutor(max_workers=8) as pool:
            for _round in range(4):  # each viewer asks for 4 pages at once, 4 times over
                futures = [(viewer, pool.submit(page, token)) for viewer, token in viewers for _ in range(4)]
                for viewer, future in futures:
                    served[viewer].extend(future.result())
        for viewer, video_ids in served.items():
            assert len(video_ids) == len(set(video_ids)), f"viewer {viewer} was served a video twice"
            assert len(video_ids) >= 64, f"pages came back short: {len(video_ids)} videos in 16 pages of 8"

        text = log_path.read_text()
        assert text.count("Started server process") == 2, text[-3000:]
        assert "Traceback" not in text, text[-3000:]
    finally:
        server.terminate()
        server.wait(timeout=60)

    services = build_services(Settings(data_dir=data_dir, region="us", job_workers=0, secret_key="workers-test"))
    try:
        with services.session_factory() as db:
            for viewer, video_ids in served.items():
                logged = db.scalars(select(Impression.video_id).where(Impression.user_id == viewer)).all()
                assert sorted(logged) == sorted(video_ids)  # what was logged is exactly what was served
            assert db.scalars(select(Like.user_id).where(Like.video_id == 1)).all() == [6]
    finally:
        services.close()
