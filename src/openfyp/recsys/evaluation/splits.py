"""Offline protocols: how interactions are cut into train, validation and test.

``random_split`` is RecBole's "RS" split grouped by user: each user's interactions are shuffled with a
seed and cut by ratio, with RecBole's rounding (every part but the first rounded down, then a part that
would be empty but is owed a fraction of an interaction takes one from the first part while it has more
than one). ``temporal_split`` is leave-last-out: the last interaction is the test item, the one before it
the validation item, and a user always keeps at least one training interaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import scipy.sparse as sp

from openfyp.recsys.interactions import InteractionDataError, Interactions

PROTOCOLS = ("random", "temporal")


@dataclass(frozen=True)
class Split:
    train: Interactions
    valid: Interactions
    test: Interactions
    protocol: str
    seed: int | None

    def train_matrix(self) -> sp.csr_matrix:
        return self.train.to_csr("values")

    def train_times(self) -> sp.csr_matrix:
        return self.train.to_csr("timestamps")

    def known_for_test(self) -> sp.csr_matrix:
        """What test scoring masks: everything the user did in train and validation."""
        return (self.train.to_csr("ones") + self.valid.to_csr("ones")).tocsr()


def recbole_split_sizes(total: int, ratios: tuple[float, ...]) -> tuple[int, ...]:
    """Per-user part sizes exactly as RecBole's ``_calcu_split_ids`` computes them."""
    return _split_sizes(total, tuple(float(r) for r in ratios))


@cache
def _split_sizes(total: int, ratios: tuple[float, ...]) -> tuple[int, ...]:
    norm = sum(ratios)
    ratios = tuple(r / norm for r in ratios)
    counts = [int(r * total) for r in ratios]
    counts[0] = total - sum(counts[1:])
    for i in range(1, len(ratios)):
        if counts[0] <= 1:
            break
        if 0 < ratios[-i] * total < 1:
            counts[-i] += 1
            counts[0] -= 1
    return tuple(counts)


def _group_starts(users_sorted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each row within its user's group, and each row's group size."""
    n = len(users_sorted)
    boundary = np.ones(n, dtype=bool)
    boundary[1:] = users_sorted[1:] != users_sorted[:-1]
    starts = np.flatnonzero(boundary)
    sizes = np.diff(np.append(starts, n))
    group = np.cumsum(boundary) - 1
    return np.arange(n) - starts[group], sizes[group]


def random_split(interactions: Interactions, seed: int, ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
                 ) -> Split:
    """Per-user random split by ratio (RecBole ``RS`` with ``group_by: user``)."""
    if len(ratios) != 3 or min(ratios) < 0 or sum(ratios) <= 0:
        raise InteractionDataError("bad_ratios", "ratios must be three non-negative numbers", "ratios")
    n = len(interactions)
    if n == 0:
        raise InteractionDataError("empty", "no interactions to split", "interactions")
    shuffle_key = np.random.default_rng(seed).permutation(n)
    order = np.lexsort((shuffle_key, interactions.users))
    position, size = _group_starts(interactions.users[order])
    unique_sizes = np.unique(size)
    table = np.array([_split_sizes(int(s), tuple(ratios)) for s in unique_sizes])
    counts = table[np.searchsorted(unique_sizes, size)]
    part = np.where(position < counts[:, 0], 0, np.where(position < counts[:, 0] + counts[:, 1], 1, 2))
    return _cut(interactions, order, part, "random", seed)


def temporal_split(interactions: Interactions) -> Split:
    """Per-user leave-last-out by time: last → test, second last → validation, rest → train."""
    n = len(interactions)
    if n == 0:
        raise InteractionDataError("empty", "no interactions to split", "interactions")
    # Ties in time keep file order, so the split is a pure function of the input.
    order = np.lexsort((np.arange(n), interactions.timestamps, interactions.users))
    position, size = _group_starts(interactions.users[order])
    from_end = size - 1 - position
    held = np.minimum(2, size - 1)  # leave at least one interaction for training
    part = np.where(from_end >= held, 0, np.where(from_end == 0, 2, 1))
    return _cut(interactions, order, part, "temporal", None)


def make_split(interactions: Interactions, protocol: str, seed: int) -> Split:
    if protocol == "random":
        return random_split(interactions, seed)
    if protocol == "temporal":
        return temporal_split(interactions)
    raise InteractionDataError("bad_protocol", f"unknown protocol {protocol!r}; use random or temporal", "protocol")


def _cut(interactions: Interactions, order: np.ndarray, part: np.ndarray, protocol: str, seed: int | None) -> Split:
    pieces = [interactions.take(np.sort(order[part == k])) for k in range(3)]
    return Split(pieces[0], pieces[1], pieces[2], protocol, seed)
