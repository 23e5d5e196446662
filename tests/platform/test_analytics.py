"""Creator analytics computed from a known event log, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from openfyp.events.schema import Event, EventKind
from openfyp.platform import analytics
from openfyp.store.base import utcnow
from openfyp.store.tables import Comment, EventRow, Follow, Like, Save, Share, User, Video
from tests.platform.videos_support import media_dir, quick_user, seed_ready_video, tiny_clip, tiny_poster

__all__ = ["media_dir", "tiny_clip", "tiny_poster"]


def _event(services, kind: EventKind, user_id: int | None, video_id: int | None, *, source: str | None = None,
           request_id: str | None = None, seconds: float | None = None, ratio: float | None = None,
           days_ago: float = 0, target_user_id: int | None = None) -> Event:
    when = utcnow() - timedelta(days=days_ago)
    return Event(event_id=str(uuid.uuid4()), region=services.region, user_id=user_id, video_id=video_id,
                 target_user_id=target_user_id, kind=kind, source=source, request_id=request_id,
                 watch_seconds=seconds, watch_ratio=ratio, client_ts=when, server_ts=when)


@pytest.fixture
def history(any_db_services, tiny_clip, tiny_poster):
    """Alice's two videos and what viewers did with them."""
    services = any_db_services
    alice, ann, ben = (quick_user(services, name) for name in ("alice", "ann", "ben"))
    first = seed_ready_video(services, alice.id, tiny_clip, tiny_poster, caption="first")
    second = seed_ready_video(services, alice.id, tiny_clip, tiny_poster, caption="second")
    r1, r2 = str(uuid.uuid4()), str(uuid.uuid4())
    play, watch, complete, skip, like = (EventKind.play, EventKind.watch, EventKind.complete, EventKind.skip,
                                         EventKind.like)
    services.events.append([
        # ann, from For You: watched to the end (5 s).
        _event(services, play, ann.id, first, source="foryou", request_id=r1),
        _event(services, watch, ann.id, first, source="foryou", request_id=r1, seconds=3, ratio=0.6),
        _event(services, complete, ann.id, first, source="foryou", request_id=r1, seconds=5, ratio=1.0),
        # ben, from alice's profile: left after 1 s.
        _event(services, play, ben.id, first, source="profile"),
        _event(services, skip, ben.id, first, source="profile", seconds=1, ratio=0.2),
        # ann again, from Following: 2 s.
        _event(services, play, ann.id, first, source="following", request_id=r2),
        _event(services, watch, ann.id, first, source="following", request_id=r2, seconds=2, ratio=0.4),
        # a signed-out visitor from search, no progress reported.
        _event(services, play, None, first, source="search"),
        # long before the 30-day window: counts in totals, not in the daily series.
        _event(services, play, ben.id, first, source="hashtag", request_id=str(uuid.uuid4()), days_ago=40),
        _event(services, like, ann.id, first, source="foryou"),
        _event(services, play, ann.id, second, source="foryou", request_id=r1),
        _event(services, EventKind.follow, ann.id, None, target_user_id=alice.id),
    ])
    services.events.settle()  # analytics read the events table
    with services.session_factory() as db:
        db.add_all([Like(user_id=ann.id, video_id=first), Save(user_id=ben.id, video_id=first),
                    Share(region=services.region, user_id=ann.id, video_id=first),
                    Comment(region=services.region, video_id=first, user_id=ben.id, body="nice"),
                    Comment(region=services.region, video_id=first, user_id=ann.id, body="gone",
                            deleted_at=utcnow()),
                    Follow(follower_id=ann.id, followee_id=alice.id)])
        db.commit()
    return {"services": services, "alice": alice.id, "first": first, "second": second}


def test_one_videos_numbers(history):
    services = history["services"]
    with services.session_factory() as db:
        report = analytics.video_analytics(db, db.get(Video, history["first"]))
    assert report["views"] == 5 and report["unique_viewers"] == 2
    # Viewings: ann/r1 5 s complete, ben 1 s, ann/r2 2 s, the visitor 0 s, ben 40 days ago 0 s.
    assert report["viewings"] == 5
    assert report["avg_watch_seconds"] == pytest.approx(8 / 5)
    assert report["completion_rate"] == pytest.approx(1 / 5)
    assert (report["likes"], report["saves"], report["shares"], report["comments"]) == (1, 1, 1, 1)
    shares = {row["source"]: row["share"] for row in report["traffic_sources"]}
    assert shares == {"foryou": 0.2, "profile": 0.2, "following": 0.2, "search": 0.2, "hashtag": 0.2}

    daily = report["daily"]
    assert len(daily) == 30 and daily[-1]["date"] == utcnow().date().isoformat()
    assert daily[-1]["views"] == 4 and daily[-1]["likes"] == 1
    assert sum(day["views"] for day in daily) == 4  # the 40-day-old play is outside the window


def test_a_creators_numbers_over_all_videos(history):
    services = history["services"]
    with services.session_factory() as db:
        report = analytics.creator_analytics(db, db.get(User, history["alice"]))
    assert report["videos_count"] == 2 and report["followers"] == 1
    assert report["views"] == 6 and report["likes"] == 1
    assert report["daily"][-1]["follows"] == 1 and report["daily"][-1]["views"] == 5
    assert [v["id"] for v in report["top_videos"]] == [history["first"], history["second"]]
    assert [v["views"] for v in report["top_videos"]] == [5, 1]


def test_nothing_yet_is_all_zeros(any_db_services, tiny_clip, tiny_poster):
    services = any_db_services
    carol = quick_user(services, "carol")
    video_id = seed_ready_video(services, carol.id, tiny_clip, tiny_poster)
    with services.session_factory() as db:
        report = analytics.video_analytics(db, db.get(Video, video_id))
        mine = analytics.creator_analytics(db, db.get(User, carol.id))
    assert (report["views"], report["viewings"], report["avg_watch_seconds"], report["completion_rate"]) == (0, 0, 0, 0)
    assert report["traffic_sources"] == [] and all(day["views"] == 0 for day in report["daily"])
    assert mine["views"] == 0 and mine["top_videos"][0]["views"] == 0


def test_views_are_kept_by_the_database_as_plays_come_and_go(any_db_services, tiny_clip, tiny_poster):
    """A page reads views from a per-video counter, not by counting plays; the counter follows every play that
    reaches the events table - a duplicate delivery counts once - and an erasure takes the erased plays away."""
    from openfyp.governance.erasure import erase_account

    services = any_db_services
    creator, viewer, other = (quick_user(services, name) for name in ("cora", "vic", "olga"))
    video = seed_ready_video(services, creator.id, tiny_clip, tiny_poster)
    plays = [_event(services, EventKind.play, viewer.id, video) for _ in range(3)]
    services.events.append(plays + [_event(services, EventKind.play, other.id, video),
                                    _event(services, EventKind.like, viewer.id, video)])
    services.events.append(plays[:1])  # a retried batch: the same event ids
    services.events.settle()
    with services.session_factory() as db:
        assert analytics.engagement_counts(db, [video])[video]["views"] == 4
        counted = db.scalar(select(func.count()).select_from(EventRow).where(EventRow.video_id == video,
                                                                              EventRow.kind == "play"))
        assert counted == 4  # the counter agrees with the rows it stands for
        erase_account(db, services, db.get(User, viewer.id))
        db.commit()
    with services.session_factory() as db:
        assert analytics.engagement_counts(db, [video])[video]["views"] == 1
        assert analytics.engagement_counts(db, select(Video.id).where(Video.id == video))[video]["views"] == 1
