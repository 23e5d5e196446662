"""Viewer × video features for the ranker, computed for all candidates of a request at once.

The same function serves live requests and is logged with each page, and the logged values are what the
ranker trains on, so training and serving can never disagree on what a feature means. Values are rounded
to four decimals before use so that the logged JSON reproduces them exactly.
"""

from __future__ import annotations

import math

import numpy as np

from openfyp.recsys.sources.base import SourceRequest, lookup_sorted, member_of
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
# ``SourceRequest.cache`` key: (rows, per hashtag slot affinity, sound affinity) of the last build_features call.
SLOT_AFFINITIES = "slot_affinities"
SMOOTHING = 5.0  # pseudo-views pulling a new video's rates toward the catalog's
# (stats column, prior, feature): each rate is (count + SMOOTHING × prior) / (plays + SMOOTHING).
RATES = (("completes", "completion", "video_completion_rate"), ("likes", "like", "video_like_rate"),
         ("shares", "share", "video_share_rate"), ("comments", "comment", "video_comment_rate"),
         ("follows", "follow", "video_follow_rate"), ("early_skips", "early_skip", "video_skip_rate"))


def signed_log(values: np.ndarray) -> np.ndarray:
    return np.sign(values) * np.log1p(np.abs(values))


def _lookup(scores: DecayingScores | None, keys: np.ndarray, now: float) -> np.ndarray:
    """Decayed scores for an array of keys (0 for unknown keys and for the -1 padding)."""
    if scores is None or not scores.values:
        return np.zeros(keys.shape, dtype=np.float64)
    known, values = scores.arrays(now)
    return lookup_sorted(known, values, keys)


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
        tag_affinity = _lookup(viewer.hashtag_affinity, catalog.hashtags[rows], now)
        sound_affinity = _lookup(viewer.sound_affinity, catalog.sound_ids[rows], now)
        X[:, column["hashtag_affinity"]] = signed_log(tag_affinity.sum(axis=1))
        X[:, column["sound_affinity"]] = signed_log(sound_affinity)
        # The reasons' hints look up the same hashtag slots and sounds for the shortlisted rows: they reuse these.
        request.cache[SLOT_AFFINITIES] = (rows, tag_affinity, sound_affinity)
        log_events, completion, like_rate = viewer.viewer_stats()
    else:
        log_events, completion, like_rate = 0.0, float("nan"), float("nan")
    if request.relations.following:
        X[:, column["follows_creator"]] = member_of(creators, request.relations.following)

    priors = stats.priors(now)
    col = stats.columns
    plays = np.maximum(col["plays"][rows], col["completes"][rows] + col["skips"][rows])
    denominator = plays + SMOOTHING

    X[:, column["video_log_plays"]] = np.log1p(plays)
    # The smoothed rates as one (n, 6) block: the same arithmetic per value, a few calls instead of six times
    # as many on a few hundred candidates.
    counts = np.column_stack([col[name][rows] for name, _, _ in RATES])
    pseudo = np.array([SMOOTHING * priors[prior] for _, prior, _ in RATES])
    X[:, [column[feature] for _, _, feature in RATES]] = (counts + pseudo) / denominator[:, None]
    X[:, column["video_mean_watch"]] = ((col["watch_sum"][rows] + SMOOTHING * priors["watch"])
                                        / (col["watch_n"][rows] + SMOOTHING))
    X[:, column["video_log_age_hours"]] = np.log1p(np.maximum(now - catalog.created_ts[rows], 0.0) / 3600.0)
    X[:, column["video_duration_s"]] = catalog.duration_s[rows]
    X[:, column["video_log_trending"]] = np.log1p(stats.trending_at(rows, now))
    X[:, column["viewer_log_events"]] = log_events
    X[:, column["viewer_completion_rate"]] = completion if not math.isnan(completion) else priors["completion"]
    X[:, column["viewer_like_rate"]] = like_rate if not math.isnan(like_rate) else priors["like"]
    flagged = [j for j, name in enumerate(source_names) if name in SOURCE_FLAGS]
    if flagged:
        X[:, [column[f"src_{source_names[j]}"] for j in flagged]] = ~np.isnan(source_scores[:, flagged])
    # NaN never reaches the log: JSON (and PostgreSQL) has no NaN. In place: X is this request's own array.
    X[~np.isfinite(X)] = 0.0
    return X.round(4, out=X)
