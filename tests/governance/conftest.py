"""Helpers for governance tests: rows of another region planted in the same database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from openfyp.cli import app
from openfyp.platform.accounts import hash_password
from openfyp.settings import get_settings
from openfyp.store.tables import Comment, EventRow, FeedRequest, Impression, User, Video

FOREIGN = "eu"


@dataclass
class Planted:
    user_id: int
    video_id: int
    private_video_id: int
    comment_id: int
    event_seq: int
    request_id: str


def plant_region(engine, region: str = FOREIGN, *, name: str = "eve") -> Planted:
    """Rows of ``region`` written straight through the engine, as another deployment sharing the database
    (or an operator's mistake) would leave them. The guarded session factory is deliberately bypassed."""
    now = datetime.now(UTC)
    with Session(engine) as db:
        user = User(region=region, username=f"{name}_{region}", password_hash=hash_password("correct horse"),
                    display_name=name, birth_date=date(1990, 1, 1), email=f"{name}@{region}.example")
        db.add(user)
        db.flush()
        public = Video(region=region, creator_id=user.id, caption=f"{region} public", status="ready",
                       visibility="public", media_key=f"{region}/v.mp4", ready_at=now, duration_s=5.0)
        private = Video(region=region, creator_id=user.id, caption=f"{region} private", status="ready",
                        visibility="private", ready_at=now, duration_s=5.0)
        db.add_all([public, private])
        db.flush()
        comment = Comment(region=region, video_id=public.id, user_id=user.id, body=f"{region} comment")
        event = EventRow(event_id=str(uuid.uuid4()), region=region, user_id=user.id, video_id=public.id,
                         kind="like", server_ts=now, client_ts=now)
        request_id = str(uuid.uuid4())
        feed = FeedRequest(id=request_id, region=region, user_id=user.id, surface="foryou", inputs={}, items=[])
        db.add_all([comment, event, feed])
        db.flush()
        db.add(Impression(region=region, request_id=request_id, user_id=user.id, video_id=public.id, position=0))
        db.commit()
        return Planted(user.id, public.id, private.id, comment.id, event.seq, request_id)


@pytest.fixture
def foreign(any_db_services) -> Planted:
    return plant_region(any_db_services.engine)


@pytest.fixture
def foreign_sqlite(services) -> Planted:
    return plant_region(services.engine)


@pytest.fixture
def cli(settings, monkeypatch):
    """Runs ``openfyp ...`` against the test deployment's data directory, as an operator would."""
    monkeypatch.setenv("OPENFYP_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("OPENFYP_REGION", settings.region)
    monkeypatch.setenv("OPENFYP_SECRET_KEY", "test-secret")
    monkeypatch.setenv("OPENFYP_JOB_WORKERS", "0")
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str, code: int = 0):
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, (args, result.output, result.stderr if result.stderr_bytes else "")
        return result

    yield run
    get_settings.cache_clear()
