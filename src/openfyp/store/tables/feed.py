"""What the feed served: each request with its logged inputs, and each impression it produced.

A request row carries everything needed to replay it (the candidate features, the model and ranking config
versions); impression rows make the viewer's seen-set and, joined with later events, training data.
"""

from __future__ import annotations

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from openfyp.store.base import Base, BigId, RegionBound, Timestamped


class FeedRequest(RegionBound, Timestamped, Base):
    __tablename__ = "feed_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True, default=None)
    surface: Mapped[str] = mapped_column(String(16))  # foryou or following
    model_version: Mapped[str | None] = mapped_column(String(64), default=None)
    config_version: Mapped[str | None] = mapped_column(String(64), default=None)
    personalised: Mapped[bool] = mapped_column(default=True)
    # Logged inputs for replay: candidates with their source scores and ranker features, seeds, gates.
    inputs: Mapped[dict | None] = mapped_column(JSON, default=None)
    # What was served: [{"video_id", "score", "reason": {...}}, ...] in order.
    items: Mapped[list | None] = mapped_column(JSON, default=None)


class Impression(RegionBound, Timestamped, Base):
    __tablename__ = "impressions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("feed_requests.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, default=None)
    video_id: Mapped[int] = mapped_column(Integer, index=True)
    position: Mapped[int] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column(Float, default=None)

    __table_args__ = (Index("ix_impressions_user_video", "user_id", "video_id"),
                      # A viewer's impressions after a watermark: the top-up of their cached seen set (0004).
                      Index("ix_impressions_user_id", "user_id", "id"))
