"""Every task's booster as one LightGBM model, so a page's predictions take one call instead of one per task.

A LightGBM call has a fixed cost (about 0.1 ms: the Python wrapper, parsing the parameters, building a
predictor) that is as large as scoring the 80 shortlisted candidates through a small booster, and the
ranker has six boosters. ``JointBooster`` lays their trees side by side as the classes of one multi-class
model: class ``k`` of that model is task ``k``'s booster, tree for tree in the same order, so its raw score
is the very sum LightGBM computes for the task alone (tasks with fewer trees are padded with one-leaf trees
of value 0, and adding 0.0 changes no sum). The tasks' own output transforms (the sigmoid of a binary task,
the identity of a regression) are applied here.

Built only from what it can reproduce (plain numerical trees, ``binary`` or ``regression`` objectives, one
feature list) and checked on load against each task's own booster; anything else keeps the per-task calls.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# The transformed predictions may differ from LightGBM's by the last bits of ``exp``; the raw sums may not.
TRANSFORM_TOLERANCE = 1e-12
_EMPTY_TREE = "\n".join([
    "num_leaves=1", "num_cat=0", "split_feature=", "split_gain=", "threshold=", "decision_type=", "left_child=",
    "right_child=", "leaf_value=0", "leaf_weight=", "leaf_count=", "internal_value=", "internal_weight=",
    "internal_count=", "is_linear=0", "shrinkage=1",
])


@dataclass(frozen=True)
class _TaskModel:
    task: str
    sigmoid: float | None  # the binary objective's scale; None for a regression (identity output)
    trees: list[str]


def _header(model: str, key: str) -> str | None:
    match = re.search(rf"(?m)^{re.escape(key)}=(.*)$", model)
    return match.group(1) if match else None


def _parse(task: str, model: str) -> _TaskModel | None:
    """A single-task model's trees and output transform, or None when joining it could change its output."""
    if _header(model, "num_class") != "1" or _header(model, "num_tree_per_iteration") != "1":
        return None
    objective = (_header(model, "objective") or "").split()
    if objective == ["regression"]:
        sigmoid = None
    elif len(objective) == 2 and objective[0] == "binary" and objective[1].startswith("sigmoid:"):
        sigmoid = float(objective[1].removeprefix("sigmoid:"))
    else:
        return None
    if "\nTree=0\n" not in model or "\nend of trees" not in model:
        return None
    body = model[model.index("\nTree=0\n") + 1: model.index("\nend of trees")]
    blocks = re.split(r"(?m)^Tree=\d+\n", body)
    trees = [block.strip("\n") for block in blocks[1:]]
    if blocks[0].strip() or not trees:
        return None
    for tree in trees:  # categorical splits and linear leaves are left to LightGBM's own calls
        if _header(tree, "num_cat") != "0" or _header(tree, "is_linear") not in (None, "0"):
            return None
    return _TaskModel(task, sigmoid, trees)


class JointBooster:
    """One LightGBM call for every task; ``predict`` returns each task's predictions as its booster would."""

    def __init__(self, booster: Any, tasks: list[_TaskModel]) -> None:
        self._booster = booster
        self._tasks = tasks

    @property
    def tasks(self) -> list[str]:
        return [task.task for task in self._tasks]

    @classmethod
    def build(cls, boosters: Mapping[str, Any], width: int) -> JointBooster | None:
        """The joint model of ``boosters`` (task -> ``lightgbm.Booster``) over ``width`` feature columns, or
        None when it cannot be built or does not reproduce every booster exactly."""
        if len(boosters) < 2:
            return None
        try:
            import lightgbm as lgb

            strings = {task: booster.model_to_string() for task, booster in boosters.items()}
            parsed = [_parse(task, model) for task, model in strings.items()]
            if any(p is None for p in parsed):
                return None
            first = next(iter(strings.values()))
            shared = {key: _header(first, key) for key in ("max_feature_idx", "feature_names", "feature_infos")}
            if any(_header(model, key) != value for model in strings.values() for key, value in shared.items()
                   if key != "feature_infos"):
                return None
            if int(shared["max_feature_idx"] or -1) + 1 != width:
                return None
            tasks: list[_TaskModel] = [p for p in parsed if p is not None]
            joint = lgb.Booster(model_str=_joint_model_string(tasks, shared))
            candidate = cls(joint, tasks)
            if not candidate._reproduces(boosters, width):
                log.warning("joint ranker model does not reproduce the per-task boosters; predicting per task")
                return None
            return candidate
        except Exception:  # noqa: BLE001 - the per-task path always works; never fail a model load over this
            log.exception("could not build the joint ranker model; predicting per task")
            return None

    def raw(self, X: np.ndarray) -> np.ndarray:
        """``(len(X), tasks)`` raw scores (the sums of each task's trees)."""
        out = np.asarray(self._booster.predict(X, raw_score=True, num_threads=1), dtype=np.float64)
        return out.reshape(len(X), len(self._tasks))

    def predict(self, X: np.ndarray) -> dict[str, np.ndarray]:
        raw = self.raw(X)
        out = {}
        for j, task in enumerate(self._tasks):
            column = raw[:, j]
            # LightGBM's binary output: 1 / (1 + exp(-sigmoid * score)).
            out[task.task] = column.copy() if task.sigmoid is None else 1.0 / (1.0 + np.exp(-task.sigmoid * column))
        return out

    def _reproduces(self, boosters: Mapping[str, Any], width: int) -> bool:
        probe = _probe_rows(width, self._tasks)
        raw = self.raw(probe)
        mine = self.predict(probe)
        for j, task in enumerate(self._tasks):
            booster = boosters[task.task]
            if not np.array_equal(raw[:, j], booster.predict(probe, raw_score=True, num_threads=1)):
                return False
            theirs = np.asarray(booster.predict(probe, num_threads=1), dtype=np.float64)
            if not np.allclose(mine[task.task], theirs, rtol=0.0, atol=TRANSFORM_TOLERANCE):
                return False
        return True


def _joint_model_string(tasks: list[_TaskModel], shared: Mapping[str, str | None]) -> str:
    k = len(tasks)
    rounds = max(len(task.trees) for task in tasks)
    lines = ["tree", "version=v4", f"num_class={k}", f"num_tree_per_iteration={k}", "label_index=0",
             f"max_feature_idx={shared['max_feature_idx']}", f"objective=multiclass num_class:{k}",
             f"feature_names={shared['feature_names']}"]
    if shared.get("feature_infos") is not None:
        lines.append(f"feature_infos={shared['feature_infos']}")
    lines.append("")
    # LightGBM's multi-class layout: iteration i holds tree i of every class, class k at position i*k + k.
    number = 0
    for round_index in range(rounds):
        for task in tasks:
            tree = task.trees[round_index] if round_index < len(task.trees) else _EMPTY_TREE
            lines += [f"Tree={number}", tree, "", ""]
            number += 1
    lines += ["end of trees", ""]
    return "\n".join(lines)


def _probe_rows(width: int, tasks: list[_TaskModel], rows: int = 512, seed: int = 0) -> np.ndarray:
    """Feature rows that walk many paths: each value is one of the models' thresholds on its column, the next
    double above one (both sides of every ``<=``), zero or NaN."""
    thresholds: list[list[float]] = [[] for _ in range(width)]
    for task in tasks:
        for tree in task.trees:
            features, values = _header(tree, "split_feature"), _header(tree, "threshold")
            if features and values:
                for feature, value in zip(features.split(), values.split()):
                    thresholds[int(feature)].append(float(value))
    rng = np.random.default_rng(seed)
    probe = np.zeros((rows, width))
    for column, known in enumerate(thresholds):
        pool = np.asarray(known or [0.0])
        values = pool[rng.integers(0, len(pool), rows)]
        probe[:, column] = np.where(rng.uniform(size=rows) < 0.5, values, np.nextafter(values, np.inf))
    probe[rng.uniform(size=(rows, width)) < 0.05] = 0.0
    probe[rng.uniform(size=(rows, width)) < 0.02] = np.nan
    return probe


__all__ = ["JointBooster"]
