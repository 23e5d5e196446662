"""The video resource every API surface returns, built for a whole page of videos in a handful of queries.

Stats, hashtags, sounds, creators and the viewer's own flags are each fetched once for all the videos
(grouped counts and ``IN`` lookups), so a feed page of 30 costs the same few queries as a single video.
The statements are built once with the ids as parameters: on a feed page, building them per request cost
more CPU than running them.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import CompoundSelect, Select, bindparam, literal, select, union_all
from sqlalchemy.orm import Session

from openfyp.platform.access import region_scoped
from openfyp.platform.analytics import engagement_counts, traffic_pool
from openfyp.services import Services
from openfyp.store.tables import Follow, Hashtag, Like, Save, Sound, User, Video, VideoHashtag, VideoStatus

STAT_NAMES = ("views", "likes", "comments", "shares", "saves")


def media_url(key: str | None) -> str | None:
    return f"/media/{key}" if key else None


def share_url(services: Services, video_id: int) -> str:
    return f"{services.settings.public_base_url.rstrip('/')}/v/{video_id}"


def video_stats(db: Session, video_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Public counters per video: views are play events; the rest is current state (an unlike takes a like away)."""
    ids = list(dict.fromkeys(video_ids))
    counts = engagement_counts(db, ids) if ids else {}
    return {vid: {name: counts.get(vid, {}).get(name, 0) for name in STAT_NAMES} for vid in ids}


@functools.cache
def _statements(region: str) -> dict[str, Select | CompoundSelect]:
    video_ids = bindparam("video_ids", expanding=True)
    creator_ids = bindparam("creator_ids", expanding=True)
    viewer_id = bindparam("viewer_id")
    statements: dict[str, Select | CompoundSelect] = {
        "hashtags": (select(VideoHashtag.video_id, Hashtag.name)
                     .join(Hashtag, Hashtag.id == VideoHashtag.hashtag_id)
                     .where(VideoHashtag.video_id.in_(video_ids))
                     .order_by(VideoHashtag.video_id, Hashtag.name)),
        "creators": select(User.id, User.username, User.display_name, User.avatar_key).where(User.id.in_(creator_ids)),
        "sounds": select(Sound.id, Sound.title).where(Sound.id.in_(bindparam("sound_ids", expanding=True))),
        # The viewer's likes, saves and follows among the page's videos and creators, in one round trip.
        "viewer_flags": union_all(
            select(literal("liked"), Like.video_id).where(Like.user_id == viewer_id, Like.video_id.in_(video_ids)),
            select(literal("saved"), Save.video_id).where(Save.user_id == viewer_id, Save.video_id.in_(video_ids)),
            select(literal("following"), Follow.followee_id).where(Follow.follower_id == viewer_id,
                                                                    Follow.followee_id.in_(creator_ids))),
    }
    return {name: region_scoped(statement, region) for name, statement in statements.items()}


def _hashtags_by_video(db: Session, region: str, ids: Sequence[int]) -> dict[int, list[str]]:
    tags: dict[int, list[str]] = defaultdict(list)
    for video_id, name in db.execute(_statements(region)["hashtags"], {"video_ids": list(ids)}):
        tags[video_id].append(name)
    return tags


def _viewer_flags(db: Session, region: str, viewer_id: int, video_ids: Sequence[int],
                  creator_ids: Sequence[int]) -> tuple[set[int], set[int], set[int]]:
    flags: dict[str, set[int]] = {"liked": set(), "saved": set(), "following": set()}
    rows = db.execute(_statements(region)["viewer_flags"], {"viewer_id": viewer_id, "video_ids": list(video_ids),
                                                      "creator_ids": list(creator_ids)})
    for flag, target_id in rows:
        flags[flag].add(target_id)
    return flags["liked"], flags["saved"], flags["following"]


def _creators(db: Session, region: str, creator_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    rows = db.execute(_statements(region)["creators"], {"creator_ids": list(creator_ids)})
    return {user_id: {"id": user_id, "username": username, "display_name": display_name,
                      "avatar_url": media_url(avatar_key)}
            for user_id, username, display_name, avatar_key in rows}


def video_resources(db: Session, services: Services, videos: Iterable[Video],
                    viewer_id: int | None) -> list[dict[str, Any]]:
    """The public resource for each video, in the given order (authorisation is the caller's job)."""
    videos = list(videos)
    if not videos:
        return []
    video_ids = [v.id for v in videos]
    creator_ids = list({v.creator_id for v in videos})
    sound_ids = list({v.sound_id for v in videos if v.sound_id is not None})

    stats = video_stats(db, video_ids)
    region = services.settings.region
    tags = _hashtags_by_video(db, region, video_ids)
    creators = _creators(db, region, creator_ids)
    sounds = (dict(db.execute(_statements(region)["sounds"], {"sound_ids": sound_ids}).all())
              if sound_ids else {})
    flags = _viewer_flags(db, region, viewer_id, video_ids, creator_ids) if viewer_id is not None else None

    resources = []
    for video in videos:
        sound_title = sounds.get(video.sound_id) if video.sound_id is not None else None
        ready = video.status == VideoStatus.ready.value
        viewer = None
        if flags is not None:
            liked, saved, following = flags
            viewer = {"liked": video.id in liked, "saved": video.id in saved,
                      "following": video.creator_id in following}
        resources.append({
            "id": video.id,
            "caption": video.caption,
            "status": video.status,
            "failure": ({"code": video.failure_code, "reason": video.failure_reason}
                        if video.status == VideoStatus.failed.value else None),
            "visibility": video.visibility,
            "hashtags": tags.get(video.id, []),
            "sound": {"id": video.sound_id, "title": sound_title} if sound_title is not None else None,
            "creator": creators.get(video.creator_id),
            "video_url": media_url(video.media_key) if ready else None,
            "poster_url": media_url(video.poster_key) if ready else None,
            "duration_s": video.duration_s,
            "width": video.width,
            "height": video.height,
            "created_at": video.created_at.isoformat() if video.created_at else None,
            "share_url": share_url(services, video.id),
            "stats": stats[video.id],
            "viewer": viewer,
        })
        if viewer_id is not None and viewer_id == video.creator_id:
            resources[-1]["traffic_pool"] = traffic_pool(services, video.id)  # the creator's eyes only
    return resources


def video_resource(db: Session, services: Services, video: Video, viewer_id: int | None) -> dict[str, Any]:
    return video_resources(db, services, [video], viewer_id)[0]
