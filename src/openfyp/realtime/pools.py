"""Traffic pools: staged exposure for new videos.

A new video enters the first pool, which grants it ``size`` views (a few hundred by default). When it has
used them it is judged against the *pool's typical video*: the median completion and like rates of the
videos judged in the same pool before it (until a pool has judged enough videos, the typical video of the
pool before it, and for the first pool the catalog's rates). If
both its completion rate and its like rate beat that typical video with the pool's statistical confidence
(the one-sided Wilson lower bound of its rate lies above the typical rate), it is promoted to the next,
larger pool; otherwise it *settles* and gets no more exploration traffic (it can still be recommended on its
merits to viewers it fits). A video that passes the last pool has *graduated*.

Views are ``max(impressions, plays, completes + skips)``: what the running video stats can see whatever
events a client sends. The state is plain numpy arrays over catalog rows, so judging thousands of videos
is one vectorised pass, and it is snapshotted with the rest of the learner's state.

Configured in the ranking config under ``traffic_pools``::

    "traffic_pools": {"enabled": true, "stages": [
        {"name": "first", "size": 300, "confidence": 0.9}, {"name": "second", "size": 3000, "confidence": 0.9}]}

The share of feed slots given to exploration (where pool traffic is served) is ``exploration.share``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

NOT_IN_POOLS, ACTIVE, SETTLED, GRADUATED = 0, 1, 2, 3
STATUS_NAMES = {NOT_IN_POOLS: "not_in_pools", ACTIVE: "active", SETTLED: "settled", GRADUATED: "graduated"}
# Judged videos remembered per pool for its "typical video"; and how many it needs before it trusts itself.
REFERENCE_WINDOW = 1000
MIN_REFERENCE_VIDEOS = 20


class PoolConfigError(ValueError):
    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


class PoolStage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9_-]{1,32}$")
    size: int = Field(ge=10, le=100_000_000, description="Views granted in this pool before judging.")
    confidence: float = Field(0.9, gt=0.5, lt=1.0, description="One-sided confidence needed to be promoted.")


class PoolSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    stages: tuple[PoolStage, ...] = ()

    @model_validator(mode="after")
    def _growing(self) -> PoolSettings:
        if self.enabled and not self.stages:
            raise ValueError("traffic pools are enabled but no stage is configured")
        sizes = [stage.size for stage in self.stages]
        if sizes != sorted(sizes):
            raise ValueError("each pool must be at least as large as the one before it")
        if len({stage.name for stage in self.stages}) != len(self.stages):
            raise ValueError("pool names must be distinct")
        return self

    @classmethod
    def from_config(cls, config: Any) -> PoolSettings:
        """From the ranking config's ``traffic_pools`` section (an object or a mapping)."""
        if isinstance(config, Mapping):
            enabled, stages = config.get("enabled", False), config.get("stages", [])
        else:
            enabled, stages = config.enabled, config.stages
        try:
            return cls(enabled=enabled, stages=tuple(PoolStage.model_validate(s) for s in stages))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ())) or None
            raise PoolConfigError("bad_traffic_pools", f"traffic_pools: {first.get('msg', 'invalid')}",
                                  f"traffic_pools.{field}" if field else "traffic_pools") from None


def wilson_lower_bound(successes: np.ndarray, trials: np.ndarray, confidence: float) -> np.ndarray:
    """One-sided lower confidence bound of a binomial rate (0 where there are no trials)."""
    successes = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    z = NormalDist().inv_cdf(confidence)
    safe = np.maximum(n, 1.0)
    p = np.clip(successes / safe, 0.0, 1.0)
    centre = p + z * z / (2 * safe)
    spread = z * np.sqrt(p * (1 - p) / safe + z * z / (4 * safe * safe))
    bound = (centre - spread) / (1 + z * z / safe)
    return np.where(n > 0, np.maximum(bound, 0.0), 0.0)


@dataclass(frozen=True)
class Transition:
    row: int
    from_stage: int
    to_stage: int | None  # None: settled in from_stage
    status: int


class TrafficPools:
    """Which pool each catalog row is in, and the judging that moves rows between pools."""

    def __init__(self, settings: PoolSettings | None = None, capacity: int = 1024) -> None:
        self.settings = settings or PoolSettings()
        self.stage = np.full(capacity, -1, dtype=np.int16)
        self.status = np.zeros(capacity, dtype=np.int8)
        self.entered_views = np.zeros(capacity, dtype=np.float64)
        self.references: list[deque[tuple[float, float]]] = [deque(maxlen=REFERENCE_WINDOW)
                                                              for _ in self.settings.stages]

    @property
    def enabled(self) -> bool:
        return self.settings.enabled and bool(self.settings.stages)

    def reconfigure(self, settings: PoolSettings) -> None:
        """Adopt new stages; rows keep their stage index when it still exists, else they graduate."""
        old = len(self.settings.stages)
        self.settings = settings
        count = len(settings.stages)
        active = self.status == ACTIVE
        beyond = active & (self.stage >= count)
        self.status[beyond] = GRADUATED
        if count != old:
            kept = self.references[:count]
            self.references = kept + [deque(maxlen=REFERENCE_WINDOW) for _ in range(count - len(kept))]

    def _ensure(self, n: int) -> None:
        if n <= len(self.stage):
            return
        size = max(n, 2 * len(self.stage))
        self.stage = _grown(self.stage, size, -1)
        self.status = _grown(self.status, size, NOT_IN_POOLS)
        self.entered_views = _grown(self.entered_views, size, 0.0)

    # ---- entering and judging ------------------------------------------------------------------------------
    def enter(self, rows: Sequence[int] | np.ndarray, views: np.ndarray | None = None) -> None:
        """Put new videos in the first pool (rows already in pools are left alone)."""
        rows = np.asarray(rows, dtype=np.int64)
        if not self.enabled or len(rows) == 0:
            return
        self._ensure(int(rows.max()) + 1)
        new = self.status[rows] == NOT_IN_POOLS
        self.stage[rows[new]] = 0
        self.status[rows[new]] = ACTIVE
        self.entered_views[rows[new]] = 0.0 if views is None else np.asarray(views, dtype=np.float64)[new]

    def judge(self, rows: np.ndarray, views: np.ndarray, completes: np.ndarray, likes: np.ndarray,
              prior: tuple[float, float]) -> list[Transition]:
        """Judge every given active row that has used its pool's views; returns what moved.

        ``views``, ``completes`` and ``likes`` are the rows' running totals; ``prior`` is the catalog's
        (completion, like) rate, the typical video of a pool that has not judged enough videos yet.
        """
        rows = np.asarray(rows, dtype=np.int64)
        if not self.enabled or len(rows) == 0:
            return []
        self._ensure(int(rows.max()) + 1)
        views = np.asarray(views, dtype=np.float64)
        completes = np.asarray(completes, dtype=np.float64)
        likes = np.asarray(likes, dtype=np.float64)
        moved: list[Transition] = []
        stages = self.settings.stages
        # A promoted row may already have used its next pool too (e.g. after a replay): judge until it rests.
        for _ in range(len(stages)):
            active = self.status[rows] == ACTIVE
            stage = np.where(active, self.stage[rows], 0).astype(np.int64)
            sizes = np.array([s.size for s in stages], dtype=np.float64)[stage]
            due = active & (views - self.entered_views[rows] >= sizes)
            if not due.any():
                break
            for index in np.unique(stage[due]):
                pick = np.flatnonzero(due & (stage == index))
                moved.extend(self._judge_stage(int(index), rows[pick], views[pick], completes[pick], likes[pick],
                                               prior))
        return moved

    def _judge_stage(self, index: int, rows: np.ndarray, views: np.ndarray, completes: np.ndarray,
                     likes: np.ndarray, prior: tuple[float, float]) -> list[Transition]:
        stage = self.settings.stages[index]
        typical_completion, typical_like = self.typical(index, prior)
        completes = np.minimum(completes, views)
        likes = np.minimum(likes, views)
        better = ((wilson_lower_bound(completes, views, stage.confidence) > typical_completion)
                  & (wilson_lower_bound(likes, views, stage.confidence) > typical_like))
        reference = self.references[index]
        for c, l, v in zip(completes.tolist(), likes.tolist(), views.tolist()):
            reference.append((c / v, l / v))
        last = index == len(self.settings.stages) - 1
        moved = []
        for row, promoted, seen in zip(rows.tolist(), better.tolist(), views.tolist()):
            if promoted and not last:
                self.stage[row] = index + 1
                self.entered_views[row] = seen
                moved.append(Transition(row, index, index + 1, ACTIVE))
            elif promoted:
                self.status[row] = GRADUATED
                moved.append(Transition(row, index, None, GRADUATED))
            else:
                self.status[row] = SETTLED
                moved.append(Transition(row, index, None, SETTLED))
        return moved

    def typical(self, index: int, prior: tuple[float, float]) -> tuple[float, float]:
        """The (completion, like) rates of the typical video judged in pool ``index``.

        A pool that has not judged enough videos yet borrows the typical video of the pool before it (the
        bar a video there has already cleared), and the first pool borrows the catalog's rates.
        """
        for candidate in range(min(index, len(self.references) - 1), -1, -1):
            reference = self.references[candidate]
            if len(reference) >= MIN_REFERENCE_VIDEOS:
                rates = np.array(reference, dtype=np.float64)
                return float(np.median(rates[:, 0])), float(np.median(rates[:, 1]))
        return float(prior[0]), float(prior[1])

    # ---- serving -------------------------------------------------------------------------------------------
    def remaining_share(self, rows: np.ndarray, views: np.ndarray) -> np.ndarray:
        """Per row, the share of its current pool's views still to be served (0 unless active)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows))
        if not self.enabled or len(rows) == 0:
            return out
        inside = rows < len(self.stage)
        known = rows[inside]
        active = self.status[known] == ACTIVE
        sizes = np.array([s.size for s in self.settings.stages], dtype=np.float64)
        stage = np.clip(self.stage[known], 0, len(sizes) - 1)
        used = np.asarray(views, dtype=np.float64)[inside] - self.entered_views[known]
        share = np.clip(1.0 - used / sizes[stage], 0.0, 1.0)
        out[np.flatnonzero(inside)] = np.where(active, share, 0.0)
        return out

    def stage_sizes(self, rows: np.ndarray) -> np.ndarray:
        """The size of each row's current pool (0 for rows not active in one)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows))
        inside = rows < len(self.stage)
        known = rows[inside]
        if not self.enabled or len(known) == 0:
            return out
        sizes = np.array([s.size for s in self.settings.stages], dtype=np.float64)
        active = self.status[known] == ACTIVE
        out[np.flatnonzero(inside)] = np.where(active, sizes[np.clip(self.stage[known], 0, len(sizes) - 1)], 0.0)
        return out

    def describe(self, row: int, views: float, completes: float, likes: float,
                 prior: tuple[float, float]) -> dict[str, Any] | None:
        """What a creator sees about one video's pool, or ``None`` when pools are off or it never entered one."""
        if not self.enabled or row < 0 or row >= len(self.stage) or self.status[row] == NOT_IN_POOLS:
            return None
        index = int(self.stage[row])
        stage = self.settings.stages[min(index, len(self.settings.stages) - 1)]
        status = int(self.status[row])
        typical_completion, typical_like = self.typical(index, prior)
        used = max(0.0, views - float(self.entered_views[row]))
        return {
            "pool": stage.name, "pool_index": index, "pools": len(self.settings.stages),
            "status": STATUS_NAMES[status],
            "views_in_pool": round(used), "pool_size": stage.size,
            # Clamped as the judge clamps them: likes can arrive without a counted view (from a profile page).
            "completion_rate": _rate(min(completes, views), views), "like_rate": _rate(min(likes, views), views),
            "typical": {"completion_rate": round(typical_completion, 4), "like_rate": round(typical_like, 4)},
        }

    # ---- snapshots -----------------------------------------------------------------------------------------
    def to_arrays(self, n: int) -> dict[str, np.ndarray]:
        self._ensure(n)
        arrays = {"pool_stage": self.stage[:n].copy(), "pool_status": self.status[:n].copy(),
                  "pool_entered_views": self.entered_views[:n].copy()}
        for index, reference in enumerate(self.references):
            arrays[f"pool_reference_{index}"] = np.array(list(reference), dtype=np.float64).reshape(-1, 2)
        return arrays

    def restore(self, arrays: Mapping[str, np.ndarray], rows: np.ndarray) -> None:
        """Load a snapshot; ``rows`` maps the snapshot's row order to this catalog's rows (-1: gone)."""
        rows = np.asarray(rows, dtype=np.int64)
        keep = rows >= 0
        if keep.any():
            self._ensure(int(rows[keep].max()) + 1)
        self.stage[rows[keep]] = arrays["pool_stage"][keep]
        self.status[rows[keep]] = arrays["pool_status"][keep]
        self.entered_views[rows[keep]] = arrays["pool_entered_views"][keep]
        for index in range(len(self.references)):
            saved = arrays.get(f"pool_reference_{index}")
            if saved is not None:
                self.references[index].extend(map(tuple, np.asarray(saved).tolist()))


def views_of(impressions: np.ndarray, plays: np.ndarray, completes: np.ndarray, skips: np.ndarray) -> np.ndarray:
    return np.maximum.reduce([np.asarray(impressions, np.float64), np.asarray(plays, np.float64),
                              np.asarray(completes, np.float64) + np.asarray(skips, np.float64)])


def _rate(count: float, views: float) -> float | None:
    return round(count / views, 4) if views > 0 and math.isfinite(count) else None


def _grown(array: np.ndarray, size: int, fill) -> np.ndarray:
    out = np.full(size, fill, dtype=array.dtype)
    out[: len(array)] = array
    return out
