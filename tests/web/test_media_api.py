"""Playback over HTTP ranges: what players and browsers send, and what must never be served."""

from __future__ import annotations

from sqlalchemy import update

from openfyp.store.tables import Video
from tests.platform.videos_support import media_dir, quick_api_user, seed_ready_video, tiny_clip, tiny_poster

__all__ = ["media_dir", "tiny_clip", "tiny_poster"]


def _ready(client, services, clip, poster) -> dict:
    alice = quick_api_user(client, services, "alice")
    video_id = seed_ready_video(services, alice.id, clip, poster)
    return {"alice": alice, "id": video_id, **alice.get(f"/api/videos/{video_id}").json()}


def test_whole_file_and_ranges(client, services, tiny_clip, tiny_poster):
    video = _ready(client, services, tiny_clip, tiny_poster)
    original = tiny_clip.read_bytes()
    size = len(original)

    whole = client.get(video["video_url"])
    assert whole.status_code == 200 and whole.content == original
    assert whole.headers["content-length"] == str(size) and whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "video/mp4"
    assert "immutable" in whole.headers["cache-control"]

    first = client.get(video["video_url"], headers={"Range": "bytes=0-99"})
    assert first.status_code == 206 and first.content == original[:100]
    assert first.headers["content-range"] == f"bytes 0-99/{size}"

    open_ended = client.get(video["video_url"], headers={"Range": f"bytes={size - 10}-"})
    assert open_ended.status_code == 206 and open_ended.content == original[-10:]

    suffix = client.get(video["video_url"], headers={"Range": "bytes=-25"})
    assert suffix.status_code == 206 and suffix.content == original[-25:]
    assert suffix.headers["content-range"] == f"bytes {size - 25}-{size - 1}/{size}"

    past_end = client.get(video["video_url"], headers={"Range": f"bytes={size}-{size + 10}"})
    assert past_end.status_code == 416 and past_end.headers["content-range"] == f"bytes */{size}"

    malformed = client.get(video["video_url"], headers={"Range": "bytes=abc"})
    assert malformed.status_code == 200 and len(malformed.content) == size

    head = client.head(video["video_url"])
    assert head.status_code == 200 and head.headers["content-length"] == str(size) and head.content == b""

    poster = client.get(video["poster_url"])
    assert poster.status_code == 200 and poster.headers["content-type"] == "image/jpeg"


def test_unknown_hidden_and_unsafe_keys_are_not_found(client, services, tiny_clip, tiny_poster):
    video = _ready(client, services, tiny_clip, tiny_poster)
    key = video["video_url"].removeprefix("/media/")
    for url in ("/media/videos/1/0123456789abcdef.mp4", "/media/nothing", "/media/../openfyp.db",
                "/media/videos/%2e%2e/secret", f"/media/uploads/{video['id']}/whatever", "/media/" + key + "x"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] in {"media_not_found", "not_found"}

    # Once moderation removes the video its files stop being served, except to its creator.
    with services.session_factory() as db:
        db.execute(update(Video).where(Video.id == video["id"]).values(moderation_state="removed"))
        db.commit()
    assert client.get(video["video_url"]).status_code == 404
    assert video["alice"].get(video["video_url"]).status_code == 200
