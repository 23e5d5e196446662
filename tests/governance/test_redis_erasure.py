"""Erasure and export on a deployment whose event log is a Redis stream (copied into SQL by a sink), against a
real redis-server that fsyncs every write, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from openfyp.events import Event, EventKind
from openfyp.governance import privacy
from openfyp.realtime.redis_log import RedisEventLog, StreamToSqlSink
from openfyp.realtime.wiring import realtime_of
from openfyp.services import build_services
from openfyp.store.base import utcnow
from openfyp.store.tables import DataRequest, EventRow, Job, User
from openfyp.web.app import create_app
from tests.conftest import make_settings
from tests.realtime.redis_support import durable_redis_url
from tests.web.social_support import PASSWORD, add_video, fast_user

__all__ = ["durable_redis_url"]

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_services(tmp_path, database_url, durable_redis_url):
    services = build_services(make_settings(tmp_path, database_url=database_url, event_stream="redis",
                                            redis_url=durable_redis_url), run_migrations=False)
    try:
        yield services
    finally:
        services.events.drop()
        services.close()


def _append(services, kind: EventKind, user_id: int, *, video_id: int | None = None,
            target_user_id: int | None = None) -> Event:
    event = Event.server_side(kind, user_id=user_id, region=services.region, video_id=video_id,
                              target_user_id=target_user_id)
    services.events.append([event])
    return event


def _about(services, user_id: int, video_id: int) -> int:
    with services.session_factory() as db:
        return db.scalar(select(func.count()).select_from(EventRow).where(
            (EventRow.user_id == user_id) | (EventRow.video_id == video_id) | (EventRow.target_user_id == user_id)))


def _copy_as_another_server(services) -> int:
    """What the sink of a second server that has copied nothing yet copies (it reads the stream from its start)."""
    other = RedisEventLog(services.settings.redis_url, services.region)
    try:
        return StreamToSqlSink(other, services.engine).copy_pending()
    finally:
        other.close()


def _leave_and_stay(client, services):
    leaver, stayer = fast_user(client, services, "lena"), fast_user(client, services, "stan")
    video, stayer_video = add_video(services, leaver.id, "bye"), add_video(services, stayer.id, "still here")
    theirs = [_append(services, EventKind.like, leaver.id, video_id=stayer_video),
              _append(services, EventKind.like, stayer.id, video_id=video),
              _append(services, EventKind.follow, stayer.id, target_user_id=leaver.id)]
    kept = _append(services, EventKind.like, stayer.id, video_id=stayer_video)
    return leaver, video, theirs, kept


def test_deleting_an_account_removes_its_events_from_the_stream_and_no_sink_copies_them_back(redis_services):
    services = redis_services
    with TestClient(create_app(services)) as client:
        leaver, video, theirs, kept = _leave_and_stay(client, services)
        assert services.events.settle(timeout=10) and _about(services, leaver.id, video) == 3
        deleted = client.request("DELETE", "/api/me", json={"password": PASSWORD}, headers=leaver.headers)
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["events_removed"] == 3

        stream = services.events
        assert [e.event_id for e in stream.read_after(0)] == [kept.event_id]
        assert stream.known([e.event_id for e in [*theirs, kept]]) == {kept.event_id}
        assert _about(services, leaver.id, video) == 0
        # A server whose sink is behind reads the stream after the erasure: nothing of theirs is left to copy.
        assert _copy_as_another_server(services) == 1
        assert _about(services, leaver.id, video) == 0
        # The running sink moved on too: the log still settles.
        assert stream.settle(timeout=10)


def test_events_not_yet_copied_into_sql_are_erased_from_the_stream(redis_services):
    """A server that copies nothing itself (its sink runs elsewhere) erases what has not reached the table."""
    services = redis_services
    realtime_of(services).sink = None
    services.events.sink = None
    with TestClient(create_app(services)) as client:
        leaver, video, _, kept = _leave_and_stay(client, services)
        assert _about(services, leaver.id, video) == 0, "nothing copied yet"
        deleted = client.request("DELETE", "/api/me", json={"password": PASSWORD}, headers=leaver.headers)
        assert deleted.status_code == 200, deleted.text
        assert [e.event_id for e in services.events.read_after(0)] == [kept.event_id]
        assert _copy_as_another_server(services) == 1
        assert _about(services, leaver.id, video) == 0
        with services.session_factory() as db:
            assert list(db.scalars(select(EventRow.event_id))) == [kept.event_id]


def test_an_export_is_not_written_before_the_stream_reached_sql(redis_services):
    """The deployment's sink is stopped (not started here): the export waits for it instead of leaving out events."""
    services = redis_services
    with TestClient(create_app(services)) as client:
        owner = fast_user(client, services, "erin")
    realtime_of(services).sink.stop()  # started with the app; stopped, it copies nothing more
    video = add_video(services, owner.id, "mine")
    liked = _append(services, EventKind.like, owner.id, video_id=video)
    with services.session_factory() as db:
        request = privacy.export_own_data(db, services, db.get(User, owner.id))
        db.commit()
        request_id = request.id
    assert services.jobs.run_pending() == 1
    with services.session_factory() as db:
        request = db.get(DataRequest, request_id)
        assert (request.status, request.file_name) == ("pending", None), "retried later, nothing written"
        db.execute(update(Job).values(run_after=utcnow()))  # the retry is due now
        db.commit()
    realtime_of(services).sink.copy_pending()  # the copy catches up
    assert services.jobs.run_pending() == 1
    with services.session_factory() as db:
        request = db.get(DataRequest, request_id)
        assert request.status == "done"
        archive = zipfile.ZipFile(io.BytesIO((services.settings.data_dir / "exports" / request.file_name).read_bytes()))
    assert [e["event_id"] for e in json.loads(archive.read("data/events.json"))] == [liked.event_id]
