"""Top-K ranking metrics, vectorised over users.

Per-user metrics take a boolean ``hits`` matrix (row = user, column = rank position, True where the
recommended item is relevant) and each user's number of relevant items. Definitions follow RecBole:

- NDCG@K: DCG with binary gains ``1/log2(rank+1)``, divided by the ideal DCG of ``min(|relevant|, K)`` hits.
- Recall@K: hits in the top K / |relevant|.   Precision@K: hits in the top K / K.
- MRR@K: 1/rank of the first hit within K (0 without one).   Hit@K: 1 if any hit within K.

List metrics look at all users' lists at once:

- Item coverage@K: distinct recommended items / catalogue size.
- Novelty@K: mean self-information ``-log2 p(i)`` of recommended items, where ``p(i)`` is the share of
  training users who interacted with ``i`` (an item nobody interacted with counts as seen once).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

USER_METRICS = ("ndcg", "recall", "mrr", "hit", "precision")
LIST_METRICS = ("coverage", "novelty")
ALL_METRICS = USER_METRICS + LIST_METRICS


def hit_matrix(top_items: np.ndarray, users: np.ndarray, targets: sp.csr_matrix) -> np.ndarray:
    """``hits[r, j]``: is ``top_items[r, j]`` in row ``users[r]`` of ``targets``? (-1 items never hit)."""
    top_items = np.asarray(top_items, dtype=np.int64)
    n_items = targets.shape[1]
    targets = targets.tocsr()
    rows = np.repeat(np.arange(targets.shape[0], dtype=np.int64), np.diff(targets.indptr))
    target_keys = np.sort(rows * n_items + targets.indices.astype(np.int64))
    keys = np.asarray(users, dtype=np.int64)[:, None] * n_items + top_items
    if target_keys.size == 0:
        return np.zeros(top_items.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(target_keys, keys), target_keys.size - 1)
    return (target_keys[pos] == keys) & (top_items >= 0)


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def ndcg(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    hits = hits[:, :k]
    discounts = _discounts(hits.shape[1])
    dcg = hits @ discounts
    ideal_cumulative = np.concatenate([[0.0], np.cumsum(_discounts(k))])
    ideal = ideal_cumulative[np.minimum(n_relevant, k)]
    return np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0)


def recall(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    found = hits[:, :k].sum(axis=1).astype(np.float64)
    return np.divide(found, n_relevant, out=np.zeros_like(found), where=n_relevant > 0)


def precision(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    return hits[:, :k].sum(axis=1) / float(k)


def mrr(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    hits = hits[:, :k]
    first = hits.argmax(axis=1)
    any_hit = hits.any(axis=1)
    return np.where(any_hit, 1.0 / (first + 1.0), 0.0)


def hit_rate(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    return hits[:, :k].any(axis=1).astype(np.float64)


_PER_USER = {"ndcg": ndcg, "recall": recall, "mrr": mrr, "hit": hit_rate, "precision": precision}


def item_coverage(top_items: np.ndarray, k: int, n_items: int) -> float:
    shown = np.asarray(top_items)[:, :k]
    shown = shown[shown >= 0]
    return float(np.unique(shown).size / n_items) if n_items else 0.0


def novelty(top_items: np.ndarray, k: int, item_user_counts: np.ndarray, n_users: int) -> float:
    shown = np.asarray(top_items)[:, :k]
    shown = shown[shown >= 0]
    if shown.size == 0 or n_users == 0:
        return 0.0
    share = np.maximum(item_user_counts[shown], 1) / float(n_users)
    return float(np.mean(-np.log2(share)))


def per_user_metrics(hits: np.ndarray, n_relevant: np.ndarray, ks: list[int]) -> dict[str, np.ndarray]:
    """``{"ndcg@10": array over users, ...}`` for every per-user metric and K."""
    n_relevant = np.asarray(n_relevant)
    return {f"{name}@{k}": fn(hits, n_relevant, k) for k in ks for name, fn in _PER_USER.items()}


def evaluate_top_k(top_items: np.ndarray, users: np.ndarray, targets: sp.csr_matrix, ks: list[int],
                   item_user_counts: np.ndarray, n_train_users: int) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Mean metrics over ``users`` and the per-user arrays behind them.

    ``top_items`` holds each user's ranked list (at least ``max(ks)`` long); ``targets`` the relevant
    items, one row per user index.
    """
    hits = hit_matrix(top_items, users, targets)
    n_relevant = np.diff(targets.tocsr().indptr)[users]
    per_user = per_user_metrics(hits, n_relevant, ks)
    means = {name: float(values.mean()) if values.size else 0.0 for name, values in per_user.items()}
    for k in ks:
        means[f"coverage@{k}"] = item_coverage(top_items, k, targets.shape[1])
        means[f"novelty@{k}"] = novelty(top_items, k, item_user_counts, n_train_users)
    return means, per_user
