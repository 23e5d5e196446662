"""Per-(user, item) features for the learned ranker, from item and user statistics of a training matrix.

Everything here is computed from the matrix a model was fitted on (and its timestamps), so the same
code serves the offline harness and the online ranker. Times are in days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

DAY = 86400.0


def _row_stat(matrix: sp.csr_matrix, reducer: str, empty: float) -> np.ndarray:
    out = np.full(matrix.shape[0], empty, dtype=np.float64)
    counts = np.diff(matrix.indptr)
    nonempty = counts > 0
    if not nonempty.any():
        return out
    starts = matrix.indptr[:-1][nonempty]
    data = matrix.data.astype(np.float64)
    if reducer == "min":
        out[nonempty] = np.minimum.reduceat(data, starts)
    elif reducer == "max":
        out[nonempty] = np.maximum.reduceat(data, starts)
    elif reducer == "mean":
        out[nonempty] = np.add.reduceat(data, starts) / counts[nonempty]
    elif reducer == "median":
        for row in np.flatnonzero(nonempty):
            out[row] = float(np.median(data[matrix.indptr[row]:matrix.indptr[row + 1]]))
    return out


@dataclass
class InteractionStats:
    """Item and user aggregates of a training matrix, and the item timelines for windowed counts."""

    item_count: np.ndarray
    item_mean_value: np.ndarray
    item_first_day: np.ndarray
    item_last_day: np.ndarray
    item_median_day: np.ndarray
    user_count: np.ndarray
    user_mean_value: np.ndarray
    user_first_day: np.ndarray
    user_last_day: np.ndarray
    user_median_day: np.ndarray
    timeline_keys: np.ndarray  # item index + day / span, sorted: counts an item's events in a window
    span_days: float
    origin_day: float
    has_times: bool

    @classmethod
    def build(cls, train: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> InteractionStats:
        values = train.tocsr()
        by_item = values.T.tocsr()
        has_times = timestamps is not None and timestamps.nnz > 0
        if has_times:
            days = sp.csr_matrix(timestamps, dtype=np.float64)
            origin = float(days.data.min()) / DAY
            days.data = days.data / DAY - origin
        else:
            days = sp.csr_matrix((np.zeros(values.nnz), values.indices, values.indptr), shape=values.shape)
            origin = 0.0
        days_by_item = days.T.tocsr()
        span = float(days.data.max() + 1.0) if days.nnz else 1.0
        item_rows = np.repeat(np.arange(days_by_item.shape[0]), np.diff(days_by_item.indptr))
        keys = np.sort(item_rows + np.clip(days_by_item.data / span, 0, 0.999999))
        return cls(
            item_count=np.diff(by_item.indptr).astype(np.float64),
            item_mean_value=_row_stat(by_item, "mean", np.nan),
            item_first_day=_row_stat(days_by_item, "min", np.nan),
            item_last_day=_row_stat(days_by_item, "max", np.nan),
            item_median_day=_row_stat(days_by_item, "median", np.nan),
            user_count=np.diff(values.indptr).astype(np.float64),
            user_mean_value=_row_stat(values, "mean", np.nan),
            user_first_day=_row_stat(days, "min", np.nan),
            user_last_day=_row_stat(days, "max", np.nan),
            user_median_day=_row_stat(days, "median", np.nan),
            timeline_keys=keys, span_days=span, origin_day=origin, has_times=has_times,
        )

    def events_between(self, items: np.ndarray, start_day: np.ndarray, end_day: np.ndarray) -> np.ndarray:
        """How many training events each item had between ``start_day`` and ``end_day`` (inclusive)."""
        lo = items + np.clip(start_day / self.span_days, 0, 0.999999)
        hi = items + np.clip(end_day / self.span_days, 0, 0.999999)
        return (np.searchsorted(self.timeline_keys, hi, side="right")
                - np.searchsorted(self.timeline_keys, lo, side="left")).astype(np.float64)


def stat_features(stats: InteractionStats, users: np.ndarray, items: np.ndarray,
                  user_known: np.ndarray) -> dict[str, np.ndarray]:
    """Item, user and user×item-time features for candidate pairs (NaN where unknown)."""
    item_count = stats.item_count[items]
    n_users = max(float(np.count_nonzero(stats.user_count)), 1.0)
    feats: dict[str, np.ndarray] = {
        "item_log_share": np.log((item_count + 1.0) / n_users),
        "item_mean_value": stats.item_mean_value[items],
    }
    safe_users = np.where(user_known, users, 0)
    user_count = np.where(user_known, stats.user_count[safe_users], 0.0)
    feats["user_log_count"] = np.log1p(user_count)
    feats["user_mean_value"] = np.where(user_known, stats.user_mean_value[safe_users], np.nan)
    if not stats.has_times:
        return feats
    first = np.where(user_known, stats.user_first_day[safe_users], np.nan)
    last = np.where(user_known, stats.user_last_day[safe_users], np.nan)
    median = np.where(user_known, stats.user_median_day[safe_users], np.nan)
    feats["item_first_after_user_last"] = stats.item_first_day[items] - last
    feats["item_first_before_user_first"] = first - stats.item_first_day[items]
    feats["item_median_minus_user_median"] = stats.item_median_day[items] - median
    feats["user_span_days"] = last - first
    in_window = stats.events_between(items, np.nan_to_num(first), np.nan_to_num(last))
    feats["item_events_in_user_window"] = np.where(user_known, np.log((in_window + 1.0) / n_users), np.nan)
    feats["item_share_in_user_window"] = np.where(user_known & (item_count > 0),
                                                  in_window / np.maximum(item_count, 1), np.nan)
    near = stats.events_between(items, np.nan_to_num(median) - 30.0, np.nan_to_num(median) + 30.0)
    feats["item_events_near_user_median"] = np.where(user_known, np.log((near + 1.0) / n_users), np.nan)
    return feats
