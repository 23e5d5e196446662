"""Model-specific behaviour: exact identities and hand-checkable cases."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from openfyp.recsys.models import EASERecommender, ItemKNNRecommender, PopularityRecommender
from openfyp.recsys.models.base import RecsysModelError, top_k_from_scores
from openfyp.recsys.models.covisitation import CoVisitationRecommender
from openfyp.recsys.models.engine import _hide_slice, group_ndcg


def _random_binary(users: int, items: int, density: float, seed: int) -> sp.csr_matrix:
    matrix = sp.random(users, items, density=density, format="csr", random_state=seed, dtype=np.float32)
    matrix.data[:] = 1.0
    return matrix


def test_ease_user_space_solution_equals_item_space_solution():
    train = _random_binary(25, 60, 0.2, 1)
    dual = EASERecommender(l2=5.0, solver="users").fit(train)
    primal = EASERecommender(l2=5.0, solver="items").fit(train)
    users = np.arange(25)
    np.testing.assert_allclose(dual.score_all(users), primal.score_all(users), atol=1e-4)


def test_ease_zero_diagonal_means_an_item_never_explains_itself():
    train = _random_binary(30, 20, 0.3, 2)
    model = EASERecommender(l2=3.0, solver="items").fit(train)
    single = sp.csr_matrix(([1.0], ([0], [4])), shape=(1, 20), dtype=np.float32)
    assert model.score_all(np.array([0]), history=single)[0, 4] == 0.0


def test_ease_window_rows_add_one_row_per_run_of_consecutive_interactions_in_time_order():
    # user 0 rated items 3, 0, 4, 1, 2 in that order (the column order differs on purpose); user 1 rated 1, 2
    train = sp.csr_matrix(np.array([[1, 1, 1, 1, 1, 0], [0, 1, 1, 0, 0, 0]], dtype=np.float32))
    times = sp.csr_matrix(np.array([[20, 40, 50, 10, 30, 0], [0, 5, 6, 0, 0, 0]], dtype=np.float64))
    windowed = EASERecommender(l2=2.0, window_rows=(2,)).fit(train, timestamps=times)
    runs = np.array([[1, 0, 0, 1, 0, 0],   # user 0: 3, 0
                     [0, 1, 0, 0, 1, 0],   # user 0: 4, 1
                     [0, 0, 1, 0, 0, 0],   # user 0: 2 (the short last run)
                     [0, 1, 1, 0, 0, 0]],  # user 1: 1, 2
                    dtype=np.float32)
    by_hand = EASERecommender(l2=2.0).fit(sp.csr_matrix(np.vstack([train.toarray(), runs])))
    history = sp.csr_matrix(np.eye(6, dtype=np.float32))
    np.testing.assert_allclose(windowed.score_all(np.zeros(6, dtype=np.int64), history),
                               by_hand.score_all(np.zeros(6, dtype=np.int64), history), atol=1e-5)
    plain = EASERecommender(l2=2.0).fit(train)
    untimed = EASERecommender(l2=2.0, window_rows=(2,)).fit(train)
    np.testing.assert_allclose(untimed.score_all(np.arange(2)), plain.score_all(np.arange(2)), atol=1e-6)
    assert not np.allclose(windowed.score_all(np.arange(2)), plain.score_all(np.arange(2)), atol=1e-3)


def test_ease_rejects_a_window_shorter_than_two_interactions():
    with pytest.raises(RecsysModelError) as caught:
        EASERecommender(window_rows=(1, 10))
    assert caught.value.code == "bad_config"


def test_popularity_counts_users_and_trending_prefers_recent():
    train = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 1], [1, 0, 1]], dtype=np.float32))
    assert PopularityRecommender().fit(train).score_all(np.array([0]))[0].tolist() == [3, 1, 2]
    times = sp.csr_matrix(np.array([[1, 100, 0], [1, 0, 1], [1, 0, 1]], dtype=np.float64)) * 86400.0
    trending = PopularityRecommender(half_life_days=1.0).fit(train, timestamps=times)
    scores = trending.score_all(np.array([0]))[0]
    assert scores[1] > scores[0] > scores[2] * 0 and scores[1] == 1.0


def test_item_knn_scores_by_cosine_neighbours():
    # items 0 and 1 always together, item 2 with 1 once
    train = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [0, 1, 1]], dtype=np.float32))
    model = ItemKNNRecommender(k=5).fit(train)
    history = sp.csr_matrix(np.array([[1, 0, 0]], dtype=np.float32))
    scores = model.score_all(np.array([0]), history=history)[0]
    assert scores[1] == np.float32(2 / np.sqrt(2 * 3))
    assert scores[2] == 0.0


def test_covisitation_uses_time_order():
    # every user watches 0 then 1 then 2 (times), so 1 sits next to both 0 and 2
    train = sp.csr_matrix(np.ones((4, 3), dtype=np.float32))
    times = sp.csr_matrix(np.tile(np.array([[10.0, 20.0, 30.0]]), (4, 1)))
    model = CoVisitationRecommender(window=1).fit(train, timestamps=times)
    after_zero = model.score_all(np.array([0]), history=sp.csr_matrix(np.array([[1, 0, 0]], dtype=np.float32)))[0]
    assert after_zero[1] > 0 and after_zero[2] == 0


def test_top_k_breaks_ties_by_index_and_marks_masked_slots():
    scores = np.array([[0.5, 0.9, 0.5, -np.inf]], dtype=np.float32)
    items, values = top_k_from_scores(scores, 4)
    assert items.tolist() == [[1, 0, 2, -1]]


def test_hidden_slice_keeps_one_visible_and_hides_the_share():
    train = _random_binary(50, 40, 0.3, 3)
    visible, hidden = _hide_slice(train, 0.25, np.random.default_rng(0))
    assert (visible.multiply(hidden)).nnz == 0
    assert visible.nnz + hidden.nnz == train.nnz
    counts = np.diff(train.indptr)
    assert (np.diff(hidden.indptr) == np.minimum(np.floor(counts * 0.25), np.maximum(counts - 1, 0))).all()


def test_group_ndcg_matches_hand_computation():
    scores = np.array([0.9, 0.1, 0.5, 0.3, 0.2])
    labels = np.array([0.0, 1.0, 1.0, 1.0, 0.0])
    groups = np.array([0, 0, 0, 1, 1])
    first = (1 / np.log2(3) + 1 / np.log2(4)) / (1 + 1 / np.log2(3))
    assert np.isclose(group_ndcg(scores, labels, groups, k=10), (first + 1.0) / 2)
