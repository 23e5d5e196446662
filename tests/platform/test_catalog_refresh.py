"""The engine's periodic catalog refresh reads uploads that became ready since its last read, and only those."""

from __future__ import annotations

from datetime import timedelta

import pytest

from openfyp.store.base import utcnow
from openfyp.store.tables import Video
from tests.platform.videos_support import quick_user


def _ready_video(services, creator_id: int, *, ready_ago_s: float = 0.0, visibility: str = "public") -> int:
    now = utcnow()
    with services.session_factory() as db:
        video = Video(region=services.region, creator_id=creator_id, caption="", status="ready",
                      visibility=visibility, media_key="v.mp4", duration_s=5.0, created_at=now - timedelta(minutes=5),
                      ready_at=now - timedelta(seconds=ready_ago_s))
        db.add(video)
        db.commit()
        return video.id


@pytest.fixture
def refreshed(any_db_services):
    """A deployment with one ready video, fully loaded by the engine; its creator; the fresh window's start."""
    services = any_db_services
    creator = quick_user(services, "cara")
    _ready_video(services, creator.id)
    services.feed.refresh_catalog(full=True)
    return services, creator, utcnow() - timedelta(hours=72)


def test_a_refresh_reads_new_uploads_once_and_catches_late_commits(refreshed):
    services, creator, window = refreshed
    engine, store = services.feed, services.feed.store

    first = _ready_video(services, creator.id)
    engine.refresh_catalog()
    assert first in engine.catalog.row_of and engine.catalog.eligible[engine.catalog.row_of[first]]
    assert store.video_records(full=False, created_after=window) == [], "what was read is not read again"

    # Another process commits a video whose ready time is a little older than the newest already seen.
    late = _ready_video(services, creator.id, ready_ago_s=10)
    assert [r.video_id for r in store.video_records(full=False, created_after=window)] == [late]
    assert store.video_records(full=False, created_after=window) == []


def test_a_video_not_yet_eligible_is_looked_at_again_while_in_the_overlap(refreshed):
    services, creator, window = refreshed
    store = services.feed.store

    private = _ready_video(services, creator.id, visibility="private")
    assert store.video_records(full=False, created_after=window) == []
    with services.session_factory() as db:  # made public by another process, without telling this engine
        db.get(Video, private).visibility = "public"
        db.commit()
    assert [r.video_id for r in store.video_records(full=False, created_after=window)] == [private]
