"""A video's life: an accepted upload, its transcode job, who may see it, edits and deletion.

Uploads are judged before anything is kept: text fields first, then the file itself
(``validate_upload``). Only then is the original stored and the video created together with its
``transcode`` job, in one transaction. The job turns the original into the web MP4 and poster under
unguessable keys, makes the soundtrack a reusable sound and marks the video ready (or failed, with a
reason the creator sees). The original is deleted once the web copy exists: it is never served and may
carry metadata such as the filming location.
"""

from __future__ import annotations

import logging
import re
import secrets
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from openfyp.media.errors import UPLOAD_ERROR_CODES, MediaError
from openfyp.media.storage import MediaStore
from openfyp.media.transcode import extract_audio, transcode
from openfyp.media.validate import validate_upload
from openfyp.moderation import cases, filters, minors, sanctions
from openfyp.moderation.visibility import creator_in_good_standing, ensure_video_viewable
from openfyp.platform.access import Audience, video_visible
from openfyp.platform.errors import DomainError, Forbidden, InvalidInput, NotFound
from openfyp.platform.jobs import ClaimedJob, JobRunner, PermanentJobError
from openfyp.platform.users import without_control_characters
from openfyp.services import Services
from openfyp.settings import Settings
from openfyp.store.base import utcnow
from openfyp.store.tables import (
    Hashtag, ModerationState, Sound, User, Video, VideoHashtag, VideoStatus, Visibility,
)

log = logging.getLogger("openfyp.videos")

TRANSCODE_JOB = "transcode"
MAX_CAPTION = 2200
MAX_HASHTAG = 100
MAX_HASHTAGS_PER_VIDEO = 30
HASHTAG = re.compile(r"#(\w+)")


class UploadRejected(DomainError):
    """A refused upload, carrying the media check's code; 413 when too large, 422 otherwise."""

    def __init__(self, code: str, message: str, field: str | None = "file") -> None:
        super().__init__(code, message, field)
        self.status = 413 if code == "too_large" else 422

    @classmethod
    def from_media(cls, error: MediaError) -> UploadRejected:
        return cls(error.code, error.message, error.field or "file")


def new_token() -> str:
    """128 random bits: media keys are capabilities, so they must not be guessable or enumerable."""
    return secrets.token_hex(16)


def parse_hashtags(caption: str) -> list[str]:
    """``#Tags`` in a caption, lowercased, unique, in order of appearance (letters, digits and ``_``)."""
    seen: dict[str, None] = {}
    for match in HASHTAG.finditer(caption):
        name = match.group(1).lower()
        if len(name) <= MAX_HASHTAG:
            seen.setdefault(name, None)
    return list(seen)[:MAX_HASHTAGS_PER_VIDEO]


def check_caption(caption: str | None) -> str:
    # Control characters are invisible in a caption, and PostgreSQL refuses NUL outright.
    caption = without_control_characters(caption or "").strip()
    if len(caption) > MAX_CAPTION:
        raise InvalidInput("caption_too_long", f"captions are at most {MAX_CAPTION} characters", "caption")
    return caption


def check_visibility(visibility: str | None) -> str:
    if visibility is None or visibility == "":
        return Visibility.public.value
    try:
        return Visibility(visibility).value
    except ValueError:
        choices = ", ".join(v.value for v in Visibility)
        raise InvalidInput("invalid_visibility", f"visibility must be one of {choices}", "visibility") from None


def set_hashtags(db: Session, video: Video, names: Sequence[str]) -> None:
    """Replace the video's hashtags, creating missing ones (concurrent uploads may create the same tag)."""
    db.execute(delete(VideoHashtag).where(VideoHashtag.video_id == video.id))
    if not names:
        return
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.execute(insert(Hashtag).on_conflict_do_nothing(index_elements=["region", "name"]),
               [{"region": video.region, "name": name, "created_at": utcnow()} for name in names])
    ids = db.scalars(select(Hashtag.id).where(Hashtag.region == video.region, Hashtag.name.in_(names))).all()
    db.add_all([VideoHashtag(video_id=video.id, hashtag_id=tag_id) for tag_id in ids])
    db.flush()


# ---- who may see what ---------------------------------------------------------------------------------
# The viewing policy itself lives in ``platform.access``; what is added here is the owner's view: a creator
# sees their own videos in every state (processing, failed, private, held, removed), with the reason.


def audience_of(viewer: User | None, settings: Settings) -> Audience:
    return Audience.of(viewer, settings.adult_age)


def _own(video: Video, viewer: User | None, settings: Settings) -> bool:
    return (viewer is not None and video.creator_id == viewer.id and video.region == settings.region
            and video.deleted_at is None)


def viewable_video(db: Session, video_id: int, viewer: User | None, settings: Settings) -> Video:
    """The video if ``viewer`` may see it; otherwise 404 (never 403: whether it exists is not disclosed)."""
    video = db.get(Video, video_id)
    if video is None or video.region != settings.region:
        raise NotFound("video", video_id)
    if _own(video, viewer, settings):
        return video
    return ensure_video_viewable(db, video_id, viewer, settings)


def owned_video(db: Session, video_id: int, viewer: User, settings: Settings) -> Video:
    """The viewer's own video, for changes: 403 when it is someone else's they can see, else 404."""
    video = db.get(Video, video_id)
    if video is not None and _own(video, viewer, settings):
        return video
    viewable_video(db, video_id, viewer, settings)  # raises 404 when they cannot even see it
    raise Forbidden("not_owner", "only the creator may change this video")


@dataclass(frozen=True)
class VideoPage:
    videos: list[Video]
    next_before: tuple[datetime, int] | None


def creator_videos(db: Session, creator: User, viewer: User | None, settings: Settings, *,
                   before: tuple[datetime, int] | None = None, limit: int = 20) -> VideoPage:
    """A profile's videos, newest first: the owner sees all of theirs with status, others what is up for them.

    ``before`` is the (created_at, id) keyset position of the last video of the previous page.
    """
    query = select(Video).where(Video.creator_id == creator.id, Video.region == settings.region,
                                Video.deleted_at.is_(None))
    if viewer is None or viewer.id != creator.id:
        query = query.where(video_visible(audience_of(viewer, settings)),
                            creator_in_good_standing(viewer.id if viewer else None))
    if before is not None:
        created, last_id = before
        query = query.where(or_(Video.created_at < created, and_(Video.created_at == created, Video.id < last_id)))
    found = list(db.scalars(query.order_by(Video.created_at.desc(), Video.id.desc()).limit(limit + 1)))
    page = found[:limit]
    return VideoPage(page, (page[-1].created_at, page[-1].id) if len(found) > limit else None)


def _reusable_sound(db: Session, sound_id: int, uploader: User, settings: Settings) -> Sound:
    sound = db.get(Sound, sound_id)
    unknown = InvalidInput("unknown_sound", f"there is no sound {sound_id} to use", "sound_id")
    if sound is None or sound.region != settings.region or sound.audio_key is None:
        raise unknown
    if sound.origin_video_id is not None:
        origin = db.get(Video, sound.origin_video_id)
        if origin is None or not _own(origin, uploader, settings) and db.scalar(
                select(Video.id).where(Video.id == origin.id, video_visible(audience_of(uploader, settings)))) is None:
            raise unknown
    return sound


# ---- upload ---------------------------------------------------------------------------------------------


def create_upload(db: Session, services: Services, creator: User, source: Path, *, caption: str | None = None,
                  visibility: str | None = None, sound_id: int | None = None) -> Video:
    """Judge an uploaded file and, if it is a usable video, keep it and queue its transcode.

    The caller commits (the job and the video become durable together) and then wakes the job runner.
    Raises ``UploadRejected`` (413/422) or ``InvalidInput``; nothing is stored in that case.
    """
    settings = services.settings
    sanctions.ensure_may_post(db, creator)
    caption = check_caption(caption)
    hashtags = parse_hashtags(caption)
    verdict = filters.check_caption(db, settings.region, caption, hashtags).raise_if_blocked("caption")
    visibility = check_visibility(visibility or minors.default_upload_visibility(creator, settings))
    sound = _reusable_sound(db, sound_id, creator, settings) if sound_id is not None else None
    try:
        validate_upload(source, max_bytes=settings.max_upload_bytes, max_seconds=settings.max_video_seconds)
    except MediaError as error:
        raise UploadRejected.from_media(error) from error

    video = Video(region=settings.region, creator_id=creator.id, caption=caption, visibility=visibility,
                  status=VideoStatus.processing.value, sound_id=sound.id if sound else None,
                  moderation_state=verdict.initial_state)
    db.add(video)
    db.flush()
    set_hashtags(db, video, hashtags)
    if verdict.held:
        cases.hold_for_review(db, region=settings.region, target_kind="video", target_id=video.id,
                              owner_id=creator.id, verdict=verdict)
    upload_key = f"uploads/{video.id}/{new_token()}"
    services.media.put_file(upload_key, source, "application/octet-stream")
    try:
        video.upload_key = upload_key
        services.jobs.enqueue(TRANSCODE_JOB, {"video_id": video.id}, db=db)
        db.flush()
    except BaseException:
        services.media.delete(upload_key)
        raise
    return video


def accept_upload(services: Services, creator_id: int, source: Path, *, caption: str | None = None,
                  visibility: str | None = None, sound_id: int | None = None) -> Video:
    """``create_upload`` in a transaction of its own, committed (acknowledged = durable), then the job runner woken."""
    with services.session_factory() as db:
        creator = db.get(User, creator_id)
        if creator is None or creator.deleted_at is not None:
            raise NotFound("user", creator_id)
        video = create_upload(db, services, creator, source, caption=caption, visibility=visibility,
                              sound_id=sound_id)
        try:
            db.commit()
        except BaseException:
            db.rollback()
            services.media.delete(video.upload_key)
            raise
    services.jobs.notify()
    return video


# ---- the transcode job ---------------------------------------------------------------------------------


@contextmanager
def local_copy(store: MediaStore, key: str, scratch: Path) -> Iterator[Path]:
    """A filesystem path to a stored object: in place for a local store, downloaded for S3."""
    path = store.local_path(key)
    if path is not None:
        yield path
        return
    target = scratch / "source"
    size = store.size(key)
    with target.open("wb") as out:
        for chunk in store.open_range(key, 0, size - 1):
            out.write(chunk)
    yield target


def _scratch_root(settings: Settings) -> Path:
    root = settings.data_dir / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    return root


def run_transcode(services: Services, job: ClaimedJob) -> None:
    """The ``transcode`` job: original → web MP4 + poster (+ reusable sound), then the video is ready."""
    video_id = int(job.payload["video_id"])
    with services.session_factory() as db:
        video = db.get(Video, video_id)
        if video is None or video.status != VideoStatus.processing.value:
            return  # deleted meanwhile, or a re-run after success: nothing to do
        upload_key, make_sound = video.upload_key, video.sound_id is None
        creator = db.get(User, video.creator_id)
        creator_name = creator.username if creator else "unknown"
    if upload_key is None:
        raise PermanentJobError("the original upload is missing")

    store: MediaStore = services.media
    settings = services.settings
    stored: list[str] = []
    with tempfile.TemporaryDirectory(prefix="transcode-", dir=_scratch_root(settings)) as scratch_dir:
        scratch = Path(scratch_dir)
        try:
            with local_copy(store, upload_key, scratch) as source:
                result = transcode(source, scratch / "web.mp4", scratch / "poster.jpg",
                                   short_edge=settings.transcode_short_edge,
                                   preset=settings.transcode_preset)
        except MediaError as error:
            if error.code in UPLOAD_ERROR_CODES or error.code == "media_not_found":
                raise PermanentJobError(error.message) from error
            raise
        audio_seconds = None
        if make_sound and result.has_audio and not result.added_silent_audio:
            try:
                audio_seconds = extract_audio(scratch / "web.mp4", scratch / "sound.m4a")
            except MediaError as error:  # the video is still worth publishing without a reusable sound
                log.warning("video %s: no reusable sound: %s", video_id, error.message)

        token = new_token()
        media_key, poster_key = f"videos/{video_id}/{token}.mp4", f"posters/{video_id}/{token}.jpg"
        store.put_file(media_key, scratch / "web.mp4", "video/mp4")
        stored.append(media_key)
        store.put_file(poster_key, scratch / "poster.jpg", "image/jpeg")
        stored.append(poster_key)
        audio_key = None
        if audio_seconds is not None:
            audio_key = f"sounds/{video_id}/{token}.m4a"
            store.put_file(audio_key, scratch / "sound.m4a", "audio/mp4")
            stored.append(audio_key)

    try:
        published = _publish(services, video_id, result, media_key, poster_key, audio_key, audio_seconds,
                             creator_name)
    except BaseException:
        _delete_keys(store, stored)
        raise
    if not published:
        _delete_keys(store, stored)  # the video was deleted while we worked
        return
    _delete_keys(store, [upload_key])
    notify_feed(services, video_id)


def _publish(services: Services, video_id: int, result, media_key: str, poster_key: str, audio_key: str | None,
             audio_seconds: float | None, creator_name: str) -> bool:
    with services.session_factory() as db:
        video = db.get(Video, video_id)
        if video is None or video.status != VideoStatus.processing.value:
            return False
        if audio_key is not None:
            sound = Sound(region=video.region, title=f"original sound – @{creator_name}"[:120],
                          creator_id=video.creator_id, origin_video_id=video.id, audio_key=audio_key,
                          duration_s=audio_seconds)
            db.add(sound)
            db.flush()
            video.sound_id = sound.id
        video.media_key, video.poster_key = media_key, poster_key
        video.duration_s, video.width, video.height = result.duration_s, result.width, result.height
        video.size_bytes = result.size_bytes
        video.status, video.ready_at = VideoStatus.ready.value, utcnow()
        video.upload_key = None
        video.failure_code = video.failure_reason = None
        db.commit()
    return True


def mark_transcode_failed(services: Services, job: ClaimedJob, error: BaseException) -> None:
    """Give-up hook: the creator sees why, in words; the original is dropped (it will never be used)."""
    cause = error.__cause__ if isinstance(error, PermanentJobError) and error.__cause__ else error
    if isinstance(cause, MediaError):
        code = cause.code
        reason = cause.message.splitlines()[0] if cause.message else "the video could not be processed"
    elif isinstance(error, PermanentJobError):
        code, reason = "processing_failed", str(error)
    else:
        code, reason = "processing_failed", "an internal error stopped processing this video"
    with services.session_factory() as db:
        video = db.get(Video, int(job.payload["video_id"]))
        if video is None or video.status != VideoStatus.processing.value:
            return
        upload_key = video.upload_key
        video.status, video.failure_code, video.failure_reason = VideoStatus.failed.value, code[:32], reason
        video.upload_key = None
        db.commit()
    if upload_key:
        _delete_keys(services.media, [upload_key])


def register_video_jobs(runner: JobRunner, services: Services) -> None:
    runner.register(TRANSCODE_JOB, lambda job: run_transcode(services, job),
                    on_give_up=lambda job, error: mark_transcode_failed(services, job, error))


def notify_feed(services: Services, video_id: int) -> None:
    """Tell the For You engine at once that a video appeared, changed or went, instead of at its next refresh."""
    video_changed = getattr(services.feed, "video_changed", None)
    if video_changed is None:
        return
    try:
        video_changed(video_id)
    except Exception:  # the engine still reads the change from the catalog change log before its next page
        log.exception("the feed engine could not take note of video %s", video_id)


def _delete_keys(store: MediaStore, keys: Sequence[str | None]) -> None:
    for key in keys:
        if not key:
            continue
        try:
            store.delete(key)
        except MediaError as error:  # a leftover object is harmless; a failed request is not
            log.warning("could not delete media %s: %s", key, error.message)


# ---- edits and deletion ---------------------------------------------------------------------------------


def update_video(db: Session, video: Video, *, caption: str | None = None, visibility: str | None = None) -> Video:
    """The owner's edit; a new caption passes the keyword filters like a new upload's."""
    if caption is not None:
        caption = check_caption(caption)
        hashtags = parse_hashtags(caption)
        verdict = filters.check_caption(db, video.region, caption, hashtags).raise_if_blocked("caption")
        video.caption = caption
        set_hashtags(db, video, hashtags)
        if verdict.held and video.moderation_state == ModerationState.ok.value:
            video.moderation_state = ModerationState.held.value
            db.flush()
            cases.hold_for_review(db, region=video.region, target_kind="video", target_id=video.id,
                                  owner_id=video.creator_id, verdict=verdict)
    if visibility is not None:
        video.visibility = check_visibility(visibility)
    db.flush()
    return video


def delete_video(db: Session, services: Services, video: Video) -> None:
    """Remove the video and its media, and commit. A sound goes with it once no video uses it and the video
    it came from is gone; while others use it, it stays.

    Media objects are deleted after the commit, so a failed commit loses nothing still referenced.
    """
    keys = [video.upload_key, video.media_key, video.poster_key]
    candidates = {s.id: s for s in db.scalars(select(Sound).where(or_(
        Sound.origin_video_id == video.id, Sound.id == video.sound_id)))}
    video_id = video.id
    db.delete(video)
    db.flush()
    for sound in candidates.values():
        in_use = db.scalar(select(func.count()).select_from(Video).where(Video.sound_id == sound.id))
        origin_gone = sound.origin_video_id == video_id or (
            sound.origin_video_id is not None and db.get(Video, sound.origin_video_id) is None)
        if not in_use and origin_gone:
            keys.append(sound.audio_key)
            db.delete(sound)
    db.commit()
    _delete_keys(services.media, keys)
    notify_feed(services, video_id)
