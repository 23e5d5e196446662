"""Videos, their sounds and hashtags."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openfyp.store.base import Base, RegionBound, Timestamped, UTCDateTime


class VideoStatus(StrEnum):
    processing = "processing"
    ready = "ready"
    failed = "failed"


class Visibility(StrEnum):
    public = "public"
    followers = "followers"
    private = "private"


class ModerationState(StrEnum):
    ok = "ok"
    restricted = "restricted"  # stays up for its viewers, but never recommended
    held = "held"  # a keyword filter held it; only its author sees it until a moderator decides
    removed = "removed"


class Sound(RegionBound, Timestamped, Base):
    __tablename__ = "sounds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    origin_video_id: Mapped[int | None] = mapped_column(Integer, default=None)
    audio_key: Mapped[str | None] = mapped_column(String(255), default=None)
    duration_s: Mapped[float | None] = mapped_column(Float, default=None)


class Video(RegionBound, Timestamped, Base):
    __tablename__ = "videos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    caption: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default=VideoStatus.processing.value)
    failure_code: Mapped[str | None] = mapped_column(String(32), default=None)
    failure_reason: Mapped[str | None] = mapped_column(Text, default=None)
    visibility: Mapped[str] = mapped_column(String(12), default=Visibility.public.value)
    moderation_state: Mapped[str] = mapped_column(String(12), default=ModerationState.ok.value)
    # Set by moderation for content unsuitable for minors; such videos are never shown to them.
    adult_only: Mapped[bool] = mapped_column(default=False)
    upload_key: Mapped[str | None] = mapped_column(String(255), default=None)
    media_key: Mapped[str | None] = mapped_column(String(255), default=None)
    poster_key: Mapped[str | None] = mapped_column(String(255), default=None)
    duration_s: Mapped[float | None] = mapped_column(Float, default=None)
    width: Mapped[int | None] = mapped_column(Integer, default=None)
    height: Mapped[int | None] = mapped_column(Integer, default=None)
    size_bytes: Mapped[int | None] = mapped_column(Integer, default=None)
    sound_id: Mapped[int | None] = mapped_column(ForeignKey("sounds.id", ondelete="SET NULL"), index=True, default=None)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    __table_args__ = (Index("ix_videos_region_status_created", "region", "status", "created_at"),
                      # The catalog refresh's newest ready_at and videos ready since its watermark (migration 0004).
                      Index("ix_videos_region_ready", "region", "ready_at"))


class Hashtag(RegionBound, Timestamped, Base):
    __tablename__ = "hashtags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))

    __table_args__ = (UniqueConstraint("region", "name"),)


class VideoHashtag(Base):
    __tablename__ = "video_hashtags"

    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    hashtag_id: Mapped[int] = mapped_column(ForeignKey("hashtags.id", ondelete="CASCADE"), primary_key=True)

    __table_args__ = (Index("ix_video_hashtags_hashtag", "hashtag_id"),)
