"""Uploading through the API, processing, and who may see or change a video; on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from openfyp.media.isobmff import is_faststart
from openfyp.media.probe import probe
from openfyp.media.synth import make_corrupt_file, make_still_image, make_truncated_copy
from openfyp.store.tables import Block, Job, Sound, Video
from tests.platform.videos_support import (
    fast_settings, media_dir, quick_api_user, seed_ready_video, tiny_clip, tiny_poster, upload,
)

__all__ = ["media_dir", "tiny_clip", "tiny_poster"]


def _media_files(services) -> list[Path]:
    root = services.settings.resolved_media_dir
    return [p for p in root.rglob("*") if p.is_file()]


def _count(services, table) -> int:
    with services.session_factory() as db:
        return db.scalar(select(func.count()).select_from(table))


def test_upload_is_transcoded_into_a_playable_video(any_db_client, any_db_services, tiny_clip, tmp_path):
    fast_settings(any_db_services)
    alice = quick_api_user(any_db_client, any_db_services, "alice")
    response = upload(alice, tiny_clip, caption="first! #Cats #café #cats_2024 and #ünïcode")
    assert response.status_code == 202, response.text
    video_id = response.json()["id"]
    assert response.json()["status"] == "processing"

    pending = alice.get(f"/api/videos/{video_id}").json()
    assert pending["status"] == "processing" and pending["video_url"] is None and pending["failure"] is None
    assert sorted(pending["hashtags"]) == ["café", "cats", "cats_2024", "ünïcode"]

    assert any_db_services.jobs.run_pending() == 1
    ready = alice.get(f"/api/videos/{video_id}").json()
    assert ready["status"] == "ready"
    assert ready["video_url"].startswith(f"/media/videos/{video_id}/")
    assert ready["poster_url"].startswith(f"/media/posters/{video_id}/")
    assert ready["sound"]["title"] == "original sound – @alice"
    assert ready["creator"]["username"] == "alice" and ready["viewer"] == {
        "liked": False, "saved": False, "following": False}
    assert min(ready["width"], ready["height"]) <= 144 and ready["duration_s"] == pytest.approx(1.0, abs=0.15)

    played = any_db_client.get(ready["video_url"])
    assert played.status_code == 200 and played.headers["content-type"] == "video/mp4"
    output = tmp_path / "served.mp4"
    output.write_bytes(played.content)
    info = probe(output)
    assert info.video_codec == "h264" and info.audio_codec == "aac" and is_faststart(output)
    poster = any_db_client.get(ready["poster_url"])
    assert poster.status_code == 200 and poster.content[:3] == b"\xff\xd8\xff"

    with any_db_services.session_factory() as db:
        video = db.get(Video, video_id)
        assert video.upload_key is None and video.size_bytes == len(played.content)
        sound = db.get(Sound, video.sound_id)
        assert sound.origin_video_id == video_id and any_db_services.media.exists(sound.audio_key)
    # Only the web copy, poster and sound remain: the original (with its metadata) is gone.
    assert sorted(p.parts[-3] for p in _media_files(any_db_services)) == ["posters", "sounds", "videos"]


def test_reusing_a_sound_keeps_it_instead_of_making_a_new_one(any_db_client, any_db_services, tiny_clip):
    fast_settings(any_db_services)
    alice, bob = (quick_api_user(any_db_client, any_db_services, name) for name in ("alice", "bob"))
    first = upload(alice, tiny_clip).json()["id"]
    any_db_services.jobs.run_pending()
    sound_id = alice.get(f"/api/videos/{first}").json()["sound"]["id"]

    second = upload(bob, tiny_clip, sound_id=sound_id, caption="duet")
    assert second.status_code == 202, second.text
    any_db_services.jobs.run_pending()
    body = bob.get(f"/api/videos/{second.json()['id']}").json()
    assert body["status"] == "ready" and body["sound"]["id"] == sound_id
    assert _count(any_db_services, Sound) == 1

    unknown = upload(bob, tiny_clip, sound_id=999_999)
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_sound"


def _empty(tmp: Path, clip: Path) -> bytes:
    return b""


def _png(tmp: Path, clip: Path) -> bytes:
    return make_still_image(tmp / "still.png", width=64, height=64).read_bytes()


def _text(tmp: Path, clip: Path) -> bytes:
    return ("this is not a video, just some notes\n" * 200).encode()


def _garbage(tmp: Path, clip: Path) -> bytes:
    return make_corrupt_file(tmp / "garbage.mp4", size=32 * 1024).read_bytes()


def _truncated(tmp: Path, clip: Path) -> bytes:
    return make_truncated_copy(clip, tmp / "cut.mp4", 0.5).read_bytes()


BAD_FILES = [
    (_empty, "empty_file"),
    (_png, "not_a_video"),
    (_text, "not_a_video"),
    (_garbage, "corrupt"),
    (_truncated, "truncated"),
]


def test_bad_files_are_refused_and_nothing_is_kept(any_db_client, any_db_services, tiny_clip, tmp_path):
    alice = quick_api_user(any_db_client, any_db_services, "alice")
    for make, code in BAD_FILES:
        response = upload(alice, make(tmp_path, tiny_clip))
        assert response.status_code == 422, (code, response.text)
        error = response.json()["error"]
        assert (error["code"], error["field"]) == (code, "file") and error["message"]
        _assert_nothing_kept(any_db_services)


def _assert_nothing_kept(services) -> None:
    assert _count(services, Video) == 0
    assert _count(services, Job) == 0
    assert _media_files(services) == []
    scratch = services.settings.data_dir / "tmp" / "uploads"
    assert not scratch.exists() or list(scratch.iterdir()) == []


def test_too_long_video_is_refused(any_db_client, any_db_services, tiny_clip):
    fast_settings(any_db_services, max_video_seconds=0.6)
    response = upload(quick_api_user(any_db_client, any_db_services, "alice"), tiny_clip)
    assert response.status_code == 422 and response.json()["error"]["code"] == "too_long"
    _assert_nothing_kept(any_db_services)


def test_too_large_upload_is_refused_while_streaming(any_db_client, any_db_services, tiny_clip):
    size = tiny_clip.stat().st_size
    fast_settings(any_db_services, max_upload_bytes=size // 2)
    alice = quick_api_user(any_db_client, any_db_services, "alice")
    response = upload(alice, tiny_clip)
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
    _assert_nothing_kept(any_db_services)

    # Without a Content-Length the limit is still enforced on the bytes as they arrive.
    boundary = "openfyp-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.mp4\"\r\n"
            f"Content-Type: video/mp4\r\n\r\n").encode() + tiny_clip.read_bytes() + f"\r\n--{boundary}--\r\n".encode()

    def chunks():
        for start in range(0, len(body), 8192):
            yield body[start:start + 8192]

    streamed = any_db_client.post("/api/videos", content=chunks(), headers={
        **alice.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert streamed.status_code == 413 and streamed.json()["error"]["code"] == "too_large"
    _assert_nothing_kept(any_db_services)


def test_malformed_requests_get_clean_errors(any_db_client, any_db_services, tiny_clip):
    alice = quick_api_user(any_db_client, any_db_services, "alice")
    not_multipart = alice.post("/api/videos", json={"caption": "hello"})
    assert not_multipart.status_code == 415 and not_multipart.json()["error"]["code"] == "not_multipart"

    missing_file = alice.post("/api/videos", files={"caption": (None, "just a caption")})
    assert missing_file.status_code == 422 and missing_file.json()["error"]["code"] == "missing_file"

    wrong_part = alice.post("/api/videos", files={"video": ("c.mp4", tiny_clip.read_bytes(), "video/mp4")})
    assert wrong_part.status_code == 422 and wrong_part.json()["error"]["code"] == "missing_file"

    unfinished = b"--xyz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc"
    cut_body = any_db_client.post("/api/videos", content=unfinished, headers={
        **alice.headers, "Content-Type": "multipart/form-data; boundary=xyz"})
    assert cut_body.status_code == 400 and cut_body.json()["error"]["code"] == "malformed_multipart"

    no_boundary = any_db_client.post("/api/videos", content=b"abc", headers={**alice.headers,
                                                                      "Content-Type": "multipart/form-data"})
    assert no_boundary.status_code == 400

    long_caption = upload(alice, tiny_clip, caption="x" * 2201)
    assert long_caption.status_code == 422 and long_caption.json()["error"]["code"] == "caption_too_long"
    bad_visibility = upload(alice, tiny_clip, visibility="everyone")
    assert bad_visibility.status_code == 422 and bad_visibility.json()["error"]["field"] == "visibility"

    anonymous = any_db_client.post("/api/videos", files={"file": ("c.mp4", tiny_clip.read_bytes(), "video/mp4")})
    assert anonymous.status_code == 401
    _assert_nothing_kept(any_db_services)


def test_form_parts_named_in_any_script_are_parsed_not_crashed_on(any_db_client, any_db_services, tiny_clip):
    # Part headers are UTF-8 in practice; a name beyond Latin-1 once crashed the multipart parser with a 500.
    alice = quick_api_user(any_db_client, any_db_services, "alice")
    boundary = "openfyp-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"字幕\"\r\n\r\nignored\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"视频.mp4\"\r\n"
            f"Content-Type: video/mp4\r\n\r\n").encode() + tiny_clip.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    response = any_db_client.post("/api/videos", content=body, headers={
        **alice.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 202, response.text
    assert _count(any_db_services, Video) == 1


def test_control_characters_are_dropped_from_captions(any_db_client, any_db_services, tiny_poster):
    # A NUL in a caption once reached PostgreSQL, which refuses it: a 500 instead of a saved edit.
    alice = quick_api_user(any_db_client, any_db_services, "alice")
    video_id = seed_ready_video(any_db_services, alice.id, tiny_poster, tiny_poster, caption="before")
    edited = alice.patch(f"/api/videos/{video_id}", json={"caption": " a\x00b\x07 #x\x00y\r\nline two\t "})
    assert edited.status_code == 200, edited.text
    assert edited.json()["caption"] == "ab #xy\nline two" and edited.json()["hashtags"] == ["xy"]


def test_processing_failure_is_shown_to_the_creator(any_db_client, any_db_services, tiny_clip, tmp_path):
    fast_settings(any_db_services)
    alice = quick_api_user(any_db_client, any_db_services, "alice")
    video_id = upload(alice, tiny_clip).json()["id"]
    with any_db_services.session_factory() as db:  # the stored original rots before the worker reaches it
        key = db.get(Video, video_id).upload_key
    any_db_services.media.put_file(key, make_corrupt_file(tmp_path / "rot.bin", mp4_header=True), "video/mp4")

    any_db_services.jobs.run_pending()
    body = alice.get(f"/api/videos/{video_id}").json()
    assert body["status"] == "failed" and body["video_url"] is None
    assert body["failure"]["code"] in {"corrupt", "truncated"} and body["failure"]["reason"]
    listed = alice.get("/api/users/alice/videos").json()["items"]
    assert [(v["id"], v["status"], v["failure"]) for v in listed] == [(video_id, "failed", body["failure"])]
    bob = quick_api_user(any_db_client, any_db_services, "bob")
    assert bob.get(f"/api/videos/{video_id}").status_code == 404
    assert bob.get("/api/users/alice/videos").json() == {"items": [], "next_cursor": None}
    assert _media_files(any_db_services) == []  # the unusable original is dropped


def test_only_the_owner_sees_processing_private_and_removed_videos(any_db_client, any_db_services, tiny_clip,
                                                                    tiny_poster):
    alice, bob = (quick_api_user(any_db_client, any_db_services, name) for name in ("alice", "bob"))
    processing = upload(alice, tiny_clip).json()["id"]
    private = seed_ready_video(any_db_services, alice.id, tiny_clip, tiny_poster, visibility="private")
    removed = seed_ready_video(any_db_services, alice.id, tiny_clip, tiny_poster, moderation_state="removed")
    public = seed_ready_video(any_db_services, alice.id, tiny_clip, tiny_poster, caption="hello #world")

    for video_id in (processing, private, removed, public):
        assert alice.get(f"/api/videos/{video_id}").status_code == 200
    for video_id in (processing, private, removed):
        for viewer in (bob, any_db_client):
            response = viewer.get(f"/api/videos/{video_id}")
            assert response.status_code == 404 and response.json()["error"]["code"] == "video_not_found"
    assert bob.get(f"/api/videos/{public}").json()["hashtags"] == ["world"]
    assert any_db_client.get(f"/api/videos/{public}").json()["viewer"] is None
    assert any_db_client.get("/api/videos/987654").status_code == 404

    # The profile: alice pages through all four with their status, others see the public one only.
    mine, cursor = [], None
    while True:
        page = alice.get("/api/users/alice/videos", params={"limit": 3, **({"cursor": cursor} if cursor else {})})
        mine += [(v["id"], v["status"]) for v in page.json()["items"]]
        if (cursor := page.json()["next_cursor"]) is None:
            break
    assert mine == [(public, "ready"), (removed, "ready"), (private, "ready"), (processing, "processing")]
    assert [v["id"] for v in bob.get("/api/users/alice/videos").json()["items"]] == [public]
    assert [v["id"] for v in any_db_client.get("/api/users/alice/videos").json()["items"]] == [public]
    assert bob.get("/api/users/alice/videos", params={"cursor": "forged.cursor"}).status_code == 422
    assert bob.get("/api/users/nobody/videos").status_code == 404

    # A block hides the video, whoever blocked whom.
    with any_db_services.session_factory() as db:
        db.add(Block(blocker_id=alice.id, blocked_id=bob.id))
        db.commit()
    assert bob.get(f"/api/videos/{public}").status_code == 404
    assert bob.get("/api/users/alice/videos").status_code == 404
    assert alice.get(f"/api/videos/{public}").status_code == 200


def test_owner_edits_and_deletes(any_db_client, any_db_services, tiny_clip):
    fast_settings(any_db_services)
    alice, bob = (quick_api_user(any_db_client, any_db_services, name) for name in ("alice", "bob"))
    video_id = upload(alice, tiny_clip, caption="#old").json()["id"]
    any_db_services.jobs.run_pending()

    edited = alice.patch(f"/api/videos/{video_id}", json={"caption": "now #New and #shiny", "visibility": "followers"})
    assert edited.status_code == 200, edited.text
    assert sorted(edited.json()["hashtags"]) == ["new", "shiny"] and edited.json()["visibility"] == "followers"
    assert bob.get(f"/api/videos/{video_id}").status_code == 404  # followers only, and bob does not follow
    assert alice.patch(f"/api/videos/{video_id}", json={"visibility": "public"}).status_code == 200

    assert bob.patch(f"/api/videos/{video_id}", json={"caption": "mine"}).status_code == 403
    assert bob.delete(f"/api/videos/{video_id}").status_code == 403
    assert alice.patch(f"/api/videos/{video_id}", json={"visibility": "nobody"}).status_code == 422
    assert alice.patch(f"/api/videos/{video_id}", json={"caption": "y" * 2201}).status_code == 422
    assert alice.patch(f"/api/videos/{video_id}", json={"colour": "red"}).status_code == 422

    media_url = alice.get(f"/api/videos/{video_id}").json()["video_url"]
    assert alice.delete(f"/api/videos/{video_id}").status_code == 204
    assert alice.get(f"/api/videos/{video_id}").status_code == 404
    assert any_db_client.get(media_url).status_code == 404
    assert _media_files(any_db_services) == []  # its sound went too: nobody else used it
    assert _count(any_db_services, Sound) == 0
