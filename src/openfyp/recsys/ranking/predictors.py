"""Multi-task predictions per candidate: p(finish), p(like), p(share), p(comment), p(follow), E[watch ratio].

``BoostedPredictor`` holds one LightGBM booster per task, trained on logged impressions. Until a task has a
booster (no trained artifact yet, or too few positives), ``HeuristicPredictor`` answers for it: a transparent
formula that starts from the video's smoothed rates and shifts them by how well the video fits the viewer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np

from openfyp.recsys.ranking.config import TASKS, TaskWeights
from openfyp.recsys.ranking.features import FEATURE_INDEX, FEATURE_NAMES

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

    def fit_score(self, X: np.ndarray) -> np.ndarray:
        f = lambda name: X[:, FEATURE_INDEX[name]]  # noqa: E731
        return (0.8 * np.tanh(f("creator_affinity")) + 0.8 * np.tanh(f("hashtag_affinity"))
                + 0.5 * np.tanh(f("sound_affinity")) + 1.5 * np.clip(f("emb_sim"), -1, 1) * f("emb_known")
                + 0.6 * np.tanh(f("cowatch")) + 0.7 * f("follows_creator") + 0.05 * f("video_log_trending"))

    def predict(self, X: np.ndarray) -> dict[str, np.ndarray]:
        f = lambda name: X[:, FEATURE_INDEX[name]]  # noqa: E731
        fit = self.fit_score(X)
        return {
            "finish": _sigmoid(_logit(f("video_completion_rate")) + fit),
            "like": _sigmoid(_logit(f("video_like_rate")) + fit),
            "share": _sigmoid(_logit(f("video_share_rate")) + fit),
            "comment": _sigmoid(_logit(f("video_comment_rate")) + fit),
            "follow": _sigmoid(_logit(f("video_follow_rate")) + fit - 2.0 * f("follows_creator")),
            "watch_ratio": np.clip(f("video_mean_watch") * np.exp(0.5 * fit), 0.0, MAX_WATCH),
        }


class BoostedPredictor:
    """One LightGBM booster per task; tasks without one fall back to the heuristic."""

    def __init__(self, version: str, boosters: Mapping[str, object], feature_names: Sequence[str]) -> None:
        self.version = version
        self.boosters = dict(boosters)
        self.feature_names = list(feature_names)
        self.fallback = HeuristicPredictor()
        # Columns of the serving feature matrix in the order the boosters were trained on (-1: not served).
        self._columns = np.array([FEATURE_INDEX.get(name, -1) for name in self.feature_names], dtype=np.int64)

    @property
    def learned_tasks(self) -> list[str]:
        return [task for task in TASKS if task in self.boosters]

    def _aligned(self, X: np.ndarray) -> np.ndarray:
        out = np.full((len(X), len(self._columns)), np.nan, dtype=np.float64)
        present = self._columns >= 0
        out[:, present] = X[:, self._columns[present]]
        return out

    def predict(self, X: np.ndarray) -> dict[str, np.ndarray]:
        predictions = self.fallback.predict(X) if len(self.boosters) < len(TASKS) else {}
        if len(X) == 0:
            return {task: np.zeros(0) for task in TASKS}
        aligned = self._aligned(X)
        for task, booster in self.boosters.items():
            values = np.asarray(booster.predict(aligned, num_threads=1), dtype=np.float64)
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
