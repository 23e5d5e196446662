"""What every candidate source shares: a typed config, a name, and ``__call__(request, quota)``.

A source proposes catalog rows with a score of its own; it never decides the final order. Sources are
independent: the pipeline runs each inside its own ``try`` so one failing source cannot fail a request.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from openfyp.recsys.contracts import RecsysError
from openfyp.recsys.state import Catalog, VideoStats, ViewerRelations, ViewerState


class SourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class SourceRequest:
    """Everything a source may read for one request. ``exclude`` holds rows no source should bother proposing."""

    now: float
    catalog: Catalog
    stats: VideoStats
    viewer: ViewerState | None
    relations: ViewerRelations
    seed: int
    exclude_video_ids: frozenset[int] = frozenset()
    models: Any = None  # openfyp.recsys.sources.models.ServingModels when a trained artifact is loaded
    online: Any = None  # openfyp.realtime.online.OnlineState: traffic pools and online co-watch
    cache: dict[str, Any] = field(default_factory=dict)  # per-request scratch space shared by sources

    def rng(self, salt: str) -> np.random.Generator:
        """A generator fixed by the request seed and the caller's name, so each source draws independently."""
        return seeded_rng(self.seed, *salt.encode())

    def excluded_ids(self) -> np.ndarray:
        """The excluded video ids as a sorted array (built once per request, shared by every source)."""
        if "excluded_ids" not in self.cache:
            self.cache["excluded_ids"] = sorted_keys(self.exclude_video_ids)
        return self.cache["excluded_ids"]

    def user_vector(self) -> np.ndarray | None:
        if "user_vector" not in self.cache:
            self.cache["user_vector"] = (self.models.user_vector(self.viewer, self.catalog)
                                         if self.models is not None and self.viewer is not None else None)
        return self.cache["user_vector"]


@dataclass
class SourceResult:
    rows: np.ndarray  # catalog rows, best first
    scores: np.ndarray  # the source's own score per row (higher is better)

    @classmethod
    def empty(cls) -> SourceResult:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))


class CandidateSource(ABC):
    name: ClassVar[str]
    Config: ClassVar[type[SourceConfig]] = SourceConfig

    def __init__(self, config: SourceConfig | Mapping[str, Any] | None = None) -> None:
        try:
            if config is None:
                config = self.Config()
            elif isinstance(config, Mapping):
                config = self.Config(**config)
        except ValidationError as exc:
            first = exc.errors()[0]
            field_name = ".".join(str(p) for p in first.get("loc", ())) or None
            raise RecsysError("bad_source_config", f"{self.name}: {first.get('msg', 'invalid')}", field_name) from None
        self.config = config

    @abstractmethod
    def __call__(self, request: SourceRequest, quota: int) -> SourceResult: ...


def take_unexcluded(request: SourceRequest, rows: np.ndarray, scores: np.ndarray, quota: int) -> SourceResult:
    """The first ``quota`` of ``rows`` (already best first) that are eligible and not excluded."""
    if len(rows) == 0 or quota <= 0:
        return SourceResult.empty()
    catalog = request.catalog
    excluded = request.excluded_ids() if request.exclude_video_ids else None
    kept_rows, kept_scores, found = [], [], 0
    chunk = max(2 * quota, 64)
    # Check in chunks: most lists are long and only their head is needed.
    for start in range(0, len(rows), chunk):
        part, part_scores = rows[start:start + chunk], scores[start:start + chunk]
        keep = catalog.eligible[part]
        if excluded is not None:
            keep &= ~in_sorted(excluded, catalog.video_ids[part])
        kept_rows.append(part[keep])
        kept_scores.append(part_scores[keep])
        found += int(np.count_nonzero(keep))
        if found >= quota:
            break
    # The usual case is one chunk: no concatenation, and no copy where the dtype is already right.
    rows = kept_rows[0] if len(kept_rows) == 1 else np.concatenate(kept_rows)
    scores = kept_scores[0] if len(kept_scores) == 1 else np.concatenate(kept_scores)
    return SourceResult(rows[:quota].astype(np.int64, copy=False), scores[:quota].astype(np.float64, copy=False))


def seeded_rng(*entropy: int) -> np.random.Generator:
    """``np.random.default_rng(list(entropy))`` (the same stream) for non-negative ints, at half the cost.

    numpy turns a list seed into 32-bit words with a Python loop per int; the words are computed here as
    numpy does (each int least significant word first, 0 as one word) and handed over as a uint32 array,
    which numpy takes as it is.
    """
    words: list[int] = []
    for value in entropy:
        if value < 0:
            raise ValueError("seeds must be non-negative")
        words.append(value & 0xFFFFFFFF)
        value >>= 32
        while value:
            words.append(value & 0xFFFFFFFF)
            value >>= 32
    sequence = np.random.SeedSequence(np.array(words, dtype=np.uint32))
    return np.random.Generator(np.random.PCG64(sequence))


def unique_sorted(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` for a small 1-d array: a sort and a mask (numpy's hashing path costs several
    times more on the few hundred ids of a request)."""
    ordered = values.copy()
    ordered.sort()
    if len(ordered) < 2:
        return ordered
    first = np.empty(len(ordered), dtype=bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return ordered[first]


def sum_by_key(keys: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``keys`` (sorted) and the sum of ``weights`` per key, added in input order.

    The same values as ``np.unique(keys, return_inverse=True)`` followed by ``np.bincount``, bit for bit (a
    stable sort keeps each key's weights in their input order), at a fraction of the cost on small arrays.
    """
    if len(keys) == 0:
        return np.zeros(0, dtype=keys.dtype), np.zeros(0)
    order = keys.argsort(kind="stable")
    ordered = keys[order]
    first = np.empty(len(ordered), dtype=bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    group = np.empty(len(keys), dtype=np.int64)
    group[order] = first.cumsum() - 1
    return ordered[first], np.bincount(group, weights=weights)


def sorted_keys(members: frozenset[int] | set[int]) -> np.ndarray:
    """A set of ids as a sorted int64 array, for :func:`in_sorted`."""
    keys = np.fromiter(members, dtype=np.int64, count=len(members))
    keys.sort()
    return keys


def in_sorted(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Whether each of ``values`` is in the sorted array ``keys``: a binary search per value, no Python loop."""
    values = np.asarray(values)
    if len(keys) == 0 or values.size == 0:
        return np.zeros(values.shape, dtype=bool)
    position = keys.searchsorted(values)
    np.minimum(position, len(keys) - 1, out=position)
    return keys[position] == values


def lookup_sorted(keys: np.ndarray, values: np.ndarray, queries: np.ndarray, default: float = 0.0) -> np.ndarray:
    """``values[i]`` where ``queries`` equals ``keys[i]``, ``default`` elsewhere (any shape; float64).

    ``keys`` are sorted and distinct. Where they span a short range of non-negative ids (a viewer's hashtags,
    a page's dismissed sounds), one table indexed by id answers every query; a binary search per query costs
    several times more once there are thousands of them (a candidate's eight hashtag slots each). Otherwise:
    a binary search per query. Both give the same result.
    """
    out_shape = np.shape(queries)
    if len(keys) == 0:
        return np.full(out_shape, default, dtype=np.float64)
    flat = np.asarray(queries, dtype=np.int64).ravel()
    low, span = int(keys[0]), int(keys[-1]) - int(keys[0]) + 1
    if low >= 0 and span <= max(4 * len(flat), 4096):
        table = np.full(span + 1, default, dtype=np.float64)  # the extra last slot answers misses
        table[keys - low] = values
        offset = (flat - low).view(np.uint64)  # below ``low`` wraps around to a huge offset: a miss
        np.minimum(offset, span, out=offset)  # every miss reads the last slot
        return table.take(offset.view(np.int64)).reshape(out_shape)
    out = np.full(len(flat), default, dtype=np.float64)
    position = keys.searchsorted(flat)
    np.minimum(position, len(keys) - 1, out=position)
    hit = keys[position] == flat
    out[hit] = values[position[hit]]
    return out.reshape(out_shape)


def member_of(values: np.ndarray, members: frozenset[int] | set[int]) -> np.ndarray:
    """``np.isin`` for a Python set of ids (a request's seen videos, followed creators...)."""
    if not members or len(values) == 0:
        return np.zeros(len(values), dtype=bool)
    return in_sorted(sorted_keys(members), values)


def best_first(rows: np.ndarray, scores: np.ndarray, catalog: Catalog) -> tuple[np.ndarray, np.ndarray]:
    """Sort by score (descending), ties by video id, so every run orders candidates the same way."""
    order = np.lexsort((catalog.video_ids[rows], -scores))
    return rows[order], scores[order]


def ordered_head(primary: np.ndarray, secondary: np.ndarray, needed: int) -> np.ndarray:
    """The start of ``np.lexsort((secondary, primary))``, at least ``needed`` long, without sorting the rest.

    Everything up to the ``needed``-th smallest primary key (ties included) is selected in linear time and
    only that is sorted, so the returned head is exactly the head of the full order.
    """
    head = _head_within(primary, needed)
    if head is None:
        return np.lexsort((secondary, primary))
    return head[np.lexsort((secondary[head], primary[head]))]


def _head_within(primary: np.ndarray, needed: int) -> np.ndarray | None:
    """The positions of the ``needed`` smallest keys and their ties (in position order), or None when the
    whole array has to be sorted (it is no longer than ``needed``, or NaN keys reach into the head)."""
    if needed >= len(primary):
        return None
    partitioned = primary.copy()
    partitioned.partition(needed - 1)
    kth = partitioned[needed - 1]
    if math.isnan(kth):  # NaN keys sort last; too few ordinary keys to cut safely
        return None
    return (primary <= kth).nonzero()[0]


def take_best(request: SourceRequest, rows: np.ndarray, scores: np.ndarray, quota: int,
              sort_keys: np.ndarray | None = None) -> SourceResult:
    """``take_unexcluded`` over ``rows`` ordered best first, sorting only as much as the quota needs.

    The order is ascending ``sort_keys`` (default: descending score), ties by video id, as ``best_first``.
    Only the head that can hold the quota after exclusions is sorted; should ineligible rows empty it, the
    full order is used, so the result is always the one a full sort gives.
    """
    if len(rows) == 0 or quota <= 0:
        return SourceResult.empty()
    primary = -scores if sort_keys is None else sort_keys
    video_ids = request.catalog.video_ids
    # Slack for ineligible rows, which are not known before looking.
    needed = quota + len(request.exclude_video_ids) + 16
    # As ``ordered_head``, but the video ids (the tie-breaker) are read for the head only: a source may
    # rank thousands of rows (fresh) to keep a hundred.
    head = _head_within(primary, needed)
    if head is not None:
        order = head[np.lexsort((video_ids[rows[head]], primary[head]))]
        result = take_unexcluded(request, rows[order], scores[order], quota)
        if len(result.rows) >= quota:
            return result
    order = np.lexsort((video_ids[rows], primary))
    return take_unexcluded(request, rows[order], scores[order], quota)


def recency(created_ts: np.ndarray, now: float, half_life_hours: float) -> np.ndarray:
    age_hours = np.maximum(now - created_ts, 0.0) / 3600.0
    return np.exp2(-age_hours / half_life_hours)
