"""The viewer's rights over their For You and their data: non-personalised mode, a fresh start, a copy of
everything, and deletion. ("Why this video" travels with every feed item; ``why`` reads it back later.)"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from openfyp.governance.erasure import ErasureReport, erase_account, finish_erasure
from openfyp.governance.wiring import governance_of
from openfyp.platform.accounts import verify_password
from openfyp.platform.errors import Forbidden, InvalidInput, NotAuthenticated, NotFound
from openfyp.store.tables import DataRequest, FeedRequest, User


def set_personalised(db: Session, user: User, personalised: bool) -> User:
    """Off: For You becomes this region's popularity, the same for everyone; Following stays chronological."""
    user.personalised = bool(personalised)
    db.flush()
    return user


def reset_feed(db: Session, services: Any, user: User) -> datetime:
    """Every signal before now stops shaping this viewer's For You; what they do next starts it afresh."""
    now = datetime.now(UTC)
    user.feed_reset_at = now
    db.flush()
    forget = getattr(services.feed, "forget_viewer", None)
    if callable(forget):
        forget(user.id)
    return now


def export_own_data(db: Session, services: Any, user: User) -> DataRequest:
    return governance_of(services).gateway.export(db, services, user.id, actor=user)


def export_for_staff(db: Session, services: Any, actor: User, user_id: int, justification: str | None) -> DataRequest:
    return governance_of(services).gateway.export(db, services, user_id, actor=actor, justification=justification)


def delete_own_account(db: Session, services: Any, user: User, password: str | None) -> ErasureReport:
    """Delete after the password is confirmed; commits, then removes the media files."""
    if not password:
        raise InvalidInput("password_required", "confirm deletion with your password", "password")
    if not verify_password(user.password_hash, password):
        raise NotAuthenticated("wrong password", code="bad_credentials")
    if user.role in {"admin", "overseer"} and _last_holder(db, user):
        raise Forbidden("last_role_holder", f"you are the last {user.role}; hand the role over first")
    report = erase_account(db, services, user)
    db.commit()
    finish_erasure(services, report)
    return report


def _last_holder(db: Session, user: User) -> bool:
    others = db.scalar(select(User.id).where(User.role == user.role, User.id != user.id, User.deleted_at.is_(None))
                       .limit(1))
    return others is None


def why(db: Session, user: User, request_id: str, video_id: int) -> dict[str, Any]:
    """The reason logged when ``video_id`` was served to this viewer in ``request_id``."""
    request = db.get(FeedRequest, request_id)
    if request is None or request.user_id != user.id:
        raise NotFound("feed_request", request_id)
    for position, item in enumerate(request.items or []):
        if item.get("video_id") == video_id:
            return {"request_id": request.id, "video_id": video_id, "position": item.get("position", position),
                    "surface": request.surface, "served_at": request.created_at.isoformat(),
                    "personalised": request.personalised, "model_version": request.model_version,
                    "config_version": request.config_version, "reason": item.get("reason")}
    raise NotFound("video_in_request", video_id)
