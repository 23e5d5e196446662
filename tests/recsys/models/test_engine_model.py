"""openfyp's two-stage engine: shared preparation across ranker variants, blends and explanations."""

from __future__ import annotations

import numpy as np

from openfyp.recsys.models import OpenfypRecommender
from openfyp.recsys.models.engine import learn_blend

from .test_contract import FAST, _world


def test_fit_grid_prepares_sources_once_for_ranker_only_variants():
    train, times = _world(1)
    base = FAST["openfyp"]
    grid = [{**base, "use_trees": False},
            {**base, "use_trees": False, "learn_blend": False, "base_blend": {"ease": 1.0, "covisit": 0.5}},
            {**base}]
    fitted = list(OpenfypRecommender.fit_grid(grid, train, timestamps=times))
    assert [params for params, _ in fitted] == grid
    banks = {id(model._bank) for _, model in fitted}
    assert len(banks) == 1
    assert fitted[1][1].blend == {"ease": 1.0, "covisit": 0.5}
    users = np.arange(5)
    lists = [model.top_k(users, 5, exclude=train)[0] for _, model in fitted]
    assert all(lst.shape == (5, 5) for lst in lists)
    importance = fitted[2][1].feature_importance()
    assert set(importance) == set(fitted[2][1]._feature_names)
    assert all(value >= 0 for value in importance.values())


def test_grid_models_match_a_model_fitted_alone():
    train, times = _world(2)
    params = {**FAST["openfyp"], "use_trees": False}
    (_, from_grid), = OpenfypRecommender.fit_grid([params], train, timestamps=times)
    alone = OpenfypRecommender(params).fit(train, timestamps=times)
    np.testing.assert_allclose(from_grid.score_all(np.arange(8)), alone.score_all(np.arange(8)), rtol=1e-5)


def test_learn_blend_adds_a_source_only_when_it_helps():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(40), 10)
    labels = (rng.random(400) < 0.2).astype(float)
    informative = labels + rng.normal(0, 0.3, 400)
    noise = rng.normal(0, 1, 400)
    features = np.column_stack([noise, informative])
    blend = learn_blend(features, labels, groups, ["a_z", "b_z"], ["a", "b"], {"a": 1.0})
    assert blend.get("b", 0) > 0
    useless = learn_blend(np.column_stack([informative, noise]), labels, groups, ["a_z", "b_z"], ["a", "b"],
                          {"a": 1.0})
    assert useless.get("b", 0) <= 0.1
