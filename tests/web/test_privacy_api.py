"""The viewer's privacy controls over HTTP: personalisation, feed reset, why-this-video, export, deletion."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime

from sqlalchemy import func, select

from openfyp.events import Event, EventKind
from openfyp.governance.provenance import erased_user_ids
from openfyp.governance.wiring import governance_of
from openfyp.store.tables import (
    Comment,
    DataRequest,
    EventRow,
    FeedRequest,
    Follow,
    Impression,
    Like,
    User,
    Video,
)
from tests.platform.videos_support import media_dir, seed_ready_video, tiny_clip, tiny_poster  # noqa: F401
from tests.web.social_support import PASSWORD, fast_user


def _like(services, user_id: int, video_id: int) -> None:
    with services.session_factory() as db:
        db.add(Like(user_id=user_id, video_id=video_id))
        db.commit()
    services.events.append([Event.server_side(EventKind.like, user_id=user_id, region=services.region,
                                              video_id=video_id)])


def test_personalisation_and_feed_reset(client, services):
    viewer = fast_user(client, services, "pia")
    off = viewer.client.put("/api/me/personalisation", json={"personalised": False}, headers=viewer.headers)
    assert off.status_code == 200 and off.json()["personalised"] is False
    assert viewer.get("/api/auth/me").json()["user"]["personalised"] is False
    assert viewer.get("/api/me/personalisation").json() == {"personalised": False}
    bad = viewer.client.put("/api/me/personalisation", json={"personalised": "sometimes"}, headers=viewer.headers)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "personalised"
    assert client.put("/api/me/personalisation", json={"personalised": True}).status_code == 401

    before = datetime.now(UTC)
    reset = viewer.post("/api/me/feed-reset")
    assert reset.status_code == 200
    assert datetime.fromisoformat(reset.json()["feed_reset_at"]) >= before
    assert viewer.post("/api/me/feed/reset").status_code == 200  # the web client's path
    with services.session_factory() as db:
        assert db.get(User, viewer.id).feed_reset_at >= before


def test_a_non_personalised_for_you_is_logged_as_such_and_explains_itself(client, services, tiny_clip, tiny_poster):
    creator = fast_user(client, services, "cleo")
    fan = fast_user(client, services, "fan")
    videos = [seed_ready_video(services, creator.id, tiny_clip, tiny_poster, caption=f"clip {number} #fun")
              for number in range(3)]
    services.feed.refresh_catalog(full=True)
    for video_id in videos:  # regional popularity needs some engagement to rank by
        _like(services, fan.id, video_id)
    viewer = fast_user(client, services, "nico")
    viewer.client.put("/api/me/personalisation", json={"personalised": False}, headers=viewer.headers)
    page = viewer.get("/api/feed/foryou").json()
    assert page["items"], page
    with services.session_factory() as db:
        logged = db.get(FeedRequest, page["request_id"])
        assert logged.personalised is False
    item = page["items"][0]
    why = viewer.get(f"/api/me/why/{page['request_id']}/{item['id']}")
    assert why.status_code == 200
    assert why.json()["reason"] == item["reason"] and why.json()["personalised"] is False
    other = fast_user(client, services, "olga")
    assert other.get(f"/api/me/why/{page['request_id']}/{item['id']}").status_code == 404


def test_export_holds_everything_about_the_account_and_only_its_owner_may_download_it(
        client, services, tiny_clip, tiny_poster):
    owner = fast_user(client, services, "erin")
    friend = fast_user(client, services, "fred")
    video_id = seed_ready_video(services, owner.id, tiny_clip, tiny_poster, caption="my clip #mine")
    friend_video = seed_ready_video(services, friend.id, tiny_clip, tiny_poster, caption="fred's")
    _like(services, owner.id, friend_video)
    assert owner.post(f"/api/users/{friend.username}/follow").status_code in (200, 201)
    assert owner.post(f"/api/videos/{friend_video}/comments", json={"body": "nice one"}).status_code == 201

    made = owner.post("/api/me/export")
    assert made.status_code == 202, made.text
    assert made.json()["status"] == "pending" and made.json()["download_url"] is None
    assert friend.get("/api/me/exports").json()["items"] == []
    assert services.jobs.run_pending() == 1  # the archive is written in the background
    [body] = owner.get("/api/me/exports").json()["items"]
    assert body["id"] == made.json()["id"] and body["status"] == "ready" and body["size_bytes"] > 0
    download = owner.get(body["download_url"])
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    names = set(archive.namelist())
    assert {"account.json", "README.json", f"videos/{video_id}.mp4", f"videos/{video_id}.jpg"} <= names
    assert archive.read(f"videos/{video_id}.mp4") == tiny_clip.read_bytes()
    assert json.loads(archive.read("README.json"))["media_files"] == 2
    account = json.loads(archive.read("account.json"))
    assert account["username"] == "erin" and "password_hash" not in account
    assert [row["video_id"] for row in json.loads(archive.read("data/likes.json"))] == [friend_video]
    assert [row["followee_id"] for row in json.loads(archive.read("data/follows.json"))] == [friend.id]
    assert [row["body"] for row in json.loads(archive.read("data/comments.json"))] == ["nice one"]
    events = json.loads(archive.read("data/events.json"))
    assert {e["kind"] for e in events} >= {"like", "follow"} and all(e["user_id"] == owner.id or
                                                                      e["target_user_id"] == owner.id for e in events)
    assert [v["id"] for v in json.loads(archive.read("data/videos.json"))] == [video_id]
    assert "auth_sessions" not in " ".join(names) and b"token_hash" not in download.content

    assert friend.get(body["download_url"]).status_code == 404
    assert client.get(body["download_url"]).status_code == 401
    entries = governance_of(services).audit.entries(action="data_export")
    assert [(e.actor_id, e.target_id) for e in entries] == [(owner.id, str(owner.id))]


def test_deleting_an_account_removes_its_data_media_and_events(client, services, tiny_clip, tiny_poster):
    leaver = fast_user(client, services, "lena")
    stayer = fast_user(client, services, "stan")
    video_id = seed_ready_video(services, leaver.id, tiny_clip, tiny_poster, caption="bye #last")
    stayer_video = seed_ready_video(services, stayer.id, tiny_clip, tiny_poster, caption="still here")
    _like(services, leaver.id, stayer_video)
    _like(services, stayer.id, video_id)
    _like(services, stayer.id, stayer_video)
    stayer.post(f"/api/users/{leaver.username}/follow")
    leaver.post(f"/api/videos/{stayer_video}/comments", json={"body": "from lena"})
    leaver.post("/api/me/export")
    services.jobs.run_pending()
    [export] = leaver.get("/api/me/exports").json()["items"]
    with services.session_factory() as db:
        media_keys = list(db.execute(select(Video.media_key, Video.poster_key).where(Video.id == video_id)).one())
        export_file = services.settings.data_dir / "exports" / db.scalar(
            select(DataRequest.file_name).where(DataRequest.user_id == leaver.id))

    assert client.request("DELETE", "/api/me", json={"password": "wrong password"},
                          headers=leaver.headers).status_code == 401
    assert client.request("DELETE", "/api/me", json={}, headers=leaver.headers).status_code == 422
    deleted = client.request("DELETE", "/api/me", json={"password": PASSWORD}, headers=leaver.headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["videos_removed"] == 1 and deleted.json()["events_removed"] >= 3

    assert leaver.get("/api/auth/me").status_code == 401
    assert stayer.get(f"/api/videos/{video_id}").status_code == 404
    assert stayer.get(f"/api/users/{leaver.username}").status_code == 404
    assert not any(services.media.exists(key) for key in media_keys)
    assert not export_file.exists()
    assert stayer.get(export["download_url"]).status_code == 404
    with services.session_factory() as db:
        assert db.scalar(select(func.count()).select_from(EventRow).where(
            (EventRow.user_id == leaver.id) | (EventRow.video_id == video_id)
            | (EventRow.target_user_id == leaver.id))) == 0
        assert db.scalar(select(func.count()).select_from(Like).where(Like.user_id == leaver.id)) == 0
        assert db.scalar(select(func.count()).select_from(Follow).where(Follow.followee_id == leaver.id)) == 0
        assert db.scalar(select(func.count()).select_from(Comment).where(Comment.user_id == leaver.id)) == 0
        assert db.scalar(select(func.count()).select_from(Impression).where(Impression.video_id == video_id)) == 0
        tombstone = db.get(User, leaver.id)
        assert tombstone.deleted_at is not None and tombstone.email is None and tombstone.display_name == ""
        assert tombstone.username != "lena" and tombstone.birth_date.year == 1900
        assert erased_user_ids(db) == frozenset({leaver.id})
        # The other account keeps its own video and its own like events.
        assert db.get(Video, stayer_video) is not None
    remaining = services.events.read_after(0)  # about the erased account or its video: gone; the rest stays
    assert [(e.user_id, e.kind.value, e.video_id) for e in remaining] == [(stayer.id, "like", stayer_video)]
    entry = governance_of(services).audit.entries(action="account_deletion")[0]
    assert entry.target_id == str(leaver.id) and entry.details["videos_removed"] == 1
    assert "lena" not in json.dumps(entry.to_dict())
    # The username is free again, and a new account never reuses the erased id.
    again = fast_user(client, services, "lena")
    assert again.id != leaver.id


def test_an_export_asked_for_just_before_deleting_the_account_is_never_written(client, services):
    leaver = fast_user(client, services, "lou")
    asked = leaver.post("/api/me/export")
    assert asked.status_code == 202
    assert client.request("DELETE", "/api/me", json={"password": PASSWORD}, headers=leaver.headers).status_code == 200
    services.jobs.run_pending()
    with services.session_factory() as db:
        request = db.get(DataRequest, asked.json()["id"])
        assert request.status == "failed" and request.token is None and request.file_name is None
    exports = services.settings.data_dir / "exports"
    assert not exports.exists() or not any(exports.iterdir())
