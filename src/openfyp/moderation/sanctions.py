"""Sanctions against accounts: a suspended account's content is hidden and it may not post; a restricted
account's content stays up but is never recommended. Both are lifted (never deleted) on a won appeal."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import ColumnElement, Select, exists, or_, select, update
from sqlalchemy.orm import Session

from openfyp.platform.errors import Forbidden
from openfyp.store.base import utcnow
from openfyp.store.tables import AccountSanction, User


class SanctionKind(StrEnum):
    suspended = "suspended"
    restricted = "restricted"


def active_sanctioned_ids(*kinds: SanctionKind) -> Select:
    """SELECT of the user ids under any of ``kinds`` (both kinds when none are named)."""
    wanted = [k.value for k in (kinds or tuple(SanctionKind))]
    return select(AccountSanction.user_id).where(AccountSanction.lifted_at.is_(None),
                                                 AccountSanction.kind.in_(wanted))


def not_sanctioned(user_id_column, *kinds: SanctionKind) -> ColumnElement[bool]:
    """WHERE clause: the account in ``user_id_column`` is under none of ``kinds``."""
    wanted = [k.value for k in (kinds or tuple(SanctionKind))]
    # Equalities rather than ``IN (...)``: a literal IN list is an expanding parameter that SQLAlchemy renders
    # anew on every execution, and this clause sits in the policy check of every feed page.
    return ~exists().where(AccountSanction.user_id == user_id_column, AccountSanction.lifted_at.is_(None),
                           or_(*(AccountSanction.kind == kind for kind in wanted)))


def active_kinds(db: Session, user_id: int) -> set[str]:
    return set(db.scalars(select(AccountSanction.kind).where(AccountSanction.user_id == user_id,
                                                             AccountSanction.lifted_at.is_(None))))


def is_suspended(db: Session, user_id: int) -> bool:
    return SanctionKind.suspended.value in active_kinds(db, user_id)


def ensure_may_post(db: Session, user: User) -> None:
    """Refuses uploads, comments and other posting by a suspended account (403 ``account_suspended``)."""
    if is_suspended(db, user.id):
        raise Forbidden("account_suspended",
                        "this account is suspended; you can still read your notifications and appeal")


def impose(db: Session, *, region: str, user_id: int, kind: SanctionKind, case_id: int) -> AccountSanction:
    sanction = AccountSanction(region=region, user_id=user_id, kind=kind.value, case_id=case_id)
    db.add(sanction)
    db.flush()
    return sanction


def lift_for_case(db: Session, case_id: int) -> int:
    """Lifts what ``case_id`` imposed; returns how many sanctions were lifted."""
    result = db.execute(update(AccountSanction)
                        .where(AccountSanction.case_id == case_id, AccountSanction.lifted_at.is_(None))
                        .values(lifted_at=utcnow()))
    return result.rowcount or 0
