"""The append-only engagement event log: the source of truth everything else is derived from.

This is the hottest table: every index on it is maintained for every event ingested, and an index over a
random key (an id, a UUID) dirties about one page per event, which the commit writes to the WAL and the
checkpoint again to the database. So it carries only the indexes its readers need (migration 0003):

* ``event_id`` (unique): the idempotent append, and ``POST /api/events`` telling retries apart;
* ``(user_id, server_ts)``: a viewer's recent history (recsys), a minor's watch time today, a user's
  export and erasure;
* ``(video_id, kind)``: per-video analytics and play counts (covering), erasure of a creator's videos;
* ``target_user_id``, partial (only follow/unfollow events name a user): a creator's follows, erasure.

Reads in log order (``seq``) use the primary key. There is no index on ``region`` (a deployment's log holds
its own region's events, so it would select everything), ``request_id`` (nothing looks events up by it)
or ``kind`` alone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Float, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from openfyp.store.base import Base, BigId, RegionBound, UTCDateTime, utcnow


class EventRow(RegionBound, Base):
    """One engagement event. Rows are inserted, never updated; ``seq`` is the position in the log."""

    __tablename__ = "events"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # Declared here, not by ``RegionBound``, to leave out its index (see the module docstring).
    region: Mapped[str] = mapped_column(String(16))
    # Client-generated UUID; a retried batch is absorbed by this uniqueness.
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    user_id: Mapped[int | None] = mapped_column(Integer, default=None)
    video_id: Mapped[int | None] = mapped_column(Integer, default=None)
    target_user_id: Mapped[int | None] = mapped_column(Integer, default=None)
    kind: Mapped[str] = mapped_column(String(16))
    watch_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    watch_ratio: Mapped[float | None] = mapped_column(Float, default=None)
    # The surface the video was seen on: foryou, following, profile, search, hashtag, sound, share.
    source: Mapped[str | None] = mapped_column(String(16), default=None)
    # The feed request that served the video, so outcomes join back to the logged impression.
    request_id: Mapped[str | None] = mapped_column(String(36), default=None)
    position: Mapped[int | None] = mapped_column(Integer, default=None)
    client_ts: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    server_ts: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    extra: Mapped[dict | None] = mapped_column(JSON, default=None)

    __table_args__ = (
        Index("ix_events_user_server_ts", "user_id", "server_ts"),
        Index("ix_events_video_kind", "video_id", "kind"),
        Index("ix_events_target_user_id", "target_user_id", sqlite_where=text("target_user_id IS NOT NULL"),
              postgresql_where=text("target_user_id IS NOT NULL")),
    )


class VideoViewCount(RegionBound, Base):
    """Plays per video, kept by the database itself: triggers on ``events`` (migration 0005) add one for every
    play row inserted, whichever path inserts it (the staged log's mover, the group-committed log, the Redis
    sink), and take one away for every play row deleted (an erasure). A page shows a video's views by reading
    one row instead of counting its plays, which for a popular video meant hundreds of thousands of index
    entries on every page that showed it."""

    __tablename__ = "video_view_counts"

    video_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # Declared here, not by ``RegionBound``, to leave out its index: rows are read by video id only.
    region: Mapped[str] = mapped_column(String(16))
    views: Mapped[int] = mapped_column(BigInteger, default=0)


class CatalogChange(RegionBound, Base):
    """A video whose catalog entry may have changed (status, visibility, moderation, adult-only, sound, the
    hashtags of a ready video, deletion of the video or its creator), written by triggers on ``videos``,
    ``video_hashtags`` and ``users`` (migration 0006) whichever code path or server process made the change.
    Every server process reads the rows past its position before each page, as it reads the event log's tail,
    so its catalog never serves from a stale eligibility: one range read of an almost always empty tail instead
    of re-checking every shortlisted video. Rows older than a day are pruned (a process that starts reads the
    whole catalog anyway)."""

    __tablename__ = "catalog_changes"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # Declared here, not by ``RegionBound``, to leave out its index: rows are read by position only.
    region: Mapped[str] = mapped_column(String(16))
    video_id: Mapped[int] = mapped_column(Integer)  # no foreign key: a deleted video's change outlives it
    changed_ts: Mapped[float] = mapped_column(Float)  # seconds since the epoch, set by the trigger


class IdFloor(RegionBound, Base):
    """How far a numbering that readers keep positions by had gone when an erasure deleted rows: the writers
    number after it (see :mod:`openfyp.store.id_floors`)."""

    __tablename__ = "id_floors"

    region: Mapped[str] = mapped_column(String(16), primary_key=True)
    counter: Mapped[str] = mapped_column(String(32), primary_key=True)  # "events.seq", "impressions.id"
    value: Mapped[int] = mapped_column(BigInteger)
