from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from openfyp.recsys.evaluation.metrics import evaluate_top_k, hit_matrix, item_coverage, ndcg, novelty


def _targets(rows: list[list[int]], n_items: int) -> sp.csr_matrix:
    r = [u for u, items in enumerate(rows) for _ in items]
    c = [i for items in rows for i in items]
    return sp.csr_matrix((np.ones(len(c)), (r, c)), shape=(len(rows), n_items))


def test_hand_computed_ranking_metrics():
    # user 0: relevant {1, 3}; list [1, 2, 3] -> hits at ranks 1 and 3
    # user 1: relevant {4};    list [2, 0, 4] -> hit at rank 3
    # user 2: relevant {0, 1, 2, 3}; list [5, 6, 7] -> no hit
    targets = _targets([[1, 3], [4], [0, 1, 2, 3]], 8)
    top = np.array([[1, 2, 3], [2, 0, 4], [5, 6, 7]])
    users = np.arange(3)
    means, per_user = evaluate_top_k(top, users, targets, [3], item_user_counts=np.ones(8), n_train_users=4)
    d = lambda rank: 1 / math.log2(rank + 1)  # noqa: E731
    assert per_user["ndcg@3"].tolist() == pytest.approx([(d(1) + d(3)) / (d(1) + d(2)), d(3) / d(1), 0.0])
    assert per_user["recall@3"].tolist() == pytest.approx([1.0, 1.0, 0.0])
    assert per_user["precision@3"].tolist() == pytest.approx([2 / 3, 1 / 3, 0.0])
    assert per_user["mrr@3"].tolist() == pytest.approx([1.0, 1 / 3, 0.0])
    assert per_user["hit@3"].tolist() == [1.0, 1.0, 0.0]
    assert means["ndcg@3"] == pytest.approx(per_user["ndcg@3"].mean())
    assert means["coverage@3"] == pytest.approx(8 / 8)  # items 0..7 all shown once
    assert means["novelty@3"] == pytest.approx(-math.log2(1 / 4))


def test_ndcg_ideal_uses_min_of_relevant_and_k():
    # 5 relevant items, K=2, both slots hit -> perfect score, not 2-of-5 of the ideal
    hits = np.array([[True, True]])
    assert ndcg(hits, np.array([5]), 2)[0] == pytest.approx(1.0)
    assert ndcg(np.array([[False, True]]), np.array([1]), 2)[0] == pytest.approx(1 / math.log2(3))


def test_metrics_at_smaller_k_use_a_prefix():
    targets = _targets([[2]], 4)
    top = np.array([[0, 1, 2, 3]])
    means, _ = evaluate_top_k(top, np.array([0]), targets, [2, 3], np.ones(4), 1)
    assert means["hit@2"] == 0.0 and means["hit@3"] == 1.0
    assert means["recall@3"] == 1.0


def test_hit_matrix_ignores_padding_and_reads_the_right_user_row():
    targets = _targets([[0], [1]], 3)
    hits = hit_matrix(np.array([[1, -1], [1, 0]]), np.array([1, 0]), targets)
    assert hits.tolist() == [[True, False], [False, True]]


def test_coverage_and_novelty():
    top = np.array([[0, 1], [0, 2]])
    assert item_coverage(top, 2, 10) == pytest.approx(0.3)
    counts = np.array([8, 2, 0, 0])
    # p = 8/8, 2/8, max(0,1)/8 -> self-information 0, 2, 3; shown items 0,1,0,2
    assert novelty(top, 2, counts, 8) == pytest.approx((0 + 2 + 0 + 3) / 4)
