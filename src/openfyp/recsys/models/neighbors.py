"""Item–item neighbourhood models: cosine item-KNN and RP3beta, both scoring ``history @ W``.

``W`` is a sparse items × items matrix built block by block, keeping each item's ``k`` strongest
neighbours, so the dense similarity never exists in full.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from openfyp.recsys.models.base import ModelConfig, Recommender, binarized

_BLOCK = 1024


def sparse_top_k_rows(n_rows: int, n_cols: int, block_rows: Callable[[np.ndarray], np.ndarray], k: int
                      ) -> sp.csr_matrix:
    """Build a CSR whose row ``i`` keeps the ``k`` largest positive entries of ``block_rows([i])``."""
    rows_out, cols_out, vals_out = [], [], []
    for start in range(0, n_rows, _BLOCK):
        rows = np.arange(start, min(start + _BLOCK, n_rows))
        dense = block_rows(rows)
        dense[np.arange(len(rows)), rows] = 0.0  # an item is not its own neighbour
        kk = min(k, n_cols)
        if kk < n_cols:
            top = np.argpartition(-dense, kk - 1, axis=1)[:, :kk]
        else:
            top = np.tile(np.arange(n_cols), (len(rows), 1))
        values = np.take_along_axis(dense, top, axis=1)
        keep = values > 0
        rows_out.append(np.repeat(rows, kk)[keep.ravel()])
        cols_out.append(top[keep])
        vals_out.append(values[keep])
    if not rows_out:
        return sp.csr_matrix((n_rows, n_cols), dtype=np.float32)
    return sp.csr_matrix((np.concatenate(vals_out).astype(np.float32),
                          (np.concatenate(rows_out), np.concatenate(cols_out))), shape=(n_rows, n_cols))


class _HistoryTimesW(Recommender):
    """Scores ``history @ W`` for a learned item–item matrix ``W``."""

    _W: sp.csr_matrix

    def _score_batch(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        H = binarized(history) if getattr(self.config, "binary", True) else history
        return np.asarray((H @ self._W).todense(), dtype=np.float32)

    @property
    def item_item(self) -> sp.csr_matrix:
        """The learned items × items weights (row: history item, column: scored item)."""
        self._require_fitted()
        return self._W


class ItemKNNConfig(ModelConfig):
    k: int = Field(100, ge=1, description="Neighbours kept per scored item.")
    shrink: float = Field(0.0, ge=0, description="Added to the cosine denominator to damp rare co-occurrence.")
    binary: bool = True


class ItemKNNRecommender(_HistoryTimesW):
    """Cosine item-based collaborative filtering: score(j) = Σ over history i of sim(i, j) over j's k nearest."""

    name = "itemknn"
    Config = ItemKNNConfig

    def _fit(self, train: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> None:
        X = (binarized(train) if self.config.binary else train).tocsc().astype(np.float32)
        XT = X.T.tocsr()
        norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=0)).ravel())
        shrink = self.config.shrink

        def block(rows: np.ndarray) -> np.ndarray:
            dots = np.asarray((XT[rows] @ X).todense())
            return dots / (norms[rows, None] * norms[None, :] + shrink + 1e-9)

        # Symmetric similarity: the k nearest of each scored item j are row j; transposing puts them in
        # column j, where history rows pick them up.
        self._W = sparse_top_k_rows(self.n_items, self.n_items, block, self.config.k).T.tocsr()

    @classmethod
    def search_space(cls) -> list[dict]:
        return [{"k": k, "shrink": s} for k in (10, 25, 50, 100) for s in (0.0, 10.0)]


class RP3BetaConfig(ModelConfig):
    alpha: float = Field(1.0, gt=0, description="Exponent on the random-walk transition probabilities.")
    beta: float = Field(0.5, ge=0, description="Popularity penalty: weights are divided by popularity^β.")
    k: int = Field(200, ge=1, description="Neighbours kept per history item.")
    binary: bool = True


class RP3BetaRecommender(_HistoryTimesW):
    """RP3beta (Paudel et al., 2017): a 3-step user→item→user→item random walk with a popularity penalty."""

    name = "rp3beta"
    Config = RP3BetaConfig

    def _fit(self, train: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> None:
        X = (binarized(train) if self.config.binary else train).tocsr().astype(np.float64)
        user_degree = np.asarray(X.sum(axis=1)).ravel()
        item_degree = np.asarray(X.sum(axis=0)).ravel()
        p_ui = sp.diags(1.0 / np.maximum(user_degree, 1e-12)) @ X
        p_iu = (sp.diags(1.0 / np.maximum(item_degree, 1e-12)) @ X.T.tocsr()).tocsr()
        if self.config.alpha != 1.0:
            p_ui = p_ui.power(self.config.alpha)
            p_iu = p_iu.power(self.config.alpha)
        p_ui = sp.csr_matrix(p_ui)
        penalty = np.power(np.maximum(item_degree, 1.0), -self.config.beta)

        def block(rows: np.ndarray) -> np.ndarray:
            return np.asarray((p_iu[rows] @ p_ui).todense()) * penalty[None, :]

        self._W = sparse_top_k_rows(self.n_items, self.n_items, block, self.config.k)

    @classmethod
    def search_space(cls) -> list[dict]:
        return [{"alpha": a, "beta": b, "k": k} for a in (0.8, 1.0) for b in (0.3, 0.5) for k in (100, 500)]
