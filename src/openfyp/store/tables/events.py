"""The append-only engagement event log: the source of truth everything else is derived from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from openfyp.store.base import Base, BigId, RegionBound, UTCDateTime, utcnow


class EventRow(RegionBound, Base):
    """One engagement event. Rows are inserted, never updated; ``seq`` is the position in the log."""

    __tablename__ = "events"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # Client-generated UUID; a retried batch is absorbed by this uniqueness.
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True, default=None)
    video_id: Mapped[int | None] = mapped_column(Integer, index=True, default=None)
    target_user_id: Mapped[int | None] = mapped_column(Integer, default=None)
    kind: Mapped[str] = mapped_column(String(16))
    watch_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    watch_ratio: Mapped[float | None] = mapped_column(Float, default=None)
    # The surface the video was seen on: foryou, following, profile, search, hashtag, sound, share.
    source: Mapped[str | None] = mapped_column(String(16), default=None)
    # The feed request that served the video, so outcomes join back to the logged impression.
    request_id: Mapped[str | None] = mapped_column(String(36), index=True, default=None)
    position: Mapped[int | None] = mapped_column(Integer, default=None)
    client_ts: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    server_ts: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    extra: Mapped[dict | None] = mapped_column(JSON, default=None)

    __table_args__ = (
        Index("ix_events_user_server_ts", "user_id", "server_ts"),
        Index("ix_events_kind_server_ts", "kind", "server_ts"),
    )
