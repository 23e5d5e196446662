"""Trust and safety: reports grouped into cases, decisions and appeals, keyword filters, muted words,
account sanctions and the notifications that tell people what happened to their content."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openfyp.store.base import Base, RegionBound, Timestamped, UTCDateTime, utcnow


class ModerationCase(RegionBound, Timestamped, Base):
    """Everything reported (or held by a filter) about one target, decided once and appealable once."""

    __tablename__ = "moderation_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_kind: Mapped[str] = mapped_column(String(8))  # video, comment or user
    target_id: Mapped[int] = mapped_column(Integer)
    # Whose content this is (the creator, the comment's author, or the reported user): they are notified
    # of the decision and are the only one who may appeal it.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    status: Mapped[str] = mapped_column(String(10), default="open")
    # "<kind>:<id>" while the case is open, NULL afterwards. Its uniqueness keeps a single open case per
    # target on SQLite and PostgreSQL alike (both treat NULLs as distinct), without partial indexes.
    open_key: Mapped[str | None] = mapped_column(String(40), unique=True, default=None)
    origin: Mapped[str] = mapped_column(String(8), default="report")  # report or keyword
    held_rule_id: Mapped[int | None] = mapped_column(Integer, default=None)
    held_pattern: Mapped[str | None] = mapped_column(String(200), default=None)
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    top_reason: Mapped[str | None] = mapped_column(String(16), default=None)
    severity: Mapped[int] = mapped_column(Integer, default=0)
    reach: Mapped[int] = mapped_column(Integer, default=0)
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    decision: Mapped[str | None] = mapped_column(String(16), default=None)
    decision_reason: Mapped[str | None] = mapped_column(String(24), default=None)
    decision_note: Mapped[str | None] = mapped_column(Text, default=None)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # The target's state before the decision, so an overturned appeal restores exactly what was there.
    prior_state: Mapped[dict | None] = mapped_column(JSON, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        Index("ix_moderation_cases_queue", "region", "status", "priority"),
        Index("ix_moderation_cases_target", "target_kind", "target_id"),
        Index("ix_moderation_cases_owner", "owner_id"),
    )


class Report(RegionBound, Timestamped, Base):
    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("moderation_cases.id", ondelete="CASCADE"), index=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    target_kind: Mapped[str] = mapped_column(String(8))
    target_id: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(16))
    details: Mapped[str] = mapped_column(Text, default="")

    # One report per person per target, ever: repeats are absorbed, and a dismissed report cannot be
    # re-filed by the same person to reopen the case.
    __table_args__ = (UniqueConstraint("reporter_id", "target_kind", "target_id"),)


class Appeal(RegionBound, Timestamped, Base):
    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("moderation_cases.id", ondelete="CASCADE"), unique=True)
    appellant_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending, upheld, overturned
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    resolution_note: Mapped[str | None] = mapped_column(Text, default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    __table_args__ = (Index("ix_appeals_region_status", "region", "status"),)


class KeywordFilter(RegionBound, Timestamped, Base):
    """A region-wide word or phrase that holds or blocks comments and/or captions."""

    __tablename__ = "keyword_filters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pattern: Mapped[str] = mapped_column(String(200))  # normalised: NFKC, case-folded, single spaces
    scope: Mapped[str] = mapped_column(String(8))  # comments, captions or both
    action: Mapped[str] = mapped_column(String(8))  # hold or block
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)

    __table_args__ = (UniqueConstraint("region", "pattern"),)


class KeywordFilterRevision(Base):
    """Bumped with every filter change, so each process knows when its compiled matcher is stale."""

    __tablename__ = "keyword_filter_revisions"

    region: Mapped[str] = mapped_column(String(16), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)


class MutedWord(RegionBound, Timestamped, Base):
    __tablename__ = "muted_words"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    pattern: Mapped[str] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("user_id", "pattern"),)


class AccountSanction(RegionBound, Timestamped, Base):
    """A decision against an account: ``suspended`` (content hidden, posting refused) or ``restricted``
    (content stays up but is never recommended). Lifted, not deleted, when an appeal overturns it."""

    __tablename__ = "account_sanctions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("moderation_cases.id", ondelete="SET NULL"),
                                                default=None)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    __table_args__ = (Index("ix_account_sanctions_user_lifted", "user_id", "lifted_at"),)


class Notification(RegionBound, Timestamped, Base):
    """Something a user should be told about; ``kind`` names the story, ``payload`` carries its facts."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    __table_args__ = (Index("ix_notifications_user_created", "user_id", "created_at"),)
