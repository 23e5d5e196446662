from __future__ import annotations

import numpy as np
import pytest

from openfyp.realtime.embedding_table import (
    EmbeddingTable,
    EmbeddingTableConfig,
    EmbeddingTableError,
)
from openfyp.realtime.id_index import IdIndex, IdIndexError


def test_index_maps_every_id_exactly_even_when_their_hashes_collide():
    index = IdIndex(capacity=16)
    # Ids that differ only in high bits start probing at related places; many share a home slot.
    ids = np.concatenate([np.arange(1, 2000), np.arange(1, 2000) << 40, -np.arange(1, 500)])
    rows = np.arange(len(ids))
    index.insert(ids, rows)
    assert len(index) == len(ids)
    assert np.array_equal(index.lookup(ids), rows)
    assert np.array_equal(index.lookup(np.array([0, 2000, 2500 << 40])), [-1, -1, -1])
    assert index.get(1 << 40) == 1999 and (5 in index) and (10**15 not in index)


def test_index_removal_keeps_other_ids_reachable_and_rebuilds_when_sparse():
    rng = np.random.default_rng(1)
    ids = rng.choice(10**12, size=20_000, replace=False)
    index = IdIndex(capacity=1024)
    index.insert(ids, np.arange(len(ids)))
    gone = ids[::3]
    assert index.remove(np.concatenate([gone, [-5]])) == len(gone)
    kept = np.setdiff1d(ids, gone)
    expected = np.searchsorted(ids, kept, sorter=np.argsort(ids))
    assert np.array_equal(index.lookup(kept), np.argsort(ids)[expected])
    assert (index.lookup(gone) == -1).all()
    index.insert(gone[:100], np.arange(100))  # tombstones are reused
    assert np.array_equal(index.lookup(gone[:100]), np.arange(100))
    slots_before = index.slots
    index.remove(np.concatenate([kept, gone[:100]]))
    assert len(index) == 0 and index.slots < slots_before


def test_index_refuses_bad_input_with_codes():
    index = IdIndex()
    index.insert(np.array([3]), np.array([0]))
    with pytest.raises(IdIndexError) as duplicate:
        index.insert(np.array([4, 4]), np.array([1, 2]))
    assert duplicate.value.code == "duplicate_ids"
    with pytest.raises(IdIndexError) as present:
        index.insert(np.array([3]), np.array([1]))
    assert present.value.code == "already_present"
    with pytest.raises(IdIndexError) as reserved:
        index.lookup(np.array([np.iinfo(np.int64).min]))
    assert reserved.value.code == "reserved_id"


def test_ids_get_their_own_vector_only_after_the_frequency_filter():
    table = EmbeddingTable(EmbeddingTableConfig(dim=4, min_count=3))
    assert (table.record(np.array([10, 11]), 1000.0) == -1).all()
    assert (table.record(np.array([10]), 1001.0) == -1).all()
    feature_vectors = {10: np.full(4, 0.5), 11: np.full(4, -0.5)}
    rows = table.record(np.array([10, 10, 11]), 1002.0,
                        init=lambda ids: np.stack([feature_vectors[int(i)] for i in ids]))
    assert rows[0] == rows[1] >= 0 and rows[2] == -1, "10 reached 3 occurrences (two in this batch), 11 did not"
    fallback = np.zeros((2, 4), dtype=np.float32)
    vectors, own = table.vectors_for(np.array([10, 11]), fallback)
    assert own.tolist() == [True, False]
    assert np.allclose(vectors[0], 0.5) and np.allclose(vectors[1], 0.0)
    table.add(np.array([rows[0], rows[0]]), np.ones((2, 4)))
    assert np.allclose(table.vector(10), 2.5) and table.vector(11) is None
    assert table.admitted == 1 and len(table) == 2


def test_two_ids_never_share_a_vector():
    table = EmbeddingTable(EmbeddingTableConfig(dim=2, min_count=1))
    ids = np.array([7, 7 + (1 << 32), 7 + (1 << 48)])
    rows = table.record(ids, 0.0)
    assert len(set(rows.tolist())) == 3
    table.add(rows[:1], np.array([[1.0, 1.0]]))
    assert np.allclose(table.vector(7), 1.0)
    assert np.allclose(table.vector(7 + (1 << 32)), 0.0) and np.allclose(table.vector(7 + (1 << 48)), 0.0)


def test_ids_unseen_past_the_ttl_expire_and_their_rows_are_reused():
    table = EmbeddingTable(EmbeddingTableConfig(dim=2, min_count=1, ttl_seconds=100))
    old = table.record(np.array([1, 2]), 1000.0)
    table.record(np.array([3]), 1080.0)
    table.record(np.array([1]), 1090.0)  # seen again: stays
    assert table.expire(now=1150.0) == 1
    assert table.rows_of(np.array([1, 2, 3])).tolist()[1] == -1
    assert table.count_of(np.array([2])).tolist() == [0]
    reused = table.record(np.array([4]), 1150.0)
    assert reused[0] == old[1], "the expired id's vector row is handed out again"
    assert np.allclose(table.vector(4), 0.0)


def test_memory_is_bounded_by_evicting_the_least_recently_seen():
    table = EmbeddingTable(EmbeddingTableConfig(dim=8, min_count=1, max_ids=1000))
    for start in range(0, 5000, 500):
        ids = np.arange(start, start + 500)
        table.record(ids, float(start))
    assert len(table) <= 1000
    assert table.evicted >= 4000
    assert (table.rows_of(np.arange(4500, 5000)) >= 0).all(), "the newest ids are kept"
    assert (table.rows_of(np.arange(0, 3000)) == -1).all()
    assert table.memory_bytes() < 200_000


def test_snapshot_round_trips_exactly(tmp_path):
    rng = np.random.default_rng(3)
    table = EmbeddingTable(EmbeddingTableConfig(dim=3, min_count=2))
    ids = rng.choice(10**9, size=300, replace=False)
    table.record(ids, 50.0)
    rows = table.record(ids[:120], 60.0, init=lambda new: rng.normal(size=(len(new), 3)))
    table.add(rows, rng.normal(size=(120, 3)))
    table.save(tmp_path / "users.npz")
    loaded = EmbeddingTable.load(tmp_path / "users.npz", EmbeddingTableConfig(dim=3, min_count=2))
    assert len(loaded) == 300 and loaded.admitted == 120
    a, own_a = table.vectors_for(ids)
    b, own_b = loaded.vectors_for(ids)
    assert np.array_equal(own_a, own_b) and np.array_equal(a, b)
    assert np.array_equal(table.count_of(ids), loaded.count_of(ids))
    with pytest.raises(EmbeddingTableError) as wrong:
        EmbeddingTable.load(tmp_path / "users.npz", EmbeddingTableConfig(dim=4))
    assert wrong.value.code == "dim_mismatch"
