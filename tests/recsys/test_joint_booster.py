"""The joint ranker model: every task's booster in one LightGBM call, predicting what each booster predicts."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from openfyp.recsys.ranking.features import FEATURE_INDEX, FEATURE_NAMES
from openfyp.recsys.ranking.joint import TRANSFORM_TOLERANCE, JointBooster
from openfyp.recsys.ranking.learn import ImpressionLabels, RankerTrainingConfig, fit_ranker
from openfyp.recsys.ranking.predictors import MAX_WATCH, BoostedPredictor


@pytest.fixture(scope="module")
def boosters() -> dict[str, lgb.Booster]:
    """Six boosters of different sizes (early stopping cuts each task at its own tree count)."""
    rng = np.random.default_rng(3)
    n = 3000
    X = rng.uniform(0, 1, (n, len(FEATURE_NAMES)))
    fit = 2 * X[:, FEATURE_INDEX["emb_sim"]] + X[:, FEATURE_INDEX["hashtag_affinity"]]
    finish = (rng.uniform(size=n) < 1 / (1 + np.exp(-(3 * X[:, FEATURE_INDEX["video_completion_rate"]] + fit - 2.5))))
    finish = finish.astype(float)
    labels = ImpressionLabels(finish, finish * (rng.uniform(size=n) < 0.3), finish * (rng.uniform(size=n) < 0.05),
                              finish * (rng.uniform(size=n) < 0.05), finish * (rng.uniform(size=n) < 0.03),
                              finish + rng.uniform(0, 0.3, n))
    trained = fit_ranker(X, labels, np.arange(n, dtype=float), list(FEATURE_NAMES),
                         RankerTrainingConfig(threads=1, min_positives=5, num_boost_round=40))
    assert len(trained.boosters) == 6
    assert len({booster.num_trees() for booster in trained.boosters.values()}) > 1  # so padding is exercised
    return trained.boosters


def candidates(rows: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = np.round(rng.uniform(-0.2, 1.2, (rows, len(FEATURE_NAMES))), 4)
    X[rng.uniform(size=X.shape) < 0.2] = 0.0
    X[:3] = np.nan  # features a model knows but the serving side no longer computes arrive as NaN
    return X


def test_the_joint_model_predicts_exactly_what_each_booster_predicts(boosters):
    joint = JointBooster.build(boosters, len(FEATURE_NAMES))
    assert joint is not None and joint.tasks == list(boosters)
    X = candidates(2000)
    raw, predicted = joint.raw(X), joint.predict(X)
    for j, (task, booster) in enumerate(boosters.items()):
        # The raw score is the same sum of the same trees in the same order: equal to the last bit.
        assert np.array_equal(raw[:, j], booster.predict(X, raw_score=True, num_threads=1))
        expected = booster.predict(X, num_threads=1)
        np.testing.assert_allclose(predicted[task], expected, rtol=0, atol=TRANSFORM_TOLERANCE)
    assert not np.allclose(predicted["finish"], predicted["like"])  # the tasks are not mixed up


def test_boosted_predictor_ranks_the_same_with_and_without_the_joint_model(boosters):
    joint = BoostedPredictor("v", boosters, list(FEATURE_NAMES))
    per_task = BoostedPredictor("v", boosters, list(FEATURE_NAMES))
    per_task.joint = None
    assert joint.joint is not None
    X = candidates(500, seed=1)
    with_joint, without = joint.predict(X), per_task.predict(X)
    assert set(with_joint) == set(without)
    for task in with_joint:
        np.testing.assert_allclose(with_joint[task], without[task], rtol=0, atol=TRANSFORM_TOLERANCE)
    assert with_joint["watch_ratio"].min() >= 0.0 and with_joint["watch_ratio"].max() <= MAX_WATCH


def test_models_the_joint_model_cannot_reproduce_keep_their_own_calls(boosters):
    assert JointBooster.build({"finish": boosters["finish"]}, len(FEATURE_NAMES)) is None  # nothing to join
    assert JointBooster.build(boosters, len(FEATURE_NAMES) + 1) is None  # not the features they were trained on
    # An objective whose output transform the joint model does not apply (Poisson: exp of the raw score).
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (500, len(FEATURE_NAMES)))
    poisson = lgb.train({"objective": "poisson", "verbosity": -1, "num_threads": 1},
                        lgb.Dataset(X, rng.poisson(2.0, 500), feature_name=list(FEATURE_NAMES)), num_boost_round=5)
    mixed = {"finish": boosters["finish"], "watch_ratio": poisson}
    assert JointBooster.build(mixed, len(FEATURE_NAMES)) is None
    predictor = BoostedPredictor("v", mixed, list(FEATURE_NAMES))
    assert predictor.joint is None
    Xc = candidates(50)
    assert np.array_equal(predictor.predict(Xc)["finish"], boosters["finish"].predict(Xc, num_threads=1))
