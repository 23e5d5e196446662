"""An exact map from 64-bit ids to row numbers held in two numpy arrays.

Open addressing with linear probing: ``keys[slot]`` holds the id itself, so two ids never share a row the
way a hashing trick would merge them; the hash only decides where probing starts. Every operation works on
a whole batch of ids at once (one numpy pass per probe step), which is what the online learner needs:
thousands of ids per batch, no Python loop per id. A removed id leaves a tombstone that lookups probe past;
when tombstones and live ids together pass the load limit, the table is rebuilt.

Memory: 12 bytes per slot (int64 key + int32 row). A resize leaves the table at half its load limit, so
with the default limit of 0.5 a stored id costs 48 bytes right after a resize and 24 bytes just before the
next one; shrinking happens below a quarter of the limit, so the worst case is 96 bytes.
"""

from __future__ import annotations

import numpy as np

EMPTY = np.iinfo(np.int64).min
TOMBSTONE = EMPTY + 1
# Fibonacci hashing: multiply by 2^64 / golden ratio, keep the top bits (spreads consecutive ids well).
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


class IdIndexError(ValueError):
    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


class IdIndex:
    """``id -> row`` for int64 ids (except the two reserved sentinels at the bottom of the int64 range)."""

    def __init__(self, capacity: int = 1024, max_load: float = 0.5) -> None:
        if not 0.1 <= max_load <= 0.9:
            raise IdIndexError("bad_load", "max_load must be between 0.1 and 0.9", "max_load")
        self.max_load = max_load
        self._allocate(_power_of_two(max(16, int(capacity / max_load) + 1)))

    def _allocate(self, slots: int) -> None:
        self.keys = np.full(slots, EMPTY, dtype=np.int64)
        self.rows = np.full(slots, -1, dtype=np.int32)
        self._mask = np.uint64(slots - 1)
        self._shift = np.uint64(64 - (slots.bit_length() - 1))
        self.size = 0
        self.tombstones = 0

    @property
    def slots(self) -> int:
        return len(self.keys)

    @property
    def nbytes(self) -> int:
        return int(self.keys.nbytes + self.rows.nbytes)

    def __len__(self) -> int:
        return self.size

    def _home(self, ids: np.ndarray) -> np.ndarray:
        return ((ids.astype(np.uint64) * _MULTIPLIER) >> self._shift).astype(np.int64)

    # ---- reads ---------------------------------------------------------------------------------------------
    def slots_of(self, ids: np.ndarray) -> np.ndarray:
        """The slot holding each id, or -1 where the id is absent."""
        ids = _as_ids(ids)
        found = np.full(len(ids), -1, dtype=np.int64)
        if self.size == 0 or len(ids) == 0:
            return found
        slot = self._home(ids)
        pending = np.arange(len(ids))
        mask = int(self._mask)
        while len(pending):
            here = slot[pending]
            keys = self.keys[here]
            hit = keys == ids[pending]
            found[pending[hit]] = here[hit]
            go_on = ~hit & (keys != EMPTY)
            pending = pending[go_on]
            slot[pending] = (slot[pending] + 1) & mask
        return found

    def lookup(self, ids: np.ndarray) -> np.ndarray:
        """The row of each id, or -1 where the id is absent."""
        slots = self.slots_of(ids)
        out = np.full(len(slots), -1, dtype=np.int64)
        present = slots >= 0
        out[present] = self.rows[slots[present]]
        return out

    def get(self, key: int, default: int = -1) -> int:
        row = int(self.lookup(np.array([key], dtype=np.int64))[0])
        return row if row >= 0 else default

    def __contains__(self, key: int) -> bool:
        return self.get(int(key)) >= 0

    def items(self) -> tuple[np.ndarray, np.ndarray]:
        """All (ids, rows), in slot order."""
        live = self.keys > TOMBSTONE
        return self.keys[live].copy(), self.rows[live].astype(np.int64)

    # ---- writes --------------------------------------------------------------------------------------------
    def insert(self, ids: np.ndarray, rows: np.ndarray) -> None:
        """Add ids that are not in the index yet (distinct from each other), each with its row."""
        ids, rows = _as_ids(ids), np.asarray(rows, dtype=np.int64)
        if len(ids) != len(rows):
            raise IdIndexError("length_mismatch", "ids and rows differ in length", "rows")
        if len(ids) == 0:
            return
        if len(np.unique(ids)) != len(ids):
            raise IdIndexError("duplicate_ids", "ids inserted together must be distinct", "ids")
        if (self.slots_of(ids) >= 0).any():
            raise IdIndexError("already_present", "an id is already in the index", "ids")
        if (self.size + self.tombstones + len(ids)) > self.max_load * self.slots:
            self._rehash(self.size + len(ids))
        self._place(ids, rows)
        self.size += len(ids)

    def _place(self, ids: np.ndarray, rows: np.ndarray) -> None:
        slot = self._home(ids)
        pending = np.arange(len(ids))
        mask = int(self._mask)
        while len(pending):
            here = slot[pending]
            keys = self.keys[here]
            free = keys <= TOMBSTONE
            candidates, candidate_slots = pending[free], here[free]
            # Several ids may reach the same free slot in one step: the first takes it, the rest probe on.
            taken_slots, first = np.unique(candidate_slots, return_index=True)
            winners = candidates[first]
            self.tombstones -= int((self.keys[taken_slots] == TOMBSTONE).sum())
            self.keys[taken_slots] = ids[winners]
            self.rows[taken_slots] = rows[winners]
            placed = np.zeros(len(ids), dtype=bool)
            placed[winners] = True
            pending = pending[~placed[pending]]
            slot[pending] = (slot[pending] + 1) & mask

    def remove(self, ids: np.ndarray) -> int:
        """Forget ids (absent ones are ignored); returns how many were removed."""
        slots = self.slots_of(ids)
        slots = np.unique(slots[slots >= 0])
        if len(slots) == 0:
            return 0
        self.keys[slots] = TOMBSTONE
        self.rows[slots] = -1
        self.size -= len(slots)
        self.tombstones += len(slots)
        if self.size < self.max_load / 4 * self.slots and self.slots > 1024:
            self._rehash(self.size)
        return len(slots)

    def set_rows(self, ids: np.ndarray, rows: np.ndarray) -> None:
        """Point ids that are present at new rows."""
        slots = self.slots_of(ids)
        if (slots < 0).any():
            raise IdIndexError("not_present", "an id is not in the index", "ids")
        self.rows[slots] = np.asarray(rows, dtype=np.int32)

    def clear(self) -> None:
        self._allocate(self.slots)

    def _rehash(self, wanted: int) -> None:
        ids, rows = self.items()
        self._allocate(_power_of_two(max(16, int(2 * wanted / self.max_load) + 1)))
        if len(ids):
            self._place(ids, rows)
            self.size = len(ids)


def _power_of_two(n: int) -> int:
    return 1 << (int(n) - 1).bit_length()


def _as_ids(ids) -> np.ndarray:
    array = np.asarray(ids)
    if array.ndim != 1:
        array = array.ravel()
    if array.dtype != np.int64:
        if array.size and not np.issubdtype(array.dtype, np.integer):
            raise IdIndexError("bad_ids", "ids must be integers", "ids")
        array = array.astype(np.int64)
    if array.size and array.min() <= TOMBSTONE:
        raise IdIndexError("reserved_id", "the two smallest int64 values are reserved", "ids")
    return array
