"""What every recommender and candidate source shares: a typed config, ``fit`` and scoring.

A model is fitted on a ``(n_users, n_items)`` CSR matrix of positive signals (ratings, graded
engagement). It then scores any user given a history row, so the online pipeline can score a viewer
whose newest events arrived after the last fit: pass ``history`` (rows aligned with ``user_indices``);
without it, a known user's training row is the history and an unknown user's is empty.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, ValidationError

from openfyp.recsys.coded_error import CodedError


class RecsysModelError(CodedError):
    """A model used wrongly (unfitted, bad config, mismatched matrix); ``code`` is machine-readable."""


class ModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def as_csr(matrix: Any, field: str = "train") -> sp.csr_matrix:
    if not sp.issparse(matrix):
        raise RecsysModelError("bad_matrix", f"{field} must be a scipy sparse matrix", field)
    csr = sp.csr_matrix(matrix, dtype=np.float32)
    csr.sum_duplicates()
    return csr


def binarized(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Every stored positive entry becomes 1.0 (non-positive entries are dropped)."""
    out = matrix.copy()
    out.data = (out.data > 0).astype(np.float32)
    out.eliminate_zeros()
    return out


def entries_with_times(train: sp.csr_matrix, timestamps: sp.csr_matrix | None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """User, item and time of every stored entry of ``train`` (time 0 where ``timestamps`` has none)."""
    positive = train.tocsr()
    users = np.repeat(np.arange(positive.shape[0]), np.diff(positive.indptr))
    items = positive.indices.astype(np.int64)
    if timestamps is None:
        return users, items, np.zeros(len(items))
    times_csr = sp.csr_matrix(timestamps, dtype=np.float64)
    t_users = np.repeat(np.arange(times_csr.shape[0]), np.diff(times_csr.indptr))
    keys = t_users.astype(np.int64) * positive.shape[1] + times_csr.indices
    order = np.argsort(keys, kind="stable")
    keys, data = keys[order], times_csr.data[order]
    probe = users.astype(np.int64) * positive.shape[1] + items
    if keys.size == 0:
        return users, items, np.zeros(len(items))
    pos = np.minimum(np.searchsorted(keys, probe), keys.size - 1)
    times = np.where(keys[pos] == probe, data[pos], 0.0)
    return users, items, times


def top_k_from_scores(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of each row's ``k`` best columns, best first; ties go to the lower index.

    Columns scored ``-inf`` (masked) are returned as index ``-1``.
    """
    n, m = scores.shape
    k = int(min(k, m))
    if k <= 0:
        return np.zeros((n, 0), dtype=np.int64), np.zeros((n, 0), dtype=np.float32)
    if k < m:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.tile(np.arange(m), (n, 1))
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    items = np.take_along_axis(part, order, axis=1).astype(np.int64)
    values = np.take_along_axis(part_scores, order, axis=1)
    items[~np.isfinite(values) & (values < 0)] = -1
    return items, values.astype(np.float32)


class Recommender(ABC):
    """Base of every model and candidate source (see the module docstring for the contract)."""

    name: ClassVar[str]
    Config: ClassVar[type[ModelConfig]]
    batch_size: ClassVar[int] = 512

    def __init__(self, config: ModelConfig | Mapping[str, Any] | None = None, **overrides: Any) -> None:
        try:
            if config is None:
                config = self.Config(**overrides)
            elif isinstance(config, Mapping):
                config = self.Config(**{**dict(config), **overrides})
            elif overrides:
                config = config.model_copy(update=overrides)
                config = self.Config.model_validate(config.model_dump())
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ())) or None
            raise RecsysModelError("bad_config", f"{self.name}: {first.get('msg', 'invalid config')}", field) from None
        if not isinstance(config, self.Config):
            raise RecsysModelError("bad_config", f"{self.name} takes a {self.Config.__name__}", "config")
        self.config = config
        self.n_users = 0
        self.n_items = 0
        self._train: sp.csr_matrix | None = None

    # ---- configuration -------------------------------------------------------------------------
    def dump_config(self) -> dict[str, Any]:
        return {"model": self.name, "config": self.config.model_dump(mode="json")}

    def dump_config_json(self) -> str:
        return json.dumps(self.dump_config(), sort_keys=True)

    @classmethod
    def from_config(cls, data: Mapping[str, Any] | str) -> Self:
        """Rebuild from :meth:`dump_config` output (a mapping or its JSON), or from a bare config mapping."""
        if isinstance(data, str):
            data = json.loads(data)
        if "model" in data and "config" in data:
            if data["model"] != cls.name:
                raise RecsysModelError("wrong_model", f"config is for {data['model']!r}, not {cls.name!r}", "model")
            data = data["config"]
        return cls(dict(data))

    @classmethod
    def search_space(cls) -> list[dict[str, Any]]:
        """The small grid of configs tried on the validation split (``[{}]``: defaults only)."""
        return [{}]

    @classmethod
    def fit_grid(cls, configs: list[dict[str, Any]], train: sp.csr_matrix, *,
                 timestamps: sp.csr_matrix | None = None) -> Iterator[tuple[dict[str, Any], Recommender]]:
        """Fit one model per config; models that share expensive work across configs override this."""
        for config in configs:
            yield config, cls(config).fit(train, timestamps=timestamps)

    # ---- fitting ----------------------------------------------------------------------------------
    def fit(self, train: sp.spmatrix, *, timestamps: sp.spmatrix | None = None) -> Self:
        """Learn from ``train`` (users × items, positive values); ``timestamps`` has the same pattern."""
        train, times = self.checked_inputs(train, timestamps)
        self.n_users, self.n_items = train.shape
        self._train = train
        self._fit(train, times)
        return self

    @staticmethod
    def checked_inputs(train: sp.spmatrix, timestamps: sp.spmatrix | None
                       ) -> tuple[sp.csr_matrix, sp.csr_matrix | None]:
        train = as_csr(train)
        if train.nnz and train.data.min() < 0:
            raise RecsysModelError("negative_values", "train holds negative values; pass the positive part",
                                   "train")
        if timestamps is None:
            return train, None
        times = sp.csr_matrix(timestamps, dtype=np.float64)
        if times.shape != train.shape:
            raise RecsysModelError("shape_mismatch", "timestamps must have the shape of train", "timestamps")
        return train, times

    @abstractmethod
    def _fit(self, train: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> None: ...

    @property
    def is_fitted(self) -> bool:
        return self._train is not None

    def _require_fitted(self) -> None:
        if self._train is None:
            raise RecsysModelError("not_fitted", f"{self.name} must be fitted before scoring")

    # ---- scoring ----------------------------------------------------------------------------------
    def history_rows(self, user_indices: np.ndarray, history: sp.spmatrix | None = None) -> sp.csr_matrix:
        """Rows aligned with ``user_indices``: ``history`` if given, else training rows (empty if unknown)."""
        self._require_fitted()
        users = np.asarray(user_indices, dtype=np.int64)
        if history is not None:
            rows = as_csr(history, "history")
            if rows.shape != (len(users), self.n_items):
                raise RecsysModelError("shape_mismatch", f"history must be {len(users)} × {self.n_items}", "history")
            return rows
        known = (users >= 0) & (users < self.n_users)
        safe = np.where(known, users, 0)
        rows = self._train[safe]
        if not known.all():
            rows = sp.diags(known.astype(np.float32)) @ rows
            rows = sp.csr_matrix(rows)
            rows.eliminate_zeros()
        return rows

    def score_all(self, user_indices: np.ndarray, history: sp.spmatrix | None = None) -> np.ndarray:
        """Dense ``(len(user_indices), n_items)`` float32 scores; higher is better."""
        users = np.asarray(user_indices, dtype=np.int64)
        rows = self.history_rows(users, history)
        out = np.empty((len(users), self.n_items), dtype=np.float32)
        for start in range(0, len(users), self.batch_size):
            stop = start + self.batch_size
            out[start:stop] = self._score_batch(users[start:stop], rows[start:stop])
        return out

    @abstractmethod
    def _score_batch(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray: ...

    def score(self, user_indices: np.ndarray, item_indices: np.ndarray,
              history: sp.spmatrix | None = None) -> np.ndarray:
        """Scores of paired ``(user_indices[j], item_indices[j])``; NaN for items the model never saw.

        With ``history``, its rows are aligned with ``user_indices``.
        """
        self._require_fitted()
        users = np.asarray(user_indices, dtype=np.int64)
        items = np.asarray(item_indices, dtype=np.int64)
        if users.shape != items.shape:
            raise RecsysModelError("misaligned", "user_indices and item_indices must have the same length", "items")
        out = np.full(len(users), np.nan, dtype=np.float32)
        valid = (items >= 0) & (items < self.n_items)
        if history is not None:
            # Each pair brings its own history row, so score row by row in batches.
            rows = as_csr(history, "history")
            for start in range(0, len(users), self.batch_size):
                stop = start + self.batch_size
                scores = self.score_all(users[start:stop], rows[start:stop])
                local = np.arange(len(scores))
                pick = valid[start:stop]
                out[start:stop][pick] = scores[local[pick], items[start:stop][pick]]
            return out
        unique_users, inverse = np.unique(users, return_inverse=True)
        for start in range(0, len(unique_users), self.batch_size):
            batch = unique_users[start:start + self.batch_size]
            scores = self.score_all(batch)
            pick = valid & (inverse >= start) & (inverse < start + len(batch))
            out[pick] = scores[inverse[pick] - start, items[pick]]
        return out

    def top_k(self, user_indices: np.ndarray, k: int, exclude: sp.spmatrix | None = None,
              history: sp.spmatrix | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Each user's ``k`` best items and their scores, best first.

        ``exclude`` is indexed by user index (like the training matrix): its stored entries are never
        returned. Slots left when fewer than ``k`` items remain hold item ``-1``.
        """
        users = np.asarray(user_indices, dtype=np.int64)
        exclude_csr = sp.csr_matrix(exclude) if exclude is not None else None
        all_items = np.zeros((len(users), min(k, self.n_items)), dtype=np.int64)
        all_scores = np.zeros(all_items.shape, dtype=np.float32)
        for start in range(0, len(users), self.batch_size):
            batch = users[start:start + self.batch_size]
            batch_history = history[start:start + self.batch_size] if history is not None else None
            scores = self.score_all(batch, batch_history)
            if exclude_csr is not None:
                mask_excluded(scores, batch, exclude_csr)
            items, values = top_k_from_scores(scores, k)
            all_items[start:start + len(batch)] = items
            all_scores[start:start + len(batch)] = values
        return all_items, all_scores


def mask_excluded(scores: np.ndarray, users: np.ndarray, exclude: sp.csr_matrix) -> None:
    """Set ``scores[r, i] = -inf`` for every stored entry ``(users[r], i)`` of ``exclude``."""
    known = (users >= 0) & (users < exclude.shape[0])
    rows = exclude[np.where(known, users, 0)]
    if not known.all():
        rows = sp.csr_matrix(sp.diags(known.astype(np.float32)) @ rows)
        rows.eliminate_zeros()
    row_ids = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
    columns = rows.indices
    inside = columns < scores.shape[1]
    scores[row_ids[inside], columns[inside]] = -np.inf
