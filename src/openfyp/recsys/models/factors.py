"""Matrix-factorisation models from the ``implicit`` package: ALS and BPR, scored as ``u · v``.

Users outside the fitted matrix, or users whose ``history`` is passed, are folded in: ALS solves its own
least-squares step for the new row; BPR fits a ridge regression of the history on the item factors.
``top_k`` searches item vectors with faiss (:class:`EmbeddingIndex`) and drops excluded items.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field
from threadpoolctl import threadpool_limits

from openfyp.recsys.models.ann import EmbeddingIndex
from openfyp.recsys.models.base import ModelConfig, Recommender, binarized, mask_excluded, top_k_from_scores


class FactorModel(Recommender):
    """Base of embedding models: ``user_factors @ item_factors.T``."""

    user_factors: np.ndarray
    item_factors: np.ndarray
    _index: EmbeddingIndex | None = None

    def _prepared(self, train: sp.csr_matrix) -> sp.csr_matrix:
        return binarized(train) if self.config.binary else train

    def _fold_in(self, history: sp.csr_matrix) -> np.ndarray:
        raise NotImplementedError

    def user_vectors(self, user_indices: np.ndarray, history: sp.spmatrix | None = None) -> np.ndarray:
        """Embeddings of the given users (folded in from ``history`` when it is passed)."""
        self._require_fitted()
        users = np.asarray(user_indices, dtype=np.int64)
        out = np.zeros((len(users), self.item_factors.shape[1]), dtype=np.float32)
        if history is not None:
            rows = self.history_rows(users, history)
            nonempty = np.diff(rows.indptr) > 0
            if nonempty.any():
                out[nonempty] = self._fold_in(self._prepared(rows[np.flatnonzero(nonempty)]))
            return out
        known = (users >= 0) & (users < self.n_users)
        out[known] = self.user_factors[users[known]]
        return out

    def _score_batch(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        raise AssertionError("score_all is overridden")

    def score_all(self, user_indices: np.ndarray, history: sp.spmatrix | None = None) -> np.ndarray:
        vectors = self.user_vectors(user_indices, history)
        return (vectors @ self.item_factors.T).astype(np.float32)

    def score(self, user_indices: np.ndarray, item_indices: np.ndarray,
              history: sp.spmatrix | None = None) -> np.ndarray:
        users = np.asarray(user_indices, dtype=np.int64)
        items = np.asarray(item_indices, dtype=np.int64)
        vectors = self.user_vectors(users, history)
        valid = (items >= 0) & (items < self.n_items)
        out = np.full(len(items), np.nan, dtype=np.float32)
        out[valid] = np.einsum("ij,ij->i", vectors[valid], self.item_factors[items[valid]])
        return out

    def top_k(self, user_indices: np.ndarray, k: int, exclude: sp.spmatrix | None = None,
              history: sp.spmatrix | None = None) -> tuple[np.ndarray, np.ndarray]:
        users = np.asarray(user_indices, dtype=np.int64)
        vectors = self.user_vectors(users, history)
        if self._index is None:
            self._index = EmbeddingIndex(self.item_factors)
        exclude_csr = sp.csr_matrix(exclude) if exclude is not None else None
        extra = 0
        if exclude_csr is not None:
            known = users[(users >= 0) & (users < exclude_csr.shape[0])]
            extra = int(np.diff(exclude_csr.indptr)[known].max(initial=0))
        items, scores = self._index.search(vectors, k + extra)
        if exclude_csr is None or extra == 0:
            return items[:, :k], scores[:, :k]
        # Re-rank the short list with excluded items masked, keeping faiss's order among the rest.
        dense = np.full((len(users), self.n_items), -np.inf, dtype=np.float32)
        valid = items >= 0
        dense[np.nonzero(valid)[0], items[valid]] = scores[valid]
        mask_excluded(dense, users, exclude_csr)
        return top_k_from_scores(dense, k)


class ALSConfig(ModelConfig):
    factors: int = Field(64, ge=1)
    regularization: float = Field(0.05, ge=0)
    alpha: float = Field(1.0, gt=0, description="Confidence scale of observed entries.")
    iterations: int = Field(15, ge=1)
    binary: bool = True
    seed: int = 0
    threads: int = Field(1, ge=0, description="implicit's worker threads (0: all cores).")


class ALSRecommender(FactorModel):
    """Implicit-feedback ALS (Hu, Koren & Volinsky, 2008)."""

    name = "als"
    Config = ALSConfig

    def _fit(self, train: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        cfg = self.config
        with threadpool_limits(1, "blas"):
            self._model = AlternatingLeastSquares(factors=cfg.factors, regularization=cfg.regularization,
                                                  alpha=cfg.alpha, iterations=cfg.iterations, random_state=cfg.seed,
                                                  num_threads=cfg.threads)
            self._model.fit(self._prepared(train), show_progress=False)
        self.user_factors = np.asarray(self._model.user_factors, dtype=np.float32)
        self.item_factors = np.asarray(self._model.item_factors, dtype=np.float32)
        self._index = None

    def _fold_in(self, history: sp.csr_matrix) -> np.ndarray:
        with threadpool_limits(1, "blas"):
            return np.asarray(self._model.recalculate_user(np.arange(history.shape[0]), history), dtype=np.float32)

    @classmethod
    def search_space(cls) -> list[dict]:
        return [{"factors": f, "regularization": r} for f in (32, 64, 128) for r in (0.5, 2.0)]


class BPRConfig(ModelConfig):
    factors: int = Field(64, ge=1)
    learning_rate: float = Field(0.05, gt=0)
    regularization: float = Field(0.01, ge=0)
    iterations: int = Field(200, ge=1)
    binary: bool = True
    seed: int = 0
    fold_in_l2: float = Field(1.0, gt=0, description="Ridge penalty when folding in a new history.")


class BPRRecommender(FactorModel):
    """Bayesian personalised ranking (Rendle et al., 2009); single-threaded so a seed fixes the result."""

    name = "bpr"
    Config = BPRConfig

    def _fit(self, train: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> None:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        cfg = self.config
        with threadpool_limits(1, "blas"):
            model = BayesianPersonalizedRanking(factors=cfg.factors, learning_rate=cfg.learning_rate,
                                                regularization=cfg.regularization, iterations=cfg.iterations,
                                                random_state=cfg.seed, num_threads=1)
            model.fit(self._prepared(train), show_progress=False)
        # implicit appends a bias column to item factors and a constant 1 to user factors.
        self.user_factors = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.asarray(model.item_factors, dtype=np.float32)
        self._index = None

    def _fold_in(self, history: sp.csr_matrix) -> np.ndarray:
        V = self.item_factors.astype(np.float64)
        gram = V.T @ V + self.config.fold_in_l2 * np.eye(V.shape[1])
        rhs = np.asarray((history.astype(np.float64) @ V))
        return np.linalg.solve(gram, rhs.T).T.astype(np.float32)

    @classmethod
    def search_space(cls) -> list[dict]:
        return [{"factors": f, "learning_rate": 0.01, "regularization": r} for f in (64, 128) for r in (0.01, 0.05)]
