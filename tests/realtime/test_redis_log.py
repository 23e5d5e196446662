"""The Redis Streams event log against the real redis-server (``OPENFYP_TEST_REDIS_URL``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from openfyp.events import Event, EventKind, ForeignRegionEvent
from openfyp.realtime.learner import OnlineLearner
from openfyp.realtime.redis_log import RedisEventLog, RedisLogError, StreamToSqlSink
from tests.realtime.redis_support import REDIS_URL, durable_redis_url, stream, stream_event

__all__ = ["durable_redis_url", "stream"]

pytestmark = pytest.mark.redis


def _event(video_id: int = 1, region: str = "us", kind: EventKind = EventKind.watch) -> Event:
    return stream_event(video_id=video_id, region=region, kind=kind)


def test_appends_are_sequenced_idempotent_and_readable_in_order(stream):
    seen = []
    stream.add_listener(lambda events: seen.append([e.seq for e in events]))
    batch = [_event(video_id=i) for i in range(1, 6)]
    first = stream.append(batch)
    assert (first.accepted, first.duplicates, first.last_seq) == (5, 0, 5)
    retried = stream.append(batch[3:] + [_event(video_id=9)])
    assert (retried.accepted, retried.duplicates, retried.last_seq) == (1, 2, 6)
    stored = stream.read_after(0)
    assert [e.video_id for e in stored] == [1, 2, 3, 4, 5, 9] and [e.seq for e in stored] == [1, 2, 3, 4, 5, 6]
    assert stored[0].event_id == batch[0].event_id and stored[0].extra == {"n": 1}
    assert stored[0].server_ts == batch[0].server_ts
    assert [e.video_id for e in stream.read_after(4, limit=1)] == [5]
    assert stream.head() == 6 and seen == [[1, 2, 3, 4, 5], [6]]
    with pytest.raises(ForeignRegionEvent):
        stream.append([_event(region="eu")])
    assert stream.head() == 6


def test_a_server_that_does_not_fsync_is_refused_unless_told_otherwise(stream):
    if stream.durability != "none":
        pytest.skip("this Redis server is durable")
    with pytest.raises(RedisLogError) as refused:
        RedisEventLog(REDIS_URL, "us", prefix="never-used")
    assert refused.value.code == "not_durable"


def test_the_sql_sink_mirrors_the_stream_with_the_same_seq_and_the_learner_reads_it(stream, services):
    sink = StreamToSqlSink(stream, services.engine)
    batches = [[_event(video_id=i * 10 + j) for j in range(4)] for i in range(3)]
    for batch in batches:
        stream.append(batch)
    assert sink.copy_pending() == 12
    stream.append(batches[0])  # a retry changes nothing anywhere
    assert sink.copy_pending() == 0
    in_sql = services.events.read_after(0)
    assert [(e.seq, e.event_id) for e in in_sql] == [(e.seq, e.event_id) for e in stream.read_after(0)]

    class Collect:
        def __init__(self) -> None:
            self.seqs: list[int] = []

        def base(self):
            return "test", 0

        def apply(self, events):
            self.seqs += [e.seq for e in events]

        def snapshot(self):
            return {}

        def restore(self, arrays):
            pass

        def reset(self):
            self.seqs.clear()

    consumer = Collect()
    learner = OnlineLearner(stream, consumer, None)
    learner.resume()
    assert learner.catch_up() == 12 and consumer.seqs == list(range(1, 13))


def test_a_deployment_on_a_redis_stream_records_and_learns_through_the_api(tmp_path, _sqlite_template,
                                                                           durable_redis_url):
    import time

    from fastapi.testclient import TestClient

    from openfyp.realtime.wiring import realtime_of
    from openfyp.services import build_services
    from openfyp.web.app import create_app
    from tests.conftest import _sqlite_copy, make_settings, signup
    from tests.recsys.world import World, topic_world

    settings = make_settings(tmp_path, database_url=_sqlite_copy(_sqlite_template, tmp_path),
                             event_stream="redis", redis_url=durable_redis_url)
    services = build_services(settings, run_migrations=False)
    try:
        assert isinstance(services.events, RedisEventLog) and services.events.durability == "fsync_always"
        by_topic = topic_world(World(services), per_topic=4)
        with TestClient(create_app(services)) as client:
            ana = signup(client, "ana")
            now = datetime.now(UTC).isoformat()
            events = [{"id": str(uuid.uuid4()), "kind": kind, "video_id": video, "client_ts": now,
                       **({"watch_ratio": 1.0} if kind == "complete" else {})}
                      for video in by_topic["cats"][:3] for kind in ("play", "complete")]
            answer = ana.post("/api/events", json={"events": events})
            assert answer.status_code == 200 and answer.json() == {"accepted": 6, "duplicates": 0}
            assert ana.post("/api/events", json={"events": events}).json() == {"accepted": 0, "duplicates": 6}
            realtime = realtime_of(services)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and (realtime.sink.position < 6 or realtime.learner.position < 6):
                time.sleep(0.05)
            # The sink's copy (same seq as the stream) is what training and the engine read.
            from sqlalchemy import select

            from openfyp.store.tables import EventRow

            with services.session_factory() as db:
                stored = db.execute(select(EventRow.seq, EventRow.event_id).order_by(EventRow.seq)).all()
            assert [tuple(row) for row in stored] == [(i + 1, e["id"]) for i, e in enumerate(events)]
            assert realtime.learner.position == services.events.head() == 6
            assert realtime.state.cowatch.pairs > 0, "the learner learned from the stream"
            page = ana.get("/api/feed/foryou", params={"limit": 10}).json()
            assert sum(item["hashtags"][0] == "cats" for item in page["items"]) >= 1
    finally:
        services.events.drop()
        services.close()


def test_a_redis_server_without_fsync_is_refused_for_a_deployment(tmp_path, _sqlite_template):
    from openfyp.services import build_services
    from tests.conftest import _sqlite_copy, make_settings

    if not REDIS_URL:
        pytest.skip("no Redis server (set OPENFYP_TEST_REDIS_URL)")
    settings = make_settings(tmp_path, database_url=_sqlite_copy(_sqlite_template, tmp_path),
                             event_stream="redis", redis_url=REDIS_URL)
    with pytest.raises(RedisLogError) as refused:
        build_services(settings)  # the shared test server runs without AOF
    assert refused.value.code == "not_durable"
