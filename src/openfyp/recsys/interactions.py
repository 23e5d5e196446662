"""User–item interactions as aligned numpy arrays, with stable id maps and sparse-matrix builders.

Every model in :mod:`openfyp.recsys.models` consumes the CSR matrices built here, so the offline
harness and the online pipeline feed models the same shape of data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp

from openfyp.recsys.coded_error import CodedError


class InteractionDataError(CodedError):
    """Interaction data that cannot be read or used; ``code`` is machine-readable."""


def _as_id_array(ids: Sequence | np.ndarray) -> np.ndarray:
    array = np.asarray(ids)
    if array.ndim != 1:
        raise InteractionDataError("bad_ids", "ids must be a one-dimensional sequence", "ids")
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    if array.dtype.kind in "OUS":
        return array.astype(str)
    raise InteractionDataError("bad_ids", f"ids must be integers or strings, not {array.dtype}", "ids")


@dataclass(frozen=True)
class IdMap:
    """External ids (sorted, unique) ↔ dense indices ``0..len-1``.

    Sorting makes the map a pure function of the id set, so two builds over the same data agree.
    """

    external: np.ndarray

    @classmethod
    def from_ids(cls, ids: Sequence | np.ndarray) -> tuple[IdMap, np.ndarray]:
        """The map over ``ids`` and the dense index of every element of ``ids``."""
        array = _as_id_array(ids)
        unique, inverse = np.unique(array, return_inverse=True)
        return cls(unique), inverse.astype(np.int64)

    def __len__(self) -> int:
        return len(self.external)

    def index_of(self, ids: Sequence | np.ndarray) -> np.ndarray:
        """Dense indices of ``ids``; ``-1`` where an id is unknown."""
        array = np.asarray(ids)
        if len(self.external) == 0 or array.size == 0:
            return np.full(array.shape, -1, dtype=np.int64)
        if self.external.dtype.kind in "iu":
            if array.dtype.kind not in "iu":
                try:
                    array = array.astype(np.int64)
                except (TypeError, ValueError):
                    return np.full(array.shape, -1, dtype=np.int64)
        else:
            array = array.astype(str)
        positions = np.searchsorted(self.external, array)
        clipped = np.minimum(positions, len(self.external) - 1)
        found = self.external[clipped] == array
        return np.where(found, clipped, -1).astype(np.int64)

    def to_external(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        return self.external[np.asarray(indices, dtype=np.int64)]


@dataclass(frozen=True)
class Interactions:
    """One row per (user, item) event: dense user and item indices, a value and a timestamp.

    ``values`` holds the signal strength (a rating, a graded engagement weight, possibly negative);
    ``timestamps`` are seconds since the epoch. Subsets share the maps of the whole, so matrices built
    from a train split and a test split line up row for row and column for column.
    """

    users: np.ndarray
    items: np.ndarray
    values: np.ndarray
    timestamps: np.ndarray
    user_map: IdMap
    item_map: IdMap

    def __post_init__(self) -> None:
        n = len(self.users)
        for name in ("items", "values", "timestamps"):
            if len(getattr(self, name)) != n:
                raise InteractionDataError("misaligned", f"{name} has a different length from users", name)

    @classmethod
    def from_external(
        cls,
        user_ids: Sequence | np.ndarray,
        item_ids: Sequence | np.ndarray,
        values: Sequence[float] | np.ndarray | None = None,
        timestamps: Sequence[float] | np.ndarray | None = None,
    ) -> Interactions:
        """Build from external ids; a missing value column means 1.0, a missing time column 0.0."""
        if len(user_ids) != len(item_ids):
            raise InteractionDataError("misaligned", "user and item columns differ in length", "item_ids")
        user_map, users = IdMap.from_ids(user_ids)
        item_map, items = IdMap.from_ids(item_ids)
        n = len(users)
        value_array = np.ones(n) if values is None else np.asarray(values, dtype=np.float64)
        time_array = np.zeros(n) if timestamps is None else np.asarray(timestamps, dtype=np.float64)
        if not np.all(np.isfinite(value_array)):
            raise InteractionDataError("bad_value", "values must be finite numbers", "values")
        if not np.all(np.isfinite(time_array)):
            raise InteractionDataError("bad_timestamp", "timestamps must be finite numbers", "timestamps")
        return cls(users, items, value_array, time_array, user_map, item_map)

    @property
    def n_users(self) -> int:
        return len(self.user_map)

    @property
    def n_items(self) -> int:
        return len(self.item_map)

    @property
    def shape(self) -> tuple[int, int]:
        return self.n_users, self.n_items

    def __len__(self) -> int:
        return len(self.users)

    def take(self, selector: np.ndarray) -> Interactions:
        """The rows picked by a boolean mask or an index array, keeping both maps."""
        return Interactions(self.users[selector], self.items[selector], self.values[selector],
                            self.timestamps[selector], self.user_map, self.item_map)

    def concat(self, other: Interactions) -> Interactions:
        if other.user_map is not self.user_map or other.item_map is not self.item_map:
            if not (np.array_equal(other.user_map.external, self.user_map.external)
                    and np.array_equal(other.item_map.external, self.item_map.external)):
                raise InteractionDataError("different_maps", "can only join interactions sharing id maps")
        return Interactions(np.concatenate([self.users, other.users]), np.concatenate([self.items, other.items]),
                            np.concatenate([self.values, other.values]),
                            np.concatenate([self.timestamps, other.timestamps]), self.user_map, self.item_map)

    def deduplicated(self) -> Interactions:
        """One row per (user, item): the latest one, so a re-rating supersedes the old rating."""
        if len(self) == 0:
            return self
        order = np.lexsort((np.arange(len(self)), self.timestamps, self.items, self.users))
        users, items = self.users[order], self.items[order]
        last = np.ones(len(order), dtype=bool)
        last[:-1] = (users[1:] != users[:-1]) | (items[1:] != items[:-1])
        if last.all():
            return self
        keep = np.sort(order[last])
        return self.take(keep)

    def at_least(self, threshold: float) -> Interactions:
        """Only rows whose value is ``>= threshold`` (e.g. ratings of 4 and up as positives)."""
        return self.take(self.values >= threshold)

    def positive(self) -> Interactions:
        """Rows with a positive value: the implicit-feedback matrix retrieval models learn from."""
        return self.take(self.values > 0)

    def negative(self) -> Interactions:
        """Rows with a negative value, as positive magnitudes: what the ranker learns to avoid."""
        part = self.take(self.values < 0)
        return Interactions(part.users, part.items, -part.values, part.timestamps, self.user_map, self.item_map)

    def user_counts(self) -> np.ndarray:
        return np.bincount(self.users, minlength=self.n_users)

    def item_counts(self) -> np.ndarray:
        return np.bincount(self.items, minlength=self.n_items)

    def to_csr(self, data: Literal["values", "ones", "timestamps"] = "values",
               dtype: type = np.float32) -> sp.csr_matrix:
        """A ``(n_users, n_items)`` CSR matrix; duplicate pairs are summed (``timestamps``: latest kept).

        Explicit zeros are kept so a timestamp matrix has the same pattern as the value matrix.
        """
        if data == "values":
            weights = self.values
        elif data == "ones":
            weights = np.ones(len(self))
        elif data == "timestamps":
            return self._latest_time_csr()
        else:
            raise InteractionDataError("bad_matrix_kind", f"unknown matrix data {data!r}", "data")
        matrix = sp.csr_matrix((weights.astype(dtype), (self.users, self.items)), shape=self.shape)
        matrix.sum_duplicates()
        return matrix

    def _latest_time_csr(self) -> sp.csr_matrix:
        unique = self.deduplicated()
        order = np.lexsort((unique.items, unique.users))
        users, items = unique.users[order], unique.items[order]
        indptr = np.zeros(self.n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(users, minlength=self.n_users), out=indptr[1:])
        return sp.csr_matrix((unique.timestamps[order].astype(np.float64), items.astype(np.int32), indptr),
                             shape=self.shape)

    def external_rows(self) -> list[tuple[object, object, float, float]]:
        """Rows with external ids, for debugging and small exports."""
        users = self.user_map.to_external(self.users)
        items = self.item_map.to_external(self.items)
        return [(u.item() if hasattr(u, "item") else u, i.item() if hasattr(i, "item") else i, float(v), float(t))
                for u, i, v, t in zip(users, items, self.values, self.timestamps)]
