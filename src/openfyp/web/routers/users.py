"""Profiles: public pages, editing one's own, avatars, follower lists and one's block list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from openfyp.platform import social, users
from openfyp.platform.cursor import codec_for
from openfyp.platform.errors import InvalidInput, TooLarge
from openfyp.store.tables import User
from openfyp.web.deps import DB, AppServices, CurrentViewer, MaybeViewer, WriteLimit
from openfyp.web.schemas import PrivateUserOut, avatar_url, user_out

router = APIRouter(prefix="/api/users", tags=["users"])

Cursor = Annotated[str | None, Query(max_length=1024)]
Limit = Annotated[int, Query(ge=1, le=users.PAGE_LIMIT_MAX)]
# Multipart framing around the file adds a little; anything far above the limit is refused unread.
_AVATAR_REQUEST_MAX = users.AVATAR_MAX_BYTES + 64 * 1024


def user_brief(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "display_name": user.display_name,
            "avatar_url": avatar_url(user)}


def profile_out(profile: users.Profile) -> dict[str, Any]:
    user = profile.user
    return {
        **user_brief(user), "bio": user.bio, "role": user.role, "region": user.region,
        "created_at": user.created_at.isoformat(), "stats": profile.stats, "viewer": profile.viewer,
    }


def connections_out(page) -> dict[str, Any]:
    return {"items": [{**user_brief(c.user), "since": c.since.isoformat(),
                       "viewer": {"is_following": c.viewer_follows} if c.viewer_follows is not None else None}
                      for c in page.items],
            "next_cursor": page.next_cursor}


class ProfileUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Generous raw limits; the exact rules (after stripping) are checked by the platform.
    display_name: str | None = Field(None, max_length=4 * users.DISPLAY_NAME_MAX)
    bio: str | None = Field(None, max_length=4 * users.BIO_MAX)


@router.get("/me/blocks")
def my_blocks(viewer: CurrentViewer, db: DB) -> dict[str, Any]:
    return {"items": [user_brief(u) for u in social.blocked_accounts(db, viewer.user)]}


@router.patch("/me", response_model=PrivateUserOut, dependencies=[WriteLimit])
def update_me(body: ProfileUpdate, viewer: CurrentViewer, db: DB) -> PrivateUserOut:
    user = users.update_profile(db, viewer.user, display_name=body.display_name, bio=body.bio)
    db.commit()
    return user_out(user)


@router.put("/me/avatar", response_model=PrivateUserOut, dependencies=[WriteLimit])
def put_avatar(request: Request, viewer: CurrentViewer, db: DB, services: AppServices,
               file: Annotated[UploadFile, File(description="JPEG, PNG, WebP or GIF, at most 2 MB")]) -> PrivateUserOut:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > _AVATAR_REQUEST_MAX:
        raise TooLarge("avatar_too_large", "avatars are limited to 2 MB", "file")
    data = file.file.read(users.AVATAR_MAX_BYTES + 1)
    if not isinstance(data, bytes):
        raise InvalidInput("invalid_file", "expected a file upload", "file")
    return user_out(users.set_avatar(db, services.media, viewer.user, data))


@router.get("/{username}")
def get_profile(username: str, viewer: MaybeViewer, db: DB, services: AppServices) -> dict[str, Any]:
    profile = users.get_profile(db, username, viewer.user if viewer else None,
                                adult_age=services.settings.adult_age)
    return profile_out(profile)


@router.get("/{username}/followers")
def followers(username: str, viewer: MaybeViewer, db: DB, services: AppServices, cursor: Cursor = None,
              limit: Limit = 30) -> dict[str, Any]:
    page = users.list_followers(db, codec_for(services), username, viewer.user if viewer else None,
                                cursor=cursor, limit=limit)
    return connections_out(page)


@router.get("/{username}/following")
def following(username: str, viewer: MaybeViewer, db: DB, services: AppServices, cursor: Cursor = None,
              limit: Limit = 30) -> dict[str, Any]:
    page = users.list_following(db, codec_for(services), username, viewer.user if viewer else None,
                                cursor=cursor, limit=limit)
    return connections_out(page)
