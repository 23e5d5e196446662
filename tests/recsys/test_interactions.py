from __future__ import annotations

import numpy as np
import pytest

from openfyp.recsys.interactions import IdMap, InteractionDataError, Interactions


def test_id_map_is_sorted_and_stable_whatever_the_input_order():
    first, idx_a = IdMap.from_ids([30, 10, 20, 10])
    second, _ = IdMap.from_ids([20, 10, 30])
    assert first.external.tolist() == [10, 20, 30] == second.external.tolist()
    assert idx_a.tolist() == [2, 0, 1, 0]
    assert first.index_of([20, 99, 10]).tolist() == [1, -1, 0]
    assert first.to_external([2, 0]).tolist() == [30, 10]


def test_string_ids_map_and_unknowns():
    ids, idx = IdMap.from_ids(["b", "a", "c"])
    assert ids.external.tolist() == ["a", "b", "c"]
    assert idx.tolist() == [1, 0, 2]
    assert ids.index_of(["c", "zz"]).tolist() == [2, -1]


def _sample() -> Interactions:
    return Interactions.from_external(["u1", "u1", "u2", "u1", "u3"], [5, 6, 5, 5, 7],
                                      values=[1.0, 4.0, -2.0, 3.0, 2.5], timestamps=[10, 11, 12, 20, 0])


def test_deduplicated_keeps_the_latest_row_per_pair():
    inter = _sample().deduplicated()
    rows = sorted(inter.external_rows())
    assert rows == [("u1", 5, 3.0, 20.0), ("u1", 6, 4.0, 11.0), ("u2", 5, -2.0, 12.0), ("u3", 7, 2.5, 0.0)]


def test_csr_builders_align_rows_and_columns():
    inter = _sample().deduplicated()
    values = inter.to_csr("values")
    assert values.shape == (3, 3)
    u1, i5 = inter.user_map.index_of(["u1"])[0], inter.item_map.index_of([5])[0]
    assert values[u1, i5] == pytest.approx(3.0)
    times = inter.to_csr("timestamps")
    # a zero timestamp is still a stored entry, so the time matrix has the value matrix's pattern
    assert times.nnz == values.nnz == 4
    assert inter.to_csr("ones").sum() == 4


def test_positive_and_negative_parts():
    inter = _sample().deduplicated()
    assert (inter.positive().values > 0).all() and len(inter.positive()) == 3
    negative = inter.negative()
    assert negative.values.tolist() == [2.0]
    assert negative.user_map is inter.user_map


def test_threshold_and_take_keep_maps():
    inter = _sample()
    kept = inter.at_least(2.5)
    assert sorted(kept.values.tolist()) == [2.5, 3.0, 4.0]
    assert kept.shape == inter.shape


def test_misaligned_and_non_finite_inputs_raise_structured_errors():
    with pytest.raises(InteractionDataError) as err:
        Interactions.from_external([1, 2], [1])
    assert err.value.code == "misaligned"
    with pytest.raises(InteractionDataError) as err:
        Interactions.from_external([1], [1], values=[np.nan])
    assert err.value.code == "bad_value" and err.value.field == "values"
