"""How engagement events become one graded signal per (viewer, video).

Watching is graded: finishing a video and watching it again count more than a glance, and leaving it
early counts against it. Likes, shares, comments, follows and saves are strong positives;
"not interested" is a strong negative; an impression that was never played is a weak negative. The
positive part feeds the retrieval models; the negative part is kept for the ranker.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

EVENT_KINDS = frozenset({"impression", "play", "watch", "complete", "replay", "skip", "like", "share",
                         "comment", "follow", "not_interested", "save"})
_WATCHING_KINDS = frozenset({"play", "watch", "complete", "replay", "skip"})


class SignalWeights(BaseModel):
    """Weights that turn a viewer's events on one video into a single signed value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    watch: float = Field(1.0, ge=0, description="Weight per unit of watch ratio (1.0 = watched once through).")
    max_watch_ratio: float = Field(3.0, ge=1, description="Watch ratios above this (looping) stop adding.")
    finished_ratio: float = Field(0.9, gt=0, le=1, description="A watch ratio at least this is a finish.")
    finish_bonus: float = Field(0.5, ge=0, description="Added once when the video was finished.")
    rewatch_bonus: float = Field(1.0, ge=0, description="Added once when the video was replayed.")
    early_skip_ratio: float = Field(0.2, ge=0, le=1, description="Leaving before this ratio is an early skip.")
    early_skip: float = Field(-1.0, le=0, description="An early skip replaces the watch signal with this.")
    like: float = Field(3.0, ge=0)
    share: float = Field(4.0, ge=0)
    comment: float = Field(3.0, ge=0)
    follow: float = Field(4.0, ge=0)
    save: float = Field(3.0, ge=0)
    not_interested: float = Field(-5.0, le=0)
    impression_without_play: float = Field(-0.2, le=0, description="Shown but never played.")


def _field(row: Any, name: str) -> Any:
    if isinstance(row, Mapping):
        if name not in row:
            raise KeyError(name)
        return row[name]
    return getattr(row, name)


def epoch_seconds(value: Any) -> float:
    """Seconds since the epoch from a datetime, a number or a numeric string."""
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


class EngagementTally:
    """The events one viewer produced on one video, reduced to what grading needs."""

    __slots__ = ("kinds", "max_watch_ratio", "last_ts", "skip_ratio")

    def __init__(self) -> None:
        self.kinds: set[str] = set()
        self.max_watch_ratio = 0.0
        self.last_ts = float("-inf")
        self.skip_ratio: float | None = None

    def add(self, kind: str, watch_ratio: float | None, ts: float) -> None:
        self.kinds.add(kind)
        self.last_ts = max(self.last_ts, ts)
        ratio = float(watch_ratio) if watch_ratio is not None else None
        if ratio is not None and kind in _WATCHING_KINDS:
            self.max_watch_ratio = max(self.max_watch_ratio, ratio)
        if kind == "complete":
            self.max_watch_ratio = max(self.max_watch_ratio, 1.0)
        if kind == "skip":
            self.skip_ratio = ratio if ratio is not None else 0.0


def grade(tally: EngagementTally, weights: SignalWeights) -> float:
    """The signed value of one viewer–video pair."""
    kinds = tally.kinds
    explicit = sum(getattr(weights, kind) for kind in ("like", "share", "comment", "follow", "save")
                   if kind in kinds)
    if "not_interested" in kinds:
        return weights.not_interested + explicit
    ratio = min(tally.max_watch_ratio, weights.max_watch_ratio)
    watched = bool(kinds & _WATCHING_KINDS)
    early_skip = tally.skip_ratio is not None and ratio < weights.early_skip_ratio
    if early_skip:
        watch_value = weights.early_skip
    elif watched:
        watch_value = weights.watch * ratio
        if ratio >= weights.finished_ratio:
            watch_value += weights.finish_bonus
        if "replay" in kinds or ratio >= 1.0 + weights.finished_ratio:
            watch_value += weights.rewatch_bonus
    elif explicit == 0 and "impression" in kinds:
        watch_value = weights.impression_without_play
    else:
        watch_value = 0.0
    return watch_value + explicit


def tally_events(rows: Iterable[Any]) -> dict[tuple[Any, Any], EngagementTally]:
    """Group event rows (mappings or objects with ``user_id, video_id, kind, watch_ratio, server_ts``)."""
    from openfyp.recsys.interactions import InteractionDataError

    tallies: dict[tuple[Any, Any], EngagementTally] = {}
    for position, row in enumerate(rows):
        try:
            user, video, kind = _field(row, "user_id"), _field(row, "video_id"), _field(row, "kind")
            watch_ratio, server_ts = _field(row, "watch_ratio"), _field(row, "server_ts")
        except (KeyError, AttributeError) as exc:
            raise InteractionDataError("missing_field", f"event row {position} lacks {exc}", str(exc)) from None
        kind = getattr(kind, "value", kind)
        if kind not in EVENT_KINDS:
            continue  # other event kinds (reports, uploads) carry no preference signal
        try:
            ts = epoch_seconds(server_ts)
            ratio = None if watch_ratio is None else float(watch_ratio)
        except (TypeError, ValueError):
            raise InteractionDataError("bad_event", f"event row {position} has an unreadable time or watch ratio",
                                       "server_ts") from None
        tallies.setdefault((user, video), EngagementTally()).add(kind, ratio, ts)
    return tallies
