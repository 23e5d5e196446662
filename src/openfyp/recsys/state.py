"""The online serving state: the catalog of recommendable videos, their running stats, and each viewer's state.

Everything here is derived from the store and the event log and updates from new events without any
retraining, so a viewer's next page already reflects what they just watched. The real-time work extends
``ViewerState`` (online embeddings, traffic pools) by subclassing it and passing the class to
``ViewerStateStore``.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from openfyp.recsys.event_batch import KINDS, EventBatch, EventRecord, code_of, kind_codes, kind_table
from openfyp.recsys.signals import EngagementTally, SignalWeights, grade

MAX_TAGS = 8  # hashtags per video kept for features; captions rarely carry more that matter
NEWEST_ROWS_CACHED = 8192  # (hashtag or sound, count) arrays Catalog.newest_rows keeps, a few MB at most


@dataclass(frozen=True)
class VideoRecord:
    video_id: int
    creator_id: int
    created_ts: float
    sound_id: int | None = None
    duration_s: float | None = None
    adult_only: bool = False
    hashtag_ids: tuple[int, ...] = ()
    eligible: bool = True  # ready, public, not removed or restricted, not deleted


@dataclass(frozen=True)
class PreparedUpsert:
    """An upsert's columns, one entry per record (see ``Catalog.prepare``); ``rows`` is -1 for new videos."""

    size: int  # the catalog's size when prepared
    ids: np.ndarray
    rows: np.ndarray
    creator_ids: np.ndarray
    created_ts: np.ndarray
    sound_ids: np.ndarray
    duration_s: np.ndarray
    adult_only: np.ndarray
    eligible: np.ndarray
    hashtags: np.ndarray


class Catalog:
    """Column arrays over this region's recommendable videos; row numbers are stable for the catalog's life.

    Rows are appended (never reordered), so per-creator, per-hashtag and per-sound row lists stay in upload
    order with the newest last, which the fresh and affinity sources rely on.
    """

    def __init__(self, region: str, capacity: int = 1024) -> None:
        self.region = region
        self.size = 0
        self._capacity = 0
        self.video_ids = np.zeros(0, dtype=np.int64)
        self.creator_ids = np.zeros(0, dtype=np.int64)
        self.sound_ids = np.zeros(0, dtype=np.int64)
        self.created_ts = np.zeros(0, dtype=np.float64)
        self.duration_s = np.zeros(0, dtype=np.float32)
        self.adult_only = np.zeros(0, dtype=bool)
        self.eligible = np.zeros(0, dtype=bool)
        self.hashtags = np.full((0, MAX_TAGS), -1, dtype=np.int64)
        self.row_of: dict[int, int] = {}
        self.by_creator: dict[int, list[int]] = {}
        self.by_hashtag: dict[int, list[int]] = {}
        self.by_sound: dict[int, list[int]] = {}
        self.creator_names: dict[int, str] = {}
        self.hashtag_names: dict[int, str] = {}
        self.sound_titles: dict[int, str] = {}
        self.version = 0  # bumped on every change, so caches know when to recompute
        # (group, key, count) -> (list length when read, its newest ``count`` rows as an array): see newest_rows.
        self._newest: dict[tuple[str, int, int], tuple[int, np.ndarray]] = {}
        self._grow(capacity)

    def _grow(self, needed: int) -> None:
        if needed <= self._capacity:
            return
        capacity = max(needed, 2 * self._capacity, 1024)

        def grown(array: np.ndarray, fill) -> np.ndarray:
            out = np.full((capacity,) + array.shape[1:], fill, dtype=array.dtype)
            out[: self.size] = array[: self.size]
            return out

        self.video_ids = grown(self.video_ids, 0)
        self.creator_ids = grown(self.creator_ids, -1)
        self.sound_ids = grown(self.sound_ids, -1)
        self.created_ts = grown(self.created_ts, 0.0)
        self.duration_s = grown(self.duration_s, 0.0)
        self.adult_only = grown(self.adult_only, False)
        self.eligible = grown(self.eligible, False)
        self.hashtags = grown(self.hashtags, -1)
        self._capacity = capacity

    def __len__(self) -> int:
        return self.size

    @classmethod
    def from_arrays(cls, region: str, video_ids: np.ndarray, creator_ids: np.ndarray, created_ts: np.ndarray, *,
                    sound_ids: np.ndarray | None = None, duration_s: np.ndarray | None = None,
                    adult_only: np.ndarray | None = None, eligible: np.ndarray | None = None,
                    hashtags: np.ndarray | None = None) -> Catalog:
        """A catalog in one go from columns (ordered oldest first): millions of videos in about a second."""
        n = len(video_ids)
        catalog = cls(region, capacity=n)
        catalog.size = n
        catalog.video_ids[:n] = video_ids
        catalog.creator_ids[:n] = creator_ids
        catalog.created_ts[:n] = created_ts
        catalog.sound_ids[:n] = sound_ids if sound_ids is not None else -1
        catalog.duration_s[:n] = duration_s if duration_s is not None else 0.0
        catalog.adult_only[:n] = adult_only if adult_only is not None else False
        catalog.eligible[:n] = eligible if eligible is not None else True
        if hashtags is not None:
            catalog.hashtags[:n, : hashtags.shape[1]] = hashtags[:, :MAX_TAGS]
        catalog.row_of = dict(zip(np.asarray(video_ids).tolist(), range(n)))
        catalog.by_creator = _group_rows(catalog.creator_ids[:n])
        catalog.by_sound = _group_rows(catalog.sound_ids[:n])
        flat_rows = np.repeat(np.arange(n), MAX_TAGS)
        flat_tags = catalog.hashtags[:n].ravel()
        catalog.by_hashtag = _group_rows(flat_tags, flat_rows)
        catalog.version += 1
        return catalog

    def upsert(self, records: Iterable[VideoRecord]) -> list[int]:
        """Add new videos and update known ones; returns the rows that were added.

        Column by column rather than record by record: a full reload re-reads every video of the region, and
        at a million videos a per-record loop held the serving lock for seconds. The indexes get what a
        record-by-record pass gives them: new rows appended in record order per creator, sound and hashtag, and
        an updated row appended to the lists of the hashtags it did not have."""
        records = list(records)
        ids = [record.video_id for record in records]
        if len(set(ids)) < len(ids):  # the same video twice in one batch: one after the other, as given
            return [row for record in records for row in self.upsert([record])]
        return self.apply(self._prepare_distinct(records))

    def prepare(self, records: Sequence[VideoRecord]) -> PreparedUpsert:
        """The columns of an upsert of ``records`` (distinct videos), worked out without changing the catalog:
        a catalog writer prepares outside the serving lock and applies under it. Valid until the catalog
        gains rows some other way."""
        if len({record.video_id for record in records}) < len(records):
            raise ValueError("prepare() takes distinct videos; upsert() takes any")
        return self._prepare_distinct(records)

    def _prepare_distinct(self, records: Sequence[VideoRecord]) -> PreparedUpsert:
        n = len(records)
        ids = np.fromiter((r.video_id for r in records), np.int64, count=n)
        tags = np.full((n, MAX_TAGS), -1, dtype=np.int64)
        for index, record in enumerate(records):
            if record.hashtag_ids:
                kept = record.hashtag_ids[:MAX_TAGS]
                tags[index, : len(kept)] = kept
        return PreparedUpsert(
            size=self.size, ids=ids,
            rows=np.fromiter((self.row_of.get(video_id, -1) for video_id in ids.tolist()), np.int64, count=n),
            creator_ids=np.fromiter((r.creator_id for r in records), np.int64, count=n),
            created_ts=np.fromiter((r.created_ts for r in records), np.float64, count=n),
            sound_ids=np.fromiter((-1 if r.sound_id is None else r.sound_id for r in records), np.int64, count=n),
            duration_s=np.fromiter((r.duration_s or 0.0 for r in records), np.float32, count=n),
            adult_only=np.fromiter((r.adult_only for r in records), bool, count=n),
            eligible=np.fromiter((r.eligible for r in records), bool, count=n), hashtags=tags)

    def apply(self, batch: PreparedUpsert) -> list[int]:
        """Write a prepared upsert; returns the rows added."""
        if batch.size != self.size:
            raise ValueError("the catalog changed since this upsert was prepared")
        rows, new = batch.rows.copy(), batch.rows < 0
        fresh = np.flatnonzero(new)
        added = np.arange(self.size, self.size + len(fresh))
        if len(fresh):
            self._grow(self.size + len(fresh))
            rows[fresh] = added
            self.size += len(fresh)
            self.video_ids[added] = batch.ids[fresh]
            self.creator_ids[added] = batch.creator_ids[fresh]
            self.created_ts[added] = batch.created_ts[fresh]
            self.row_of.update(zip(batch.ids[fresh].tolist(), added.tolist()))
        self.sound_ids[rows] = batch.sound_ids
        self.duration_s[rows] = batch.duration_s
        self.adult_only[rows] = batch.adult_only
        self.eligible[rows] = batch.eligible
        tags = batch.hashtags
        joining = tags >= 0  # a new row joins the list of each of its tags; a known row, of the tags it lacked
        known = np.flatnonzero(~new)
        if len(known):
            before = self.hashtags[rows[known]]
            differ = (tags[known] != before).any(axis=1)
            joining[known[~differ]] = False
            changed = known[differ]
            if len(changed):
                had = (tags[changed][:, :, None] == before[differ][:, None, :]).any(axis=2)
                joining[changed] &= ~had
        self.hashtags[rows] = tags
        order, slot = np.nonzero(joining)  # record order, then tag order within a record
        for tag, run in _runs_in_order(tags[order, slot], rows[order]):
            self.by_hashtag.setdefault(tag, []).extend(run)
        for creator, run in _runs_in_order(batch.creator_ids[fresh], added):
            self.by_creator.setdefault(creator, []).extend(run)
        for sound, run in _runs_in_order(batch.sound_ids[fresh], added):
            self.by_sound.setdefault(sound, []).extend(run)
        self.version += 1
        return added.tolist()

    def set_eligible(self, video_id: int, eligible: bool) -> None:
        row = self.row_of.get(video_id)
        if row is not None and bool(self.eligible[row]) != eligible:
            self.eligible[row] = eligible
            self.version += 1

    def rows_of(self, video_ids: Iterable[int]) -> np.ndarray:
        lookup = self.row_of.get
        if isinstance(video_ids, np.ndarray):  # tolist() gives Python ints in one C pass
            return np.fromiter((lookup(v, -1) for v in video_ids.ravel().tolist()), dtype=np.int64,
                               count=video_ids.size)
        return np.fromiter((lookup(int(v), -1) for v in video_ids), dtype=np.int64)

    def newest_rows(self, group: str, key: int, count: int) -> np.ndarray:
        """The newest ``count`` rows of a hashtag, sound or creator (``group``), oldest first, as an int64 array.

        Those lists only ever grow at the end, so an array read from one stays right while its length is
        unchanged: requests reuse it instead of converting the same few hundred Python ints every time.
        """
        groups = {"hashtag": self.by_hashtag, "sound": self.by_sound, "creator": self.by_creator}[group]
        rows = groups.get(key)
        if not rows:
            return np.zeros(0, dtype=np.int64)
        cache_key = (group, key, count)
        cached = self._newest.get(cache_key)
        if cached is not None and cached[0] == len(rows):
            return cached[1]
        if len(self._newest) >= NEWEST_ROWS_CACHED:
            self._newest.clear()
        tail = np.asarray(rows[-count:], dtype=np.int64)
        tail.setflags(write=False)  # shared by every request that reads it
        self._newest[cache_key] = (len(rows), tail)
        return tail

    def hashtags_of(self, row: int) -> list[int]:
        return [t for t in self.hashtags[row].tolist() if t >= 0]


def _runs_in_order(keys: np.ndarray, rows: np.ndarray) -> list[tuple[int, list[int]]]:
    """``(key, [rows in their given order])`` for every non-negative key (a stable grouping)."""
    keep = keys >= 0
    keys, rows = keys[keep], rows[keep]
    order = np.argsort(keys, kind="stable")
    keys, rows = keys[order], rows[order]
    bounds = np.flatnonzero(np.diff(keys)) + 1
    starts = [0, *bounds.tolist()] if len(keys) else []
    ends = [*bounds.tolist(), len(keys)] if len(keys) else []
    key_list, row_list = keys.tolist(), rows.tolist()
    return [(key_list[a], row_list[a:b]) for a, b in zip(starts, ends)]


def _group_rows(keys: np.ndarray, rows: np.ndarray | None = None) -> dict[int, list[int]]:
    """``{key: [rows in ascending order]}`` for every non-negative key (``rows``, if given, ascending)."""
    return dict(_runs_in_order(keys, np.arange(len(keys)) if rows is None else rows))


# ---- per-video running stats ---------------------------------------------------------------------------

STAT_COLUMNS = ("impressions", "plays", "completes", "skips", "early_skips", "likes", "shares", "comments",
                "follows", "saves", "not_interested", "watch_sum", "watch_n")


def engagement_weight(kind: str, watch_ratio: float | None, weights: SignalWeights) -> float:
    """How much one event adds to a video's trending score, in the units of the signal weights."""
    if kind in ("like", "share", "comment", "follow", "save"):
        return float(getattr(weights, kind))
    if kind == "complete":
        return weights.watch + weights.finish_bonus
    if kind == "replay":
        return weights.rewatch_bonus
    if kind == "play":
        return 0.25 * weights.watch
    if kind == "skip":
        ratio = watch_ratio or 0.0
        return weights.early_skip * 0.25 if ratio < weights.early_skip_ratio else 0.0
    if kind == "not_interested":
        return weights.not_interested * 0.25
    return 0.0


def engagement_weights(codes: np.ndarray, ratios: np.ndarray, weights: SignalWeights) -> np.ndarray:
    """:func:`engagement_weight` of many events at once (kind codes, watch ratios with NaN for none)."""
    table = _weight_tables.get(weights)
    if table is None:
        table = _weight_tables[weights] = kind_table({
            kind: engagement_weight(kind, None, weights) for kind in KINDS if kind != "skip"})
    out = table[codes]
    skip = codes == code_of("skip")
    if skip.any():
        early = np.nan_to_num(ratios[skip], nan=0.0) < weights.early_skip_ratio
        out[skip] = np.where(early, weights.early_skip * 0.25, 0.0)
    return out


_weight_tables: dict[SignalWeights, np.ndarray] = {}


class VideoStats:
    """Counters and a time-decayed trending score per catalog row, updated event by event.

    The trending score of a row at time ``t`` is ``acc × 2^(-(t - ref)/half_life)``; every row shares the
    reference time, so ordering rows by ``acc`` orders them by their decayed score without touching them all.
    """

    def __init__(self, catalog: Catalog, half_life_hours: float = 24.0, weights: SignalWeights | None = None) -> None:
        self.catalog = catalog
        self.weights = weights or SignalWeights()
        self.half_life_s = half_life_hours * 3600.0
        self.ref_ts: float | None = None
        self.columns: dict[str, np.ndarray] = {name: np.zeros(0, dtype=np.float64) for name in STAT_COLUMNS}
        self.trend_acc = np.zeros(0, dtype=np.float64)
        self.last_ts = 0.0
        self._top_cache: tuple[float, int, int, np.ndarray] | None = None
        self._ensure()

    def _ensure(self) -> None:
        n = len(self.catalog.video_ids)
        if len(self.trend_acc) >= n:
            return
        for name, column in self.columns.items():
            grown = np.zeros(n, dtype=np.float64)
            grown[: len(column)] = column
            self.columns[name] = grown
        grown = np.zeros(n, dtype=np.float64)
        grown[: len(self.trend_acc)] = self.trend_acc
        self.trend_acc = grown

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def apply(self, rows: np.ndarray, kinds: Sequence[str] | np.ndarray, ratios: np.ndarray, ts: np.ndarray) -> None:
        """Fold events into the counters (``rows`` are catalog rows; unknown rows, ``-1``, are skipped).

        ``kinds`` are kind names or their codes (:mod:`openfyp.recsys.event_batch`).
        """
        self._ensure()
        rows = np.asarray(rows, dtype=np.int64)
        keep = rows >= 0
        if not keep.any():
            return
        codes = kind_codes(kinds)
        ratios, ts = np.asarray(ratios, dtype=np.float64), np.asarray(ts, np.float64)
        if not keep.all():
            rows, codes, ratios, ts = rows[keep], codes[keep], ratios[keep], ts[keep]
        w = self.weights
        col = self.columns
        for code, name in self._COUNTED:
            mask = codes == code
            if mask.any():
                np.add.at(col[name], rows[mask], 1.0)
        is_skip = codes == self._SKIP
        ratio_or_zero = np.nan_to_num(ratios, nan=0.0)
        early = is_skip & (ratio_or_zero < w.early_skip_ratio)
        if early.any():
            np.add.at(col["early_skips"], rows[early], 1.0)
        is_complete = codes == self._COMPLETE
        finished_view = is_complete | is_skip
        if finished_view.any():
            ratio = np.where(is_complete, np.where(np.isnan(ratios), 1.0, ratios), ratio_or_zero)
            np.add.at(col["watch_sum"], rows[finished_view], np.minimum(ratio[finished_view], w.max_watch_ratio))
            np.add.at(col["watch_n"], rows[finished_view], 1.0)
        weights = engagement_weights(codes, ratios, w)
        nonzero = weights != 0
        if nonzero.any():
            newest = float(ts.max())
            if self.ref_ts is None:
                self.ref_ts = newest
            elif (newest - self.ref_ts) / self.half_life_s > 400:
                self._rebase(newest)
            np.add.at(self.trend_acc, rows[nonzero],
                      weights[nonzero] * np.exp2((ts[nonzero] - self.ref_ts) / self.half_life_s))
        self.last_ts = max(self.last_ts, float(ts.max()))

    _COUNTED = tuple((code_of(kind), name) for kind, name in (
        ("impression", "impressions"), ("play", "plays"), ("complete", "completes"), ("like", "likes"),
        ("share", "shares"), ("comment", "comments"), ("follow", "follows"), ("save", "saves"),
        ("not_interested", "not_interested"), ("skip", "skips")))
    _SKIP = code_of("skip")
    _COMPLETE = code_of("complete")

    def _rebase(self, new_ref: float) -> None:
        self.trend_acc *= np.exp2(-(new_ref - self.ref_ts) / self.half_life_s)
        self.ref_ts = new_ref

    def trending_at(self, rows: np.ndarray, now: float) -> np.ndarray:
        """Decayed trending scores of ``rows`` at ``now`` (never negative)."""
        self._ensure()
        if self.ref_ts is None:
            return np.zeros(len(rows))
        scale = math.exp2(-(now - self.ref_ts) / self.half_life_s)
        return np.maximum(self.trend_acc[rows] * scale, 0.0)

    def top_trending(self, k: int, now: float, max_age_s: float = 5.0) -> np.ndarray:
        """Eligible rows with the highest trending score, best first (cached for ``max_age_s``)."""
        self._ensure()
        cache = self._top_cache
        if cache is not None and now - cache[0] < max_age_s and cache[1] == self.catalog.version and cache[2] >= k:
            return cache[3][:k]
        n = self.catalog.size
        scores = np.where(self.catalog.eligible[:n], self.trend_acc[:n], -np.inf)
        scores = np.where(scores > 0, scores, -np.inf)
        want = min(max(k, 256), n)
        if want == 0:
            top = np.zeros(0, dtype=np.int64)
        else:
            part = np.argpartition(-scores, want - 1)[:want] if want < n else np.arange(n)
            part = part[np.isfinite(scores[part])]
            top = part[np.lexsort((part, -scores[part]))]
        self._top_cache = (now, self.catalog.version, want, top)
        return top[:k]

    def invalidate(self) -> None:
        self._top_cache = None
        self._priors = None

    def priors(self, now: float, max_age_s: float = 5.0) -> dict[str, float]:
        """Catalog-wide rates that smooth the rates of videos with little evidence (cached briefly)."""
        cached = getattr(self, "_priors", None)
        if cached is not None and now - cached[0] < max_age_s:
            return cached[1]
        self._ensure()
        n = self.catalog.size
        col = {name: float(values[:n].sum()) for name, values in self.columns.items()}
        views = max(col["plays"], col["completes"] + col["skips"])
        denominator = views + 20.0

        def rate(count: float, default: float) -> float:
            return (col[count] + 20.0 * default) / denominator

        priors = {"completion": rate("completes", 0.3), "like": rate("likes", 0.05), "share": rate("shares", 0.01),
                  "comment": rate("comments", 0.01), "follow": rate("follows", 0.005),
                  "early_skip": rate("early_skips", 0.2),
                  "watch": (col["watch_sum"] + 20.0 * 0.5) / (col["watch_n"] + 20.0)}
        self._priors = (now, priors)
        return priors


# ---- per-viewer state ------------------------------------------------------------------------------------


class ViewerStateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    affinity_half_life_days: float = Field(7.0, gt=0)
    max_tracked_videos: int = Field(500, ge=10, description="Per-video tallies kept for grading.")
    max_completions: int = Field(50, ge=1)
    max_negatives: int = Field(100, ge=1)
    signals: SignalWeights = SignalWeights()


class DecayingScores:
    """Keyed scores that halve every ``half_life_s``, stored as (value, as-of time) and decayed when read."""

    __slots__ = ("half_life_s", "values", "_snapshot", "_columns")

    def __init__(self, half_life_s: float) -> None:
        self.half_life_s = half_life_s
        self.values: dict[int, tuple[float, float]] = {}
        self._snapshot: tuple[float, np.ndarray, np.ndarray] | None = None
        # (keys sorted, their values, their as-of times): what ``arrays`` decays; kept until the next change.
        self._columns: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def add(self, key: int, delta: float, ts: float) -> None:
        value, as_of = self.values.get(key, (0.0, ts))
        self.values[key] = (value * math.exp2(-max(ts - as_of, 0.0) / self.half_life_s) + delta, max(ts, as_of))
        self._snapshot = None
        self._columns = None

    def arrays(self, now: float) -> tuple[np.ndarray, np.ndarray]:
        """Keys (sorted) and their decayed scores at ``now``, as arrays; cached until the next change.

        Every request has a later ``now``: only the decay is recomputed then, not the arrays from the dict."""
        cached = self._snapshot
        if cached is not None and cached[0] == now:
            return cached[1], cached[2]
        columns = self._columns
        if columns is None:
            keys = np.fromiter(self.values.keys(), dtype=np.int64, count=len(self.values))
            raw = np.array([v for v, _ in self.values.values()], dtype=np.float64)
            as_of = np.array([t for _, t in self.values.values()], dtype=np.float64)
            order = keys.argsort()
            columns = self._columns = (keys[order], raw[order], as_of[order])
        keys, raw, as_of = columns
        scores = raw * np.exp2(-np.maximum(now - as_of, 0.0) / self.half_life_s) if len(keys) else raw
        self._snapshot = (now, keys, scores)
        return keys, scores

    def get(self, key: int, now: float) -> float:
        item = self.values.get(key)
        if item is None:
            return 0.0
        return item[0] * math.exp2(-max(now - item[1], 0.0) / self.half_life_s)

    def snapshot(self, now: float) -> dict[int, float]:
        return {key: self.get(key, now) for key in self.values}

    def top(self, k: int, now: float) -> list[tuple[int, float]]:
        """The ``k`` keys with the highest positive scores, best first (ties: smaller key first)."""
        keys, scores = self.arrays(now)
        positive = scores > 0
        keys, scores = keys[positive], scores[positive]
        order = np.lexsort((keys, -scores))[:k]
        return list(zip(keys[order].tolist(), scores[order].tolist()))


class ViewerState:
    """What the engine knows about one viewer right now, derived from their events.

    ``apply`` grades each (viewer, video) pair with :mod:`openfyp.recsys.signals` and moves the creator,
    hashtag and sound affinities by the change in grade, so a finished watch, a like or a "not interested"
    shifts the profile the moment its event is read.
    """

    def __init__(self, user_id: int, config: ViewerStateConfig, since_ts: float | None = None) -> None:
        self.user_id = user_id
        self.config = config
        self.since_ts = since_ts
        half_life = config.affinity_half_life_days * 86400.0
        self.creator_affinity = DecayingScores(half_life)
        self.hashtag_affinity = DecayingScores(half_life)
        self.sound_affinity = DecayingScores(half_life)
        self.tallies: OrderedDict[int, EngagementTally] = OrderedDict()
        self.grades: dict[int, float] = {}
        self.seen: set[int] = set()
        self.completions: deque[tuple[float, int]] = deque(maxlen=config.max_completions)
        # (ts, video_id, strength): 1.0 for "not interested", early_skip_factor-scaled for early skips.
        self.negatives: deque[tuple[float, int, str]] = deque(maxlen=config.max_negatives)
        self.counts = {"events": 0, "plays": 0, "completes": 0, "likes": 0}
        self.last_seq = 0
        self.last_ts = 0.0
        self.version = 0  # bumped on every change; caches such as the folded-in user vector key on it
        self.cache: dict[str, object] = {}

    @property
    def has_signals(self) -> bool:
        return bool(self.grades)

    def apply(self, event: EventRecord, catalog: Catalog) -> None:
        if event.video_id is None or event.user_id != self.user_id:
            return
        if self.since_ts is not None and event.ts < self.since_ts:
            return
        if event.seq and event.seq in self._recent_seqs():
            return  # the same event read twice (the log tail overlaps on purpose)
        video_id = int(event.video_id)
        weights = self.config.signals
        self.seen.add(video_id)
        tally = self.tallies.get(video_id)
        if tally is None:
            tally = EngagementTally()
            self.tallies[video_id] = tally
            if len(self.tallies) > self.config.max_tracked_videos:
                self.tallies.popitem(last=False)
        else:
            self.tallies.move_to_end(video_id)
        before = self.grades.get(video_id, 0.0)
        was_finished = tally.max_watch_ratio >= weights.finished_ratio
        tally.add(event.kind, event.watch_ratio, event.ts)
        after = grade(tally, weights)
        self.grades[video_id] = after
        finished = tally.max_watch_ratio >= weights.finished_ratio
        if finished and not was_finished:
            self.completions.append((event.ts, video_id))
        if event.kind == "not_interested":
            self.negatives.append((event.ts, video_id, "not_interested"))
        elif event.kind == "skip" and (event.watch_ratio or 0.0) < weights.early_skip_ratio:
            self.negatives.append((event.ts, video_id, "early_skip"))
        self.counts["events"] += 1
        if event.kind == "play":
            self.counts["plays"] += 1
        if finished and not was_finished:
            self.counts["completes"] += 1
        if event.kind == "like":
            self.counts["likes"] += 1
        delta = after - before
        row = catalog.row_of.get(video_id)
        if delta != 0.0 and row is not None:
            self.creator_affinity.add(int(catalog.creator_ids[row]), delta, event.ts)
            for tag in catalog.hashtags_of(row):
                self.hashtag_affinity.add(tag, delta, event.ts)
            sound = int(catalog.sound_ids[row])
            if sound >= 0:
                self.sound_affinity.add(sound, delta, event.ts)
        self._remember_seq(event.seq)
        self.last_seq = max(self.last_seq, event.seq or 0)
        self.last_ts = max(self.last_ts, event.ts)
        self.version += 1

    def _recent_seqs(self) -> set[int]:
        return self.cache.setdefault("_seqs", set())  # type: ignore[return-value]

    def _remember_seq(self, seq: int) -> None:
        if not seq:
            return
        seqs = self._recent_seqs()
        seqs.add(seq)
        if len(seqs) > 4096:
            for old in sorted(seqs)[:2048]:
                seqs.discard(old)

    def positive_history(self, limit: int = 200) -> list[tuple[int, float]]:
        """The most recent videos with a positive grade, newest last: the input to the user-vector fold-in."""
        items = [(video, self.grades[video]) for video in self.tallies if self.grades.get(video, 0.0) > 0]
        return items[-limit:]

    def viewer_stats(self) -> tuple[float, float, float]:
        """log(1 + events), smoothed completion rate and like rate."""
        plays = max(self.counts["plays"], self.counts["completes"])
        completion = (self.counts["completes"] + 1.0) / (plays + 3.0)
        like_rate = (self.counts["likes"] + 0.1) / (plays + 3.0)
        return math.log1p(self.counts["events"]), completion, like_rate


StateLoader = Callable[[int, float | None], list[EventRecord]]


class ViewerStateStore:
    """An LRU cache of viewer states: built from the viewer's own events on first use, then kept current.

    ``apply`` routes each new event to the state of its viewer when that viewer is cached; a viewer not
    cached is simply loaded fresh (with every event so far) on their next request.
    """

    def __init__(self, loader: StateLoader, config: ViewerStateConfig | None = None, capacity: int = 50_000,
                 state_class: type[ViewerState] = ViewerState) -> None:
        self.loader = loader
        self.config = config or ViewerStateConfig()
        self.capacity = capacity
        self.state_class = state_class
        self._states: OrderedDict[int, ViewerState] = OrderedDict()
        self._lock = threading.RLock()

    def cached(self, user_id: int, since_ts: float | None = None) -> ViewerState | None:
        with self._lock:
            state = self._states.get(user_id)
            if state is not None and state.since_ts == since_ts:
                self._states.move_to_end(user_id)
                return state
            return None

    def build(self, user_id: int, since_ts: float | None, events: Sequence[EventRecord],
              catalog: Catalog) -> ViewerState:
        """A fresh state from the viewer's events so far, cached for the next requests."""
        state = self.state_class(user_id, self.config, since_ts)
        for event in events:
            state.apply(event, catalog)
        self.put(state)
        return state

    def get(self, user_id: int, catalog: Catalog, since_ts: float | None = None) -> ViewerState:
        state = self.cached(user_id, since_ts)
        if state is None:
            state = self.build(user_id, since_ts, self.loader(user_id, since_ts), catalog)
        return state

    def put(self, state: ViewerState) -> None:
        with self._lock:
            self._states[state.user_id] = state
            self._states.move_to_end(state.user_id)
            while len(self._states) > self.capacity:
                self._states.popitem(last=False)

    def apply(self, events: Sequence[EventRecord] | EventBatch, catalog: Catalog) -> None:
        with self._lock:
            states = self._states
            if not states:
                return
            if isinstance(events, EventBatch):
                # Only the events of viewers in memory become records (most ingested events are not theirs).
                for index, user_id in enumerate(events.user.tolist()):
                    state = states.get(user_id)
                    if state is not None:
                        state.apply(events.record(index), catalog)
                return
            for event in events:
                if event.user_id is None:
                    continue
                state = states.get(event.user_id)
                if state is not None:
                    state.apply(event, catalog)

    def forget(self, user_id: int) -> None:
        with self._lock:
            self._states.pop(user_id, None)

    def __len__(self) -> int:
        return len(self._states)


@dataclass
class ViewerRelations:
    """The viewer's explicit choices the feed must honour, read fresh from the store for each request."""

    following: frozenset[int] = frozenset()
    blocked_creators: frozenset[int] = frozenset()  # blocked by the viewer or blocking the viewer
    not_interested_videos: frozenset[int] = frozenset()
    not_interested_creators: frozenset[int] = frozenset()
    not_interested_sounds: frozenset[int] = frozenset()
    extra: dict[str, object] = field(default_factory=dict)
