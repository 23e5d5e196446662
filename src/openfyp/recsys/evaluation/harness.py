"""The offline comparison: every model on the same splits, scored by the same metric code.

For each seed the data is split once. Each model tries its small grid of configs, each fitted on
train and scored on validation (full ranking, train items masked); the config with the best validation
``selection_metric`` is scored once on test (train and validation items masked). Test never influences
a choice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field, field_validator

from openfyp.recsys.evaluation.metrics import ALL_METRICS, evaluate_top_k
from openfyp.recsys.evaluation.splits import Split, make_split
from openfyp.recsys.interactions import InteractionDataError, Interactions
from openfyp.recsys.models import MODELS, Recommender, model_class

DEFAULT_MODELS = ("popularity", "als", "bpr", "itemknn", "ease", "openfyp")
DEFAULT_SEEDS = (2020, 2021, 2022)
ACTIVITY_EDGES = (20, 50, 100, 250)

Progress = Callable[[int, str], None]


class EvalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    protocol: Literal["random", "temporal"] = "random"
    seeds: list[int] = Field(default_factory=lambda: list(DEFAULT_SEEDS), min_length=1)
    ks: list[int] = Field(default_factory=lambda: [10], min_length=1)
    models: list[str] = Field(default_factory=lambda: list(DEFAULT_MODELS), min_length=1)
    threshold: float | None = Field(None, description="Only values >= threshold are positives.")
    selection_metric: str | None = Field(None, description="Validation metric that picks configs; ndcg@<first k>.")
    grids: dict[str, list[dict[str, Any]]] = Field(default_factory=dict,
                                                   description="Per-model grid overriding search_space().")

    @field_validator("ks")
    @classmethod
    def _positive_ks(cls, ks: list[int]) -> list[int]:
        if any(k <= 0 for k in ks):
            raise ValueError("every k must be a positive integer")
        return sorted(set(ks))

    @field_validator("models")
    @classmethod
    def _known_models(cls, models: list[str]) -> list[str]:
        unknown = [m for m in models if m not in MODELS]
        if unknown:
            raise ValueError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")
        return list(dict.fromkeys(models))

    @property
    def selection(self) -> str:
        return self.selection_metric or f"ndcg@{self.ks[0]}"


@dataclass
class SeedRun:
    """One model on one seed's split."""

    model: str
    seed: int
    params: dict[str, Any]
    valid: dict[str, float]
    test: dict[str, float]
    grid: list[tuple[dict[str, Any], float]]
    fit_seconds: float
    test_ndcg_by_user: np.ndarray = field(repr=False)
    test_user_activity: np.ndarray = field(repr=False)


@dataclass
class EvalResult:
    config: EvalConfig
    dataset: dict[str, Any]
    runs: dict[str, list[SeedRun]]
    seconds: float = 0.0

    def summary(self, part: Literal["test", "valid"] = "test") -> dict[str, dict[str, dict[str, float]]]:
        """``{model: {"ndcg@10": {"mean": .., "std": ..}, ...}}``; std is the sample std over seeds."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for name, runs in self.runs.items():
            metrics = {}
            for metric in runs[0].test:
                values = np.array([getattr(run, part)[metric] for run in runs])
                std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
                metrics[metric] = {"mean": float(values.mean()), "std": std}
            out[name] = metrics
        return out

    def ndcg_by_activity(self) -> dict[str, dict[str, float]]:
        """Mean test NDCG@first-k per bucket of training-history length, pooled over seeds."""
        labels = activity_labels()
        out: dict[str, dict[str, float]] = {}
        for name, runs in self.runs.items():
            ndcg = np.concatenate([run.test_ndcg_by_user for run in runs])
            activity = np.concatenate([run.test_user_activity for run in runs])
            bucket = np.searchsorted(np.array(ACTIVITY_EDGES), activity, side="left")
            out[name] = {label: float(ndcg[bucket == b].mean()) if np.any(bucket == b) else float("nan")
                         for b, label in enumerate(labels)}
        return out

    def to_json(self) -> dict[str, Any]:
        """Model name → test metrics (mean/std) plus chosen hyperparameters; ``run`` holds the setup."""
        summary = self.summary("test")
        valid = self.summary("valid")
        by_activity = self.ndcg_by_activity()
        doc: dict[str, Any] = {}
        for name, runs in self.runs.items():
            entry: dict[str, Any] = dict(summary[name])
            entry["hyperparameters"] = {str(run.seed): run.params for run in runs}
            entry["valid"] = valid[name]
            entry["per_seed"] = {str(run.seed): run.test for run in runs}
            entry["fit_seconds"] = float(np.mean([run.fit_seconds for run in runs]))
            entry["ndcg_by_activity"] = by_activity[name]
            doc[name] = entry
        doc["run"] = {
            "protocol": self.config.protocol, "seeds": self.config.seeds, "ks": self.config.ks,
            "threshold": self.config.threshold, "selection_metric": self.config.selection,
            "dataset": self.dataset, "seconds": self.seconds,
            "metrics": [f"{m}@{k}" for k in self.config.ks for m in ALL_METRICS],
        }
        return doc


def activity_labels() -> list[str]:
    edges = ACTIVITY_EDGES
    labels = [f"≤{edges[0]}"]
    labels += [f"{lo + 1}–{hi}" for lo, hi in zip(edges[:-1], edges[1:])]
    labels.append(f">{edges[-1]}")
    return labels


@dataclass
class PreparedSplit:
    """A split with the matrices every model needs, built once per seed."""

    split: Split
    train: sp.csr_matrix
    train_times: sp.csr_matrix
    valid_targets: sp.csr_matrix
    test_targets: sp.csr_matrix
    test_exclude: sp.csr_matrix
    valid_users: np.ndarray
    test_users: np.ndarray
    item_user_counts: np.ndarray
    n_train_users: int

    @classmethod
    def build(cls, split: Split) -> PreparedSplit:
        train = split.train.to_csr("values")
        valid_targets = split.valid.to_csr("ones")
        test_targets = split.test.to_csr("ones")
        return cls(
            split=split, train=train, train_times=split.train.to_csr("timestamps"),
            valid_targets=valid_targets, test_targets=test_targets, test_exclude=split.known_for_test(),
            valid_users=np.flatnonzero(np.diff(valid_targets.indptr)),
            test_users=np.flatnonzero(np.diff(test_targets.indptr)),
            item_user_counts=np.asarray((train > 0).sum(axis=0)).ravel(),
            n_train_users=int(np.count_nonzero(np.diff(train.indptr))),
        )

    def score(self, model: Recommender, part: Literal["valid", "test"], ks: list[int]
              ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        users = self.valid_users if part == "valid" else self.test_users
        targets = self.valid_targets if part == "valid" else self.test_targets
        exclude = self.train if part == "valid" else self.test_exclude
        top_items, _ = model.top_k(users, max(ks), exclude=exclude)
        return evaluate_top_k(top_items, users, targets, ks, self.item_user_counts, self.n_train_users)


def seeded(params: dict[str, Any], cls: type[Recommender], seed: int) -> dict[str, Any]:
    """Give models that take a seed the run's seed, unless the grid fixes one."""
    if "seed" in cls.Config.model_fields and "seed" not in params:
        return {**params, "seed": seed}
    return params


def grid_for(name: str, config: EvalConfig) -> list[dict[str, Any]]:
    return config.grids.get(name) or model_class(name).search_space()


def count_steps(config: EvalConfig) -> int:
    return len(config.seeds) * sum(len(grid_for(name, config)) + 1 for name in config.models)


def run_evaluation(interactions: Interactions, config: EvalConfig, progress: Progress | None = None) -> EvalResult:
    """Run every model of ``config`` over every seed; ``progress(steps_done, label)`` reports advances."""
    started = time.perf_counter()
    report = progress or (lambda advance, label: None)
    data = interactions.deduplicated()
    if config.threshold is not None:
        data = data.at_least(config.threshold)
    if len(data) == 0:
        raise InteractionDataError("empty", "no interactions left to evaluate (check --threshold)", "threshold")
    dataset = {"interactions": len(data), "users": int(np.count_nonzero(data.user_counts())),
               "items": int(np.count_nonzero(data.item_counts()))}
    runs: dict[str, list[SeedRun]] = {name: [] for name in config.models}
    for seed in config.seeds:
        prepared = PreparedSplit.build(make_split(data, config.protocol, seed))
        for name in config.models:
            runs[name].append(_run_model(name, prepared, config, seed, report))
    return EvalResult(config, dataset, runs, seconds=time.perf_counter() - started)


def _run_model(name: str, prepared: PreparedSplit, config: EvalConfig, seed: int, report: Progress) -> SeedRun:
    cls = model_class(name)
    ks = config.ks
    grid = [seeded(params, cls, seed) for params in grid_for(name, config)]
    best: tuple[float, dict[str, Any], dict[str, float], Recommender] | None = None
    tried: list[tuple[dict[str, Any], float]] = []
    fit_seconds = 0.0
    tick = time.perf_counter()
    for params, model in cls.fit_grid(grid, prepared.train, timestamps=prepared.train_times):
        fit_seconds += time.perf_counter() - tick
        valid, _ = prepared.score(model, "valid", ks)
        value = valid[config.selection]
        tried.append((params, value))
        if best is None or value > best[0]:
            best = (value, params, valid, model)
        report(1, f"seed {seed} · {name} · validating")
        tick = time.perf_counter()
    assert best is not None
    _, params, valid, model = best
    test, per_user = prepared.score(model, "test", ks)
    report(1, f"seed {seed} · {name} · test")
    activity = np.diff(prepared.train.indptr)[prepared.test_users]
    return SeedRun(name, seed, params, valid, test, tried, fit_seconds / max(len(grid), 1),
                   per_user[f"ndcg@{ks[0]}"], activity)
