from __future__ import annotations

import pytest
from sqlalchemy import select

from openfyp.events.schema import EventKind
from openfyp.platform.errors import InvalidInput
from openfyp.platform.interactions import CLIENT_KINDS, Origin, record_interactions, server_event
from openfyp.store.tables import EventRow, Like, Save, User
from tests.web.social_support import add_video, fast_user


@pytest.fixture
def people(any_db_services):
    services = any_db_services
    alice = fast_user(None, services, "alice")
    bob = fast_user(None, services, "bob")
    video = add_video(services, alice.id, "a video")
    return services, alice.id, bob.id, video


def _event(services, kind, actor_id, **targets):
    return server_event(kind, actor_id=actor_id, region=services.region, **targets)


def test_replaying_a_batch_in_order_logs_only_real_changes(people):
    services, _, bob_id, video = people
    with services.session_factory() as db:
        bob = db.get(User, bob_id)
        batch = [_event(services, EventKind.like, bob_id, video_id=video, origin=Origin("foryou", None, 2)),
                 _event(services, EventKind.unlike, bob_id, video_id=video),
                 _event(services, EventKind.unlike, bob_id, video_id=video),
                 _event(services, EventKind.save, bob_id, video_id=video),
                 _event(services, EventKind.play, bob_id, video_id=video)]
        recorded = record_interactions(db, services, bob, batch)
        assert (recorded.accepted, recorded.duplicates) == (4, 1)
        assert [e.kind for e in recorded.changed] == [EventKind.like, EventKind.unlike, EventKind.save]
        assert db.scalar(select(Like)) is None and db.get(Save, (bob_id, video)) is not None
        services.events.settle()  # acknowledged events reach the table one move later
        logged = list(db.scalars(select(EventRow.kind).order_by(EventRow.seq)))
        assert logged == ["like", "unlike", "save", "play"]
        assert db.scalar(select(EventRow.position).where(EventRow.kind == "like")) == 2

        again = record_interactions(db, services, bob, batch)
        assert (again.accepted, again.duplicates) == (0, 5)


def test_refusal_is_atomic_and_names_the_event(people):
    services, alice_id, bob_id, video = people
    with services.session_factory() as db:
        bob = db.get(User, bob_id)
        batch = [_event(services, EventKind.like, bob_id, video_id=video),
                 _event(services, EventKind.comment, bob_id, video_id=video)]
        with pytest.raises(InvalidInput) as refused:
            record_interactions(db, services, bob, batch, allowed_kinds=CLIENT_KINDS)
        assert refused.value.field == "events[1].kind"
        # The same events recorded for someone else are refused too: events belong to their actor.
        alice = db.get(User, alice_id)
        with pytest.raises(InvalidInput) as wrong_actor:
            record_interactions(db, services, alice, batch[:1])
        assert wrong_actor.value.field == "events[0].user_id"
        assert services.events.head() == 0 and db.scalar(select(Like)) is None, "nothing was logged"


def test_uncommitted_writes_are_refused_before_anything_is_logged(people):
    services, _, bob_id, video = people
    with services.session_factory() as db:
        bob = db.get(User, bob_id)
        bob.bio = "pending change"
        with pytest.raises(RuntimeError, match="commit"):
            record_interactions(db, services, bob, [_event(services, EventKind.play, bob_id, video_id=video)])
        db.rollback()
        assert services.events.head() == 0, "nothing was logged"


def test_listeners_see_each_durable_append(people):
    services, alice_id, bob_id, _ = people
    seen = []
    services.events.add_listener(lambda events: seen.extend(e.kind for e in events))
    with services.session_factory() as db:
        bob = db.get(User, bob_id)
        record_interactions(db, services, bob, [_event(services, EventKind.follow, bob_id, target_user_id=alice_id)])
        record_interactions(db, services, bob, [_event(services, EventKind.follow, bob_id, target_user_id=alice_id)])
    assert seen == [EventKind.follow]
