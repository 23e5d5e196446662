"""The video domain without HTTP: hashtags, profile listings, keyword filters on captions, deletion."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from openfyp.moderation import filters
from openfyp.platform import videos
from openfyp.platform.errors import DomainError
from openfyp.store.base import utcnow
from openfyp.store.tables import Follow, ModerationCase, Sound, User, Video
from tests.platform.videos_support import (
    fast_settings, media_dir, quick_user, seed_ready_video, tiny_clip, tiny_poster,
)

__all__ = ["media_dir", "tiny_clip", "tiny_poster"]


def _user(services, name: str, birth: str = "1990-01-01") -> int:
    return quick_user(services, name, birth_date=date.fromisoformat(birth)).id


@pytest.mark.parametrize(("caption", "tags"), [
    ("no tags here", []),
    ("#One #one #ONE", ["one"]),
    ("mixed #Été, #日本語! #snake_case #with-dash #42", ["été", "日本語", "snake_case", "with", "42"]),
    ("email@example.com is not #a#b", ["a", "b"]),
    ("#" + "x" * 101 + " #ok", ["ok"]),
])
def test_parse_hashtags(caption, tags):
    assert videos.parse_hashtags(caption) == tags


def test_profile_listing_owner_sees_everything_others_only_what_is_up(any_db_services, tiny_clip, tiny_poster):
    services = any_db_services
    alice, bob = _user(services, "alice"), _user(services, "bob")
    start = utcnow() - timedelta(hours=1)
    made = {}
    for minute, (name, columns) in enumerate([
        ("public", {}), ("private", {"visibility": "private"}), ("followers", {"visibility": "followers"}),
        ("failed", {"status": "failed", "failure_code": "corrupt"}), ("processing", {"status": "processing"}),
        ("removed", {"moderation_state": "removed"}), ("newest", {}),
    ]):
        made[name] = seed_ready_video(services, alice, tiny_clip, tiny_poster,
                                      created_at=start + timedelta(minutes=minute), **columns)
    with services.session_factory() as db:
        owner, viewer = db.get(User, alice), db.get(User, bob)
        own = videos.creator_videos(db, owner, owner, services.settings, limit=50).videos
        assert [v.id for v in own] == list(reversed(made.values()))
        theirs = videos.creator_videos(db, owner, viewer, services.settings, limit=50).videos
        assert [v.id for v in theirs] == [made["newest"], made["public"]]
        anonymous = videos.creator_videos(db, owner, None, services.settings, limit=50).videos
        assert [v.id for v in anonymous] == [made["newest"], made["public"]]

        db.add(Follow(follower_id=bob, followee_id=alice))
        db.commit()
        follower_view = videos.creator_videos(db, owner, viewer, services.settings, limit=50).videos
        assert [v.id for v in follower_view] == [made["newest"], made["followers"], made["public"]]

        # Keyset paging walks the owner's list without gaps or repeats.
        seen, before = [], None
        while True:
            page = videos.creator_videos(db, owner, owner, services.settings, before=before, limit=3)
            seen += [v.id for v in page.videos]
            if page.next_before is None:
                break
            before = page.next_before
        assert seen == list(reversed(made.values()))


def test_caption_filters_block_or_hold_an_upload(any_db_services, tiny_clip):
    services = any_db_services
    fast_settings(services)
    alice = _user(services, "alice")
    with services.session_factory() as db:
        filters.add_filter(db, region=services.region, pattern="forbiddenword", scope="captions", action="block",
                           created_by=None)
        filters.add_filter(db, region=services.region, pattern="suspicious", scope="both", action="hold",
                           created_by=None)
        db.commit()

    with pytest.raises(DomainError) as refused:
        videos.accept_upload(services, alice, tiny_clip, caption="a forbiddenword caption")
    assert refused.value.code == "keyword_blocked" and refused.value.field == "caption"

    held = videos.accept_upload(services, alice, tiny_clip, caption="something suspicious #here")
    services.jobs.run_pending()
    with services.session_factory() as db:
        video = db.get(Video, held.id)
        assert video.status == "ready" and video.moderation_state == "held"
        assert db.scalar(select(func.count()).select_from(Video)) == 1
        assert db.scalar(select(ModerationCase.target_id).where(ModerationCase.target_kind == "video")) == held.id
        owner = db.get(User, alice)
        assert videos.viewable_video(db, held.id, owner, services.settings).id == held.id
        with pytest.raises(DomainError) as hidden:
            videos.viewable_video(db, held.id, None, services.settings)
        assert hidden.value.status == 404


def test_protected_minors_upload_for_followers_by_default(any_db_services, tiny_clip):
    services = any_db_services
    fast_settings(services)
    young = _user(services, "young", birth=f"{utcnow().year - 14}-01-01")
    adult = _user(services, "adult")
    assert videos.accept_upload(services, young, tiny_clip).visibility == "followers"
    assert videos.accept_upload(services, young, tiny_clip, visibility="public").visibility == "public"
    assert videos.accept_upload(services, adult, tiny_clip).visibility == "public"


def test_deleting_the_origin_keeps_a_sound_others_use(any_db_services, tiny_clip):
    services = any_db_services
    fast_settings(services)
    alice, bob = _user(services, "alice"), _user(services, "bob")
    origin = videos.accept_upload(services, alice, tiny_clip)
    services.jobs.run_pending()
    with services.session_factory() as db:
        sound_id = db.get(Video, origin.id).sound_id
    reuse = videos.accept_upload(services, bob, tiny_clip, sound_id=sound_id)
    services.jobs.run_pending()

    with services.session_factory() as db:
        video = db.get(Video, origin.id)
        media_key = video.media_key
        videos.delete_video(db, services, video)
    assert not services.media.exists(media_key)
    with services.session_factory() as db:
        sound = db.get(Sound, sound_id)
        assert sound is not None and services.media.exists(sound.audio_key)  # still behind bob's video
        videos.delete_video(db, services, db.get(Video, reuse.id))
    with services.session_factory() as db:
        assert db.get(Sound, sound_id) is None
    assert [p for p in services.settings.resolved_media_dir.rglob("*") if p.is_file()] == []


def test_a_video_deleted_while_transcoding_leaves_no_files(any_db_services, tiny_clip, monkeypatch):
    services = any_db_services
    fast_settings(services)
    alice = _user(services, "alice")
    video = videos.accept_upload(services, alice, tiny_clip)
    store_file = services.media.put_file

    def delete_meanwhile(key, path, content_type):
        # The creator deletes the video at the moment the worker starts storing its output.
        if key.startswith("videos/"):
            with services.session_factory() as db:
                videos.delete_video(db, services, db.get(Video, video.id))
        store_file(key, path, content_type)

    monkeypatch.setattr(services.media, "put_file", delete_meanwhile)
    assert services.jobs.run_pending() == 1
    with services.session_factory() as db:
        assert db.get(Video, video.id) is None and db.scalar(select(func.count()).select_from(Sound)) == 0
    assert [p for p in services.settings.resolved_media_dir.rglob("*") if p.is_file()] == []
