"""Viewer × video features for the ranker, computed for all candidates of a request at once.

The same function serves live requests and is logged with each page, and the logged values are what the
ranker trains on, so training and serving can never disagree on what a feature means. Values are rounded
to four decimals before use so that the logged JSON reproduces them exactly.
"""

from __future__ import annotations

import math

import numpy as np

from openfyp.recsys.sources.base import SourceRequest, member_of
from openfyp.recsys.state import DecayingScores

FEATURE_VERSION = "f1"
SOURCE_FLAGS = ("following", "cowatch", "embedding", "trending", "fresh", "affinity")
FEATURE_NAMES: tuple[str, ...] = (
    "emb_sim", "emb_known", "cowatch", "creator_affinity", "hashtag_affinity", "sound_affinity", "follows_creator",
    "video_log_plays", "video_completion_rate", "video_like_rate", "video_share_rate", "video_comment_rate",
    "video_follow_rate", "video_mean_watch", "video_skip_rate", "video_log_age_hours", "video_duration_s",
    "video_log_trending", "viewer_log_events", "viewer_completion_rate", "viewer_like_rate",
    *(f"src_{name}" for name in SOURCE_FLAGS),
)
FEATURE_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}
SMOOTHING = 5.0  # pseudo-views pulling a new video's rates toward the catalog's


def signed_log(values: np.ndarray) -> np.ndarray:
    return np.sign(values) * np.log1p(np.abs(values))


def _lookup(scores: DecayingScores | None, keys: np.ndarray, now: float) -> np.ndarray:
    """Decayed scores for an array of keys (0 for unknown keys and for the -1 padding)."""
    out = np.zeros(keys.shape, dtype=np.float64)
    if scores is None or not scores.values:
        return out
    known, values = scores.arrays(now)
    position = np.minimum(np.searchsorted(known, keys), len(known) - 1)
    hit = known[position] == keys
    out[hit] = values[position[hit]]
    return out


def build_features(request: SourceRequest, rows: np.ndarray, source_names: list[str],
                   source_scores: np.ndarray) -> np.ndarray:
    """``(len(rows), len(FEATURE_NAMES))`` float64, rounded to 4 decimals."""
    catalog, stats, viewer, now = request.catalog, request.stats, request.viewer, request.now
    n = len(rows)
    X = np.zeros((n, len(FEATURE_NAMES)), dtype=np.float64)
    if n == 0:
        return X
    column = FEATURE_INDEX

    models = request.models
    if models is not None:
        sim, known = models.similarity(request, rows)
        X[:, column["emb_sim"]] = sim
        X[:, column["emb_known"]] = known
        X[:, column["cowatch"]] = np.log1p(models.cowatch_scores(request, rows))

    creators = catalog.creator_ids[rows]
    if viewer is not None:
        X[:, column["creator_affinity"]] = signed_log(_lookup(viewer.creator_affinity, creators, now))
        X[:, column["hashtag_affinity"]] = signed_log(
            _lookup(viewer.hashtag_affinity, catalog.hashtags[rows], now).sum(axis=1))
        X[:, column["sound_affinity"]] = signed_log(_lookup(viewer.sound_affinity, catalog.sound_ids[rows], now))
        log_events, completion, like_rate = viewer.viewer_stats()
    else:
        log_events, completion, like_rate = 0.0, float("nan"), float("nan")
    if request.relations.following:
        X[:, column["follows_creator"]] = member_of(creators, request.relations.following)

    priors = stats.priors(now)
    col = stats.columns
    plays = np.maximum(col["plays"][rows], col["completes"][rows] + col["skips"][rows])
    denominator = plays + SMOOTHING

    def rate(name: str, prior: str) -> np.ndarray:
        return (col[name][rows] + SMOOTHING * priors[prior]) / denominator

    X[:, column["video_log_plays"]] = np.log1p(plays)
    X[:, column["video_completion_rate"]] = rate("completes", "completion")
    X[:, column["video_like_rate"]] = rate("likes", "like")
    X[:, column["video_share_rate"]] = rate("shares", "share")
    X[:, column["video_comment_rate"]] = rate("comments", "comment")
    X[:, column["video_follow_rate"]] = rate("follows", "follow")
    X[:, column["video_skip_rate"]] = rate("early_skips", "early_skip")
    X[:, column["video_mean_watch"]] = ((col["watch_sum"][rows] + SMOOTHING * priors["watch"])
                                        / (col["watch_n"][rows] + SMOOTHING))
    X[:, column["video_log_age_hours"]] = np.log1p(np.maximum(now - catalog.created_ts[rows], 0.0) / 3600.0)
    X[:, column["video_duration_s"]] = catalog.duration_s[rows]
    X[:, column["video_log_trending"]] = np.log1p(stats.trending_at(rows, now))
    X[:, column["viewer_log_events"]] = log_events
    X[:, column["viewer_completion_rate"]] = completion if not math.isnan(completion) else priors["completion"]
    X[:, column["viewer_like_rate"]] = like_rate if not math.isnan(like_rate) else priors["like"]
    for j, name in enumerate(source_names):
        if name in SOURCE_FLAGS:
            X[:, column[f"src_{name}"]] = ~np.isnan(source_scores[:, j])
    # NaN never reaches the log: JSON (and PostgreSQL) has no NaN. In place: X is this request's own array.
    X[~np.isfinite(X)] = 0.0
    return np.round(X, 4, out=X)
