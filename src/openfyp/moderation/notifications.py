"""The notifications list: what happened to a user's content, reports and appeals.

Other packages may notify through ``notify`` too; ``kind`` names the story, ``payload`` holds its facts
(ids and codes, never copies of removed content).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from openfyp.store.base import utcnow
from openfyp.store.tables import Notification

MAX_PAGE = 100


def notify(db: Session, *, region: str, user_id: int | None, kind: str, payload: dict[str, Any]) -> None:
    if user_id is None:
        return
    db.add(Notification(region=region, user_id=user_id, kind=kind, payload=payload))


def notify_many(db: Session, *, region: str, user_ids: Iterable[int], kind: str, payload: dict[str, Any]) -> None:
    for user_id in dict.fromkeys(user_ids):
        notify(db, region=region, user_id=user_id, kind=kind, payload=payload)


def list_for(db: Session, user_id: int, *, unread_only: bool = False, before_id: int | None = None,
             limit: int = 50) -> list[Notification]:
    """Newest first; ``before_id`` pages on from the last id of the previous page."""
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if before_id is not None:
        query = query.where(Notification.id < before_id)
    return list(db.scalars(query.order_by(Notification.id.desc()).limit(max(1, min(limit, MAX_PAGE)))))


def unread_count(db: Session, user_id: int) -> int:
    return db.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None))) or 0


def mark_read(db: Session, user_id: int, ids: Iterable[int] | None = None) -> int:
    """Marks the given notifications (or all of them) read; only the user's own are touched."""
    statement = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if ids is not None:
        statement = statement.where(Notification.id.in_(list(ids)))
    return db.execute(statement.values(read_at=utcnow())).rowcount or 0
