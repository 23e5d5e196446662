"""The contract every model and candidate source keeps, checked on small structured data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from openfyp.recsys.models import MODELS, RecsysModelError, build_model, model_class

N_USERS, N_ITEMS = 90, 48
FAST = {
    "als": {"factors": 8, "iterations": 5},
    "bpr": {"factors": 8, "iterations": 20},
    "openfyp": {"candidates_per_source": 20, "label_fraction": 0.25,
                "ranker": {"max_trees": 20, "min_data_in_leaf": 5}},
}


def _world(seed: int = 0) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Three taste groups, each liking its own third of the catalogue, with some noise and times."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for user in range(N_USERS):
        group = user % 3
        own = np.arange(group * 16, group * 16 + 16)
        picked = rng.choice(own, size=10, replace=False).tolist() + rng.choice(N_ITEMS, size=2).tolist()
        for item in set(picked):
            rows.append(user)
            cols.append(item)
    values = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(N_USERS, N_ITEMS))
    values.sum_duplicates()
    times = values.copy().astype(np.float64)
    times.data = 1_600_000_000 + rng.permutation(times.nnz).astype(np.float64) * 60
    return values, times


@pytest.fixture(scope="module")
def world():
    return _world()


@pytest.fixture(scope="module")
def fitted(world):
    train, times = world
    return {name: build_model(name, FAST.get(name)).fit(train, timestamps=times) for name in MODELS}


@pytest.mark.parametrize("name", list(MODELS))
def test_scores_have_the_catalogue_shape_and_top_k_respects_exclusions(name, fitted, world):
    model = fitted[name]
    train, _ = world
    users = np.arange(6)
    scores = model.score_all(users)
    assert scores.shape == (6, N_ITEMS) and scores.dtype == np.float32
    items, values = model.top_k(users, 5, exclude=train)
    assert items.shape == (6, 5)
    for row, user in enumerate(users):
        assert not set(items[row].tolist()) & set(train[user].indices.tolist())
        assert list(values[row]) == sorted(values[row], reverse=True)
    paired = model.score(np.repeat(users[:2], 3), np.array([0, 1, 2, 0, 1, 2]))
    assert paired.shape == (6,) and np.isfinite(paired).all()
    assert np.isnan(model.score(np.array([0]), np.array([N_ITEMS + 5])))[0]


@pytest.mark.parametrize("name", [n for n in MODELS if n != "popularity"])
def test_personalised_models_recommend_the_users_taste_group(name, fitted, world):
    train, _ = world
    items, _ = fitted[name].top_k(np.arange(N_USERS), 3, exclude=train)
    group_of_item = items // 16
    group_of_user = (np.arange(N_USERS) % 3)[:, None]
    assert (group_of_item == group_of_user).mean() > 0.8


@pytest.mark.parametrize("name", list(MODELS))
def test_unknown_and_empty_history_users_get_valid_lists(name, fitted):
    model = fitted[name]
    unknown = np.array([N_USERS + 10, -1])
    items, _ = model.top_k(unknown, 4)
    assert items.shape == (2, 4)
    assert ((items >= 0) & (items < N_ITEMS)).all()
    empty = sp.csr_matrix((1, N_ITEMS), dtype=np.float32)
    assert model.score_all(np.array([0]), history=empty).shape == (1, N_ITEMS)


@pytest.mark.parametrize("name", [n for n in MODELS if n != "popularity"])
def test_history_fold_in_follows_the_new_history(name, fitted):
    model = fitted[name]
    history = sp.csr_matrix((np.ones(8, dtype=np.float32), ([0] * 8, list(range(32, 40)))), shape=(1, N_ITEMS))
    items, _ = model.top_k(np.array([N_USERS + 1]), 4, exclude=None, history=history)
    picks = [i for i in items[0].tolist() if i not in range(32, 40)]
    assert picks and np.mean([i // 16 == 2 for i in picks]) >= 0.5


@pytest.mark.parametrize("name", list(MODELS))
def test_fitting_twice_with_the_same_seed_gives_the_same_scores(name, world):
    train, times = world
    a = build_model(name, FAST.get(name)).fit(train, timestamps=times).score_all(np.arange(10))
    b = build_model(name, FAST.get(name)).fit(train, timestamps=times).score_all(np.arange(10))
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(MODELS))
def test_config_round_trips_through_json(name):
    model = build_model(name, FAST.get(name))
    dumped = model.dump_config_json()
    again = model_class(name).from_config(json.loads(dumped))
    assert again.config == model.config
    assert model_class(name).from_config(dumped).dump_config() == model.dump_config()


def test_bad_configs_and_misuse_raise_structured_errors(world):
    with pytest.raises(RecsysModelError) as err:
        build_model("ease", {"l2": -1})
    assert err.value.code == "bad_config" and err.value.field == "l2"
    with pytest.raises(RecsysModelError) as err:
        build_model("nope")
    assert err.value.code == "unknown_model"
    with pytest.raises(RecsysModelError) as err:
        build_model("itemknn").score_all(np.array([0]))
    assert err.value.code == "not_fitted"
    with pytest.raises(RecsysModelError) as err:
        model_class("als").from_config({"model": "bpr", "config": {}})
    assert err.value.code == "wrong_model"
    negative = world[0].copy()
    negative.data[0] = -1.0
    with pytest.raises(RecsysModelError) as err:
        build_model("popularity").fit(negative)
    assert err.value.code == "negative_values"
