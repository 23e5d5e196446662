"""Uploading, reading, editing and deleting videos."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from openfyp.media.errors import MediaError
from openfyp.media.validate import sniff_upload_head
from openfyp.moderation import sanctions
from openfyp.platform import videos
from openfyp.platform.access import visible_user
from openfyp.platform.cursor import codec_for, parse_time_key, time_key
from openfyp.platform.errors import InvalidInput
from openfyp.platform.videos import UploadRejected
from openfyp.web.deps import DB, AppServices, CurrentViewer, MaybeViewer, WriteLimit
from openfyp.web.params import RowId
from openfyp.web.upload_stream import receive_upload
from openfyp.web.video_out import video_resource, video_resources

router = APIRouter(tags=["videos"])

VideoId = RowId
PROFILE_PAGE_MAX = 50


class UploadAccepted(BaseModel):
    id: int
    status: str


class VideoPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    caption: str | None = Field(None, max_length=videos.MAX_CAPTION)
    visibility: str | None = None


def _sniff(head: bytes) -> None:
    try:
        sniff_upload_head(head)
    except MediaError as error:
        raise UploadRejected.from_media(error) from error


def _sound_id(raw: str | None) -> int | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput("invalid_sound_id", "sound_id must be a number", "sound_id") from None
    if not 1 <= value <= 2**31 - 1:
        raise InvalidInput("unknown_sound", f"there is no sound {value} to use", "sound_id")
    return value


@router.post("/api/videos", status_code=202, response_model=UploadAccepted, dependencies=[WriteLimit],
             openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                 "type": "object", "required": ["file"], "properties": {
                     "file": {"type": "string", "format": "binary"}, "caption": {"type": "string"},
                     "visibility": {"type": "string", "enum": ["public", "followers", "private"]},
                     "sound_id": {"type": "integer"}}}}}}})
async def upload_video(request: Request, viewer: CurrentViewer, db: DB, services: AppServices) -> UploadAccepted:
    """Stream the upload to disk, judge it, keep it and queue its transcode; 202 while it is processed."""
    sanctions.ensure_may_post(db, viewer.user)  # before the transfer, not after it
    # The sign-in check is done; end its read transaction rather than hold it open for the whole transfer.
    db.commit()
    settings = services.settings
    upload = await receive_upload(
        request, scratch=settings.data_dir / "tmp" / "uploads", max_file_bytes=settings.max_upload_bytes,
        text_fields=("caption", "visibility", "sound_id"), sniff=_sniff,
    )
    try:
        video = await run_in_threadpool(
            videos.accept_upload, services, viewer.id, upload.file_path,
            caption=upload.fields.get("caption"), visibility=upload.fields.get("visibility"),
            sound_id=_sound_id(upload.fields.get("sound_id")),
        )
    finally:
        upload.discard()
    return UploadAccepted(id=video.id, status=video.status)


@router.get("/api/videos/{video_id}")
def get_video(video_id: VideoId, viewer: MaybeViewer, db: DB, services: AppServices) -> dict:
    video = videos.viewable_video(db, video_id, viewer.user if viewer else None, services.settings)
    return video_resource(db, services, video, viewer.id if viewer else None)


@router.patch("/api/videos/{video_id}", dependencies=[WriteLimit])
def patch_video(video_id: VideoId, body: VideoPatch, viewer: CurrentViewer, db: DB, services: AppServices) -> dict:
    video = videos.owned_video(db, video_id, viewer.user, services.settings)
    videos.update_video(db, video, caption=body.caption, visibility=body.visibility)
    db.commit()
    videos.notify_feed(services, video.id)
    return video_resource(db, services, video, viewer.id)


@router.delete("/api/videos/{video_id}", status_code=204, dependencies=[WriteLimit])
def delete_video(video_id: VideoId, viewer: CurrentViewer, db: DB, services: AppServices) -> Response:
    video = videos.owned_video(db, video_id, viewer.user, services.settings)
    videos.delete_video(db, services, video)
    return Response(status_code=204)


@router.get("/api/users/{username}/videos")
def profile_videos(username: str, viewer: MaybeViewer, db: DB, services: AppServices,
                   cursor: Annotated[str | None, Query(max_length=1024)] = None,
                   limit: Annotated[int, Query(ge=1, le=PROFILE_PAGE_MAX)] = 20) -> dict:
    """A profile's videos, newest first. The owner sees every one of theirs with its status (and failure reason)."""
    user = viewer.user if viewer else None
    creator = visible_user(db, username, user.id if user else None)
    listing = f"profile-videos:{creator.id}"
    codec = codec_for(services)
    position = codec.decode(listing, cursor)
    before = None
    if position is not None:
        if len(position) != 2 or not isinstance(position[1], int):
            raise InvalidInput("invalid_cursor", "the cursor is malformed", "cursor")
        before = (parse_time_key(position[0]), position[1])
    page = videos.creator_videos(db, creator, user, services.settings, before=before, limit=limit)
    next_cursor = None
    if page.next_before is not None:
        next_cursor = codec.encode(listing, [time_key(page.next_before[0]), page.next_before[1]])
    return {"items": video_resources(db, services, page.videos, user.id if user else None),
            "next_cursor": next_cursor}
