from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from openfyp.events import Event, EventKind, ForeignRegionEvent


def _event(region: str = "us", video_id: int = 1, kind: EventKind = EventKind.watch) -> Event:
    now = datetime.now(UTC)
    return Event(event_id=str(uuid.uuid4()), region=region, user_id=7, video_id=video_id, kind=kind,
                 watch_seconds=3.0, watch_ratio=0.5, client_ts=now, server_ts=now)


def test_append_is_idempotent_by_event_id_and_ordered(any_db_services):
    log = any_db_services.events
    batch = [_event(video_id=i) for i in range(1, 6)]
    first = log.append(batch)
    assert (first.accepted, first.duplicates) == (5, 0)
    retried = log.append(batch[2:] + [_event(video_id=9)])
    assert (retried.accepted, retried.duplicates) == (1, 3)
    stored = log.read_after(0)
    assert [e.video_id for e in stored] == [1, 2, 3, 4, 5, 9]
    assert [e.seq for e in stored] == sorted(e.seq for e in stored)
    assert log.head() == stored[-1].seq
    assert [e.video_id for e in log.read_after(stored[3].seq)] == [5, 9]


def test_a_foreign_region_event_is_refused_and_nothing_of_its_batch_is_stored(any_db_services):
    log = any_db_services.events
    with pytest.raises(ForeignRegionEvent):
        log.append([_event(), _event(region="eu")])
    assert log.read_after(0) == []


def test_listeners_see_only_newly_stored_events_with_their_positions(services):
    seen: list[list[int]] = []
    services.events.add_listener(lambda events: seen.append([e.seq for e in events]))
    batch = [_event(), _event()]
    services.events.append(batch)
    services.events.append(batch)
    assert len(seen) == 2 and len(seen[0]) == 2 and seen[1] == []
    assert all(seq is not None for seq in seen[0])


def test_acknowledged_events_survive_a_new_process_view_of_the_database(settings):
    from openfyp.services import build_services

    first = build_services(settings)
    batch = [_event(video_id=i) for i in range(1, 4)]
    first.events.append(batch)
    # No close(): the acknowledged append must already be on disk for a fresh engine to read it.
    second = build_services(settings)
    try:
        assert {e.event_id for e in second.events.read_after(0)} == {e.event_id for e in batch}
    finally:
        second.close()
        first.close()
