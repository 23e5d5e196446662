"""Request dependencies: the database session, the signed-in user, CSRF and write rate limits."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from openfyp.platform import accounts
from openfyp.platform.access import region_scoped
from openfyp.platform.errors import Forbidden, NotAuthenticated, RateLimited
from openfyp.services import Services
from openfyp.store.tables import AuthSession, User

SESSION_COOKIE = "openfyp_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_services(request: Request) -> Services:
    return request.app.state.services


@contextmanager
def request_session(services: Services) -> Iterator[Session]:
    """One session per request, committed when the handler returns without raising."""
    session = services.session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_db(request: Request) -> Iterator[Session]:
    with request_session(get_services(request)) as session:
        yield session


@dataclass(frozen=True)
class Viewer:
    user: User
    auth: AuthSession
    token: str

    @property
    def id(self) -> int:
        return self.user.id


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@functools.cache
def _live_session_query(region: str) -> Select:
    return region_scoped(select(AuthSession, User).join(User, User.id == AuthSession.user_id)
                         .where(AuthSession.token_hash == bindparam("token_hash")), region)


def _resolve_session(db: Session, region: str, token: str) -> tuple[AuthSession, User] | None:
    """``accounts.resolve_session`` in one statement built once, for the valid sessions of this region that
    nearly every request carries. Anything else (unknown, expired, a deleted or foreign account) takes
    ``accounts.resolve_session`` itself, which also refuses and audits a foreign account."""
    found = db.execute(_live_session_query(region), {"token_hash": accounts.hash_token(token)}).first()
    if found is not None:
        auth, user = found
        if auth.expires_at > datetime.now(UTC) and user.deleted_at is None:
            return auth, user
    return accounts.resolve_session(db, token)


def optional_viewer(request: Request, db: Annotated[Session, Depends(get_db, scope="function")]) -> Viewer | None:
    bearer = _bearer_token(request)
    token = bearer or request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    resolved = _resolve_session(db, get_services(request).settings.region, token)
    # Hand the connection back to the pool: the handler may wait for a worker thread before it runs, and a
    # connection held meanwhile starves the requests that are running (pool timeouts under load).
    db.commit()
    if resolved is None:
        if bearer:
            raise NotAuthenticated("the bearer token is invalid or expired", code="invalid_token")
        return None
    auth, user = resolved
    if auth.kind == "cookie" and request.method not in SAFE_METHODS:
        # Cookies ride along on cross-site requests; the CSRF header proves the page itself sent this one.
        sent = request.headers.get(CSRF_HEADER, "")
        if not auth.csrf_token or not hmac.compare_digest(sent, auth.csrf_token):
            raise Forbidden("csrf_failed", f"missing or wrong {CSRF_HEADER} header")
    if auth.kind == "bearer" and bearer is None:
        return None
    return Viewer(user=user, auth=auth, token=token)


def require_viewer(viewer: Annotated[Viewer | None, Depends(optional_viewer)]) -> Viewer:
    if viewer is None:
        raise NotAuthenticated()
    return viewer


def require_role(*roles: str):
    def check(viewer: Annotated[Viewer, Depends(require_viewer)]) -> Viewer:
        if viewer.user.role not in roles:
            raise Forbidden("forbidden_role", f"this needs the role {' or '.join(roles)}")
        return viewer

    return check


def write_limit(request: Request, viewer: Annotated[Viewer | None, Depends(optional_viewer)]) -> None:
    """Spend one write token for this caller; raises 429 with Retry-After when the budget is spent."""
    limiter = request.app.state.write_limiter
    identity = f"user:{viewer.id}" if viewer else f"ip:{request.client.host if request.client else '?'}"
    wait = limiter.take(identity)
    if wait > 0:
        raise RateLimited(wait)


DB = Annotated[Session, Depends(get_db, scope="function")]
CurrentViewer = Annotated[Viewer, Depends(require_viewer)]
MaybeViewer = Annotated[Viewer | None, Depends(optional_viewer)]
AppServices = Annotated[Services, Depends(get_services)]
WriteLimit = Depends(write_limit)
