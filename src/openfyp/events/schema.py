"""The engagement event schema shared by the web client, the demo simulator and the learners."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from openfyp.events.ids import new_event_id


class EventKind(StrEnum):
    impression = "impression"
    play = "play"
    watch = "watch"  # watch progress: seconds and ratio so far
    complete = "complete"
    replay = "replay"
    skip = "skip"
    like = "like"
    unlike = "unlike"
    share = "share"
    comment = "comment"
    follow = "follow"
    unfollow = "unfollow"
    save = "save"
    unsave = "unsave"
    not_interested = "not_interested"
    report = "report"


class Surface(StrEnum):
    foryou = "foryou"
    following = "following"
    profile = "profile"
    search = "search"
    hashtag = "hashtag"
    sound = "sound"
    share = "share"


# Kinds that are about a video and therefore must name one.
VIDEO_KINDS = frozenset(EventKind) - {EventKind.follow, EventKind.unfollow}
# A ratio above 1 means the viewer looped the video; more than this many loops is not a real watch.
MAX_WATCH_RATIO = 20.0
# Client clocks drift; an event from further in the future than this is refused.
MAX_CLOCK_SKEW = timedelta(minutes=10)


class EventIn(BaseModel):
    """One event as a client sends it in a batch to ``POST /api/events``."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID
    kind: EventKind
    video_id: int | None = Field(None, ge=1)
    target_user_id: int | None = Field(None, ge=1)
    watch_seconds: float | None = Field(None, ge=0, le=24 * 3600)
    watch_ratio: float | None = Field(None, ge=0, le=MAX_WATCH_RATIO)
    source: Surface | None = None
    request_id: uuid.UUID | None = None
    position: int | None = Field(None, ge=0, le=10_000)
    client_ts: datetime

    @field_validator("client_ts")
    @classmethod
    def _aware_and_not_future(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if value - datetime.now(UTC) > MAX_CLOCK_SKEW:
            raise ValueError("client_ts is in the future")
        return value

    @model_validator(mode="after")
    def _target_present(self) -> EventIn:
        if self.kind in VIDEO_KINDS and self.video_id is None:
            raise ValueError(f"a {self.kind.value} event needs video_id")
        if self.kind in (EventKind.follow, EventKind.unfollow) and self.target_user_id is None:
            raise ValueError(f"a {self.kind.value} event needs target_user_id")
        return self


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1)


class Event(BaseModel):
    """An event as stored: what the client sent plus who sent it, where, and when the server got it."""

    seq: int | None = None
    event_id: str
    region: str
    user_id: int | None
    video_id: int | None = None
    target_user_id: int | None = None
    kind: EventKind
    watch_seconds: float | None = None
    watch_ratio: float | None = None
    source: str | None = None
    request_id: str | None = None
    position: int | None = None
    client_ts: datetime | None = None
    server_ts: datetime
    extra: dict | None = None

    @classmethod
    def from_client(cls, event: EventIn, *, user_id: int | None, region: str, server_ts: datetime) -> Event:
        return cls(
            event_id=str(event.id), region=region, user_id=user_id, video_id=event.video_id,
            target_user_id=event.target_user_id, kind=event.kind, watch_seconds=event.watch_seconds,
            watch_ratio=event.watch_ratio, source=event.source.value if event.source else None,
            request_id=str(event.request_id) if event.request_id else None, position=event.position,
            client_ts=event.client_ts, server_ts=server_ts,
        )

    @classmethod
    def server_side(cls, kind: EventKind, *, user_id: int, region: str, video_id: int | None = None,
                    target_user_id: int | None = None, source: str | None = None, extra: dict | None = None) -> Event:
        """An event the server records itself, e.g. when a like arrives through ``POST /like``."""
        now = datetime.now(UTC)
        return cls(event_id=new_event_id(), region=region, user_id=user_id, video_id=video_id,
                   target_user_id=target_user_id, kind=kind, source=source, client_ts=now, server_ts=now,
                   extra=extra)
