"""Governance records: the hash-chained audit log, data-subject requests and the erased-accounts register."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openfyp.store.base import Base, BigId, RegionBound, Timestamped, UTCDateTime, utcnow


class AuditEntryRow(RegionBound, Base):
    """One audit entry. ``entry_hash`` covers every other column and the previous entry's hash.

    Each region keeps one chain: ``seq`` counts 1, 2, 3... and no two entries may follow the same
    predecessor, so two concurrent writers cannot fork the chain (the loser retries).
    """

    __tablename__ = "audit_log"

    region: Mapped[str] = mapped_column(String(16), primary_key=True)
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Integer, default=None)
    actor_role: Mapped[str | None] = mapped_column(String(16), default=None)
    action: Mapped[str] = mapped_column(String(48))
    target_kind: Mapped[str | None] = mapped_column(String(32), default=None)
    target_id: Mapped[str | None] = mapped_column(String(128), default=None)
    justification: Mapped[str | None] = mapped_column(Text, default=None)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # HMAC of entry_hash under a key only the deployment holds: a forged entry cannot carry a valid seal.
    seal: Mapped[str | None] = mapped_column(String(64), default=None)

    __table_args__ = (
        UniqueConstraint("region", "prev_hash"),
        Index("ix_audit_log_action_at", "action", "at"),
    )


class DataRequest(RegionBound, Timestamped, Base):
    """A data-subject request (an export or a deletion), kept after the account is gone for the
    transparency report. Holds only the account's id, never its personal data."""

    __tablename__ = "data_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No foreign key: the request outlives the account it is about.
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(16))  # export, deletion, staff_export
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending, done, failed
    requested_by: Mapped[int | None] = mapped_column(Integer, default=None)
    token: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    file_name: Mapped[str | None] = mapped_column(String(255), default=None)
    size_bytes: Mapped[int | None] = mapped_column(Integer, default=None)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    __table_args__ = (Index("ix_data_requests_kind_created", "kind", "created_at"),)


class ErasedUser(RegionBound, Base):
    """An account deleted at its owner's request. Training reads this register to prove exclusion."""

    __tablename__ = "erased_users"

    # The account row stays as a scrubbed tombstone, so its id is never handed to anyone else.
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    events_removed: Mapped[int] = mapped_column(Integer, default=0)
    videos_removed: Mapped[int] = mapped_column(Integer, default=0)
