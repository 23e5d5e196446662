"""Response shapes shared by several routers."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from openfyp.store.tables import User


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    bio: str
    avatar_url: str | None
    role: str
    region: str
    created_at: datetime


class PrivateUserOut(UserOut):
    birth_date: date
    personalised: bool


class SessionOut(BaseModel):
    user: PrivateUserOut
    csrf_token: str | None
    token: str | None
    expires_at: datetime


def avatar_url(user: User) -> str | None:
    return f"/media/{user.avatar_key}" if user.avatar_key else None


def user_out(user: User) -> PrivateUserOut:
    return PrivateUserOut(
        id=user.id, username=user.username, display_name=user.display_name, bio=user.bio,
        avatar_url=avatar_url(user), role=user.role, region=user.region, created_at=user.created_at,
        birth_date=user.birth_date, personalised=user.personalised,
    )


def public_user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id, username=user.username, display_name=user.display_name, bio=user.bio,
        avatar_url=avatar_url(user), role=user.role, region=user.region, created_at=user.created_at,
    )
