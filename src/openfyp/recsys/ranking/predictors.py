"""Multi-task predictions per candidate: p(finish), p(like), p(share), p(comment), p(follow), E[watch ratio].

``BoostedPredictor`` holds one LightGBM booster per task, trained on logged impressions. Until a task has a
booster (no trained artifact yet, or too few positives), ``HeuristicPredictor`` answers for it: a transparent
formula that starts from the video's smoothed rates and shifts them by how well the video fits the viewer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, Protocol

import numpy as np

from openfyp.recsys.ranking.config import TASKS, TaskWeights
from openfyp.recsys.ranking.features import FEATURE_INDEX, FEATURE_NAMES
from openfyp.recsys.ranking.joint import JointBooster

HEURISTIC_VERSION = "heuristic-1"
MAX_WATCH = 3.0


class Predictor(Protocol):
    version: str

    def predict(self, features: np.ndarray) -> dict[str, np.ndarray]: ...


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


class HeuristicPredictor:
    """Rates of the video, shifted on the logit scale by a fit score (affinities, similarity, co-watch)."""

    version = HEURISTIC_VERSION
    # The binary tasks and the smoothed rate each starts from (``follow`` also drops for followed creators).
    RATE_OF: ClassVar[dict[str, str]] = {
        "finish": "video_completion_rate", "like": "video_like_rate", "share": "video_share_rate",
        "comment": "video_comment_rate", "follow": "video_follow_rate"}
    _RATE_COLUMNS: ClassVar[list[int]] = [FEATURE_INDEX[name] for name in RATE_OF.values()]
    _TANH_COLUMNS: ClassVar[list[int]] = [
        FEATURE_INDEX[name] for name in ("creator_affinity", "hashtag_affinity", "sound_affinity", "cowatch")]

    def fit_score(self, X: np.ndarray) -> np.ndarray:
        f = lambda name: X[:, FEATURE_INDEX[name]]  # noqa: E731
        # One tanh over the four squashed columns, and only where they are not zero: most candidates have no
        # creator, sound or co-watch signal, tanh(±0) is ±0, and tanh is the dearest call here.
        squashed = X[:, self._TANH_COLUMNS]
        nonzero = squashed != 0.0
        squashed[nonzero] = np.tanh(squashed[nonzero])
        creator, hashtag, sound, cowatch = squashed.T
        return (0.8 * creator + 0.8 * hashtag
                + 0.5 * sound + 1.5 * np.clip(f("emb_sim"), -1, 1) * f("emb_known")
                + 0.6 * cowatch + 0.7 * f("follows_creator") + 0.05 * f("video_log_trending"))

    def predict(self, X: np.ndarray) -> dict[str, np.ndarray]:
        f = lambda name: X[:, FEATURE_INDEX[name]]  # noqa: E731
        fit = self.fit_score(X)
        # The five binary tasks as the columns of one array: a handful of numpy calls on a (n, 5) block
        # rather than the same calls per task, which on a few hundred candidates cost mostly call overhead.
        shifted = _logit(X[:, self._RATE_COLUMNS]) + fit[:, None]
        follow = list(self.RATE_OF).index("follow")
        shifted[:, follow] -= 2.0 * f("follows_creator")
        probabilities = _sigmoid(shifted)
        predictions = {task: probabilities[:, j] for j, task in enumerate(self.RATE_OF)}
        predictions["watch_ratio"] = np.clip(f("video_mean_watch") * np.exp(0.5 * fit), 0.0, MAX_WATCH)
        return predictions


class BoostedPredictor:
    """One LightGBM booster per task; tasks without one fall back to the heuristic."""

    def __init__(self, version: str, boosters: Mapping[str, object], feature_names: Sequence[str]) -> None:
        self.version = version
        self.boosters = dict(boosters)
        self.feature_names = list(feature_names)
        self.fallback = HeuristicPredictor()
        # Columns of the serving feature matrix in the order the boosters were trained on (-1: not served).
        self._columns = np.array([FEATURE_INDEX.get(name, -1) for name in self.feature_names], dtype=np.int64)
        # Trained on the serving feature order itself (the usual case): the matrix goes to LightGBM as it is.
        self._same_order = self._columns.tolist() == list(range(len(FEATURE_NAMES)))
        # All tasks in one LightGBM call when that reproduces the per-task boosters (see ranking.joint).
        self.joint = JointBooster.build(self.boosters, len(self.feature_names))

    @property
    def learned_tasks(self) -> list[str]:
        return [task for task in TASKS if task in self.boosters]

    def _aligned(self, X: np.ndarray) -> np.ndarray:
        if self._same_order:
            return np.ascontiguousarray(X, dtype=np.float64)
        out = np.full((len(X), len(self._columns)), np.nan, dtype=np.float64)
        present = self._columns >= 0
        out[:, present] = X[:, self._columns[present]]
        return out

    def predict(self, X: np.ndarray) -> dict[str, np.ndarray]:
        predictions = self.fallback.predict(X) if len(self.boosters) < len(TASKS) else {}
        if len(X) == 0:
            return {task: np.zeros(0) for task in TASKS}
        aligned = self._aligned(X)
        if self.joint is not None:
            learned = self.joint.predict(aligned)
        else:
            learned = {task: np.asarray(booster.predict(aligned, num_threads=1), dtype=np.float64)
                       for task, booster in self.boosters.items()}
        for task, values in learned.items():
            predictions[task] = np.clip(values, 0.0, MAX_WATCH) if task == "watch_ratio" else values
        return predictions


def combine(predictions: Mapping[str, np.ndarray], weights: TaskWeights) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The published score ``Σ weight × prediction`` and each task's term of it."""
    weight_of = weights.as_dict()
    terms = {task: weight_of[task] * np.asarray(predictions[task], dtype=np.float64) for task in TASKS}
    total = np.zeros(len(next(iter(terms.values())))) if terms else np.zeros(0)
    for task in TASKS:
        total = total + terms[task]
    return total, terms


__all__ = ["FEATURE_NAMES", "BoostedPredictor", "HeuristicPredictor", "Predictor", "combine"]
