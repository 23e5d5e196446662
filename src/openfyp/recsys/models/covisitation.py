"""Sequential co-visitation: items people engage with right before or right after each other.

Each user's training interactions are ordered by time; every pair at most ``window`` steps apart adds
``1 / distance ** decay`` to a forward (earlier → later) and a backward count. Rows are normalised so a
very active item does not drown the rest, and columns are divided by ``popularity ** beta``. A user's
score for ``j`` sums both directions over their history, so ``j`` scores high when it usually sits next
to what they watched. Without timestamps the order falls back to item index, i.e. plain co-occurrence
within short runs.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from openfyp.recsys.models.base import ModelConfig, binarized, entries_with_times
from openfyp.recsys.models.neighbors import _HistoryTimesW


class CoVisitationConfig(ModelConfig):
    window: int = Field(3, ge=1, description="Pairs at most this many steps apart count.")
    decay: float = Field(1.0, ge=0, description="A pair d steps apart counts 1/d^decay.")
    beta: float = Field(0.0, ge=0, description="Divide by popularity^beta.")
    binary: bool = True


class CoVisitationRecommender(_HistoryTimesW):
    name = "covisit"
    Config = CoVisitationConfig

    def _fit(self, train: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> None:
        users, items, times = entries_with_times(train, timestamps)
        order = np.lexsort((items, times, users))
        users, items = users[order], items[order]
        n = self.n_items
        rows, cols, vals = [], [], []
        for distance in range(1, self.config.window + 1):
            same = users[distance:] == users[:-distance]
            rows.append(items[:-distance][same])
            cols.append(items[distance:][same])
            vals.append(np.full(int(same.sum()), 1.0 / distance ** self.config.decay))
        if rows:
            counts = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
        else:
            counts = sp.csr_matrix((n, n))
        counts.sum_duplicates()
        forward = _row_normalised(counts)
        backward = _row_normalised(counts.T.tocsr())
        popularity = np.asarray(binarized(train).sum(axis=0)).ravel()
        penalty = sp.diags(np.power(np.maximum(popularity, 1.0), -self.config.beta))
        self._W = ((forward + backward) @ penalty).tocsr().astype(np.float32)

    @classmethod
    def search_space(cls) -> list[dict]:
        return [{"window": w, "beta": b} for w in (1, 3, 10) for b in (0.0, 0.5)]


def _row_normalised(matrix: sp.csr_matrix) -> sp.csr_matrix:
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    return (sp.diags(1.0 / np.maximum(sums, 1e-12)) @ matrix).tocsr()
