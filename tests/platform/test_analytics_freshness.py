"""Analytics count every acknowledged event, also one the staged event log has not moved into ``events`` yet."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from openfyp.events.schema import Event, EventKind
from openfyp.events.staged import StagedEventLog
from tests.platform.videos_support import (
    media_dir,
    quick_api_user,
    quick_user,
    seed_ready_video,
    tiny_clip,
    tiny_poster,
)

__all__ = ["media_dir", "tiny_clip", "tiny_poster"]


@contextmanager
def mover_held_back(log: StagedEventLog) -> Iterator[threading.Event]:
    """Another writer holds the main database's write lock, so acknowledged events stay in staging, until
    someone waits for the log to settle (its mover is then asked to clear) or the test sets the yielded event."""
    blocker = sqlite3.connect(log.main_path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    done = threading.Event()

    def release_when_settling() -> None:
        while not done.is_set() and not log._clear_requested:
            done.wait(0.005)
        blocker.execute("ROLLBACK")

    releaser = threading.Thread(target=release_when_settling, daemon=True)
    releaser.start()
    try:
        yield done
    finally:
        done.set()
        releaser.join(timeout=10)
        blocker.close()


def test_a_like_just_acknowledged_shows_in_the_creators_analytics(client, services, tiny_clip, tiny_poster):
    assert isinstance(services.events, StagedEventLog)
    creator = quick_api_user(client, services, "cara")
    fan = quick_user(services, "fan")
    video = seed_ready_video(services, creator.id, tiny_clip, tiny_poster)
    services.events.settle()
    with mover_held_back(services.events):
        services.events.append([
            Event.server_side(EventKind.play, user_id=fan.id, region=services.region, video_id=video, source="foryou"),
            Event.server_side(EventKind.like, user_id=fan.id, region=services.region, video_id=video)])
        assert services.events.staged_count() == 2, "acknowledged, not in the events table yet"
        report = creator.get(f"/api/analytics/videos/{video}")
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["views"] == 1 and body["unique_viewers"] == 1
    assert body["daily"][-1]["views"] == 1 and body["daily"][-1]["likes"] == 1


def test_the_creators_dashboard_counts_a_view_just_acknowledged(client, services, tiny_clip, tiny_poster):
    creator = quick_api_user(client, services, "cleo")
    fan = quick_user(services, "fan")
    video = seed_ready_video(services, creator.id, tiny_clip, tiny_poster)
    services.events.settle()
    with mover_held_back(services.events):
        services.events.append([Event.server_side(EventKind.play, user_id=fan.id, region=services.region,
                                                  video_id=video, source="profile")])
        dashboard = creator.get("/api/analytics/me")
    assert dashboard.status_code == 200, dashboard.text
    assert dashboard.json()["views"] == 1
    assert dashboard.json()["traffic_sources"] == [{"source": "profile", "views": 1, "share": 1.0}]
