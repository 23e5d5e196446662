from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import select

from openfyp.store.tables import Comment, EventRow, Follow, Like, NotInterested, Save, Share, User, Video
from tests.web.social_support import add_sound, add_video, count_rows, fast_user, update_row


def _events(services, kind: str, user_id: int | None = None) -> list[EventRow]:
    services.events.settle()  # acknowledged events reach the table one move later
    with services.session_factory() as db:
        query = select(EventRow).where(EventRow.kind == kind).order_by(EventRow.seq)
        if user_id is not None:
            query = query.where(EventRow.user_id == user_id)
        return list(db.scalars(query))


def test_follow_and_unfollow_are_idempotent_and_counted(any_db_client, any_db_services):
    client, services = any_db_client, any_db_services
    alice, bob, carol = (fast_user(client, services, n) for n in ("alice", "bob", "carol"))

    first = bob.post("/api/users/alice/follow")
    assert first.status_code == 200 and first.json() == {"following": True, "followers": 1}
    assert bob.post("/api/users/alice/follow").json() == {"following": True, "followers": 1}
    assert carol.post("/api/users/ALICE/follow").json()["followers"] == 2
    assert len(_events(services, "follow")) == 2  # the repeated follow changed nothing, so it is no event

    assert bob.delete("/api/users/alice/follow").json() == {"following": False, "followers": 1}
    assert bob.delete("/api/users/alice/follow").json() == {"following": False, "followers": 1}
    assert len(_events(services, "unfollow")) == 1
    assert count_rows(services, select(Follow).where(Follow.followee_id == alice.id)) == 1

    self_follow = alice.post("/api/users/alice/follow")
    assert self_follow.status_code == 422 and self_follow.json()["error"]["code"] == "cannot_follow_self"
    assert alice.post("/api/users/nobody_here/follow").status_code == 404
    assert client.post("/api/users/alice/follow").status_code == 401


def test_block_ends_follows_and_hides_both_ways(any_db_client, any_db_services):
    client, services = any_db_client, any_db_services
    alice, bob, carol = (fast_user(client, services, n) for n in ("alice", "bob", "carol"))
    alice_video = add_video(services, alice.id, "alice dances")
    bob_video = add_video(services, bob.id, "bob sings")
    assert alice.post("/api/users/bob/follow").status_code == 200
    assert bob.post("/api/users/alice/follow").status_code == 200

    blocked = alice.post("/api/users/bob/block")
    assert blocked.status_code == 200 and blocked.json()["blocked"] is True
    assert alice.post("/api/users/bob/block").status_code == 200  # idempotent
    assert count_rows(services, select(Follow)) == 0
    assert {e.user_id for e in _events(services, "unfollow")} == {alice.id, bob.id}

    # The blocked account sees nothing of the blocker: profile, videos, follows, comments are all 404.
    for response in (bob.get("/api/users/alice"), bob.post("/api/users/alice/follow"),
                     bob.post(f"/api/videos/{alice_video}/like"),
                     bob.post(f"/api/videos/{alice_video}/comments", json={"body": "hi"}),
                     bob.get(f"/api/videos/{alice_video}/comments"),
                     bob.post("/api/users/alice/block")):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "user_not_found" or "not_found" in response.json()["error"]["code"]
    # The blocker keeps their profile view (to unblock) but not the content or the follow.
    profile = alice.get("/api/users/bob").json()
    assert profile["viewer"]["is_blocked"] is True
    assert alice.post("/api/users/bob/follow").status_code == 404
    assert alice.post(f"/api/videos/{bob_video}/like").status_code == 404
    assert [u["username"] for u in alice.get("/api/users/me/blocks").json()["items"]] == ["bob"]
    # Bystanders are unaffected.
    assert carol.post(f"/api/videos/{alice_video}/like").status_code == 200

    assert alice.post("/api/users/alice/block").status_code == 422
    # Only the blocker can lift a block; the blocked side gets the same 404 as for a stranger.
    assert bob.delete("/api/users/alice/block").status_code == 404
    assert alice.delete("/api/users/bob/block").json() == {"blocked": False}
    assert bob.get("/api/users/alice").status_code == 200
    assert bob.post("/api/users/alice/follow").json()["following"] is True


def test_like_and_save_are_idempotent_and_carry_their_origin(any_db_client, any_db_services):
    client, services = any_db_client, any_db_services
    alice, bob = fast_user(client, services, "alice"), fast_user(client, services, "bob")
    video = add_video(services, alice.id, "a video")
    request_id = str(uuid.uuid4())

    liked = bob.post(f"/api/videos/{video}/like", params={"source": "foryou", "request_id": request_id,
                                                          "position": 3})
    assert liked.status_code == 200 and liked.json() == {"liked": True, "likes": 1}
    assert bob.post(f"/api/videos/{video}/like", json={"source": "profile"}).json() == {"liked": True, "likes": 1}
    likes = _events(services, "like")
    assert len(likes) == 1
    assert (likes[0].user_id, likes[0].video_id, likes[0].source, likes[0].request_id, likes[0].position) == (
        bob.id, video, "foryou", request_id, 3)
    assert bob.delete(f"/api/videos/{video}/like").json() == {"liked": False, "likes": 0}
    assert bob.delete(f"/api/videos/{video}/like").json() == {"liked": False, "likes": 0}
    assert len(_events(services, "unlike")) == 1

    assert bob.post(f"/api/videos/{video}/save", json={"source": "search", "position": 0}).json() == {
        "saved": True, "saves": 1}
    assert bob.post(f"/api/videos/{video}/save").json()["saves"] == 1
    assert count_rows(services, select(Save)) == 1
    assert _events(services, "save")[0].source == "search"
    assert bob.delete(f"/api/videos/{video}/save").json() == {"saved": False, "saves": 0}

    bad_origin = bob.post(f"/api/videos/{video}/like", params={"source": "nowhere"})
    assert bad_origin.status_code == 422 and bad_origin.json()["error"]["field"] == "source"
    assert bob.post(f"/api/videos/{video}/like", json={"position": -1}).status_code == 422
    malformed = client.post(f"/api/videos/{video}/like", content=b"{oops",
                            headers={**bob.headers, "content-type": "application/json"})
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "malformed_json"
    assert bob.post("/api/videos/abc/like").status_code == 422
    assert bob.post("/api/videos/999999/like").status_code == 404
    assert bob.post(f"/api/videos/{2**40}/like").status_code == 422


def test_only_videos_the_viewer_may_see_can_be_acted_on(any_db_client, any_db_services):
    client, services = any_db_client, any_db_services
    alice, bob = fast_user(client, services, "alice"), fast_user(client, services, "bob")
    teen = fast_user(client, services, "teen", birth_date=date(date.today().year - 14, 1, 1))
    private = add_video(services, alice.id, "mine only", visibility="private")
    followers_only = add_video(services, alice.id, "friends", visibility="followers")
    processing = add_video(services, alice.id, "soon", status="processing")
    removed = add_video(services, alice.id, "gone", moderation_state="removed")
    held = add_video(services, alice.id, "waiting", moderation_state="held")
    adult = add_video(services, alice.id, "grown ups", adult_only=True)

    for video in (private, followers_only, processing, removed, held):
        assert bob.post(f"/api/videos/{video}/like").status_code == 404, video
    assert bob.post(f"/api/videos/{adult}/like").status_code == 200
    assert teen.post(f"/api/videos/{adult}/like").status_code == 404
    assert alice.post(f"/api/videos/{private}/like").status_code == 200  # one's own private video
    assert alice.post(f"/api/videos/{held}/save").status_code == 200
    bob.post("/api/users/alice/follow")
    assert bob.post(f"/api/videos/{followers_only}/like").status_code == 200
    update_row(services, User, alice.id, deleted_at=datetime.now(UTC))
    assert bob.post(f"/api/videos/{adult}/save").status_code == 404
    assert bob.get("/api/users/alice").status_code == 404


def test_share_returns_public_link_and_is_recorded(any_db_client, any_db_services):
    client, services = any_db_client, any_db_services
    alice, bob = fast_user(client, services, "alice"), fast_user(client, services, "bob")
    video = add_video(services, alice.id)
    response = bob.post(f"/api/videos/{video}/share", json={"channel": "whatsapp", "source": "foryou"})
    assert response.status_code == 200
    base = services.settings.public_base_url.rstrip("/")
    assert response.json() == {"share_url": f"{base}/v/{video}", "channel": "whatsapp"}
    assert bob.post(f"/api/videos/{video}/share").json()["channel"] == "link"
    assert count_rows(services, select(Share).where(Share.video_id == video)) == 2
    events = _events(services, "share")
    assert [e.extra["channel"] for e in events] == ["whatsapp", "link"] and events[0].source == "foryou"
    bad = bob.post(f"/api/videos/{video}/share", json={"channel": "carrier pigeon"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "channel"
    assert bob.post("/api/videos/424242/share").status_code == 404


def test_comments_threads_paging_and_validation(any_db_client, any_db_services):
    client, services = any_db_client, any_db_services
    alice, bob, carol = (fast_user(client, services, n) for n in ("alice", "bob", "carol"))
    video = add_video(services, alice.id)
    other_video = add_video(services, alice.id)

    created = bob.post(f"/api/videos/{video}/comments", json={"body": "  first!  \n"})
    assert created.status_code == 201
    top = created.json()
    assert top["body"] == "first!" and top["parent_id"] is None and top["author"]["username"] == "bob"
    reply = carol.post(f"/api/videos/{video}/comments", json={"body": "reply", "parent_id": top["id"]}).json()
    nested = bob.post(f"/api/videos/{video}/comments", json={"body": "reply to reply", "parent_id": reply["id"]})
    assert nested.status_code == 201 and nested.json()["parent_id"] == top["id"]  # one level of replies
    for i in range(3):
        carol.post(f"/api/videos/{video}/comments", json={"body": f"more {i}", "parent_id": top["id"]})
    for i in range(4):
        bob.post(f"/api/videos/{video}/comments", json={"body": f"top {i}"})
    assert len(_events(services, "comment")) == 10

    page = client.get(f"/api/videos/{video}/comments", params={"limit": 3}).json()
    assert [c["body"] for c in page["items"]] == ["top 3", "top 2", "top 1"]
    bodies, cursor = [], None
    while True:
        page = client.get(f"/api/videos/{video}/comments", params={"limit": 2, "cursor": cursor}).json()
        bodies += [c["body"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert bodies == ["top 3", "top 2", "top 1", "top 0", "first!"]
    thread = client.get(f"/api/videos/{video}/comments").json()["items"][-1]
    assert thread["reply_count"] == 5
    assert [r["body"] for r in thread["replies"]] == ["reply", "reply to reply", "more 0"]
    replies = client.get(f"/api/comments/{top['id']}/replies", params={"limit": 4}).json()
    assert [r["body"] for r in replies["items"]] == ["reply", "reply to reply", "more 0", "more 1"]
    rest = client.get(f"/api/comments/{top['id']}/replies", params={"cursor": replies["next_cursor"]}).json()
    assert [r["body"] for r in rest["items"]] == ["more 2"] and rest["next_cursor"] is None

    for body, status in (({"body": "   "}, 422), ({"body": "x" * 501}, 422), ({"body": 12}, 422),
                         ({"body": "ok", "parent_id": "one"}, 422), ({}, 422), ({"body": "ok", "x": 1}, 422)):
        assert bob.post(f"/api/videos/{video}/comments", json=body).status_code == status, body
    assert bob.post(f"/api/videos/{video}/comments", json={"body": "y" * 500}).status_code == 201
    assert bob.post(f"/api/videos/{other_video}/comments",
                    json={"body": "wrong thread", "parent_id": top["id"]}).status_code == 404
    assert bob.post("/api/videos/999999/comments", json={"body": "hello"}).status_code == 404
    bad_cursor = client.get(f"/api/videos/{video}/comments", params={"cursor": "forged.cursor"})
    assert bad_cursor.status_code == 422 and bad_cursor.json()["error"]["field"] == "cursor"
    foreign_cursor = client.get(f"/api/videos/{other_video}/comments", params={"cursor": replies["next_cursor"]})
    assert foreign_cursor.status_code == 422


def test_comment_deletion_rights(any_db_client, any_db_services):
    client, services = any_db_client, any_db_services
    alice, bob, carol = (fast_user(client, services, n) for n in ("alice", "bob", "carol"))
    mod = fast_user(client, services, "mod", role="moderator")
    video = add_video(services, alice.id)
    post = lambda who, body, parent=None: who.post(
        f"/api/videos/{video}/comments", json={"body": body, "parent_id": parent}).json()
    bobs, carols, another = post(bob, "bob says"), post(carol, "carol says"), post(bob, "again")
    reply = post(carol, "a reply", bobs["id"])

    refused = carol.delete(f"/api/comments/{bobs['id']}")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_your_comment"
    assert bob.get(f"/api/videos/{video}/comments").json()["items"][0]["can_delete"] is True
    assert carol.get(f"/api/videos/{video}/comments").json()["items"][-1]["can_delete"] is False
    assert bob.delete(f"/api/comments/{bobs['id']}").status_code == 204  # the author
    assert alice.delete(f"/api/comments/{carols['id']}").status_code == 204  # the video's creator
    assert mod.delete(f"/api/comments/{another['id']}").status_code == 204  # a moderator
    assert client.get(f"/api/videos/{video}/comments").json()["items"] == []
    # The thread went with its top comment; nothing deleted can be reached or deleted again.
    assert client.get(f"/api/comments/{bobs['id']}/replies").status_code == 404
    assert carol.delete(f"/api/comments/{reply['id']}").status_code == 404
    assert bob.delete(f"/api/comments/{bobs['id']}").status_code == 404
    assert bob.delete("/api/comments/777777").status_code == 404
    with services.session_factory() as db:
        assert all(c.deleted_at is not None for c in db.scalars(select(Comment)))


def test_not_interested_in_videos_creators_and_sounds(any_db_client, any_db_services):
    client, services = any_db_client, any_db_services
    alice, bob = fast_user(client, services, "alice"), fast_user(client, services, "bob")
    sound = add_sound(services, alice.id)
    video = add_video(services, alice.id, sound_id=sound)

    for kind, target in (("video", video), ("creator", alice.id), ("sound", sound)):
        response = bob.post("/api/not-interested", json={"target_kind": kind, "target_id": target,
                                                         "video_id": video if kind != "video" else None})
        assert response.status_code == 200, response.text
        assert response.json() == {"target_kind": kind, "target_id": target, "not_interested": True}
        assert bob.post("/api/not-interested", json={"target_kind": kind, "target_id": target}).status_code == 200
    with services.session_factory() as db:
        rows = {(r.target_kind, r.target_id) for r in db.scalars(select(NotInterested))}
    assert rows == {("video", video), ("creator", alice.id), ("sound", sound)}
    events = _events(services, "not_interested")
    assert len(events) == 3
    assert events[1].target_user_id == alice.id and events[1].video_id == video
    assert events[2].extra["sound_id"] == sound

    undone = bob.delete("/api/not-interested", params={"target_kind": "creator", "target_id": alice.id})
    assert undone.json()["not_interested"] is False
    assert count_rows(services, select(NotInterested)) == 2

    cases = [({"target_kind": "hashtag", "target_id": 1}, 422), ({"target_kind": "video", "target_id": "x"}, 422),
             ({"target_kind": "video", "target_id": 999999}, 404), ({"target_kind": "sound", "target_id": 999999}, 404),
             ({"target_kind": "creator", "target_id": 999999}, 404), ({"target_kind": "creator", "target_id": bob.id}, 422)]
    for body, status in cases:
        assert bob.post("/api/not-interested", json=body).status_code == status, body
    assert bob.delete("/api/not-interested", params={"target_kind": "video"}).status_code == 422


def test_counts_ignore_removed_content_and_deleted_accounts(any_db_client, any_db_services):
    client, services = any_db_client, any_db_services
    alice, bob, carol = (fast_user(client, services, n) for n in ("alice", "bob", "carol"))
    kept, dropped = add_video(services, alice.id), add_video(services, alice.id)
    for fan in (bob, carol):
        fan.post("/api/users/alice/follow")
        fan.post(f"/api/videos/{kept}/like")
        fan.post(f"/api/videos/{dropped}/like")
    stats = client.get("/api/users/alice").json()["stats"]
    assert stats == {"followers": 2, "following": 0, "videos": 2, "likes": 4}
    update_row(services, Video, dropped, moderation_state="removed")
    update_row(services, User, carol.id, deleted_at=datetime.now(UTC))
    stats = client.get("/api/users/alice").json()["stats"]
    assert stats == {"followers": 1, "following": 0, "videos": 1, "likes": 2}
    assert count_rows(services, select(Like)) == 4  # state is kept; only what is shown changes
