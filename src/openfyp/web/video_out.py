"""The video resource every API surface returns, built for a whole page of videos in a handful of queries.

Stats (grouped counts), then hashtags, sounds, creators and the viewer's own flags (``IN`` lookups, one
statement for all of them) are fetched once for all the videos, so a feed page of 30 costs the same two
queries as a single video.
The statements are built once with the ids as parameters: on a feed page, building them per request cost
more CPU than running them.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import CompoundSelect, String, bindparam, cast, literal_column, null, select, union_all
from sqlalchemy.orm import Session

from openfyp.platform.access import region_scoped, scoped_rows
from openfyp.platform.analytics import engagement_counts, traffic_pool
from openfyp.services import Services
from openfyp.store.id_list import id_list, in_id_list
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


# The page's related rows come back as (kind, key, name, display_name, avatar_key), one statement for all kinds.
_HASHTAG, _CREATOR, _SOUND = "hashtag", "creator", "sound"
_FLAGS = ("liked", "saved", "following")


def _kind(name: str):
    # A constant in the SQL rather than a bound parameter: nothing to bind on each execution.
    return literal_column(f"'{name}'", String).label("kind")


@functools.cache
def _related_statement(region: str, with_viewer: bool) -> CompoundSelect:
    """Hashtags, creators, sounds and (signed in) the viewer's likes, saves and follows of one page in a single
    round trip, built once per region with the ids as parameters: one statement per kind cost a page more CPU
    (binding, executing and reading each) than the rows themselves."""
    video_ids, creator_ids = id_list("video_ids"), id_list("creator_ids")
    viewer_id = bindparam("viewer_id")
    nothing = cast(null(), String)
    parts = [
        select(_kind(_HASHTAG), VideoHashtag.video_id.label("key"), Hashtag.name.label("name"), nothing, nothing)
        .join(Hashtag, Hashtag.id == VideoHashtag.hashtag_id).where(in_id_list(VideoHashtag.video_id, video_ids)),
        select(_kind(_CREATOR), User.id, User.username, User.display_name, User.avatar_key)
        .where(in_id_list(User.id, creator_ids)),
        select(_kind(_SOUND), Sound.id, Sound.title, nothing, nothing)
        .where(in_id_list(Sound.id, id_list("sound_ids"))),
    ]
    if with_viewer:
        parts += [
            select(_kind("liked"), Like.video_id, nothing, nothing, nothing)
            .where(Like.user_id == viewer_id, in_id_list(Like.video_id, video_ids)),
            select(_kind("saved"), Save.video_id, nothing, nothing, nothing)
            .where(Save.user_id == viewer_id, in_id_list(Save.video_id, video_ids)),
            select(_kind("following"), Follow.followee_id, nothing, nothing, nothing)
            .where(Follow.follower_id == viewer_id, in_id_list(Follow.followee_id, creator_ids)),
        ]
    # Ordered like the per-kind statements were: a video's hashtags by name, in the database's collation.
    return region_scoped(union_all(*parts).order_by("kind", "key", "name"), region)


class _Related:
    """What ``_related_statement`` returned, by kind."""

    def __init__(self, rows: Iterable[Any]) -> None:
        self.hashtags: dict[int, list[str]] = defaultdict(list)
        self.creators: dict[int, dict[str, Any]] = {}
        self.sounds: dict[int, str] = {}
        self.flags: dict[str, set[int]] = {flag: set() for flag in _FLAGS}
        for kind, key, name, display_name, avatar_key in rows:
            if kind == _HASHTAG:
                self.hashtags[key].append(name)
            elif kind == _CREATOR:
                self.creators[key] = {"id": key, "username": name, "display_name": display_name,
                                      "avatar_url": media_url(avatar_key)}
            elif kind == _SOUND:
                self.sounds[key] = name
            else:
                self.flags[kind].add(key)


def _related(db: Session, region: str, viewer_id: int | None, video_ids: Sequence[int],
             creator_ids: Sequence[int], sound_ids: Sequence[int]) -> _Related:
    parameters: dict[str, Any] = {"video_ids": list(video_ids), "creator_ids": list(creator_ids),
                                  "sound_ids": list(sound_ids)}
    if viewer_id is not None:
        parameters["viewer_id"] = viewer_id
    return _Related(scoped_rows(db, _related_statement(region, viewer_id is not None), parameters))


def video_resources(db: Session, services: Services, videos: Iterable[Video],
                    viewer_id: int | None) -> list[dict[str, Any]]:
    """The public resource for each video, in the given order (authorisation is the caller's job). A video is
    a ``Video`` or a row with the same attribute names (For You's ``feeds.PAGE_VIDEO_COLUMNS``)."""
    videos = list(videos)
    if not videos:
        return []
    video_ids = [v.id for v in videos]
    creator_ids = list({v.creator_id for v in videos})
    sound_ids = list({v.sound_id for v in videos if v.sound_id is not None})

    stats = video_stats(db, video_ids)
    related = _related(db, services.settings.region, viewer_id, video_ids, creator_ids, sound_ids)
    tags, creators, sounds = related.hashtags, related.creators, related.sounds
    flags = (related.flags["liked"], related.flags["saved"], related.flags["following"]) \
        if viewer_id is not None else None

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
