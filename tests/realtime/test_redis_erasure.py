"""Erasing entries from the Redis event stream against the real redis-server (``OPENFYP_TEST_REDIS_URL``):
gone from the stream and its dedupe markers, never copied back into SQL by a sink, whatever the interleaving."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from openfyp.realtime.redis_log import StreamToSqlSink
from openfyp.store.tables import EventRow
from tests.realtime.redis_support import stream, stream_event

__all__ = ["stream"]

pytestmark = pytest.mark.redis


def _sql_seqs(services) -> list[int]:
    with services.session_factory() as db:
        return list(db.scalars(select(EventRow.seq).order_by(EventRow.seq)))


def test_erased_entries_leave_the_stream_and_their_ids_are_forgotten(stream):
    kept, erased = stream_event(user_id=1), stream_event(user_id=2)
    stream.append([kept, erased, stream_event(user_id=1)])
    assert stream.erase_entries({2: erased.event_id}) == 1
    assert [(e.seq, e.user_id) for e in stream.read_after(0)] == [(1, 1), (3, 1)]
    assert stream.known([kept.event_id, erased.event_id]) == {kept.event_id}
    assert stream.head() == 3, "the sequence never goes back: a seq is never given to another event"
    assert stream.erase_entries({2: erased.event_id}) == 0  # erasing again finds nothing


def test_a_sink_moves_past_erased_entries_so_settle_does_not_wait_for_them(stream, services):
    sink = StreamToSqlSink(stream, services.engine)
    stream.append([stream_event(user_id=1) for _ in range(3)])
    tail = [stream_event(user_id=2) for _ in range(2)]
    stream.append(tail)
    # Erased before the sink copied them: the last two seqs will never exist.
    stream.erase_entries({4: tail[0].event_id, 5: tail[1].event_id})
    assert sink.copy_pending() == 3
    assert sink.position == stream.head() == 5
    assert _sql_seqs(services) == [1, 2, 3]
    sink.start()
    try:
        assert stream.settle(timeout=10)
    finally:
        sink.stop()


def test_a_sink_that_read_entries_before_their_erasure_does_not_copy_them_back(stream, services):
    """Another server's sink reads a batch, the erasure runs (stream first, then SQL), then the sink commits."""
    sink = StreamToSqlSink(stream, services.engine)
    leaver = [stream_event(user_id=2, video_id=v) for v in range(3)]
    stream.append([stream_event(user_id=1), *leaver, stream_event(user_id=1)])
    in_flight = stream.read_after(0)  # the lagging sink's read
    # The erasure: entries and their seqs first, then the SQL rows (none copied yet).
    stream.erase_entries({e.seq: e.event_id for e in stream.read_after(0) if e.user_id == 2})
    with services.engine.begin() as connection:
        connection.execute(EventRow.__table__.delete().where(EventRow.user_id == 2))
    sink.store(in_flight)  # the read batch is committed after the erasure
    assert _sql_seqs(services) == [1, 5], "the sink undid its copy of the erased events"
    with services.session_factory() as db:
        assert db.scalar(select(EventRow.seq).where(EventRow.user_id == 2)) is None
    sink.copy_pending()  # and reading the stream again finds nothing of theirs
    assert _sql_seqs(services) == [1, 5]
