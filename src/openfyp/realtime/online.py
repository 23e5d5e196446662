"""The online state of the For You engine, kept current by the online learner event by event.

For every batch of events, in log order, under the engine's lock:

1. the engine's own state: per-video running stats (impressions, completion, like rate, trending) and
   each cached viewer's state (affinities, seen set, fatigue), via ``engine.observe``;
2. online matrix factorisation on top of the served model: one gradient step per engagement for the viewer's
   vector and the video's vector, in collision-free embedding tables with a frequency filter (a video
   uses its features' embedding, a viewer their folded-in history, until they have enough events). A
   video's learned vector replaces its served one at once; the retrieval index is refreshed every
   ``index_refresh_seconds``;
3. co-watch neighbours from finishes since the model was trained (:class:`OnlineCoWatch`);
4. traffic pools: new uploads enter the first pool and are judged as their views come in.

The state is *based on* a model version: a newer model brings vectors (and a trained co-watch index) in a
different space, so the learned parts start over from that model and the learner replays the events since
the end of the model's training range into them (``base()`` tells the learner where that is).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from itertools import repeat
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from openfyp.events.schema import Event
from openfyp.realtime.cowatch import OnlineCoWatch, OnlineCoWatchConfig
from openfyp.realtime.embedding_table import EmbeddingTable, EmbeddingTableConfig
from openfyp.realtime.pools import PoolConfigError, PoolSettings, TrafficPools, views_of
from openfyp.recsys.event_batch import EventBatch, kind_table
from openfyp.recsys.signals import SignalWeights

log = logging.getLogger(__name__)

HEURISTIC_BASE = "heuristic"
POSITIVE_KINDS = {"like": 2.0, "share": 2.0, "save": 2.0, "follow": 2.0, "complete": 1.0, "replay": 1.0}
_POSITIVE_STRENGTH = kind_table(POSITIVE_KINDS)
CHUNK = 1000  # events applied per hold of the engine lock, so requests are never kept waiting long


class OnlineLearningConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    users: EmbeddingTableConfig = EmbeddingTableConfig(min_count=3, max_ids=5_000_000)
    videos: EmbeddingTableConfig = EmbeddingTableConfig(min_count=5, max_ids=5_000_000)
    user_learning_rate: float = Field(0.05, gt=0, le=1)
    video_learning_rate: float = Field(0.02, gt=0, le=1)
    regularization: float = Field(0.01, ge=0, le=1)
    negative_weight: float = Field(0.5, ge=0)
    index_refresh_seconds: float = Field(1.0, ge=0)
    expire_every_seconds: float = Field(600.0, gt=0)
    cowatch: OnlineCoWatchConfig = OnlineCoWatchConfig()
    signals: SignalWeights = SignalWeights()


class OnlineState:
    """The learner's consumer for one :class:`openfyp.recsys.engine.ForYouEngine`."""

    def __init__(self, engine: Any, config: OnlineLearningConfig | None = None) -> None:
        self.engine = engine
        self.config = config or OnlineLearningConfig()
        self.cowatch = OnlineCoWatch(self.config.cowatch)
        self.pools = TrafficPools(self._pool_settings())
        self.users: EmbeddingTable | None = None
        self.videos: EmbeddingTable | None = None
        self.model_version: str | None = None
        self.pool_rows_seen = 0
        self.updates = 0
        self._dirty_rows: set[int] = set()
        self._last_refresh = time.monotonic()
        self._last_expiry = time.monotonic()
        self._bind_model()

    # ---- the learner's consumer protocol -------------------------------------------------------------------
    def base(self) -> tuple[str, int]:
        artifact = getattr(self.engine, "artifact", None)
        if artifact is None or self.engine.models is None:
            return HEURISTIC_BASE, 0
        return f"model:{artifact.version}", int(artifact.manifest.event_seq_to)

    def reset(self) -> None:
        """Start the learned parts over on the engine's current model (the pools carry on)."""
        with self.engine._lock:
            self.cowatch.clear()
            self._bind_model()

    def apply(self, events: Sequence[Event]) -> None:
        for start in range(0, len(events), CHUNK):
            batch = EventBatch.from_events(events[start:start + CHUNK])
            with self.engine._lock:
                self.engine.observe(batch)
                self._sync_pool_settings()
                self.sync_catalog()
                self._learn_cowatch(batch)
                self._learn_embeddings(batch)
                self._judge_pools(batch)
        self._maintain()

    def snapshot(self) -> dict[str, np.ndarray]:
        with self.engine._lock:
            arrays: dict[str, np.ndarray] = dict(self.cowatch.to_arrays())
            catalog = self.engine.catalog
            n = catalog.size
            arrays.update(self.pools.to_arrays(n))
            arrays["pool_video_ids"] = catalog.video_ids[:n].copy()
            for name, table in (("users", self.users), ("videos", self.videos)):
                if table is not None:
                    arrays.update({f"{name}_{key}": value for key, value in table.to_arrays().items()})
            return arrays

    def restore(self, arrays: Mapping[str, np.ndarray]) -> None:
        with self.engine._lock:
            self._bind_model()
            self.cowatch.restore(arrays)
            rows = self.engine.catalog.rows_of(arrays["pool_video_ids"])
            self.pools.restore(arrays, rows)
            self.pool_rows_seen = 0  # rows added since the snapshot enter the pools on the next sync
            for name in ("users", "videos"):
                if f"{name}_ids" in arrays and self.model_version is not None:
                    config = getattr(self.config, name).model_copy(update={"dim": self.engine.models.dim})
                    table = EmbeddingTable.from_arrays(
                        {key[len(name) + 1:]: value for key, value in arrays.items() if key.startswith(f"{name}_")},
                        config, name=name)
                    setattr(self, name, table)
            if self.videos is not None:
                self._publish_videos(self.videos.to_arrays()["vector_ids"])

    # ---- the learned parts ---------------------------------------------------------------------------------
    def _bind_model(self) -> None:
        models = self.engine.models
        if models is None or models.dim == 0:
            self.users = self.videos = None
            self.model_version = None
            return
        self.model_version = models.version
        self.users = EmbeddingTable(self.config.users.model_copy(update={"dim": models.dim}), name="users")
        self.videos = EmbeddingTable(self.config.videos.model_copy(update={"dim": models.dim}), name="videos")
        self._dirty_rows.clear()

    def _learn_cowatch(self, batch: EventBatch) -> None:
        finished = (batch.user >= 0) & (batch.video >= 0) & (
            batch.is_kind("complete")
            | (batch.is_kind("watch", "skip", "replay") & (batch.ratio >= self.config.signals.finished_ratio)))
        if not finished.any():
            return
        for user_id, video_id, ts in zip(batch.user[finished].tolist(), batch.video[finished].tolist(),
                                         batch.ts[finished].tolist()):
            self.cowatch.finished(user_id, video_id, ts)

    def _signals(self, batch: EventBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(which events say something about taste, their targets, their weights), over the whole batch."""
        weights = self.config.signals
        positive = _POSITIVE_STRENGTH[batch.kind] > 0
        finished = batch.is_kind("watch", "skip") & (batch.ratio >= weights.finished_ratio)
        negative = batch.is_kind("not_interested") | (
            batch.is_kind("skip") & (np.nan_to_num(batch.ratio, nan=0.0) < weights.early_skip_ratio))
        target = np.where(positive | finished, 1.0, 0.0)
        strength = np.select([positive, finished], [_POSITIVE_STRENGTH[batch.kind], 1.0], self.config.negative_weight)
        says = (positive | finished | negative) & (batch.user >= 0) & (batch.video >= 0)
        return says, target, strength

    def _learn_embeddings(self, batch: EventBatch) -> None:
        models, users, videos = self.engine.models, self.users, self.videos
        if models is None or users is None or videos is None or models.version != self.model_version:
            return
        says, targets, strengths = self._signals(batch)
        catalog_rows = batch.rows(self.engine.catalog)
        says &= catalog_rows >= 0  # videos the catalog holds
        if not says.any():
            return
        user_ids, video_ids, stamps = batch.user[says], batch.video[says], batch.ts[says]
        targets, strengths, catalog_rows = targets[says], strengths[says], catalog_rows[says]
        positives = targets > 0
        liked = (user_ids[positives], catalog_rows[positives])
        user_rows = users.record(user_ids, stamps, init=lambda ids: self._initial_user_vectors(ids, *liked))
        video_rows = videos.record(video_ids, stamps, init=self._serving_vectors)
        both = (user_rows >= 0) & (video_rows >= 0)
        if not both.any():
            return
        ur, vr = user_rows[both], video_rows[both]
        u = users.vectors[ur].astype(np.float64)
        v = videos.vectors[vr].astype(np.float64)
        error = targets[both] - np.einsum("ij,ij->i", u, v)
        reg = self.config.regularization
        scale = strengths[both][:, None] * error[:, None]
        # The video's step shrinks as it accumulates updates, so an established vector stops drifting.
        video_rate = self.config.video_learning_rate / np.sqrt(1.0 + videos.updates[vr] / 50.0)
        users.add(ur, self.config.user_learning_rate * (scale * v - reg * u))
        videos.add(vr, video_rate[:, None] * (scale * u - reg * v))
        self.updates += int(both.sum())
        self._publish_videos(video_ids[both])

    def _initial_user_vectors(self, user_ids: np.ndarray, liked_users: np.ndarray,
                              liked_rows: np.ndarray) -> np.ndarray:
        """A viewer's starting vector: their folded-in history when their state is in memory (a viewer who is
        browsing), else the mean vector of the videos they just engaged with (``liked_users`` engaged with
        catalog row ``liked_rows``), else zeros."""
        models, catalog = self.engine.models, self.engine.catalog
        out = np.zeros((len(user_ids), models.dim), dtype=np.float32)
        position = {}  # user id -> its row of ``out``, for the viewers not folded in
        for i, user_id in enumerate(user_ids.tolist()):
            viewer = self.engine.viewers.cached(user_id)
            vector = models.user_vector(viewer, catalog) if viewer is not None else None
            if vector is not None:
                out[i] = vector
            else:
                position[user_id] = i
        targets = np.fromiter(map(position.get, liked_users.tolist(), repeat(-1)), dtype=np.int64,
                              count=len(liked_users))
        mine = (targets >= 0) & (liked_rows >= 0) & (liked_rows < len(models.table))
        targets, rows = targets[mine], liked_rows[mine]
        if len(targets):
            sums = np.zeros((len(user_ids), models.dim), dtype=np.float64)
            np.add.at(sums, targets, models.table[rows])
            counts = np.bincount(targets, minlength=len(user_ids))
            averaged = counts > 0
            out[averaged] = sums[averaged] / counts[averaged, None]
        return out

    def _serving_vectors(self, video_ids: np.ndarray) -> np.ndarray:
        """A video's starting vector: what serving uses now (trained, or the embedding of its features)."""
        models = self.engine.models
        rows = self.engine.catalog.rows_of(video_ids)
        out = np.zeros((len(video_ids), models.dim), dtype=np.float32)
        inside = (rows >= 0) & (rows < len(models.table))
        out[inside] = models.table[rows[inside]]
        return out

    def _publish_videos(self, video_ids: np.ndarray) -> None:
        """Put learned video vectors where serving reads them; the index follows on the next refresh."""
        models, videos = self.engine.models, self.videos
        if models is None or videos is None or len(video_ids) == 0:
            return
        video_ids = np.unique(np.asarray(video_ids, dtype=np.int64))
        rows = self.engine.catalog.rows_of(video_ids)
        inside = (rows >= 0) & (rows < len(models.table))
        vectors, own = videos.vectors_for(video_ids[inside])
        target_rows = rows[inside][own]
        models.table[target_rows] = vectors[own]
        models.known[target_rows] = True
        self._dirty_rows.update(target_rows.tolist())

    def refresh_index(self) -> int:
        """Re-index the videos whose vectors changed; returns how many."""
        models = self.engine.models
        if models is None or models.index is None or not self._dirty_rows:
            return 0
        rows = np.fromiter(self._dirty_rows, dtype=np.int64, count=len(self._dirty_rows))
        self._dirty_rows.clear()
        replace_in_index(models.index, rows, models.table[rows])
        self._last_refresh = time.monotonic()
        return len(rows)

    # ---- traffic pools -------------------------------------------------------------------------------------
    def _pool_settings(self) -> PoolSettings:
        try:
            return PoolSettings.from_config(self.engine.config.traffic_pools)
        except PoolConfigError as exc:
            log.error("traffic pools disabled: %s", exc.message)
            return PoolSettings()

    def _sync_pool_settings(self) -> None:
        settings = self._pool_settings()
        if settings != self.pools.settings:
            switched_on = settings.enabled and not self.pools.enabled
            self.pools.reconfigure(settings)
            if switched_on:
                self.pool_rows_seen = 0  # the young videos already in the catalog enter the first pool

    def sync_catalog(self) -> None:
        """Young, eligible videos the catalog gained since the last call enter the first pool."""
        catalog = self.engine.catalog
        if not self.pools.enabled:
            self.pool_rows_seen = catalog.size  # pools off: uploads from now on are simply not staged
            return
        if catalog.size <= self.pool_rows_seen:
            return
        rows = np.arange(self.pool_rows_seen, catalog.size, dtype=np.int64)
        self.pool_rows_seen = catalog.size
        max_age_s = self.engine.config.exploration.fresh_max_age_hours * 3600.0
        young = rows[(time.time() - catalog.created_ts[rows] <= max_age_s) & catalog.eligible[rows]]
        self.pools.enter(young)
        self._judge_rows(young)

    def _judge_pools(self, batch: EventBatch) -> None:
        if not self.pools.enabled:
            return
        rows = batch.rows(self.engine.catalog)
        rows = np.unique(rows[rows >= 0])
        if len(rows):
            self._judge_rows(rows)

    def _judge_rows(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        rows = rows[(rows >= 0) & (rows < len(self.pools.status))]
        if len(rows) == 0:
            return
        stats = self.engine.stats
        stats._ensure()
        views = self._views(rows)
        priors = stats.priors(time.time())
        self.pools.judge(rows, views, stats["completes"][rows], stats["likes"][rows],
                         (priors["completion"], priors["like"]))

    def _views(self, rows: np.ndarray) -> np.ndarray:
        stats = self.engine.stats
        return views_of(stats["impressions"][rows], stats["plays"][rows], stats["completes"][rows],
                        stats["skips"][rows])

    def pool_share(self, rows: np.ndarray) -> np.ndarray:
        """For the fresh source: the share of each row's current pool still to be served (0: none)."""
        rows = np.asarray(rows, dtype=np.int64)
        if not self.pools.enabled or len(rows) == 0:
            return np.zeros(len(rows))
        self.engine.stats._ensure()
        return self.pools.remaining_share(rows, self._views(rows))

    def pool_status(self, video_id: int) -> dict[str, Any] | None:
        """What the creator of ``video_id`` sees about its traffic pool (``None`` when not in one)."""
        with self.engine._lock:
            row = self.engine.catalog.row_of.get(int(video_id))
            if row is None or not self.pools.enabled:
                return None
            stats = self.engine.stats
            stats._ensure()
            views = float(self._views(np.array([row]))[0])
            priors = stats.priors(time.time())
            return self.pools.describe(row, views, float(stats["completes"][row]), float(stats["likes"][row]),
                                       (priors["completion"], priors["like"]))

    # ---- serving helpers -----------------------------------------------------------------------------------
    def cowatch_neighbours(self, seeds: Sequence[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
        """Catalog rows co-watched with the seed videos since the model was trained, with their scores."""
        ids, scores = self.cowatch.neighbours_of(seeds)
        if len(ids) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        rows = self.engine.catalog.rows_of(ids)
        keep = rows >= 0
        return rows[keep], scores[keep]

    def user_vector(self, user_id: int) -> np.ndarray | None:
        if self.users is None:
            return None
        return self.users.vector(int(user_id))

    # ---- upkeep --------------------------------------------------------------------------------------------
    def _maintain(self) -> None:
        wall = time.monotonic()
        if self._dirty_rows and wall - self._last_refresh >= self.config.index_refresh_seconds:
            with self.engine._lock:
                self.refresh_index()
        if wall - self._last_expiry >= self.config.expire_every_seconds:
            self._last_expiry = wall
            now = time.time()
            with self.engine._lock:
                for table in (self.users, self.videos):
                    if table is not None:
                        table.expire(now)

    def status(self) -> dict[str, Any]:
        return {
            "base": self.base()[0], "updates": self.updates,
            "users": self.users.stats() if self.users is not None else None,
            "videos": self.videos.stats() if self.videos is not None else None,
            "cowatch_videos": len(self.cowatch), "cowatch_links": self.cowatch.pairs,
            "pools_enabled": self.pools.enabled,
        }


def replace_in_index(index: Any, rows: np.ndarray, vectors: np.ndarray) -> None:
    """Swap the vectors of ``rows`` in a :class:`openfyp.recsys.sources.embedding.VectorIndex`."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) == 0:
        return
    replace = getattr(index, "replace", None)
    if replace is not None:
        replace(rows, vectors)
        return
    removed = index._index.remove_ids(rows)
    index.count -= int(removed)
    index.add(rows, vectors)
