"""Simulated viewers with hidden topic tastes and a watch-time model.

The model is deliberately simple and explicit, so that a benchmark can say exactly what "matches their tastes"
means: a viewer's affinity for a clip is their hidden taste for its topic (1.0 = indifferent), and engagement
follows a logistic model of that affinity, the clip's hidden quality and its length.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np

SKIP_SECONDS = 2.0


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@dataclass(frozen=True)
class ClipTraits:
    video_id: int
    topic: int
    quality: float
    seconds: float
    creator_id: int


@dataclass
class WatchOutcome:
    watch_seconds: float
    watch_ratio: float
    completed: bool
    replayed: bool
    skipped: bool
    liked: bool
    shared: bool
    commented: bool
    followed: bool


@dataclass
class SimulatedViewer:
    index: int
    taste: np.ndarray  # a probability vector over topics; hidden from the platform
    rng: random.Random
    followed: set[int] = field(default_factory=set)

    @classmethod
    def sample(cls, index: int, n_topics: int, seed: int, concentration: float = 0.3) -> SimulatedViewer:
        generator = np.random.default_rng(seed + 7919 * index)
        taste = generator.dirichlet(np.full(n_topics, concentration))
        return cls(index=index, taste=taste, rng=random.Random(seed * 31 + index))

    def affinity(self, topic: int) -> float:
        return float(self.taste[topic] * len(self.taste))

    def engagement_logit(self, clip: ClipTraits) -> float:
        return 1.4 * math.log(self.affinity(clip.topic) + 0.05) + clip.quality - 0.03 * clip.seconds + 0.3

    def expected_watch_seconds(self, clip: ClipTraits) -> float:
        """The mean of ``watch`` below, in closed form; what benchmarks score a page by."""
        p = _sigmoid(self.engagement_logit(clip))
        engaged = clip.seconds * (0.9 + 0.25 * p * 0.6)
        return p * engaged + (1 - p) * clip.seconds * 0.16

    def watch(self, clip: ClipTraits) -> WatchOutcome:
        rng = self.rng
        logit = self.engagement_logit(clip)
        p = _sigmoid(logit)
        if rng.random() < p:
            ratio = rng.uniform(0.8, 1.0)
            replayed = rng.random() < 0.25 * p
            completed = ratio >= 0.95 or replayed
            if replayed:
                ratio = 1.0 + rng.uniform(0.2, 1.0)
            liked = rng.random() < _sigmoid(logit - 1.2)
            shared = rng.random() < 0.2 * _sigmoid(logit - 1.5)
            commented = rng.random() < 0.12 * _sigmoid(logit - 1.0)
            followed = (clip.creator_id not in self.followed and liked and rng.random() < 0.25)
            if followed:
                self.followed.add(clip.creator_id)
            seconds = ratio * clip.seconds
            return WatchOutcome(seconds, ratio, completed, replayed, False, liked, shared, commented, followed)
        ratio = rng.uniform(0.02, 0.3)
        seconds = ratio * clip.seconds
        return WatchOutcome(seconds, ratio, False, False, True, rng.random() < 0.01, False, False, False)


def page_taste_match(viewer: SimulatedViewer, topics: list[int]) -> float:
    """Mean affinity of a page's clips for this viewer (1.0 is what a random page scores on average)."""
    if not topics:
        return 0.0
    return sum(viewer.affinity(t) for t in topics) / len(topics)
