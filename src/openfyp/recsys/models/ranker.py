"""The learned ranker: LightGBM over candidate features, trained per user group.

``lambdarank`` optimises NDCG of each user's candidate list directly; ``binary`` learns p(positive).
A slice of the training users is held out for early stopping, so the number of trees is chosen without
looking at the evaluation data. Single-threaded and deterministic by default.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from openfyp.recsys.models.base import ModelConfig


class RankerConfig(ModelConfig):
    objective: Literal["lambdarank", "binary", "rank_xendcg"] = "lambdarank"
    learning_rate: float = Field(0.05, gt=0, le=1)
    num_leaves: int = Field(31, ge=2)
    min_data_in_leaf: int = Field(50, ge=1)
    feature_fraction: float = Field(0.8, gt=0, le=1)
    bagging_fraction: float = Field(0.8, gt=0, le=1)
    lambda_l2: float = Field(1.0, ge=0)
    max_trees: int = Field(600, ge=1)
    early_stopping_rounds: int = Field(40, ge=1)
    eval_at: int = Field(10, ge=1, description="Cut-off of the early-stopping NDCG.")
    early_stopping_users: float = Field(0.15, gt=0, lt=1, description="Share of users held out for stopping.")
    threads: int = Field(1, ge=1)


class LearnedRanker:
    def __init__(self, config: RankerConfig, seed: int) -> None:
        self.config = config
        self.seed = seed
        self.feature_names: list[str] = []
        self._booster = None
        self.best_iteration = 0

    def _params(self) -> dict:
        cfg = self.config
        params = {
            "objective": cfg.objective, "learning_rate": cfg.learning_rate, "num_leaves": cfg.num_leaves,
            "min_data_in_leaf": cfg.min_data_in_leaf, "feature_fraction": cfg.feature_fraction,
            "bagging_fraction": cfg.bagging_fraction, "bagging_freq": 1 if cfg.bagging_fraction < 1 else 0,
            "lambda_l2": cfg.lambda_l2, "num_threads": cfg.threads, "seed": self.seed, "deterministic": True,
            "force_row_wise": True, "verbosity": -1,
        }
        if cfg.objective == "binary":
            params["metric"] = "ndcg"
        else:
            params["metric"] = "ndcg"
        params["eval_at"] = [cfg.eval_at]
        return params

    def fit(self, features: np.ndarray, labels: np.ndarray, groups: np.ndarray, feature_names: list[str],
            base: np.ndarray | None = None) -> None:
        """``groups[r]`` is row r's user (rows of a user contiguous); trees start from ``base`` if given."""
        import lightgbm as lgb

        self.feature_names = list(feature_names)
        unique_groups = np.unique(groups)
        rng = np.random.default_rng(self.seed)
        n_stop = max(1, int(round(len(unique_groups) * self.config.early_stopping_users)))
        stop_groups = rng.choice(unique_groups, size=n_stop, replace=False) if len(unique_groups) > 1 else []
        is_stop = np.isin(groups, stop_groups)

        def dataset(mask: np.ndarray, reference=None):
            sizes = _group_sizes(groups[mask])
            return lgb.Dataset(features[mask], labels[mask], group=sizes, feature_name=self.feature_names,
                               init_score=None if base is None else base[mask], reference=reference,
                               free_raw_data=True)

        train_set = dataset(~is_stop)
        callbacks = []
        valid_sets = []
        if is_stop.any():
            valid_sets = [dataset(is_stop, reference=train_set)]
            callbacks.append(lgb.early_stopping(self.config.early_stopping_rounds, verbose=False))
        booster = lgb.train(self._params(), train_set, num_boost_round=self.config.max_trees, valid_sets=valid_sets,
                            callbacks=callbacks)
        self.best_iteration = booster.best_iteration or booster.current_iteration()
        self._booster = booster

    def predict(self, features: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
        if self._booster is None:
            raise RuntimeError("ranker is not trained")
        raw = self._booster.predict(features, num_iteration=self.best_iteration, raw_score=True)
        return (raw + (0.0 if base is None else base)).astype(np.float32)

    def feature_importance(self) -> dict[str, float]:
        if self._booster is None:
            return {}
        gains = self._booster.feature_importance(importance_type="gain", iteration=self.best_iteration)
        total = float(gains.sum()) or 1.0
        return {name: float(g) / total for name, g in zip(self.feature_names, gains)}


def _group_sizes(groups: np.ndarray) -> np.ndarray:
    if len(groups) == 0:
        return np.zeros(0, dtype=np.int64)
    boundary = np.flatnonzero(np.diff(groups)) + 1
    return np.diff(np.concatenate([[0], boundary, [len(groups)]]))
