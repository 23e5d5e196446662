"""Accounts and login sessions: argon2id password hashes, opaque tokens stored only as hashes."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from openfyp.platform.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated
from openfyp.store.tables import AuthSession, User

# argon2-cffi's PasswordHasher defaults to argon2id with RFC 9106's low-memory profile.
_hasher = PasswordHasher()
USERNAME = re.compile(r"^[a-z0-9_.]{3,32}$")
MIN_PASSWORD = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def age_on(birth_date: date, today: date) -> int:
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


@dataclass(frozen=True)
class IssuedSession:
    token: str
    csrf_token: str | None
    expires_at: datetime
    user: User


def create_user(db: Session, *, region: str, username: str, password: str, birth_date: date,
                minimum_age: int, email: str | None = None, display_name: str | None = None,
                role: str = "viewer") -> User:
    username = username.strip().lower()
    if not USERNAME.fullmatch(username):
        raise InvalidInput("invalid_username", "usernames are 3–32 characters: a–z, 0–9, _ and .", "username")
    if len(password) < MIN_PASSWORD:
        raise InvalidInput("weak_password", f"passwords need at least {MIN_PASSWORD} characters", "password")
    today = datetime.now(UTC).date()
    if birth_date > today:
        raise InvalidInput("invalid_birth_date", "birth date is in the future", "birth_date")
    if age_on(birth_date, today) < minimum_age:
        raise Forbidden("too_young", f"you must be at least {minimum_age} to sign up")
    if db.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict("username_taken", "that username is taken", "username")
    if email and db.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("email_taken", "that email already has an account", "email")
    user = User(region=region, username=username, email=email, password_hash=hash_password(password),
                display_name=display_name or username, birth_date=birth_date, role=role)
    db.add(user)
    db.flush()
    return user


def possible_username(raw: str) -> str | None:
    """``raw`` in the form accounts are stored under, or None when no account can have it (so a lookup is
    pointless, and text such as NUL, which PostgreSQL refuses, never reaches a query)."""
    name = raw.strip().lower()
    return name if USERNAME.fullmatch(name) else None


def authenticate(db: Session, username: str, password: str) -> User:
    name = possible_username(username)
    user = None if name is None else db.scalar(select(User).where(User.username == name, User.deleted_at.is_(None)))
    # Verify against a dummy hash when the user is unknown so timing does not reveal which usernames exist.
    if user is None:
        verify_password(_DUMMY_HASH, password)
        raise NotAuthenticated("wrong username or password", code="bad_credentials")
    if not verify_password(user.password_hash, password):
        raise NotAuthenticated("wrong username or password", code="bad_credentials")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def open_session(db: Session, user: User, *, kind: str, days: int) -> IssuedSession:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24) if kind == "cookie" else None
    expires = datetime.now(UTC) + timedelta(days=days)
    db.add(AuthSession(token_hash=hash_token(token), user_id=user.id, kind=kind, csrf_token=csrf,
                       expires_at=expires))
    db.flush()
    return IssuedSession(token=token, csrf_token=csrf, expires_at=expires, user=user)


def resolve_session(db: Session, token: str) -> tuple[AuthSession, User] | None:
    auth = db.get(AuthSession, hash_token(token))
    if auth is None or auth.expires_at <= datetime.now(UTC):
        return None
    user = db.get(User, auth.user_id)
    if user is None or user.deleted_at is not None:
        return None
    return auth, user


def close_session(db: Session, token: str) -> None:
    auth = db.get(AuthSession, hash_token(token))
    if auth is not None:
        db.delete(auth)


_DUMMY_HASH = _hasher.hash("openfyp-timing-equaliser")
