"""Training the multi-task ranker on logged impressions.

Each For You impression is joined to what the same viewer did with the same video afterwards (until the
next impression of that pair, at most ``label_horizon_hours`` later): finished, liked, shared, commented,
followed the creator, and the largest watch ratio. One LightGBM booster per task learns from the features
logged when the impression was ranked, so training sees exactly what serving saw. The last
``validation_share`` of impressions in time is held out for early stopping and the reported metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from openfyp.recsys.data import EventColumns, LoggedImpressions
from openfyp.recsys.ranking.config import TASKS
from openfyp.recsys.ranking.predictors import MAX_WATCH
from openfyp.recsys.signals import SignalWeights

BINARY_TASKS = ("finish", "like", "share", "comment", "follow")


class RankerTrainingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    num_boost_round: int = Field(80, ge=1, description="Trees per task at most; serving cost grows with them.")
    learning_rate: float = Field(0.1, gt=0, le=1)
    num_leaves: int = Field(31, ge=2)
    min_data_in_leaf: int = Field(20, ge=1)
    feature_fraction: float = Field(0.9, gt=0, le=1)
    lambda_l2: float = Field(1.0, ge=0)
    early_stopping_rounds: int = Field(30, ge=1)
    validation_share: float = Field(0.2, gt=0, lt=1)
    label_horizon_hours: float = Field(24.0, gt=0)
    min_positives: int = Field(10, ge=1, description="A task with fewer positives keeps the heuristic.")
    max_rows: int = Field(250_000, ge=100, description="Train on at most this many of the newest impressions.")
    max_bin: int = Field(63, ge=4, le=255)
    # One thread: LightGBM's OpenMP workers spin, and on a machine shared with a web server (or other jobs)
    # two of them took eight times longer than one in measurements here.
    threads: int = Field(1, ge=1)
    seed: int = 0


@dataclass
class ImpressionLabels:
    finish: np.ndarray
    like: np.ndarray
    share: np.ndarray
    comment: np.ndarray
    follow: np.ndarray
    watch_ratio: np.ndarray

    def __getitem__(self, task: str) -> np.ndarray:
        return getattr(self, task)


def _attach(imp_key: np.ndarray, imp_ts: np.ndarray, ev_key: np.ndarray, ev_ts: np.ndarray,
            horizon_s: float) -> np.ndarray:
    """For each event, the impression of the same key it follows (latest at or before it), or -1."""
    n_imp = len(imp_key)
    if n_imp == 0 or len(ev_key) == 0:
        return np.full(len(ev_key), -1, dtype=np.int64)
    imp_order = np.lexsort((imp_ts, imp_key))
    keys = np.concatenate([imp_key[imp_order], ev_key])
    ts = np.concatenate([imp_ts[imp_order], ev_ts])
    kind = np.concatenate([np.zeros(n_imp, np.int8), np.ones(len(ev_key), np.int8)])
    # Sorted position of each impression increases along the merged order, so a running maximum of
    # impression positions is "the latest impression so far".
    marker = np.concatenate([np.arange(n_imp), np.full(len(ev_key), -1)])
    order = np.lexsort((kind, ts, keys))
    latest = np.maximum.accumulate(marker[order])
    at_event = kind[order] == 1
    event_index = order[at_event] - n_imp
    found = latest[at_event]
    out = np.full(len(ev_key), -1, dtype=np.int64)
    valid = found >= 0
    sorted_keys, sorted_ts = imp_key[imp_order], imp_ts[imp_order]
    candidate = np.where(valid, found, 0)
    valid &= sorted_keys[candidate] == ev_key[event_index]
    valid &= ev_ts[event_index] - sorted_ts[candidate] <= horizon_s
    out[event_index[valid]] = imp_order[candidate[valid]]
    return out


def impression_labels(impressions: LoggedImpressions, events: EventColumns, creator_of: dict[int, int],
                      horizon_hours: float = 24.0, weights: SignalWeights | None = None) -> ImpressionLabels:
    weights = weights or SignalWeights()
    n = len(impressions)
    labels = ImpressionLabels(*(np.zeros(n) for _ in TASKS))
    if n == 0 or len(events) == 0:
        return labels
    horizon = horizon_hours * 3600.0
    shift = np.int64(1) << np.int64(32)
    imp_key = impressions.user_id * shift + impressions.video_id
    with_video = (events.video_id >= 0) & (events.user_id >= 0)
    ev = events.take(with_video)
    attached = _attach(imp_key, impressions.ts, ev.user_id * shift + ev.video_id, ev.ts, horizon)
    hit = attached >= 0
    target, kind = attached[hit], ev.kind[hit]
    ratio = np.nan_to_num(ev.watch_ratio[hit], nan=0.0)
    finished = (kind == "complete") | (np.isin(kind, ["watch", "skip", "replay"]) & (ratio >= weights.finished_ratio))
    np.maximum.at(labels.finish, target[finished], 1.0)
    for task in ("like", "share", "comment", "follow"):
        mask = kind == task
        np.maximum.at(labels[task], target[mask], 1.0)
    watched = np.where(kind == "complete", np.maximum(ratio, 1.0), ratio)
    watching = np.isin(kind, ["watch", "skip", "replay", "complete"])
    np.maximum.at(labels.watch_ratio, target[watching], np.minimum(watched[watching], MAX_WATCH))
    # A follow usually names the creator, not the video: credit the impression of that creator's video.
    follows = events.take((events.kind == "follow") & (events.video_id < 0) & (events.target_user_id >= 0)
                          & (events.user_id >= 0))
    if len(follows):
        imp_creator = np.array([creator_of.get(int(v), -1) for v in impressions.video_id], dtype=np.int64)
        attached = _attach(impressions.user_id * shift + imp_creator, impressions.ts,
                           follows.user_id * shift + follows.target_user_id, follows.ts, horizon)
        np.maximum.at(labels.follow, attached[attached >= 0], 1.0)
    return labels


@dataclass
class TrainedRanker:
    boosters: dict[str, Any] = field(default_factory=dict)  # task -> lightgbm.Booster
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    positives = labels > 0.5
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # Average ranks over ties.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    tie_rank = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(tie_rank, counts)
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def fit_ranker(features: np.ndarray, labels: ImpressionLabels, ts: np.ndarray, feature_names: list[str],
               config: RankerTrainingConfig | None = None, baseline: dict[str, np.ndarray] | None = None
               ) -> TrainedRanker:
    """One booster per task; ``baseline`` (the heuristic's predictions) is scored on the same hold-out."""
    import lightgbm as lgb

    config = config or RankerTrainingConfig()
    out = TrainedRanker()
    n = len(features)
    if n == 0:
        out.skipped = {task: "no logged impressions" for task in TASKS}
        return out
    order = np.argsort(ts, kind="stable")[-config.max_rows:]
    n = len(order)
    cut = int(n * (1.0 - config.validation_share))
    train_idx, valid_idx = order[:cut], order[cut:]
    # Bin the features once; every task reuses the bins with its own labels.
    dataset_params = {"max_bin": config.max_bin, "verbosity": -1, "feature_pre_filter": False}
    train_set = lgb.Dataset(features[train_idx], np.zeros(len(train_idx)), feature_name=feature_names,
                            params=dataset_params, free_raw_data=False).construct()
    valid_set = lgb.Dataset(features[valid_idx], np.zeros(len(valid_idx)), reference=train_set,
                            params=dataset_params, free_raw_data=False).construct() if len(valid_idx) else None
    for task in TASKS:
        y = labels[task]
        binary = task in BINARY_TASKS
        positives = int((y[train_idx] > 0).sum())
        if positives < config.min_positives or len(valid_idx) == 0 or (binary and positives == len(train_idx)):
            out.skipped[task] = f"{positives} positive training impressions (need {config.min_positives})"
            continue
        params = {
            **dataset_params,
            "objective": "binary" if binary else "regression", "learning_rate": config.learning_rate,
            "num_leaves": config.num_leaves, "min_data_in_leaf": config.min_data_in_leaf,
            "feature_fraction": config.feature_fraction, "bagging_seed": config.seed,
            "feature_fraction_seed": config.seed, "lambda_l2": config.lambda_l2, "num_threads": config.threads,
            "seed": config.seed, "deterministic": True, "force_row_wise": True, "verbosity": -1,
            "metric": "binary_logloss" if binary else "l2",
        }
        train_set.set_label(y[train_idx])
        valid_set.set_label(y[valid_idx])
        booster = lgb.train(params, train_set, num_boost_round=config.num_boost_round, valid_sets=[valid_set],
                            callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)])
        if booster.best_iteration and booster.best_iteration < booster.current_iteration():
            booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration))
        predicted = booster.predict(features[valid_idx], num_threads=config.threads)
        truth = y[valid_idx]
        metrics: dict[str, float] = {"train_rows": float(len(train_idx)), "validation_rows": float(len(valid_idx)),
                                     "train_positives": float(positives),
                                     "trees": float(booster.current_iteration())}
        if binary:
            metrics["validation_auc"] = _auc(truth, predicted)
            if baseline is not None:
                metrics["heuristic_auc"] = _auc(truth, baseline[task][valid_idx])
        else:
            metrics["validation_rmse"] = float(np.sqrt(np.mean((predicted - truth) ** 2)))
            if baseline is not None:
                metrics["heuristic_rmse"] = float(np.sqrt(np.mean((baseline[task][valid_idx] - truth) ** 2)))
        out.boosters[task] = booster
        out.metrics[task] = metrics
    return out
