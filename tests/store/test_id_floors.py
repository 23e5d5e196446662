"""An erasure that deletes the newest events or impressions never lets their numbers be handed out again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from openfyp.events import Event, EventKind
from openfyp.events.log import SqlEventLog
from openfyp.governance.erasure import erase_account
from openfyp.store.tables import EventRow, User
from tests.recsys.world import World


def _play(user_id: int, video_id: int) -> Event:
    now = datetime.now(UTC)
    return Event(event_id=str(uuid.uuid4()), region="us", user_id=user_id, video_id=video_id, kind=EventKind.play,
                 client_ts=now, server_ts=now)


@pytest.mark.parametrize("writer", ["deployment's", "sql"])
def test_the_numbers_of_erased_newest_events_are_not_handed_out_again(any_db_services, writer):
    services = any_db_services
    # The deployment's own log (staged on SQLite, the table itself on PostgreSQL), or the SQL log on either.
    log = services.events if writer == "deployment's" else SqlEventLog(services.session_factory, "us")
    world = World(services)
    ana, bob = world.user("ana"), world.user("bob")
    world.user("creator")
    video = world.video("creator", ["cooking"])
    engine = services.feed
    engine.refresh_catalog(full=True)
    log.append([_play(ana, video)])
    last_before = log.append([_play(bob, video) for _ in range(3)]).last_seq  # bob's are the newest
    services.events.settle()
    engine.maintain()
    plays = engine.stats.columns["plays"]
    row = engine.catalog.row_of[video]
    assert plays[row] == 4
    with services.session_factory() as db:
        report = erase_account(db, services, db.get(User, bob))
        db.commit()
    assert report.events_removed == 3

    after = log.append([_play(ana, video)])
    assert after.last_seq > last_before
    assert services.events.settle()
    with services.session_factory() as db:  # in the table, where the engine, analytics and training read it
        assert db.scalar(select(EventRow.seq).where(EventRow.seq > last_before)) == after.last_seq
    # Every reader positioned at the old head still reads it.
    assert [event.user_id for event in services.events.read_after(last_before)] == [ana]
    engine.maintain()  # the engine reads the table's tail past its position: the new play counts
    assert engine.stats.columns["plays"][row] == 5
