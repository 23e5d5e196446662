"""For You and Following through the API, on SQLite and PostgreSQL: no repeats, logged impressions, cursors."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from openfyp.events.schema import Event, EventKind
from openfyp.store.base import utcnow
from openfyp.store.tables import FeedRequest, Follow, Impression
from tests.platform.videos_support import (
    media_dir, quick_api_user, quick_user, seed_ready_video, tiny_clip, tiny_poster,
)

__all__ = ["media_dir", "tiny_clip", "tiny_poster"]

VIDEO_KEYS = {"id", "caption", "status", "failure", "visibility", "hashtags", "sound", "creator", "video_url",
              "poster_url", "duration_s", "width", "height", "created_at", "share_url", "stats", "viewer"}


def _walk(get, path: str, limit: int, max_pages: int = 20) -> list[dict]:
    """Every page of a feed until it runs dry; returns the pages' bodies."""
    pages, cursor = [], None
    for _ in range(max_pages):
        response = get(path, params={"limit": limit, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        pages.append(response.json())
        cursor = pages[-1]["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("the feed never ended")


def _catalog(services, clip, poster, creators, count: int) -> list[int]:
    ids = [seed_ready_video(services, creators[i % len(creators)].id, clip, poster, caption=f"clip {i} #tag{i % 3}")
           for i in range(count)]
    services.feed.refresh_catalog(full=True)
    return ids


def _count(services, table, *conditions) -> int:
    with services.session_factory() as db:
        return db.scalar(select(func.count()).select_from(table).where(*conditions))


def test_foryou_never_repeats_and_logs_every_impression(any_db_client, any_db_services, tiny_clip, tiny_poster):
    creators = [quick_user(any_db_services, f"creator{i}") for i in range(3)]
    viewer = quick_api_user(any_db_client, any_db_services, "viewer")
    catalog = _catalog(any_db_services, tiny_clip, tiny_poster, creators, 16)

    pages = _walk(viewer.get, "/api/feed/foryou", limit=5)
    served = [item for page in pages for item in page["items"]]
    ids = [item["id"] for item in served]
    assert len(ids) == len(set(ids)), "a video was shown twice"
    assert set(ids) <= set(catalog) and len(ids) >= 10
    assert [item["position"] for item in served] == list(range(len(served)))
    assert pages[-1]["items"] == [] or len(pages[-1]["items"]) < 5
    for page in pages:
        assert all(item["request_id"] == page["request_id"] for item in page["items"])
    for item in served:
        assert VIDEO_KEYS <= item.keys() and item["status"] == "ready" and item["video_url"].startswith("/media/")
        assert item["reason"]["sources"] and "summary" in item["reason"]

    # Every served item is logged, with the request that served it; the seen set outlives the cursor.
    assert _count(any_db_services, Impression, Impression.user_id == viewer.id) == len(served)
    with any_db_services.session_factory() as db:
        logged = db.scalars(select(FeedRequest).where(FeedRequest.user_id == viewer.id,
                                                      FeedRequest.surface == "foryou")).all()
        assert len(logged) == len(pages)
        assert sorted(entry["video_id"] for request in logged for entry in request.items) == sorted(ids)
        assert all(request.inputs is not None for request in logged)
    fresh_start = viewer.get("/api/feed/foryou", params={"limit": 30}).json()
    assert not {item["id"] for item in fresh_start["items"]} & set(ids)


def test_signed_out_visitors_carry_their_seen_set_in_a_signed_cursor(any_db_client, any_db_services, tiny_clip,
                                                                      tiny_poster):
    creators = [quick_user(any_db_services, f"creator{i}") for i in range(2)]
    catalog = _catalog(any_db_services, tiny_clip, tiny_poster, creators, 12)
    # Regional popularity needs some engagement to rank by.
    any_db_services.events.append([
        Event.server_side(kind, user_id=creators[n % 2].id, region=any_db_services.region, video_id=video_id,
                          source="foryou")
        for position, video_id in enumerate(catalog) for n in range(position % 3 + 1)
        for kind in (EventKind.play, EventKind.like)
    ])
    any_db_services.events.settle()  # the engine reads popularity from the events table

    pages = _walk(any_db_client.get, "/api/feed/foryou", limit=4)
    ids = [item["id"] for page in pages for item in page["items"]]
    assert len(ids) == len(set(ids)) and len(ids) >= 8
    assert all(item["viewer"] is None for page in pages for item in page["items"])
    assert _count(any_db_services, Impression, Impression.user_id.is_(None)) == len(ids)

    cursor = pages[0]["next_cursor"]
    tampered = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    for bad in (tampered, "not-a-cursor", cursor.split(".")[0] + "." + cursor.split(".")[0]):
        response = any_db_client.get("/api/feed/foryou", params={"cursor": bad})
        assert response.status_code == 400 and response.json()["error"]["code"] == "bad_cursor"
    someone = quick_api_user(any_db_client, any_db_services, "someone")
    assert someone.get("/api/feed/foryou", params={"cursor": cursor}).status_code == 400
    for limit in (0, 31):
        assert any_db_client.get("/api/feed/foryou", params={"limit": limit}).status_code == 422


def test_following_is_newest_first_with_a_keyset_cursor(any_db_client, any_db_services, tiny_clip, tiny_poster):
    services = any_db_services
    alice, bob, carol = (quick_user(services, name) for name in ("alice", "bob", "carol"))
    viewer = quick_api_user(any_db_client, any_db_services, "viewer")
    with services.session_factory() as db:
        db.add_all([Follow(follower_id=viewer.id, followee_id=alice.id),
                    Follow(follower_id=viewer.id, followee_id=bob.id)])
        db.commit()
    start = utcnow() - timedelta(hours=2)
    expected = []
    for minute in range(9):
        creator = (alice, bob, carol)[minute % 3]
        columns = {}
        if minute == 4:
            columns = {"visibility": "private"}
        elif minute == 6:
            columns = {"status": "processing"}
        elif minute == 7:
            columns = {"visibility": "followers"}
        video_id = seed_ready_video(services, creator.id, tiny_clip, tiny_poster,
                                    created_at=start + timedelta(minutes=minute), **columns)
        if creator is not carol and minute not in (4, 6):
            expected.append(video_id)
    # Two videos at the same instant: the id breaks the tie, so paging never skips one.
    twin_time = start + timedelta(minutes=30)
    expected += [seed_ready_video(services, alice.id, tiny_clip, tiny_poster, created_at=twin_time) for _ in range(2)]
    expected.sort(key=lambda vid: vid, reverse=True)

    pages = _walk(viewer.get, "/api/feed/following", limit=2)
    served = [item for page in pages for item in page["items"]]
    assert [item["id"] for item in served] == expected
    assert all(item["reason"]["sources"] == ["following"] and item["viewer"]["following"] for item in served)
    assert [item["position"] for item in served] == list(range(len(served)))
    assert _count(services, FeedRequest, FeedRequest.surface == "following") == len(pages)
    assert _count(services, Impression, Impression.user_id == viewer.id) == len(served)

    assert any_db_client.get("/api/feed/following").status_code == 401
    _catalog(services, tiny_clip, tiny_poster, [carol], 2)
    foryou_cursor = viewer.get("/api/feed/foryou", params={"limit": 1}).json()["next_cursor"]
    assert foryou_cursor is not None
    refused = viewer.get("/api/feed/following", params={"cursor": foryou_cursor})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "bad_cursor"
