"""Who may read which analytics, and the shape the creator's dashboard reads."""

from __future__ import annotations

from openfyp.events.schema import Event, EventKind
from tests.platform.videos_support import media_dir, quick_api_user, seed_ready_video, tiny_clip, tiny_poster

__all__ = ["media_dir", "tiny_clip", "tiny_poster"]


def test_only_the_creator_reads_a_videos_analytics(any_db_client, any_db_services, tiny_clip, tiny_poster):
    services = any_db_services
    alice, bob = (quick_api_user(any_db_client, services, name) for name in ("alice", "bob"))
    public = seed_ready_video(services, alice.id, tiny_clip, tiny_poster)
    private = seed_ready_video(services, alice.id, tiny_clip, tiny_poster, visibility="private")
    services.events.append([Event.server_side(EventKind.play, user_id=bob.id, region=services.region,
                                              video_id=public, source="profile")])
    services.events.settle()  # analytics read the events table

    mine = alice.get(f"/api/analytics/videos/{public}")
    assert mine.status_code == 200
    body = mine.json()
    assert body["video_id"] == public and body["views"] == 1 and body["unique_viewers"] == 1
    assert body["traffic_sources"] == [{"source": "profile", "views": 1, "share": 1.0}]
    assert len(body["daily"]) == 30
    assert {"date", "views", "likes", "comments", "shares", "saves"} <= body["daily"][0].keys()

    refused = bob.get(f"/api/analytics/videos/{public}")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_owner"
    assert bob.get(f"/api/analytics/videos/{private}").status_code == 404  # existence is not disclosed
    assert bob.get("/api/analytics/videos/424242").status_code == 404
    assert any_db_client.get(f"/api/analytics/videos/{public}").status_code == 401

    dashboard = alice.get("/api/analytics/me").json()
    assert dashboard["views"] == 1 and dashboard["videos_count"] == 2
    assert {v["id"] for v in dashboard["top_videos"]} == {public, private}
    assert bob.get("/api/analytics/me").json()["videos_count"] == 0
    assert any_db_client.get("/api/analytics/me").status_code == 401
