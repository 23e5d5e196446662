"""The video resource every API surface returns, built for a whole page of videos in a handful of queries.

Stats, hashtags, sounds, creators and the viewer's own flags are each fetched once for all the videos
(grouped counts and ``IN`` lookups), so a feed page of 30 costs the same few queries as a single video.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from openfyp.platform.analytics import engagement_counts, traffic_pool
from openfyp.services import Services
from openfyp.store.tables import Follow, Hashtag, Like, Save, Sound, User, Video, VideoHashtag, VideoStatus
from openfyp.web.schemas import avatar_url

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


def _hashtags_by_video(db: Session, ids: Sequence[int]) -> dict[int, list[str]]:
    rows = db.execute(
        select(VideoHashtag.video_id, Hashtag.name)
        .join(Hashtag, Hashtag.id == VideoHashtag.hashtag_id)
        .where(VideoHashtag.video_id.in_(ids))
        .order_by(VideoHashtag.video_id, Hashtag.name)
    )
    tags: dict[int, list[str]] = defaultdict(list)
    for video_id, name in rows:
        tags[video_id].append(name)
    return tags


def _viewer_flags(db: Session, viewer_id: int, video_ids: Sequence[int],
                  creator_ids: Sequence[int]) -> tuple[set[int], set[int], set[int]]:
    liked = set(db.scalars(select(Like.video_id).where(Like.user_id == viewer_id, Like.video_id.in_(video_ids))))
    saved = set(db.scalars(select(Save.video_id).where(Save.user_id == viewer_id, Save.video_id.in_(video_ids))))
    following = set(db.scalars(select(Follow.followee_id).where(
        Follow.follower_id == viewer_id, Follow.followee_id.in_(creator_ids))))
    return liked, saved, following


def creator_out(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.id, "username": user.username, "display_name": user.display_name,
            "avatar_url": avatar_url(user)}


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
    tags = _hashtags_by_video(db, video_ids)
    creators = {u.id: u for u in db.scalars(select(User).where(User.id.in_(creator_ids)))}
    sounds = ({s.id: s for s in db.scalars(select(Sound).where(Sound.id.in_(sound_ids)))} if sound_ids else {})
    flags = _viewer_flags(db, viewer_id, video_ids, creator_ids) if viewer_id is not None else None

    resources = []
    for video in videos:
        sound = sounds.get(video.sound_id) if video.sound_id is not None else None
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
            "sound": {"id": sound.id, "title": sound.title} if sound is not None else None,
            "creator": creator_out(creators.get(video.creator_id)),
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
