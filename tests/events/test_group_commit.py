from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest

from openfyp.events import Event, EventKind
from openfyp.events.log import SqlEventLog
from openfyp.store.group_commit import WriterStopped


def _event(video_id: int = 1, event_id: str | None = None) -> Event:
    now = datetime.now(UTC)
    return Event(event_id=event_id or str(uuid.uuid4()), region="us", user_id=7, video_id=video_id,
                 kind=EventKind.watch, watch_ratio=0.5, client_ts=now, server_ts=now)


def test_concurrent_appends_share_commits_and_each_caller_gets_its_own_answer(any_db_services):
    log = any_db_services.events
    gate = threading.Barrier(16)
    results: dict[int, object] = {}
    batches = {worker: [_event(video_id=worker) for _ in range(25)] for worker in range(16)}

    def work(worker: int) -> None:
        gate.wait()
        for start in range(0, 25, 5):
            results[(worker, start)] = log.append(batches[worker][start:start + 5])

    threads = [threading.Thread(target=work, args=(w,)) for w in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r.accepted == 5 and r.duplicates == 0 for r in results.values())
    stored = log.read_after(0)
    assert len(stored) == 400 and len({e.event_id for e in stored}) == 400
    assert [e.seq for e in stored] == sorted(e.seq for e in stored)
    assert log.stats.groups < 80, "waiting callers were committed together"
    for (worker, start), result in results.items():
        mine = {e.event_id: e.seq for e in stored if e.video_id == worker}
        assert result.last_seq == max(mine[e.event_id] for e in batches[worker][start:start + 5])


def test_the_same_event_id_in_two_batches_of_one_group_is_stored_once(services):
    log = services.events
    shared = str(uuid.uuid4())
    gate = threading.Barrier(2)
    out = []

    def send() -> None:
        gate.wait()
        out.append(log.append([_event(event_id=shared), _event()]))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.accepted for r in out) == [1, 2] and sum(r.duplicates for r in out) == 1
    assert [e.event_id for e in log.read_after(0)].count(shared) == 1


def test_a_duplicate_within_one_batch_is_counted_once(services):
    event = _event()
    result = services.events.append([event, event])
    assert (result.accepted, result.duplicates) == (1, 1)


def test_a_closed_log_refuses_further_appends_after_committing_what_was_queued(services):
    log = SqlEventLog(services.session_factory, "us")
    log.append([_event()])
    log.close()
    with pytest.raises(WriterStopped):
        log.append([_event()])
    assert len(services.events.read_after(0)) == 1


def test_sqlite_rows_are_stored_exactly_as_the_orm_stores_them(services):
    from datetime import timedelta, timezone

    from sqlalchemy import text

    from openfyp.store.tables import EventRow

    moments = [datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC), datetime(2024, 3, 1, 12, 0, 0, 5),
               datetime(2024, 3, 1, 14, 30, 1, 123456, tzinfo=timezone(timedelta(hours=2, minutes=30)))]
    through_log, through_orm = [], []
    for moment in moments:
        for extra in (None, {"target_kind": "sound", "sound_id": 3}):
            event = Event(event_id=str(uuid.uuid4()), region="us", user_id=7, video_id=1, kind=EventKind.watch,
                          watch_ratio=0.25, client_ts=moment, server_ts=moment, extra=extra)
            services.events.append([event])
            services.events.settle()  # in the table before the ORM writes beside it
            through_log.append(event.event_id)
            twin = str(uuid.uuid4())
            with services.session_factory() as db:
                db.add(EventRow(event_id=twin, region="us", user_id=7, video_id=1, kind="watch", watch_ratio=0.25,
                                client_ts=moment, server_ts=moment, extra=extra))
                db.commit()
            through_orm.append(twin)
    with services.engine.connect() as connection:
        def stored(event_id: str):
            return connection.execute(text("SELECT kind, watch_ratio, client_ts, server_ts, extra FROM events "
                                           "WHERE event_id = :id"), {"id": event_id}).one()
        for ours, theirs in zip(through_log, through_orm):
            assert stored(ours) == stored(theirs)


def test_a_batch_larger_than_one_insert_statement_is_stored_whole_and_in_order(services):
    # 2,500 events: two full statements and a padded third one on SQLite.
    log = services.events
    first = log.append([_event()])
    batch = [_event(video_id=1 + i % 97) for i in range(2500)]
    result = log.append(batch)
    assert (result.accepted, result.duplicates) == (2500, 0)
    stored = log.read_after(first.last_seq)
    assert [e.event_id for e in stored] == [e.event_id for e in batch]
    assert [e.seq for e in stored] == list(range(first.last_seq + 1, first.last_seq + 2501))
    assert [e.seq for e in batch] == [e.seq for e in stored] and result.last_seq == stored[-1].seq
    assert [e.video_id for e in stored] == [e.video_id for e in batch]


def test_duplicates_scattered_through_a_large_batch_are_skipped_and_the_rest_keep_their_order(services):
    log = services.events
    earlier = [_event() for _ in range(300)]
    log.append(earlier)
    head = log.head()
    fresh = [_event() for _ in range(1700)]
    # Every seventh position repeats an event already stored, across statement boundaries.
    mixed = []
    for i, event in enumerate(fresh):
        mixed.append(event)
        if i % 7 == 0:
            mixed.append(_event(event_id=earlier[i % 300].event_id))
    result = log.append(mixed)
    assert result.accepted == 1700 and result.duplicates == len(mixed) - 1700
    stored = log.read_after(head)
    assert [e.event_id for e in stored] == [e.event_id for e in fresh]
    assert result.last_seq == stored[-1].seq == log.head()
