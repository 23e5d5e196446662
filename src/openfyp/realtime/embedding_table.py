"""Embedding tables keyed by real ids: no hashing trick, a frequency filter, expiry and a hard memory bound.

Every id the learner meets is *tracked* (an occurrence count and the time it was last seen). Only after
``min_count`` occurrences is it *admitted*: it gets a vector of its own, initialised by the caller (usually
from the embedding of its features, which is what it used until then). Ids unseen for ``ttl_seconds`` are
forgotten, and when ``max_ids`` are tracked the least recently seen are evicted first, so memory has a
ceiling whatever the traffic.

Everything lives in numpy slabs; the only per-id structure is a slot in :class:`IdIndex`. Per id:

* tracked: 24-96 bytes of index (48 typical, see :mod:`openfyp.realtime.id_index`) + 12 bytes of slab
  (count, last seen, vector row) = about 60 bytes;
* admitted: + ``4 × dim`` bytes of vector + 4 bytes of update counter (260 bytes at ``dim = 64``).

Slabs grow by doubling, so up to half of each slab may be spare capacity after a growth step;
:meth:`EmbeddingTable.memory_bytes` reports what is really allocated.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from openfyp.realtime.id_index import IdIndex, IdIndexError

Initialiser = Callable[[np.ndarray], np.ndarray]
SNAPSHOT_FORMAT = 1


class EmbeddingTableConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dim: int = Field(32, ge=1, le=4096)
    min_count: int = Field(3, ge=1, description="Occurrences before an id gets a vector of its own.")
    ttl_seconds: float = Field(30 * 86400.0, gt=0, description="Ids unseen this long are forgotten.")
    max_ids: int = Field(5_000_000, ge=16, description="Tracked ids at most; the least recently seen go first.")


class EmbeddingTableError(IdIndexError):
    pass


class _Rows:
    """Row numbers ``0..capacity`` handed out and taken back, recycled last-freed first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.top = 0  # rows below top have been handed out at least once
        self.free = np.zeros(0, dtype=np.int64)

    def take(self, n: int) -> np.ndarray:
        reused = self.free[len(self.free) - min(n, len(self.free)):][::-1]
        self.free = self.free[: len(self.free) - len(reused)]
        fresh = np.arange(self.top, self.top + n - len(reused), dtype=np.int64)
        self.top += len(fresh)
        return np.concatenate([reused, fresh])

    def give_back(self, rows: np.ndarray) -> None:
        self.free = np.concatenate([self.free, np.asarray(rows, dtype=np.int64)])

    @property
    def in_use(self) -> int:
        return self.top - len(self.free)


class EmbeddingTable:
    """Vectors for ids that earned one, updated in place by the online learner.

    Not safe for concurrent writers on its own: callers (the online learner) mutate it under their lock;
    ``save`` takes the table's own lock so a snapshot never sees half an update batch.
    """

    def __init__(self, config: EmbeddingTableConfig | None = None, *, name: str = "table",
                 initial_capacity: int = 1024) -> None:
        self.config = config or EmbeddingTableConfig()
        self.name = name
        self.lock = threading.RLock()
        capacity = max(16, initial_capacity)
        self.index = IdIndex(capacity)
        self._slots = _Rows(capacity)
        self.counts = np.zeros(capacity, dtype=np.int32)
        self.last_seen = np.zeros(capacity, dtype=np.uint32)
        self.vector_row = np.full(capacity, -1, dtype=np.int32)
        self._vector_rows = _Rows(capacity)
        self.vectors = np.zeros((capacity, self.config.dim), dtype=np.float32)
        self.updates = np.zeros(capacity, dtype=np.int32)
        self.evicted = 0
        self.expired = 0

    # ---- sizes ---------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.index)

    @property
    def admitted(self) -> int:
        return self._vector_rows.in_use

    def memory_bytes(self) -> int:
        slabs = (self.counts, self.last_seen, self.vector_row, self.vectors, self.updates)
        return self.index.nbytes + sum(int(a.nbytes) for a in slabs) + int(self._slots.free.nbytes
                                                                         + self._vector_rows.free.nbytes)

    def stats(self) -> dict[str, float]:
        tracked = len(self)
        return {"tracked_ids": tracked, "admitted_ids": self.admitted, "bytes": self.memory_bytes(),
                "bytes_per_tracked_id": round(self.memory_bytes() / tracked, 1) if tracked else 0.0,
                "evicted": self.evicted, "expired": self.expired}

    # ---- lookups -------------------------------------------------------------------------------------------
    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """The vector row of each id, -1 for ids without a vector of their own (yet)."""
        slots = self.index.lookup(ids)
        out = np.full(len(slots), -1, dtype=np.int64)
        known = slots >= 0
        out[known] = self.vector_row[slots[known]]
        return out

    def count_of(self, ids: np.ndarray) -> np.ndarray:
        slots = self.index.lookup(ids)
        out = np.zeros(len(slots), dtype=np.int64)
        out[slots >= 0] = self.counts[slots[slots >= 0]]
        return out

    def vectors_for(self, ids: np.ndarray, fallback: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Each id's own vector where it has one, else its row of ``fallback`` (else zeros); and which had one."""
        rows = self.rows_of(ids)
        own = rows >= 0
        if fallback is not None:
            out = np.array(fallback, dtype=np.float32, copy=True).reshape(len(rows), self.config.dim)
        else:
            out = np.zeros((len(rows), self.config.dim), dtype=np.float32)
        out[own] = self.vectors[rows[own]]
        return out, own

    def vector(self, key: int) -> np.ndarray | None:
        row = int(self.rows_of(np.array([key]))[0])
        return self.vectors[row].copy() if row >= 0 else None

    # ---- occurrences ---------------------------------------------------------------------------------------
    def record(self, ids: np.ndarray, ts: float | np.ndarray, init: Initialiser | None = None) -> np.ndarray:
        """Count one occurrence per entry of ``ids`` seen at ``ts``; admit ids reaching ``min_count``.

        ``init(new_ids)`` returns the starting vectors of newly admitted ids (zeros without it). Returns the
        vector row of each entry (-1 where the id is still below the frequency filter).
        """
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return np.zeros(0, dtype=np.int64)
        stamps = np.broadcast_to(np.asarray(ts, dtype=np.float64), ids.shape)
        with self.lock:
            unique, inverse, occurrences = np.unique(ids, return_inverse=True, return_counts=True)
            newest = np.zeros(len(unique))
            np.maximum.at(newest, inverse, stamps)
            slots = self.index.lookup(unique)
            new = slots < 0
            if new.any():
                slots[new] = self._track(unique[new])
            self.counts[slots] = np.minimum(self.counts[slots].astype(np.int64) + occurrences,
                                            np.iinfo(np.int32).max)
            self.last_seen[slots] = np.maximum(self.last_seen[slots], _stamp(newest))
            ready = (self.vector_row[slots] < 0) & (self.counts[slots] >= self.config.min_count)
            if ready.any():
                self._admit(unique[ready], slots[ready], init)
            return self.vector_row[slots][inverse].astype(np.int64)

    def _track(self, ids: np.ndarray) -> np.ndarray:
        overflow = len(self) + len(ids) - self.config.max_ids
        if overflow > 0:
            # Evict a little more than needed so a full table does not evict on every batch.
            self.evict(min(len(self), overflow + max(1, self.config.max_ids // 64)))
        slots = self._slots.take(len(ids))
        self._ensure_slots(int(slots.max()) + 1)
        self.counts[slots] = 0
        self.last_seen[slots] = 0
        self.vector_row[slots] = -1
        self.index.insert(ids, slots)
        return slots

    def _admit(self, ids: np.ndarray, slots: np.ndarray, init: Initialiser | None) -> None:
        rows = self._vector_rows.take(len(ids))
        self._ensure_vectors(int(rows.max()) + 1)
        if init is not None:
            start = np.asarray(init(ids), dtype=np.float32)
            if start.shape != (len(ids), self.config.dim):
                raise EmbeddingTableError("bad_init", f"{self.name}: the initialiser returned shape {start.shape}, "
                                          f"expected {(len(ids), self.config.dim)}", "init")
            self.vectors[rows] = start
        else:
            self.vectors[rows] = 0.0
        self.updates[rows] = 0
        self.vector_row[slots] = rows

    def admit(self, ids: np.ndarray, vectors: np.ndarray, ts: float) -> np.ndarray:
        """Give ids their own vectors now, whatever their count (e.g. restoring a model's trained vectors)."""
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(ids), self.config.dim)
        with self.lock:
            rows = self.record(ids, ts)
            missing = rows < 0
            if missing.any():
                slots = self.index.lookup(ids[missing])
                self.counts[slots] = np.maximum(self.counts[slots], self.config.min_count)
                given = vectors[missing]
                self._admit(ids[missing], slots, lambda _ids: given)
                rows = self.rows_of(ids)
            self.vectors[rows] = vectors
            return rows

    # ---- learning ------------------------------------------------------------------------------------------
    def add(self, rows: np.ndarray, deltas: np.ndarray) -> None:
        """``vectors[rows] += deltas`` (repeated rows accumulate), counting one update per entry."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return
        if rows.min() < 0:
            raise EmbeddingTableError("no_vector", f"{self.name}: an update names an id without a vector", "rows")
        with self.lock:
            np.add.at(self.vectors, rows, np.asarray(deltas, dtype=np.float32))
            np.add.at(self.updates, rows, 1)

    # ---- forgetting ----------------------------------------------------------------------------------------
    def expire(self, now: float) -> int:
        """Forget ids unseen for longer than ``ttl_seconds``; returns how many."""
        with self.lock:
            ids, slots = self.index.items()
            if len(ids) == 0:
                return 0
            stale = self.last_seen[slots] < _stamp(np.array([now - self.config.ttl_seconds]))[0]
            removed = self._forget(ids[stale], slots[stale])
            self.expired += removed
            return removed

    def evict(self, n: int) -> int:
        """Forget the ``n`` least recently seen ids (ties: smallest id first)."""
        with self.lock:
            ids, slots = self.index.items()
            n = min(n, len(ids))
            if n <= 0:
                return 0
            seen = self.last_seen[slots]
            pick = np.argpartition(seen, n - 1)[:n] if n < len(ids) else np.arange(len(ids))
            removed = self._forget(ids[pick], slots[pick])
            self.evicted += removed
            return removed

    def _forget(self, ids: np.ndarray, slots: np.ndarray) -> int:
        if len(ids) == 0:
            return 0
        rows = self.vector_row[slots]
        owned = rows[rows >= 0].astype(np.int64)
        if len(owned):
            self.vectors[owned] = 0.0
            self._vector_rows.give_back(owned)
        self.vector_row[slots] = -1
        self.counts[slots] = 0
        self.index.remove(ids)
        self._slots.give_back(slots)
        return len(ids)

    def clear(self) -> None:
        with self.lock:
            fresh = EmbeddingTable(self.config, name=self.name)
            self.__dict__.update({k: v for k, v in fresh.__dict__.items() if k != "lock"})

    # ---- growth --------------------------------------------------------------------------------------------
    def _ensure_slots(self, needed: int) -> None:
        if needed <= len(self.counts):
            return
        size = max(needed, 2 * len(self.counts))
        self.counts = _grown(self.counts, size, 0)
        self.last_seen = _grown(self.last_seen, size, 0)
        self.vector_row = _grown(self.vector_row, size, -1)

    def _ensure_vectors(self, needed: int) -> None:
        if needed <= len(self.vectors):
            return
        size = max(needed, 2 * len(self.vectors))
        self.vectors = _grown(self.vectors, size, 0.0)
        self.updates = _grown(self.updates, size, 0)

    # ---- snapshots -----------------------------------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """The live content only (no spare capacity), in a form :meth:`from_arrays` restores exactly."""
        with self.lock:
            ids, slots = self.index.items()
            order = np.argsort(ids)
            ids, slots = ids[order], slots[order]
            rows = self.vector_row[slots].astype(np.int64)
            own = rows >= 0
            return {
                "format": np.array(SNAPSHOT_FORMAT), "dim": np.array(self.config.dim),
                "ids": ids, "counts": self.counts[slots].copy(), "last_seen": self.last_seen[slots].copy(),
                "vector_ids": ids[own], "vectors": self.vectors[rows[own]].copy(),
                "updates": self.updates[rows[own]].copy(),
            }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], config: EmbeddingTableConfig | None = None, *,
                    name: str = "table") -> EmbeddingTable:
        dim = int(arrays["dim"])
        config = config or EmbeddingTableConfig(dim=dim)
        if config.dim != dim:
            raise EmbeddingTableError("dim_mismatch", f"{name}: snapshot has dim {dim}, config {config.dim}", "dim")
        ids = np.asarray(arrays["ids"], dtype=np.int64)
        table = cls(config, name=name, initial_capacity=max(1024, len(ids)))
        if len(ids):
            slots = table._slots.take(len(ids))
            table._ensure_slots(len(ids))
            table.index.insert(ids, slots)
            table.counts[slots] = arrays["counts"]
            table.last_seen[slots] = arrays["last_seen"]
            vector_ids = np.asarray(arrays["vector_ids"], dtype=np.int64)
            if len(vector_ids):
                rows = table._vector_rows.take(len(vector_ids))
                table._ensure_vectors(len(vector_ids))
                table.vectors[rows] = arrays["vectors"]
                table.updates[rows] = arrays["updates"]
                table.vector_row[table.index.lookup(vector_ids)] = rows
        return table

    def save(self, path: Path) -> None:
        """Write a snapshot atomically and durably (temporary file, fsync, rename, fsync the folder)."""
        write_npz_atomically(path, self.to_arrays())

    @classmethod
    def load(cls, path: Path, config: EmbeddingTableConfig | None = None, *, name: str = "table") -> EmbeddingTable:
        with np.load(path) as data:
            if int(data["format"]) != SNAPSHOT_FORMAT:
                raise EmbeddingTableError("bad_snapshot", f"{path} is not a format-{SNAPSHOT_FORMAT} snapshot", "path")
            return cls.from_arrays({key: data[key] for key in data.files}, config, name=name)


def write_npz_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez(out, **arrays)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def fsync_directory(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _stamp(ts: np.ndarray) -> np.ndarray:
    """Epoch seconds as uint32 (good until 2106), clipped so a bad clock cannot wrap around."""
    return np.clip(np.asarray(ts, dtype=np.float64), 0, np.iinfo(np.uint32).max).astype(np.uint32)


def _grown(array: np.ndarray, size: int, fill) -> np.ndarray:
    out = np.full((size,) + array.shape[1:], fill, dtype=array.dtype)
    out[: len(array)] = array
    return out
