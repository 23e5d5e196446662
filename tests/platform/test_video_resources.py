"""The video resource of a page: every related row (hashtags, creator, sound, the viewer's own flags) comes
back to the right video, on SQLite and PostgreSQL, whatever mix of them the page has."""

from __future__ import annotations

from sqlalchemy import insert

from openfyp.store.base import utcnow
from openfyp.store.tables import Follow, Like, Save, Sound, User, Video
from openfyp.web.video_out import video_resources
from tests.platform.videos_support import media_dir, quick_user, seed_ready_video, tiny_clip, tiny_poster

__all__ = ["media_dir", "tiny_clip", "tiny_poster"]


def test_a_page_gets_each_videos_own_related_rows(any_db_services, tiny_clip, tiny_poster):
    services = any_db_services
    ana, ben, viewer = (quick_user(services, name) for name in ("ana", "ben", "viewer"))
    with_tags = seed_ready_video(services, ana.id, tiny_clip, tiny_poster, caption="#zebra #Apple #mango")
    plain = seed_ready_video(services, ben.id, tiny_clip, tiny_poster, caption="nothing tagged")
    own = seed_ready_video(services, viewer.id, tiny_clip, tiny_poster, caption="#mango")
    now = utcnow()
    with services.session_factory() as db:
        sound = Sound(region=services.region, title="Summer hit", creator_id=ana.id)
        db.add(sound)
        db.flush()
        db.get(Video, plain).sound_id = sound.id
        db.get(User, ben.id).avatar_key = "avatars/ben.jpg"
        db.execute(insert(Like), [{"user_id": viewer.id, "video_id": with_tags, "created_at": now}])
        db.execute(insert(Save), [{"user_id": viewer.id, "video_id": plain, "created_at": now},
                                  {"user_id": ana.id, "video_id": with_tags, "created_at": now}])
        db.execute(insert(Follow), [{"follower_id": viewer.id, "followee_id": ben.id, "created_at": now}])
        db.commit()

    with services.session_factory() as db:
        videos = [db.get(Video, video_id) for video_id in (plain, own, with_tags)]
        signed_in = video_resources(db, services, videos, viewer.id)
        signed_out = video_resources(db, services, videos, None)

    assert [r["id"] for r in signed_in] == [plain, own, with_tags]  # the order asked for
    by_id = {r["id"]: r for r in signed_in}
    # parse_hashtags lower-cases the names; a video's tags come sorted by name
    assert by_id[with_tags]["hashtags"] == ["apple", "mango", "zebra"]
    assert by_id[own]["hashtags"] == ["mango"] and by_id[plain]["hashtags"] == []
    assert by_id[plain]["sound"] == {"id": sound.id, "title": "Summer hit"} and by_id[with_tags]["sound"] is None
    assert by_id[plain]["creator"] == {"id": ben.id, "username": "ben", "display_name": "ben",
                                       "avatar_url": "/media/avatars/ben.jpg"}
    assert by_id[with_tags]["creator"]["avatar_url"] is None
    assert by_id[with_tags]["viewer"] == {"liked": True, "saved": False, "following": False}
    assert by_id[plain]["viewer"] == {"liked": False, "saved": True, "following": True}
    assert by_id[own]["viewer"] == {"liked": False, "saved": False, "following": False}
    assert by_id[with_tags]["stats"]["likes"] == 1 and by_id[with_tags]["stats"]["saves"] == 1
    assert "traffic_pool" in by_id[own] and "traffic_pool" not in by_id[plain]  # the creator's eyes only
    assert all(r["viewer"] is None for r in signed_out)
    assert [r["hashtags"] for r in signed_out] == [r["hashtags"] for r in signed_in]
