"""Public profiles: what anyone sees of an account, editing one's own, avatars and follower lists."""

from __future__ import annotations

import io
import logging
import re
import secrets
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from openfyp.platform.access import Audience, has_blocked, not_blocked_with, video_visible, visible_user
from openfyp.platform.cursor import CursorCodec, Page, parse_time_key, time_key
from openfyp.platform.errors import InvalidInput, TooLarge
from openfyp.store.tables import Follow, Like, ModerationState, User, Video

log = logging.getLogger(__name__)

DISPLAY_NAME_MAX = 64
BIO_MAX = 160
AVATAR_MAX_BYTES = 2 * 1024 * 1024
AVATAR_EDGE = 256
# Pillow only tries these decoders, so the type is decided by the bytes, never by a file name.
AVATAR_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
# A small file can declare an enormous canvas; refuse before decoding a single pixel.
AVATAR_MAX_PIXELS = 40_000_000
PAGE_LIMIT_MAX = 100

# C0/C1 control characters (and DEL) have no place in names or text; PostgreSQL refuses NUL outright.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_NEWLINES = re.compile(r"\n{3,}")


def without_control_characters(value: str) -> str:
    """``value`` without C0/C1 control characters or DEL; tabs and newlines stay."""
    return _CONTROL.sub("", value)


def clean_text(value: str, *, field: str, min_length: int, max_length: int, multiline: bool) -> str:
    """Strip and validate user-written text; lengths count characters after stripping."""
    text = without_control_characters(value.replace("\r\n", "\n").replace("\t", " ")).strip()
    text = _NEWLINES.sub("\n\n", text) if multiline else " ".join(text.split())
    if len(text) < min_length:
        raise InvalidInput("too_short", f"{field} needs at least {min_length} character(s)", field)
    if len(text) > max_length:
        raise InvalidInput("too_long", f"{field} is limited to {max_length} characters", field)
    return text


@dataclass(frozen=True)
class Profile:
    user: User
    stats: dict[str, int]
    # None for signed-out viewers; is_blocked means the viewer blocked this account.
    viewer: dict[str, bool] | None


def profile_stats(db: Session, user: User, audience: Audience) -> dict[str, int]:
    active = select(User.id).where(User.deleted_at.is_(None))
    followers = db.scalar(select(func.count()).select_from(Follow).where(
        Follow.followee_id == user.id, Follow.follower_id.in_(active))) or 0
    following = db.scalar(select(func.count()).select_from(Follow).where(
        Follow.follower_id == user.id, Follow.followee_id.in_(active))) or 0
    # The video count matches what this viewer can browse on the profile.
    videos = db.scalar(select(func.count()).select_from(Video).where(
        Video.creator_id == user.id, video_visible(audience))) or 0
    likes = db.scalar(select(func.count()).select_from(Like).join(Video, Video.id == Like.video_id).where(
        Video.creator_id == user.id, Video.deleted_at.is_(None),
        Video.moderation_state != ModerationState.removed.value)) or 0
    return {"followers": followers, "following": following, "videos": videos, "likes": likes}


def get_profile(db: Session, username: str, viewer: User | None, *, adult_age: int) -> Profile:
    """Deleted accounts and accounts that blocked the viewer are not found (404)."""
    audience = Audience.of(viewer, adult_age)
    user = visible_user(db, username, audience.user_id, allow_blocked_by_viewer=True)
    flags = None
    if viewer is not None and viewer.id != user.id:
        flags = {
            "is_following": db.get(Follow, (viewer.id, user.id)) is not None,
            "follows_you": db.get(Follow, (user.id, viewer.id)) is not None,
            "is_blocked": has_blocked(db, viewer.id, user.id),
            "is_self": False,
        }
    elif viewer is not None:
        flags = {"is_following": False, "follows_you": False, "is_blocked": False, "is_self": True}
    return Profile(user=user, stats=profile_stats(db, user, audience), viewer=flags)


def update_profile(db: Session, user: User, *, display_name: str | None = None, bio: str | None = None) -> User:
    if display_name is not None:
        user.display_name = clean_text(display_name, field="display_name", min_length=1,
                                       max_length=DISPLAY_NAME_MAX, multiline=False)
    if bio is not None:
        user.bio = clean_text(bio, field="bio", min_length=0, max_length=BIO_MAX, multiline=True)
    db.flush()
    return user


def render_avatar(data: bytes) -> bytes:
    """A 256×256 JPEG centre crop of an uploaded image, with its metadata (EXIF, GPS) dropped."""
    if len(data) > AVATAR_MAX_BYTES:
        raise TooLarge("avatar_too_large", f"avatars are limited to {AVATAR_MAX_BYTES // (1024 * 1024)} MB", "file")
    if not data:
        raise InvalidInput("empty_file", "the uploaded file is empty", "file")
    try:
        with Image.open(io.BytesIO(data), formats=AVATAR_FORMATS) as image:
            if image.width * image.height > AVATAR_MAX_PIXELS:
                raise InvalidInput("image_too_large", "the image has too many pixels", "file")
            image.load()
            upright = ImageOps.exif_transpose(image)
            square = ImageOps.fit(upright, (AVATAR_EDGE, AVATAR_EDGE), method=Image.Resampling.LANCZOS)
    except InvalidInput:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError,
            EOFError) as exc:
        raise InvalidInput("unsupported_image",
                           f"the file is not a readable {', '.join(AVATAR_FORMATS)} image", "file") from exc
    out = io.BytesIO()
    _flatten(square).save(out, "JPEG", quality=88, optimize=True)
    return out.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def set_avatar(db: Session, media: Any, user: User, data: bytes) -> User:
    """Store a new avatar under an unguessable key, point the account at it, then drop the old one."""
    if media is None:
        raise RuntimeError("no media store is configured")
    jpeg = render_avatar(data)
    token = secrets.token_hex(16)
    key = f"avatars/{token[:2]}/{token}.jpg"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "avatar.jpg"
        path.write_bytes(jpeg)
        media.put_file(key, path, "image/jpeg")
    previous = user.avatar_key
    user.avatar_key = key
    db.commit()
    if previous and previous != key:
        try:
            media.delete(previous)
        except Exception:  # the account already points at the new file; a stray old one is harmless
            log.warning("could not delete old avatar %s", previous, exc_info=True)
    return user


@dataclass(frozen=True)
class Connection:
    user: User
    since: datetime
    viewer_follows: bool | None


def _connections(db: Session, codec: CursorCodec, username: str, viewer: User | None, *, followers: bool,
                 cursor: str | None, limit: int) -> Page[Connection]:
    viewer_id = viewer.id if viewer is not None else None
    owner = visible_user(db, username, viewer_id)
    listing = "followers" if followers else "following"
    position = codec.decode(f"{listing}:{owner.id}", cursor)
    other = Follow.follower_id if followers else Follow.followee_id
    mine = Follow.followee_id if followers else Follow.follower_id
    query = (select(User, Follow.created_at).join(Follow, other == User.id)
             .where(mine == owner.id, User.deleted_at.is_(None), not_blocked_with(viewer_id, User.id))
             .order_by(Follow.created_at.desc(), User.id.desc()).limit(limit + 1))
    if position is not None:
        if len(position) != 2 or not isinstance(position[1], int):
            raise InvalidInput("invalid_cursor", "the cursor is malformed", "cursor")
        since, last_id = parse_time_key(position[0]), position[1]
        query = query.where(or_(Follow.created_at < since, and_(Follow.created_at == since, User.id < last_id)))
    rows = db.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    followed: set[int] = set()
    if viewer_id is not None and rows:
        followed = set(db.scalars(select(Follow.followee_id).where(
            Follow.follower_id == viewer_id, Follow.followee_id.in_([u.id for u, _ in rows]))))
    items = [Connection(user=u, since=since, viewer_follows=(u.id in followed) if viewer_id is not None else None)
             for u, since in rows]
    next_cursor = (codec.encode(f"{listing}:{owner.id}", [time_key(rows[-1][1]), rows[-1][0].id])
                   if more else None)
    return Page(items=items, next_cursor=next_cursor)


def list_followers(db: Session, codec: CursorCodec, username: str, viewer: User | None, *,
                   cursor: str | None = None, limit: int = 30) -> Page[Connection]:
    """Newest followers first; accounts blocked either way with the viewer are left out."""
    return _connections(db, codec, username, viewer, followers=True, cursor=cursor, limit=limit)


def list_following(db: Session, codec: CursorCodec, username: str, viewer: User | None, *,
                   cursor: str | None = None, limit: int = 30) -> Page[Connection]:
    return _connections(db, codec, username, viewer, followers=False, cursor=cursor, limit=limit)
