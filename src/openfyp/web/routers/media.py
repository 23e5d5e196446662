"""Playback: stored media objects served with HTTP ranges so players can seek.

Keys carry 128 random bits and never change once written (new content gets a new key), so a response may
be cached forever. A video's files stop being served the moment the video is deleted, its media replaced,
or moderation removes it (its owner still sees it, as on every other surface).
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from openfyp.media.errors import MediaError
from openfyp.media.ranges import range_response
from openfyp.platform.errors import NotFound
from openfyp.store.tables import ModerationState, Sound, Video
from openfyp.web.deps import DB, AppServices, MaybeViewer

router = APIRouter(tags=["media"])

IMMUTABLE = "public, max-age=31536000, immutable"
CONTENT_TYPES = {
    "mp4": "video/mp4", "m4a": "audio/mp4", "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png",
    "webp": "image/webp", "gif": "image/gif", "webm": "video/webm",
}
# Only what a viewer may play or see; originals ("uploads/...") are never served.
SERVED_PREFIXES = ("videos", "posters", "sounds", "avatars")
OWNED_KEY = re.compile(r"^(videos|posters|sounds)/([0-9]{1,10})/[^/]+$")


def content_type_of(key: str) -> str:
    _, dot, extension = key.rpartition(".")
    return CONTENT_TYPES.get(extension.lower(), "application/octet-stream") if dot else "application/octet-stream"


def _still_published(db: Session, key: str, viewer_id: int | None) -> bool:
    """The key is the current file of a video (or sound) that is still up for this requester."""
    match = OWNED_KEY.match(key)
    if match is None:
        return key.split("/", 1)[0] in SERVED_PREFIXES
    kind, video_id = match.group(1), int(match.group(2))
    video = db.get(Video, video_id)
    if kind == "sounds":
        sound_ok = db.scalar(select(Sound.id).where(Sound.audio_key == key).limit(1)) is not None
        return sound_ok and (video is None or video.moderation_state != ModerationState.removed.value)
    if video is None or video.deleted_at is not None or key not in (video.media_key, video.poster_key):
        return False
    return video.moderation_state != ModerationState.removed.value or viewer_id == video.creator_id


# Two registrations rather than one GET+HEAD route, so each method has its own (unique) OpenAPI operation id.
@router.get("/media/{key:path}", operation_id="get_media")
@router.head("/media/{key:path}", operation_id="head_media")
def get_media(key: str, request: Request, db: DB, services: AppServices, viewer: MaybeViewer) -> Response:
    if not _still_published(db, key, viewer.id if viewer else None):
        raise NotFound("media", None)
    db.close()  # nothing more to read; do not hold a connection while the bytes stream
    try:
        return range_response(services.media, key, request.headers.get("range"), content_type_of(key),
                              method=request.method, headers={"Cache-Control": IMMUTABLE})
    except MediaError as error:  # unknown or malformed keys look the same from outside: not found
        raise NotFound("media", None) from error
