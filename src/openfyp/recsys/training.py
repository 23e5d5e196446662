"""Rebuild every model of the For You engine from the event log and save it as a versioned artifact.

Steps: read this region's events (refusing any other region's), the videos and the logged impressions;
grade (viewer, video) pairs with :mod:`openfyp.recsys.signals` and fit the embedding model (implicit ALS or
BPR from :mod:`openfyp.recsys.models`); derive hashtag, sound and creator vectors for cold-start videos;
fit co-watch; join impressions to later events and fit one LightGBM booster per task. The artifact
directory gets the files and a manifest (region, event seq range, data hash, row counts, code and config
versions, metrics); ``current`` then points at it unless ``activate`` is off.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

import openfyp
from openfyp.recsys import artifacts
from openfyp.recsys.contracts import RecsysError
from openfyp.recsys.data import (
    EventColumns,
    LoggedImpressions,
    load_video_records,
    read_event_columns,
    read_logged_impressions,
)
from openfyp.recsys.datasets import interactions_from_events
from openfyp.recsys.interactions import Interactions
from openfyp.recsys.ranking.config import RankingConfig, load_ranking_config
from openfyp.recsys.ranking.features import FEATURE_NAMES, FEATURE_VERSION
from openfyp.recsys.ranking.learn import RankerTrainingConfig, TrainedRanker, fit_ranker, impression_labels
from openfyp.recsys.ranking.predictors import HeuristicPredictor
from openfyp.recsys.signals import SignalWeights
from openfyp.recsys.sources.cowatch import CoWatchConfig, CoWatchIndex, fit_cowatch
from openfyp.recsys.sources.models import COWATCH_FILE, EMBEDDINGS_FILE, RANKER_DIR
from openfyp.recsys.state import VideoRecord

Progress = Callable[[str, float], None]
# Single-threaded: deterministic for a seed, and no OpenMP spinning against a busy server's threads.
EMBEDDING_DEFAULTS: dict[str, dict[str, Any]] = {"als": {"factors": 64, "iterations": 15, "threads": 1},
                                                 "bpr": {"factors": 64, "iterations": 100}}


class TrainingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    embedding_model: Literal["als", "bpr"] = "als"
    embedding: dict[str, Any] = Field(default_factory=dict,
                                      description="Overrides of the models package's ALS or BPR config.")
    cowatch: CoWatchConfig = CoWatchConfig()
    ranker: RankerTrainingConfig = RankerTrainingConfig()
    signals: SignalWeights = SignalWeights()


@dataclass
class TrainingData:
    region: str
    events: EventColumns
    videos: list[VideoRecord]
    impressions: LoggedImpressions
    refused_foreign_events: int = 0

    @property
    def seq_range(self) -> tuple[int, int]:
        if len(self.events) == 0:
            return 0, 0
        return int(self.events.seq.min()), int(self.events.seq.max())

    def content_hash(self) -> str:
        """A digest of exactly the rows trained on, so two trainings on the same data share it."""
        digest = hashlib.sha256()
        digest.update(self.region.encode())
        e = self.events
        for array in (e.seq, e.user_id, e.video_id, e.target_user_id, np.nan_to_num(e.watch_ratio, nan=-1.0), e.ts):
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update("\n".join(map(str, e.kind)).encode())
        for video in self.videos:
            digest.update(f"{video.video_id},{video.creator_id},{video.sound_id},{video.hashtag_ids}".encode())
        imp = self.impressions
        for array in (imp.user_id, imp.video_id, imp.ts, np.nan_to_num(imp.features, nan=-1.0)):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()


def load_training_data(session_factory, region: str) -> TrainingData:
    """This region's events, videos and logged impressions; accounts erased at their owner's request are left
    out entirely (governance's manifest section proves it)."""
    from openfyp.governance.provenance import erased_user_ids

    with session_factory() as session:
        events, refused = read_event_columns(session, region)
        videos = load_video_records(session, region, eligible_only=False)
        impressions = read_logged_impressions(session, region, FEATURE_NAMES)
        erased = erased_user_ids(session)
    if erased:
        gone = np.fromiter(erased, dtype=np.int64, count=len(erased))
        events = events.take(~np.isin(events.user_id, gone) & ~np.isin(events.target_user_id, gone))
        keep = ~np.isin(impressions.user_id, gone)
        impressions = LoggedImpressions(impressions.user_id[keep], impressions.video_id[keep], impressions.ts[keep],
                                        impressions.request_id[keep], impressions.features[keep],
                                        impressions.feature_names)
    return TrainingData(region, events, videos, impressions, refused)


def trained_user_ids(data: TrainingData) -> np.ndarray:
    users = np.concatenate([data.events.user_id, data.impressions.user_id])
    return np.unique(users[users >= 0])


@dataclass
class TrainedModels:
    video_ids: np.ndarray
    item_vectors: np.ndarray
    side: dict[str, tuple[np.ndarray, np.ndarray]]  # hashtag/sound/creator -> (ids, vectors)
    fold_in: dict[str, Any]
    cowatch: CoWatchIndex
    ranker: TrainedRanker
    rows: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def graded_interactions(events: EventColumns, weights: SignalWeights | None = None) -> Interactions:
    """One graded value per (viewer, video), exactly as :func:`openfyp.recsys.datasets.interactions_from_events`
    grades them (the same :func:`openfyp.recsys.signals.grade`), but tallied with numpy: a million events in
    about a second instead of a Python loop over every one."""
    from openfyp.recsys.signals import EVENT_KINDS, EngagementTally, grade

    weights = weights or SignalWeights()
    names = sorted(EVENT_KINDS)
    code = {name: i for i, name in enumerate(names)}
    keep = (events.user_id >= 0) & (events.video_id >= 0) & np.isin(events.kind, names)
    ev = events.take(keep)
    if len(ev) == 0:
        return interactions_from_events([], weights)
    pairs = np.stack([ev.user_id, ev.video_id], axis=1)
    unique, inverse = np.unique(pairs, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    n = len(unique)
    kind_codes = np.array([code[k] for k in ev.kind], dtype=np.int64)
    masks = np.zeros(n, dtype=np.int64)
    np.bitwise_or.at(masks, inverse, np.left_shift(1, kind_codes))
    watching = np.isin(ev.kind, ["play", "watch", "complete", "replay", "skip"]) & ~np.isnan(ev.watch_ratio)
    max_ratio = np.zeros(n)
    np.maximum.at(max_ratio, inverse[watching], ev.watch_ratio[watching])
    np.maximum.at(max_ratio, inverse[ev.kind == "complete"], 1.0)
    last_ts = np.full(n, -np.inf)
    np.maximum.at(last_ts, inverse, ev.ts)
    skips = np.flatnonzero(ev.kind == "skip")
    last_skip = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last_skip, inverse[skips], skips)  # events are in log order: the highest index is the last
    kinds_of: dict[int, frozenset[str]] = {}
    values = np.zeros(n)
    for i, (mask, ratio, ts, skip) in enumerate(zip(masks.tolist(), max_ratio.tolist(), last_ts.tolist(),
                                                    last_skip.tolist())):
        kinds = kinds_of.get(mask)
        if kinds is None:
            kinds = kinds_of[mask] = frozenset(name for j, name in enumerate(names) if mask >> j & 1)
        tally = EngagementTally()
        tally.kinds, tally.max_watch_ratio, tally.last_ts = kinds, ratio, ts  # type: ignore[assignment]
        if skip >= 0:
            skip_ratio = ev.watch_ratio[skip]
            tally.skip_ratio = 0.0 if np.isnan(skip_ratio) else float(skip_ratio)
        values[i] = grade(tally, weights)
    nonzero = values != 0.0
    return Interactions.from_external(unique[nonzero, 0], unique[nonzero, 1], values[nonzero], last_ts[nonzero])


def fit_embeddings(data: TrainingData, config: TrainingConfig) -> tuple[np.ndarray, np.ndarray, dict, int]:
    """Video ids and vectors from the models package's ALS/BPR on graded positive signals."""
    from openfyp.recsys.models import ALSRecommender, BPRRecommender

    interactions = graded_interactions(data.events, config.signals)
    positive = interactions.positive()
    if len(positive) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32), {}, 0
    model_class = ALSRecommender if config.embedding_model == "als" else BPRRecommender
    model = model_class({**EMBEDDING_DEFAULTS[config.embedding_model], **config.embedding})
    from threadpoolctl import threadpool_limits

    # implicit's own threads do the work; a second layer of BLAS threads would only contend with them.
    with threadpool_limits(1, "blas"):
        model.fit(positive.to_csr())
    counts = np.bincount(positive.items, minlength=positive.n_items)
    has_signal = counts > 0
    video_ids = np.asarray(positive.item_map.external, dtype=np.int64)[has_signal]
    vectors = np.asarray(model.item_factors, dtype=np.float32)[has_signal]
    cfg = model.config
    fold = {"method": "als" if config.embedding_model == "als" else "ridge",
            "regularization": float(cfg.regularization if config.embedding_model == "als" else cfg.fold_in_l2),
            "alpha": float(getattr(cfg, "alpha", 1.0)), "binary": bool(cfg.binary),
            "model": model.dump_config()}
    return video_ids, vectors, fold, len(positive)


def side_vectors(videos: list[VideoRecord], video_ids: np.ndarray, vectors: np.ndarray
                 ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Mean learned vector of each hashtag, sound and creator over its trained videos."""
    dim = vectors.shape[1] if vectors.ndim == 2 and len(vectors) else 0
    position = {int(v): i for i, v in enumerate(video_ids)}
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, keys_of in (("hashtag", lambda v: v.hashtag_ids), ("sound", lambda v: (v.sound_id,) if v.sound_id
                                                                   is not None else ()),
                          ("creator", lambda v: (v.creator_id,))):
        pairs = [(int(key), position[v.video_id]) for v in videos if v.video_id in position for key in keys_of(v)]
        if not pairs or dim == 0:
            out[name] = (np.zeros(0, dtype=np.int64), np.zeros((0, max(dim, 1)), dtype=np.float32))
            continue
        keys = np.array([p[0] for p in pairs], dtype=np.int64)
        rows = np.array([p[1] for p in pairs], dtype=np.int64)
        unique, inverse = np.unique(keys, return_inverse=True)
        membership = sp.csr_matrix((np.ones(len(rows), np.float32), (inverse, rows)),
                                   shape=(len(unique), len(video_ids)))
        sums = membership @ vectors
        counts = np.asarray(membership.sum(axis=1)).ravel()
        out[name] = (unique, (sums / counts[:, None]).astype(np.float32))
    return out


def fit_all(data: TrainingData, config: TrainingConfig, progress: Progress | None = None) -> TrainedModels:
    progress = progress or (lambda step, fraction: None)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    progress("embeddings", 0.1)
    video_ids, vectors, fold, n_positive = fit_embeddings(data, config)
    side = side_vectors(data.videos, video_ids, vectors) if len(video_ids) else {
        name: (np.zeros(0, dtype=np.int64), np.zeros((0, 1), dtype=np.float32)) for name in ("hashtag", "sound",
                                                                                              "creator")}
    timings["embeddings_s"] = time.perf_counter() - started

    progress("co-watch", 0.45)
    mark = time.perf_counter()
    cowatch = fit_cowatch(data.events, config.cowatch, config.signals)
    timings["cowatch_s"] = time.perf_counter() - mark

    progress("ranker", 0.6)
    mark = time.perf_counter()
    creator_of = {v.video_id: v.creator_id for v in data.videos}
    labels = impression_labels(data.impressions, data.events, creator_of, config.ranker.label_horizon_hours,
                               config.signals)
    logged = ~np.isnan(data.impressions.features).all(axis=1) if len(data.impressions) else np.zeros(0, bool)
    features = np.nan_to_num(data.impressions.features[logged].astype(np.float64), nan=0.0)
    kept_labels = type(labels)(*(labels[task][logged] for task in ("finish", "like", "share", "comment", "follow",
                                                                      "watch_ratio")))
    baseline = HeuristicPredictor().predict(features) if len(features) else None
    ranker = fit_ranker(features, kept_labels, data.impressions.ts[logged], list(FEATURE_NAMES), config.ranker,
                        baseline)
    timings["ranker_s"] = time.perf_counter() - mark
    progress("saving", 0.9)

    rows = {"events": len(data.events), "videos": len(data.videos), "positive_pairs": n_positive,
            "embedded_videos": len(video_ids), "cowatch_pairs": cowatch.pairs,
            "impressions": len(data.impressions), "impressions_with_features": int(logged.sum()),
            "users": int(len(np.unique(data.events.user_id[data.events.user_id >= 0]))) if len(data.events) else 0}
    metrics = {"ranker": ranker.metrics, "ranker_skipped": ranker.skipped,
               "label_rates": {task: float(kept_labels[task].mean()) if len(features) else 0.0
                               for task in ("finish", "like", "share", "comment", "follow", "watch_ratio")}}
    return TrainedModels(video_ids, vectors, side, fold, cowatch, ranker, rows, metrics, timings)


def code_version() -> str:
    """The package version plus a digest of the recsys sources that produced the artifact."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return f"{openfyp.__version__}+{digest.hexdigest()[:12]}"


def save_artifact(settings, data: TrainingData, trained: TrainedModels, config: TrainingConfig,
                  ranking_config: RankingConfig, session_factory=None) -> artifacts.ServableArtifact:
    """Write the artifact into a staging folder, seal it (erasure proof + trainer signature), move it in place."""
    from openfyp.governance.provenance import seal_artifact, sign_artifact

    data_hash = data.content_hash()
    version = artifacts.new_version(data_hash)
    final = artifacts.artifact_dir(settings, version)
    if final.exists():  # the same data trained twice in one second: keep the first
        return artifacts.load_artifact(settings, version)
    staging = settings.models_dir / f".{version}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / RANKER_DIR).mkdir(parents=True)
    fold = trained.fold_in or {"method": "als", "regularization": 0.05, "alpha": 1.0, "binary": True}
    dim = trained.item_vectors.shape[1] if trained.item_vectors.ndim == 2 and trained.item_vectors.shape[1] else 1
    vectors = trained.item_vectors if trained.item_vectors.size else np.zeros((0, dim), np.float32)
    np.savez(staging / EMBEDDINGS_FILE, video_ids=trained.video_ids, item_vectors=vectors,
             hashtag_ids=trained.side["hashtag"][0], hashtag_vectors=_width(trained.side["hashtag"][1], dim),
             sound_ids=trained.side["sound"][0], sound_vectors=_width(trained.side["sound"][1], dim),
             creator_ids=trained.side["creator"][0], creator_vectors=_width(trained.side["creator"][1], dim),
             fold_method=np.array(fold["method"]), fold_regularization=np.array(fold["regularization"]),
             fold_alpha=np.array(fold["alpha"]), fold_binary=np.array(fold["binary"]))
    matrix = trained.cowatch.matrix.tocsr()
    np.savez(staging / COWATCH_FILE, video_ids=trained.cowatch.video_ids, indptr=matrix.indptr,
             indices=matrix.indices, data=matrix.data)
    for task, booster in trained.ranker.boosters.items():
        booster.save_model(str(staging / RANKER_DIR / f"{task}.txt"))
    ranking_config.to_file(staging / artifacts.RANKING_CONFIG_FILE)
    first, last = data.seq_range
    manifest = artifacts.ArtifactManifest(
        version=version, region=data.region, created_at=datetime.now(UTC), code_version=code_version(),
        feature_version=FEATURE_VERSION, feature_names=list(FEATURE_NAMES),
        ranking_config_version=ranking_config.version, ranking_config_digest=ranking_config.digest,
        event_seq_from=first, event_seq_to=last, data_hash=data_hash, rows=trained.rows,
        metrics={**trained.metrics, "timings_s": {k: round(v, 3) for k, v in trained.timings.items()}},
        models={"embedding": {k: v for k, v in fold.items()}, "cowatch": config.cowatch.model_dump(),
                "ranker": {"tasks": sorted(trained.ranker.boosters), "config": config.ranker.model_dump()},
                "signals": config.signals.model_dump()},
        refused_foreign_events=data.refused_foreign_events)
    artifacts.write_manifest(staging, manifest)
    if session_factory is not None:
        seal_artifact(settings, staging, session_factory=session_factory,
                      trained_user_ids=trained_user_ids(data).tolist())
    else:
        sign_artifact(settings, staging)
    staging.rename(final)
    return artifacts.load_artifact(settings, version)


def _width(vectors: np.ndarray, dim: int) -> np.ndarray:
    return vectors if vectors.ndim == 2 and vectors.shape[1] == dim else np.zeros((len(vectors), dim), np.float32)


@dataclass
class TrainingReport:
    artifact: artifacts.ServableArtifact
    activated: bool
    seconds: float

    @property
    def version(self) -> str:
        return self.artifact.version


def train(settings, session_factory, *, config: TrainingConfig | None = None,
          ranking_config: RankingConfig | None = None, activate: bool = True,
          progress: Progress | None = None, data: TrainingData | None = None) -> TrainingReport:
    """Train everything from this region's log and save (and by default activate) a new artifact."""
    started = time.perf_counter()
    config = config or TrainingConfig()
    ranking_config = ranking_config or load_ranking_config()
    progress = progress or (lambda step, fraction: None)
    progress("reading the event log", 0.0)
    if data is None:
        data = load_training_data(session_factory, settings.region)
    read_s = time.perf_counter() - started
    if data.region != settings.region:
        raise RecsysError("foreign_region", f"training data of region {data.region!r} cannot train region "
                          f"{settings.region!r}", "region")
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    trained = fit_all(data, config, progress)
    trained.timings["read_s"] = read_s
    artifact = save_artifact(settings, data, trained, config, ranking_config, session_factory)
    if activate:
        artifacts.set_current(settings, artifact.version)
    progress("done", 1.0)
    return TrainingReport(artifact, activate, time.perf_counter() - started)
