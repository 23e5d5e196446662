"""Sign up, sign in, sign out. Cookie sessions (with CSRF) for the web client, bearer tokens for apps."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from openfyp.platform import accounts, users
from openfyp.web.deps import DB, SESSION_COOKIE, AppServices, CurrentViewer, WriteLimit
from openfyp.web.schemas import SessionOut, user_out

router = APIRouter(prefix="/api/auth", tags=["auth"])


class SignupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=3, max_length=32)
    password: str = Field(min_length=1, max_length=256)
    birth_date: date
    email: EmailStr | None = None
    display_name: str | None = Field(None, max_length=users.DISPLAY_NAME_MAX)
    session: Literal["cookie", "bearer"] = "cookie"

    @field_validator("display_name")
    @classmethod
    def _clean_display_name(cls, value: str | None) -> str | None:
        """The rule of a later profile edit (no control characters: PostgreSQL refuses NUL); blank means none."""
        if value is None:
            return None
        return users.clean_text(value, field="display_name", min_length=0, max_length=users.DISPLAY_NAME_MAX,
                                multiline=False) or None


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    session: Literal["cookie", "bearer"] = "cookie"


def _issue(response: Response, services, issued: accounts.IssuedSession, kind: str) -> SessionOut:
    if kind == "cookie":
        response.set_cookie(
            SESSION_COOKIE, issued.token, httponly=True, samesite="lax", secure=services.settings.cookie_secure,
            max_age=services.settings.session_days * 86400, path="/",
        )
        return SessionOut(user=user_out(issued.user), csrf_token=issued.csrf_token, token=None,
                          expires_at=issued.expires_at)
    return SessionOut(user=user_out(issued.user), csrf_token=None, token=issued.token, expires_at=issued.expires_at)


@router.post("/signup", status_code=201, response_model=SessionOut, dependencies=[WriteLimit])
def signup(body: SignupIn, response: Response, db: DB, services: AppServices) -> SessionOut:
    settings = services.settings
    user = accounts.create_user(
        db, region=settings.region, username=body.username, password=body.password, birth_date=body.birth_date,
        minimum_age=settings.minimum_age, email=body.email, display_name=body.display_name,
    )
    issued = accounts.open_session(db, user, kind=body.session, days=settings.session_days)
    db.commit()
    return _issue(response, services, issued, body.session)


@router.post("/login", response_model=SessionOut, dependencies=[WriteLimit])
def login(body: LoginIn, response: Response, db: DB, services: AppServices) -> SessionOut:
    user = accounts.authenticate(db, body.username, body.password)
    issued = accounts.open_session(db, user, kind=body.session, days=services.settings.session_days)
    db.commit()
    return _issue(response, services, issued, body.session)


@router.post("/logout", status_code=204)
def logout(viewer: CurrentViewer, response: Response, db: DB) -> Response:
    accounts.close_session(db, viewer.token)
    db.commit()
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.status_code = 204
    return response


@router.get("/me", response_model=SessionOut)
def me(viewer: CurrentViewer) -> SessionOut:
    return SessionOut(user=user_out(viewer.user), csrf_token=viewer.auth.csrf_token, token=None,
                      expires_at=viewer.auth.expires_at)
