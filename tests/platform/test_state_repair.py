"""After a crash between an event's append and its state commit, startup restores the state from the log."""

from __future__ import annotations

from datetime import UTC, date, datetime

from openfyp.events.schema import EventKind
from openfyp.platform.accounts import create_user
from openfyp.platform.interactions import server_event
from openfyp.platform.state_repair import repair_interaction_state
from openfyp.store.tables import Follow, Like, Save, User
from tests.moderation.helpers import make_video


def _user(services, name: str) -> int:
    with services.session_factory() as db:
        user = create_user(db, region=services.region, username=name, password="a-long-password",
                           birth_date=date(1990, 1, 1), minimum_age=13)
        db.commit()
        return user.id


def _logged_only(services, *events) -> None:
    """What a crash leaves behind: the events are durable, the state they imply was never committed."""
    services.events.append(list(events))
    services.events.settle()  # repair reads the events table


def test_interrupted_like_save_and_follow_are_restored_on_start(any_db_services):
    services = any_db_services
    viewer, creator = _user(services, "viewer"), _user(services, "creator")
    video = make_video(services, creator, "a clip")
    _logged_only(services,
                 server_event(EventKind.like, actor_id=viewer, region=services.region, video_id=video),
                 server_event(EventKind.save, actor_id=viewer, region=services.region, video_id=video),
                 server_event(EventKind.follow, actor_id=viewer, region=services.region, target_user_id=creator))
    with services.session_factory() as db:
        assert db.get(Like, (viewer, video)) is None

    services.start()
    try:
        with services.session_factory() as db:
            assert db.get(Like, (viewer, video)) is not None
            assert db.get(Save, (viewer, video)) is not None
            assert db.get(Follow, (viewer, creator)) is not None
            # A second pass finds nothing left to do.
            assert repair_interaction_state(db, services.region).repaired == []
    finally:
        services.stop()


def test_latest_event_wins_and_lost_unlike_removes_the_like(any_db_services):
    services = any_db_services
    viewer, creator = _user(services, "viewer"), _user(services, "creator")
    video = make_video(services, creator, "a clip")
    with services.session_factory() as db:
        db.add(Like(user_id=viewer, video_id=video, created_at=datetime.now(UTC)))
        db.commit()
    _logged_only(services,
                 server_event(EventKind.like, actor_id=viewer, region=services.region, video_id=video),
                 server_event(EventKind.unlike, actor_id=viewer, region=services.region, video_id=video))
    with services.session_factory() as db:
        report = repair_interaction_state(db, services.region)
        assert report.repaired == [(viewer, "like", video, False)]
        assert db.get(Like, (viewer, video)) is None


def test_gone_targets_and_history_outside_the_window_are_left_alone(any_db_services):
    services = any_db_services
    viewer, creator, erased = _user(services, "viewer"), _user(services, "creator"), _user(services, "erased")
    old_video, video = make_video(services, creator, "old clip"), make_video(services, creator, "new clip")
    _logged_only(services, server_event(EventKind.like, actor_id=viewer, region=services.region, video_id=old_video))
    _logged_only(services,
                 server_event(EventKind.follow, actor_id=viewer, region=services.region, target_user_id=erased),
                 server_event(EventKind.like, actor_id=viewer, region=services.region, video_id=video))
    with services.session_factory() as db:
        db.get(User, erased).deleted_at = datetime.now(UTC)
        db.commit()
        report = repair_interaction_state(db, services.region, window=2)  # the last two events only
        assert report.repaired == [(viewer, "like", video, True)]
        assert db.get(Like, (viewer, old_video)) is None
        assert db.get(Follow, (viewer, erased)) is None
