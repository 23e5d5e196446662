"""EASE (Steck, 2019): a closed-form item–item linear autoencoder with a zero diagonal.

``B = I - P / diag(P)`` with ``P = (XᵀX + λI)⁻¹``; a user's scores are ``x B``. When there are fewer users
than items the inverse is taken in the user space through the Woodbury identity,
``P = (I - Xᵀ (XXᵀ + λI)⁻¹ X) / λ``, which is exact and turns an items³ solve into a users³ one.

With ``window_rows`` (and timestamps), the Gram matrix also counts co-occurrence within runs of that many
consecutive interactions of a user, in time order, each run one extra row of ``X``. Items rated in the
same sitting say more about each other than two items at either end of a years-long history, so these
rows sharpen the item–item weights; a user is still scored from their whole history.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from pydantic import Field, field_validator

from openfyp.recsys.models.base import ModelConfig, Recommender, binarized, entries_with_times


class EASEConfig(ModelConfig):
    l2: float = Field(200.0, gt=0, description="The ridge penalty λ.")
    binary: bool = Field(True, description="Use 1 for every positive instead of its value.")
    value_transform: Literal["identity", "sqrt", "log1p"] = Field(
        "identity", description="Applied to values when binary is False, to damp very strong signals.")
    solver: Literal["auto", "items", "users"] = Field("auto", description="Which side to invert; auto = smaller.")
    window_rows: tuple[int, ...] = Field((), description="Run lengths of time-ordered interactions added as "
                                                         "extra rows (needs timestamps; ignored without).")

    @field_validator("window_rows")
    @classmethod
    def _positive_windows(cls, sizes: tuple[int, ...]) -> tuple[int, ...]:
        if any(size < 2 for size in sizes):
            raise ValueError("every window must hold at least two interactions")
        return tuple(sorted(set(sizes)))


class EASERecommender(Recommender):
    name = "ease"
    Config = EASEConfig

    def _fit(self, train: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> None:
        X = binarized(train) if self.config.binary else self._transformed(train)
        if self.config.window_rows and timestamps is not None and timestamps.nnz:
            X = sp.vstack([X, *(_window_rows(X, timestamps, size) for size in self.config.window_rows)])
        self._X = X.astype(np.float64).tocsr()
        active_users = np.flatnonzero(np.diff(self._X.indptr))
        active_items = np.flatnonzero(np.asarray((self._X != 0).sum(axis=0)).ravel())
        solver = self.config.solver
        if solver == "auto":
            solver = "users" if len(active_users) < len(active_items) else "items"
        self._solver = solver
        lam = self.config.l2
        self._active_items = active_items
        if solver == "items":
            Xa = self._X[:, active_items]
            gram = (Xa.T @ Xa).toarray()
            gram[np.diag_indices_from(gram)] += lam
            P = _spd_inverse(gram)
            B = -P / np.diag(P)[None, :]
            B[np.diag_indices_from(B)] = 0.0
            self._B = B.astype(np.float32)
        else:
            Xu = self._X[active_users]
            kernel = (Xu @ Xu.T).toarray()
            kernel[np.diag_indices_from(kernel)] += lam
            M = _spd_inverse(kernel)
            # Q = M X, so hP = (h - (h Xᵀ) Q) / λ; diag(P) = (1 - Σ_u X ⊙ Q) / λ.
            Q = (Xu.T @ M).T
            self._Xu = Xu
            self._Q = Q
            self._diag_p = (1.0 - np.asarray(Xu.multiply(Q).sum(axis=0)).ravel()) / lam

    def _score_batch(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        H = (binarized(history) if self.config.binary else self._transformed(history)).astype(np.float64)
        if self._solver == "items":
            out = np.zeros((H.shape[0], self.n_items), dtype=np.float32)
            Ha = H[:, self._active_items]
            out[:, self._active_items] = np.asarray(Ha @ self._B)
            return out
        lam = self.config.l2
        hx = np.asarray((H @ self._Xu.T).todense())
        hp = (H.toarray() - hx @ self._Q) / lam
        scores = H.toarray() - hp / self._diag_p[None, :]
        return scores.astype(np.float32)

    def _transformed(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        out = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
        out.data = np.maximum(out.data, 0.0)
        if self.config.value_transform == "sqrt":
            out.data = np.sqrt(out.data)
        elif self.config.value_transform == "log1p":
            out.data = np.log1p(out.data)
        out.eliminate_zeros()
        return out

    @classmethod
    def search_space(cls) -> list[dict]:
        return [{"l2": l2} for l2 in (50.0, 100.0, 200.0, 400.0, 800.0, 1600.0)]


def _window_rows(X: sp.csr_matrix, timestamps: sp.csr_matrix, size: int) -> sp.csr_matrix:
    """One row per run of ``size`` consecutive interactions of a user, in time order (the last run shorter)."""
    users, items, times = entries_with_times(X, timestamps)
    values = X.tocsr().data
    order = np.lexsort((items, times, users))
    users, items, values = users[order], items[order], values[order]
    position = np.arange(len(users)) - np.searchsorted(users, users)
    runs_per_user = -(-np.bincount(users, minlength=X.shape[0]) // size)
    first_run = np.concatenate([[0], np.cumsum(runs_per_user)[:-1]])
    rows = first_run[users] + position // size
    return sp.csr_matrix((values, (rows, items)), shape=(int(runs_per_user.sum()), X.shape[1]))


def _spd_inverse(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive-definite matrix through its Cholesky factor."""
    factor, info = scipy.linalg.lapack.dpotrf(matrix, lower=1, clean=1, overwrite_a=0)
    if info != 0:
        return np.linalg.inv(matrix)
    inverse, info = scipy.linalg.lapack.dpotri(factor, lower=1, overwrite_c=1)
    if info != 0:
        return np.linalg.inv(matrix)
    lower = np.tril(inverse)
    return lower + np.tril(inverse, -1).T
