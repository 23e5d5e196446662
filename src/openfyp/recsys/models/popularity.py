"""Most-interacted items first: the cold-start fallback and the trending source.

With ``half_life_days`` set, each interaction counts ``0.5 ** (age / half_life)`` where age is measured
from the newest timestamp in the training data, which turns all-time popularity into "trending".
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from openfyp.recsys.models.base import ModelConfig, Recommender, binarized


class PopularityConfig(ModelConfig):
    half_life_days: float | None = Field(None, gt=0, description="Recency half-life; None counts all equally.")


class PopularityRecommender(Recommender):
    name = "popularity"
    Config = PopularityConfig

    item_scores: np.ndarray

    def _fit(self, train: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> None:
        positive = binarized(train)
        if self.config.half_life_days is None or timestamps is None or timestamps.nnz == 0:
            self.item_scores = np.asarray(positive.sum(axis=0)).ravel().astype(np.float32)
            return
        times = timestamps.multiply(positive > 0).tocsr()
        age_days = (times.data.max() - times.data) / 86400.0
        decayed = sp.csr_matrix((0.5 ** (age_days / self.config.half_life_days), times.indices, times.indptr),
                                shape=times.shape)
        self.item_scores = np.asarray(decayed.sum(axis=0)).ravel().astype(np.float32)

    def _score_batch(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return np.broadcast_to(self.item_scores, (len(users), self.n_items)).copy()
