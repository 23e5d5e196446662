"""The For You engine: the long-lived object the platform calls for every For You page.

It owns the serving state (catalog, video stats, viewer states, the loaded models and ranking config),
keeps it current (new events, new and changed videos, new model versions) without a restart, and runs the
pipeline. ``build_feed_engine(services)`` wires it to a deployment's store and event log.

Upkeep has two parts. Reading the tails of the event log (``catch_up``) and of the catalog change log
(``follow_catalog_changes``) stays on every request, so a page always reflects the events already
acknowledged and every eligibility change already committed, by whichever server process. The periodic,
expensive part (catalog refresh and full reload, artifact polling) runs on the engine's maintenance thread
once a deployment starts it (``start_maintenance``, from ``Services.start``), so no request pays for it;
without that thread each request does it itself, throttled, as scripts, tests and offline benchmarks expect.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from openfyp.recsys import artifacts
from openfyp.recsys.contracts import FeedContext, FeedResult, RecsysError
from openfyp.recsys.event_batch import EventBatch
from openfyp.recsys.pipeline import (
    COLD_START,
    PERSONALISED,
    REGIONAL_POPULARITY,
    ForYouPipeline,
    check_inputs,
    rank_logged,
    request_seed,
)
from openfyp.recsys.ranking.config import RankingConfig, load_ranking_config
from openfyp.recsys.ranking.predictors import HEURISTIC_VERSION, HeuristicPredictor, Predictor
from openfyp.recsys.sources import build_sources
from openfyp.recsys.sources.base import SourceRequest
from openfyp.recsys.state import (
    Catalog,
    EventRecord,
    PreparedUpsert,
    VideoRecord,
    VideoStats,
    ViewerRelations,
    ViewerState,
    ViewerStateConfig,
    ViewerStateStore,
)

log = logging.getLogger(__name__)

MAX_PAGE = 100
RECENT_SEQS = 8192  # how many applied seqs are remembered to recognise an event read again
# The maintenance thread never sleeps less than this between rounds, even with zero intervals configured.
MIN_MAINTENANCE_PAUSE_SECONDS = 0.05
# Catalog changes are kept this long: a running process reads them within a page, a starting one reads the
# whole catalog instead.
CATALOG_CHANGES_KEPT_SECONDS = 86_400.0
# Incremental catalog reads look this far behind the newest ready time seen (late commits of other processes).
READY_OVERLAP_SECONDS = 30.0


class EngineSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ranking_config: str = Field("default", description="Name in recsys/configs/ or a path to a JSON file.")
    catalog_refresh_seconds: float = Field(0.5, ge=0, description="How often new uploads are looked for.")
    catalog_full_reload_seconds: float = Field(21_600.0, gt=0, description=(
        "A safety net: between full reads the catalog change log and the new-upload refresh keep it current."))
    fresh_window_hours: float = Field(72.0, gt=0, description="Uploads younger than this are re-read on refresh.")
    artifact_poll_seconds: float = Field(2.0, ge=0)
    load_artifacts_in_background: bool = True
    viewer_cache_size: int = Field(50_000, ge=1)
    viewer_max_events: int = Field(5000, ge=10)
    viewer_lookback_days: float = Field(180.0, gt=0)
    log_tail_overlap: int = Field(64, ge=0, description="Re-read this many seqs to catch late commits.")
    sources: dict[str, dict[str, Any]] = Field(default_factory=dict)
    viewer_state: ViewerStateConfig = ViewerStateConfig()


class FeedStore:
    """What the engine reads from a deployment's database (see :class:`SqlFeedStore`)."""

    def video_records(self, *, full: bool, created_after: datetime | None) -> list[VideoRecord]: ...

    def video_records_by_id(self, video_ids: list[int]) -> list[VideoRecord]: ...

    def event_columns(self) -> Any: ...

    def name_records(self, catalog: Catalog, records: Sequence[VideoRecord]) -> None: ...

    def relations(self, user_id: int) -> ViewerRelations: ...

    def viewer_events(self, user_id: int, since: datetime | None, limit: int) -> list[EventRecord]: ...

    def events_after(self, seq: int, limit: int) -> list[EventRecord]: ...

    def catalog_changes_head(self) -> int:
        """The position of the newest catalog change (0 for none)."""
        return 0

    def catalog_changes_after(self, seq: int, limit: int) -> list[tuple[int, int]]:
        """``(position, video id)`` of the catalog changes past ``seq``, in order."""
        return []

    def prune_catalog_changes(self, older_than_ts: float) -> None:
        """Forget changes older than ``older_than_ts`` (seconds since the epoch), always keeping the newest."""

    def tail_overlap(self, configured: int) -> int:
        return configured


class SqlFeedStore(FeedStore):
    """Reads through plain Core connections with explicit region conditions: no ORM work on a request."""

    def __init__(self, engine, region: str) -> None:
        self.engine = engine
        self.region = region
        self.ready_watermark: datetime | None = None
        # Videos the last incremental read returned, with their ready time: the next read overlaps the last
        # one and skips these, so a round that finds nothing new costs one small index range scan.
        self._recently_read: dict[int, datetime] = {}

    def video_records(self, *, full: bool, created_after: datetime | None) -> list[VideoRecord]:
        from openfyp.recsys.data import load_video_records

        if not full and self.ready_watermark is not None and created_after is not None:
            return self._newly_ready_records(created_after)
        with self.engine.connect() as connection:
            # A scan of the region's videos: fine now and then (full reloads), not on every refresh.
            newest = connection.execute(_NEWEST_READY, {"region": self.region}).scalar()
            records = load_video_records(connection, self.region, created_after=None if full else created_after)
            self.ready_watermark = _aware(newest) if newest is not None else None
            self._recently_read = {}
            if self.ready_watermark is not None and created_after is not None:
                # What this read returned inside the next read's overlap counts as read already.
                loaded = {r.video_id for r in records}
                self._recently_read = {video_id: ready_at for video_id, ready_at in
                                       self._ready_in_overlap(connection, created_after).items() if video_id in loaded}
        return records

    def _ready_in_overlap(self, connection, created_after: datetime) -> dict[int, datetime]:
        since = self.ready_watermark - timedelta(seconds=READY_OVERLAP_SECONDS)
        rows = connection.execute(_NEWLY_READY, {"region": self.region, "created_after": created_after,
                                                 "ready_after": since})
        return {int(video_id): _aware(ready_at) for video_id, ready_at in rows}

    def _newly_ready_records(self, created_after: datetime) -> list[VideoRecord]:
        """Uploads of the fresh window that became ready since the last read, and only those.

        Re-reads a few seconds before the watermark (another process may commit a slightly older ready_at)
        but skips what the previous read already returned; the watermark moves with the rows found, so no
        scan of the whole catalog is needed to find the newest."""
        from openfyp.recsys.data import load_video_records

        with self.engine.connect() as connection:
            ready = self._ready_in_overlap(connection, created_after)
            unread = [video_id for video_id, ready_at in ready.items() if self._recently_read.get(video_id) != ready_at]
            records = (load_video_records(connection, self.region, video_ids=unread, created_after=created_after)
                       if unread else [])
        if ready:
            self.ready_watermark = max(self.ready_watermark, *ready.values())
        # Only eligible videos come back as records: the others are looked at again while in the overlap.
        read = {r.video_id for r in records}
        self._recently_read = {video_id: ready_at for video_id, ready_at in ready.items()
                               if video_id in read or self._recently_read.get(video_id) == ready_at}
        return records

    def video_records_by_id(self, video_ids: list[int]) -> list[VideoRecord]:
        from openfyp.recsys.data import load_video_records

        with self.engine.connect() as connection:
            return load_video_records(connection, self.region, video_ids=video_ids, eligible_only=False)

    def name_records(self, catalog: Catalog, records: Sequence[VideoRecord]) -> None:
        from openfyp.recsys.data import load_names

        if not records:
            return
        with self.engine.connect() as connection:
            load_names(connection, catalog, records)

    def relations(self, user_id: int) -> ViewerRelations:
        from openfyp.recsys.data import load_relations

        with self.engine.connect() as connection:
            return load_relations(connection, user_id)

    def viewer_events(self, user_id: int, since: datetime | None, limit: int) -> list[EventRecord]:
        from openfyp.recsys.data import load_viewer_events

        with self.engine.connect() as connection:
            return load_viewer_events(connection, self.region, user_id, since, limit)

    def tail_overlap(self, configured: int) -> int:
        """SQLite has one writer, so seq order is commit order and no overlap is needed; elsewhere a
        transaction may commit a lower seq after a higher one becomes visible."""
        return 0 if self.engine.dialect.name == "sqlite" else configured

    def events_after(self, seq: int, limit: int) -> list[EventRecord]:
        from openfyp.recsys.data import epoch

        with self.engine.connect() as connection:
            rows = connection.execute(_EVENTS_AFTER, {"seq": seq, "region": self.region, "limit": limit}).all()
        return [EventRecord(int(s), u, v, t, str(k), r, epoch(ts)) for s, u, v, t, k, r, ts in rows]

    def event_columns(self):
        from openfyp.recsys.data import read_event_columns

        with self.engine.connect() as connection:
            return read_event_columns(connection, self.region)[0]

    def catalog_changes_head(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(_CHANGES_HEAD, {"region": self.region}).scalar() or 0)

    def catalog_changes_after(self, seq: int, limit: int) -> list[tuple[int, int]]:
        with self.engine.connect() as connection:
            rows = connection.execute(_CHANGES_AFTER, {"seq": seq, "region": self.region, "limit": limit}).all()
        return [(int(position), int(video_id)) for position, video_id in rows]

    def prune_catalog_changes(self, older_than_ts: float) -> None:
        from sqlalchemy import delete, func, select

        from openfyp.store.tables import CatalogChange

        newest = select(func.max(CatalogChange.seq)).where(CatalogChange.region == self.region).scalar_subquery()
        with self.engine.begin() as connection:
            # The newest row stays: SQLite numbers a new row after the largest one left, never below a position
            # some process has already read past.
            connection.execute(delete(CatalogChange).where(
                CatalogChange.region == self.region, CatalogChange.changed_ts < older_than_ts,
                CatalogChange.seq < newest))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _statements():
    from sqlalchemy import bindparam, func, select

    from openfyp.store.tables import CatalogChange, EventRow, Video

    changes_after = (select(CatalogChange.seq, CatalogChange.video_id)
                     .where(CatalogChange.seq > bindparam("seq"), CatalogChange.region == bindparam("region"))
                     .order_by(CatalogChange.seq).limit(bindparam("limit")))
    changes_head = select(func.max(CatalogChange.seq)).where(CatalogChange.region == bindparam("region"))
    events_after = (select(EventRow.seq, EventRow.user_id, EventRow.video_id, EventRow.target_user_id,
                           EventRow.kind, EventRow.watch_ratio, EventRow.server_ts)
                    .where(EventRow.seq > bindparam("seq"), EventRow.region == bindparam("region"))
                    .order_by(EventRow.seq).limit(bindparam("limit")))
    newest_ready = select(func.max(Video.ready_at)).where(Video.region == bindparam("region"))
    # Served by the (region, ready_at) index: only the videos that became ready since the watermark.
    newly_ready = select(Video.id, Video.ready_at).where(
        Video.region == bindparam("region"), Video.status == "ready", Video.created_at >= bindparam("created_after"),
        Video.ready_at > bindparam("ready_after"))
    return events_after, newest_ready, newly_ready, changes_after, changes_head


_EVENTS_AFTER, _NEWEST_READY, _NEWLY_READY, _CHANGES_AFTER, _CHANGES_HEAD = _statements()


class ForYouEngine:
    """Serves For You pages (``recommend``) and recomputes logged ones (``replay``).

    Thread-safe: the in-memory state is mutated and read under one lock, while store reads (relations,
    a new viewer's events, the log tails, the catalog's rows) happen outside it. Catalog writers
    (refresh, ``videos_changed``) also take a writer lock of their own, held from their store read to their
    update, so two of them never interleave (an older read applied after a newer one) and readers never
    wait on a store read.
    """

    def __init__(self, region: str, *, store: FeedStore | None = None, settings: Any = None,
                 engine_settings: EngineSettings | None = None, ranking_config: RankingConfig | None = None,
                 catalog: Catalog | None = None, stats: VideoStats | None = None,
                 relations_provider: Callable[[int], ViewerRelations] | None = None,
                 viewer_events_loader: Callable[[int, float | None], list[EventRecord]] | None = None,
                 viewer_state_class: type[ViewerState] = ViewerState) -> None:
        self.region = region
        self.store = store
        self.settings = settings  # openfyp Settings when artifacts are served from models_dir
        self.engine_settings = engine_settings or EngineSettings()
        es = self.engine_settings
        self.config = ranking_config or load_ranking_config(es.ranking_config)
        self.catalog = catalog or Catalog(region)
        self.stats = stats or VideoStats(self.catalog, self.config.trending_half_life_hours)
        self.viewer_events_loader = viewer_events_loader
        self.viewers = ViewerStateStore(self._load_viewer_events, es.viewer_state, es.viewer_cache_size,
                                        viewer_state_class)
        self.relations_provider = relations_provider
        self.sources = build_sources(es.sources)
        self.pipeline = ForYouPipeline(self.sources, self.config)
        self.heuristic = HeuristicPredictor()
        self.predictor: Predictor = self.heuristic
        self.models: Any = None  # openfyp.recsys.sources.models.ServingModels
        self.artifact: artifacts.ServableArtifact | None = None
        self.artifact_error: str | None = None
        self._lock = threading.RLock()
        self._applied_seq = 0
        # Events at or below this seq are in the stats already (bootstrap read the whole log up to it).
        self._floor_seq = 0
        self.online: Any = None  # openfyp.realtime.online.OnlineState: traffic pools, online co-watch
        # The seqs of the last events applied (a ring): events read twice, or late, are recognised by them.
        self._recent_seqs = np.zeros(RECENT_SEQS, dtype=np.int64)
        self._recent_next = 0
        self._last_catalog_refresh = 0.0
        self._last_full_reload = 0.0
        self._last_artifact_poll = 0.0
        self._pointer_stamp: tuple[float, int] | None = None
        self._loading = threading.Lock()
        self._catalog_writer = threading.Lock()
        self._listeners: list[Callable[[Sequence[EventRecord]], None]] = []
        self._maintenance_thread: threading.Thread | None = None
        self._maintenance_stop = threading.Event()
        # The catalog change log (``catalog_changes``): read up to here (None until a full load positions it),
        # and the positions already applied near the tail (re-read where commits may land out of order).
        self._changes_seq: int | None = None
        self._recent_changes: set[int] = set()
        self._changes_lock = threading.Lock()

    # ---- the public interface ------------------------------------------------------------------------
    @property
    def model_version(self) -> str:
        return self.artifact.version if self.artifact is not None else HEURISTIC_VERSION

    def recommend(self, context: FeedContext) -> FeedResult:
        if context.region != self.region:
            raise RecsysError("wrong_region", f"this engine serves region {self.region!r}, not {context.region!r}",
                              "region")
        if not 1 <= context.limit <= MAX_PAGE:
            raise RecsysError("bad_limit", f"limit must be between 1 and {MAX_PAGE}", "limit")
        self.maintain()
        now = _epoch(context.now)
        since_ts = _epoch(context.signals_since) if context.signals_since is not None else None
        relations = ViewerRelations()
        viewer_events = None
        if context.user_id is not None:
            relations = self._relations(context.user_id)
            if self.viewers.cached(context.user_id, since_ts) is None and self.store:
                viewer_events = self._load_viewer_events(context.user_id, since_ts)
        with self._lock:
            viewer = None
            if context.user_id is not None:
                # Loaded in every mode: even a non-personalised feed must not repeat what was watched.
                viewer = self.viewers.cached(context.user_id, since_ts)
                if viewer is None:
                    events = viewer_events if viewer_events is not None else \
                        self._load_viewer_events(context.user_id, since_ts)
                    viewer = self.viewers.build(context.user_id, since_ts, events, self.catalog)
            if not context.personalised:
                mode = REGIONAL_POPULARITY
            elif viewer is not None and viewer.has_signals:
                mode = PERSONALISED
            else:
                mode = COLD_START
            seen = set(context.seen_video_ids)
            if viewer is not None:
                seen |= viewer.seen
            request = SourceRequest(now=now, catalog=self.catalog, stats=self.stats,
                                    viewer=viewer if mode != REGIONAL_POPULARITY else None,
                                    relations=relations, seed=request_seed(context.request_id),
                                    exclude_video_ids=frozenset(seen) | relations.not_interested_videos,
                                    models=self.models, online=self.online)
            inputs = self.pipeline.build_inputs(context, request, mode=mode, model_version=self.model_version,
                                                seen_video_ids=seen)
            predictor, config = self.predictor, self.config
        return rank_logged(inputs, predictor, config)

    def replay(self, logged_inputs: dict[str, Any]) -> FeedResult:
        """Recompute a logged page with the model and ranking config it was served with."""
        check_inputs(logged_inputs)
        version = logged_inputs.get("model_version")
        predictor = self._predictor_for(version)
        config = self._config_for(logged_inputs.get("config_version"), logged_inputs.get("config_digest"), version)
        return rank_logged(logged_inputs, predictor, config)

    def video_changed(self, video_id: int) -> None:
        """Tell the engine a video's status, visibility or moderation changed (the change log backs it up)."""
        self.videos_changed([video_id])

    def videos_changed(self, video_ids: Sequence[int]) -> None:
        """Re-read these videos into the catalog: eligible ones (re)enter it, the others leave it."""
        if self.store is None or not video_ids:
            return
        with self._catalog_writer:
            records = self.store.video_records_by_id(list(video_ids))
            self.store.name_records(self.catalog, records)
            found = {record.video_id for record in records}
            with self._lock:
                if records:
                    self._add_records(records)
                for video_id in video_ids:
                    if video_id not in found:
                        self.catalog.set_eligible(video_id, False)
                self.stats.invalidate()

    def observe(self, events: Sequence[EventRecord] | EventBatch) -> EventBatch:
        """Fold new events into the stats and viewer states (each event once, whatever path it came by).

        Returns the events that were new.
        """
        batch = events if isinstance(events, EventBatch) else EventBatch.of(events)
        with self._lock:
            fresh = self._unseen(batch)
            if not len(fresh):
                return fresh
            rows = fresh.rows(self.catalog)
            with_video = rows >= 0
            if with_video.any():
                self.stats.apply(rows[with_video], fresh.kind[with_video], fresh.ratio[with_video],
                                 fresh.ts[with_video])
            self.viewers.apply(fresh, self.catalog)
            if self._listeners:
                records = fresh.records
                for listener in self._listeners:
                    listener(records)
            return fresh

    def _unseen(self, batch: EventBatch) -> EventBatch:
        """The events of ``batch`` not applied yet, remembering their seqs (events without a seq always count)."""
        seqs = batch.seq
        numbered = seqs > 0
        if not numbered.any():
            return batch
        recent = self._recent_seqs
        if seqs[numbered].min() > self._applied_seq and (np.diff(seqs[numbered]) > 0).all():
            fresh = np.ones(len(seqs), dtype=bool)  # the usual case: the log's next events, in order
        else:
            # Older than anything the recent seqs remember (or than the bootstrap): applied already.
            oldest_new = max(self._floor_seq, self._applied_seq - len(recent))
            fresh = ~numbered | ((seqs > oldest_new) & ~np.isin(seqs, recent))
            _, first = np.unique(seqs, return_index=True)
            repeated = np.ones(len(seqs), dtype=bool)
            repeated[first] = False
            fresh &= ~(repeated & numbered)  # the same event twice in one batch
        applied = seqs[fresh & numbered]
        if len(applied):
            self._applied_seq = max(self._applied_seq, int(applied.max()))
            remembered = applied[-len(recent):]
            slots = (self._recent_next + np.arange(len(remembered))) % len(recent)
            recent[slots] = remembered
            self._recent_next = int(slots[-1] + 1) % len(recent)
        return batch.select(fresh)

    def close(self) -> None:
        """Stop the maintenance thread and release the store's connections (serving from memory goes on)."""
        self.stop_maintenance()
        database = getattr(self.store, "engine", None)
        if database is not None:
            database.dispose()

    def add_listener(self, listener: Callable[[Sequence[EventRecord]], None]) -> None:
        """Called (under the engine lock) with each batch of newly observed events; for the real-time parts."""
        self._listeners.append(listener)

    # ---- keeping the state current -------------------------------------------------------------------------
    def bootstrap(self) -> None:
        """Load the catalog, replay the event log into the stats and load the servable artifact."""
        if self.store is None:
            return
        self.refresh_catalog(full=True)
        columns = self.store.event_columns()
        with self._lock:
            if len(columns):
                with_video = columns.video_id >= 0
                rows = self.catalog.rows_of(columns.video_id[with_video])
                self.stats.apply(rows, list(columns.kind[with_video]), columns.watch_ratio[with_video],
                                 columns.ts[with_video])
                self._applied_seq = self._floor_seq = int(columns.seq.max())
        self.poll_artifacts(force=True, background=False)

    def maintain(self) -> None:
        """Upkeep run before each request: the event log's and the catalog change log's tails always, the
        periodic part unless the thread has it."""
        if not self.maintenance_running:
            self._periodic_upkeep()
        self.catch_up()
        self.follow_catalog_changes()

    def _periodic_upkeep(self) -> None:
        """Throttled: artifacts, then the catalog (a full reload now and then, the fresh window otherwise)."""
        wall = time.monotonic()
        es = self.engine_settings
        if self.settings is not None and wall - self._last_artifact_poll >= es.artifact_poll_seconds:
            self._last_artifact_poll = wall
            self.poll_artifacts(background=es.load_artifacts_in_background)
        if self.store is None or self._catalog_writer.locked():
            return  # (or another thread is writing the catalog right now: the next round looks again)
        if wall - self._last_full_reload >= es.catalog_full_reload_seconds:
            self.refresh_catalog(full=True)
        elif wall - self._last_catalog_refresh >= es.catalog_refresh_seconds:
            self.refresh_catalog(full=False)

    def _seconds_until_upkeep_due(self) -> float:
        es = self.engine_settings
        due = [self._last_catalog_refresh + es.catalog_refresh_seconds,
               self._last_full_reload + es.catalog_full_reload_seconds]
        if self.settings is not None:
            due.append(self._last_artifact_poll + es.artifact_poll_seconds)
        return max(MIN_MAINTENANCE_PAUSE_SECONDS, min(due) - time.monotonic())

    # ---- the maintenance thread ---------------------------------------------------------------------------
    @property
    def maintenance_running(self) -> bool:
        thread = self._maintenance_thread
        return thread is not None and thread.is_alive() and not self._maintenance_stop.is_set()

    def start_maintenance(self) -> None:
        """Run the periodic upkeep on a background thread from now on, off the request path (idempotent)."""
        if self.maintenance_running or (self.store is None and self.settings is None):
            return
        self.stop_maintenance()  # a thread still winding down from an earlier stop
        self._maintenance_stop.clear()
        self._maintenance_thread = threading.Thread(target=self._maintenance_loop, name="openfyp-feed-upkeep",
                                                    daemon=True)
        self._maintenance_thread.start()

    def stop_maintenance(self, timeout: float = 30.0) -> None:
        """End the maintenance thread (idempotent); requests take the periodic upkeep back."""
        self._maintenance_stop.set()
        thread = self._maintenance_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("the feed maintenance thread did not stop within %.0f s", timeout)
                return
        self._maintenance_thread = None

    def _maintenance_loop(self) -> None:
        while not self._maintenance_stop.wait(self._seconds_until_upkeep_due()):
            try:
                self._periodic_upkeep()
            except Exception:  # a failed round (the database away for a moment) must not end the upkeep
                log.exception("feed maintenance round failed; retrying")
                # Wait a whole refresh interval (or more) before retrying rather than spinning on the error.
                self._maintenance_stop.wait(max(1.0, self.engine_settings.catalog_refresh_seconds))

    def catch_up(self, batch: int = 5000) -> None:
        """Read the event log past the last applied position (with a small overlap for late commits)."""
        if self.store is None:
            return
        start = max(0, self._applied_seq - self.store.tail_overlap(self.engine_settings.log_tail_overlap))
        while True:
            events = self.store.events_after(start, batch)
            if not events:
                return
            self.observe(events)
            if len(events) < batch:
                return
            start = events[-1].seq

    def follow_catalog_changes(self, batch: int = 1000) -> None:
        """Apply the catalog changes committed since the last read (any process's), so that a page is never
        chosen from a stale eligibility: typically one read of an empty tail."""
        if self.store is None or self._changes_seq is None:
            return
        overlap = self.store.tail_overlap(self.engine_settings.log_tail_overlap)
        with self._changes_lock:
            start = max(0, self._changes_seq - overlap)
            while True:
                changes = self.store.catalog_changes_after(start, batch)
                fresh = [(position, video_id) for position, video_id in changes
                         if position > self._changes_seq or position not in self._recent_changes]
                if fresh:
                    self.videos_changed(sorted({video_id for _, video_id in fresh}))
                    self._changes_seq = max(self._changes_seq, max(position for position, _ in fresh))
                    floor = self._changes_seq - overlap
                    self._recent_changes = {p for p in self._recent_changes | {p for p, _ in fresh} if p > floor}
                if len(changes) < batch:
                    return
                start = changes[-1][0]

    def refresh_catalog(self, *, full: bool = False) -> None:
        if self.store is None:
            return
        with self._catalog_writer:
            wall = time.monotonic()
            # A full read covers every change up to here: the change log is followed from this position on.
            changes_head = self.store.catalog_changes_head() if full else None
            created_after = datetime.now(UTC) - timedelta(hours=self.engine_settings.fresh_window_hours)
            records = self.store.video_records(full=full, created_after=created_after)
            if not records and not full:  # nothing new: the catalog and the stats' caches stay as they are
                self._last_catalog_refresh = wall
                return
            self.store.name_records(self.catalog, records)  # names only ever get added: safe beside readers
            # Worked out before taking the serving lock (only catalog writers, who hold ours, change the
            # catalog): at a million videos, the lock is held for the writes alone.
            prepared = self.catalog.prepare(records)
            if full:
                still_there = np.zeros(self.catalog.size, dtype=bool)
                still_there[prepared.rows[prepared.rows >= 0]] = True
            # The catalog changes in one step under the serving lock: a page sees it before or after, whole.
            with self._lock:
                if full:
                    self.catalog.eligible[: len(still_there)] &= still_there
                    self.catalog.version += 1
                self._add_prepared(prepared)
                self.stats.invalidate()
            self._last_catalog_refresh = wall
            if full:
                self._last_full_reload = wall
                self._changes_seq = max(self._changes_seq or 0, changes_head)
        if full:
            self.store.prune_catalog_changes(time.time() - CATALOG_CHANGES_KEPT_SECONDS)

    def _add_records(self, records: Sequence[VideoRecord]) -> None:
        self._add_prepared(self.catalog.prepare(records))

    def _add_prepared(self, prepared: PreparedUpsert) -> None:
        added = self.catalog.apply(prepared)
        if self.models is not None and added:
            self.models.catalog_grew(self.catalog, added)
        if self.online is not None and added:
            self.online.sync_catalog()  # new uploads enter their first traffic pool

    def poll_artifacts(self, *, force: bool = False, background: bool = True) -> None:
        """Load a new servable artifact when the ``current`` pointer moved (in the background by default)."""
        if self.settings is None:
            return
        stamp = artifacts.pointer_stamp(self.settings)
        if stamp == self._pointer_stamp and not force:
            return
        if not self._loading.acquire(blocking=not background):
            return
        self._pointer_stamp = stamp

        def load() -> None:
            try:
                self._load_servable()
            finally:
                self._loading.release()

        if background:
            threading.Thread(target=load, name="openfyp-model-loader", daemon=True).start()
        else:
            load()

    def reload(self) -> None:
        """Re-resolve the servable artifact now and wait for it to load (the CLI and tests use this)."""
        self.poll_artifacts(force=True, background=False)

    def _load_servable(self) -> None:
        try:
            artifact = artifacts.resolve_servable(self.settings)
        except RecsysError as exc:
            self.artifact_error = f"{exc.code}: {exc.message}"
            log.error("model artifact refused: %s", self.artifact_error)
            return
        if artifact is None:
            with self._lock:
                self.artifact, self.models, self.predictor = None, None, self.heuristic
                self.config = load_ranking_config(self.engine_settings.ranking_config)
                self.pipeline = ForYouPipeline(self.sources, self.config)
            return
        if self.artifact is not None and artifact.version == self.artifact.version:
            return
        try:
            from openfyp.recsys.sources.models import ServingModels

            with self._lock:
                catalog_snapshot = self.catalog
            models = ServingModels.load(artifact, catalog_snapshot)
            config = artifact.ranking_config()
        except Exception as exc:  # noqa: BLE001 - a broken artifact must not take serving down
            self.artifact_error = f"{type(exc).__name__}: {exc}"
            log.exception("could not load model artifact %s", artifact.version)
            return
        with self._lock:
            # Rows added while loading get their vectors now.
            models.catalog_grew(self.catalog, list(range(models.rows_covered, self.catalog.size)))
            self.artifact, self.models, self.predictor = artifact, models, models.predictor
            self.config = config
            self.pipeline = ForYouPipeline(self.sources, config)
            self.artifact_error = None
        log.info("serving model %s with ranking config %s", artifact.version, config.version)

    # ---- helpers --------------------------------------------------------------------------------------------
    def _relations(self, user_id: int) -> ViewerRelations:
        if self.store is not None:
            return self.store.relations(user_id)
        if self.relations_provider is not None:
            return self.relations_provider(user_id)
        return ViewerRelations()

    def _load_viewer_events(self, user_id: int, since_ts: float | None) -> list[EventRecord]:
        if self.viewer_events_loader is not None:
            return self.viewer_events_loader(user_id, since_ts)
        if self.store is None:
            return []
        es = self.engine_settings
        lookback = datetime.now(UTC) - timedelta(days=es.viewer_lookback_days)
        since = datetime.fromtimestamp(since_ts, UTC) if since_ts is not None else None
        since = max(since, lookback) if since is not None else lookback
        return self.store.viewer_events(user_id, since, es.viewer_max_events)

    def _predictor_for(self, version: str | None) -> Predictor:
        if version is None or version == HEURISTIC_VERSION:
            return self.heuristic
        with self._lock:
            if self.artifact is not None and self.artifact.version == version:
                return self.predictor
        if self.settings is None:
            raise RecsysError("unknown_model_version", f"model {version!r} is not available here", "model_version")
        from openfyp.recsys.sources.models import load_predictor

        return load_predictor(artifacts.load_artifact(self.settings, version))

    def _config_for(self, version: str | None, digest: str | None, model_version: str | None) -> RankingConfig:
        candidates: list[RankingConfig] = [self.config]
        if model_version and model_version != HEURISTIC_VERSION and self.settings is not None:
            try:
                candidates.append(artifacts.load_artifact(self.settings, model_version).ranking_config())
            except RecsysError:
                pass
        try:
            candidates.append(load_ranking_config(self.engine_settings.ranking_config))
        except RecsysError:
            pass
        from openfyp.recsys.ranking.config import CONFIGS_DIR, parse_ranking_config

        for path in sorted(CONFIGS_DIR.glob("*.json")):
            try:
                candidates.append(parse_ranking_config(path.read_text(), origin=str(path)))
            except RecsysError:
                continue
        for config in candidates:
            if config.version == version and (digest is None or config.digest == digest):
                return config
        raise RecsysError("unknown_ranking_config",
                          f"ranking config {version!r} (digest {str(digest)[:12]}) is not available for replay",
                          "config_version")


def _epoch(value: datetime) -> float:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def build_feed_engine(services: Any, engine_settings: EngineSettings | None = None) -> ForYouEngine:
    """The deployment's For You engine: backed by its database, fed by its event log, serving its models."""
    from openfyp.store import make_engine

    settings = services.settings
    # A pool of its own: a web request holds its session's connection while it asks for a page, so reads
    # from the shared pool could wait on connections held by the very requests waiting on them.
    database = make_engine(settings.resolved_database_url)
    engine = ForYouEngine(settings.region, store=SqlFeedStore(database, settings.region),
                          settings=settings, engine_settings=engine_settings)
    engine.bootstrap()
    # The periodic upkeep moves to the engine's own thread when the deployment starts (Services.start).
    # New events reach the engine through the online learner (openfyp.realtime, started with the services),
    # off the ingest path; a request also catches up with the log itself, so it always sees acknowledged events.
    return engine
