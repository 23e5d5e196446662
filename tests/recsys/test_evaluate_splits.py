from __future__ import annotations

import numpy as np
import pytest

from openfyp.recsys.evaluation.harness import PreparedSplit
from openfyp.recsys.evaluation.splits import make_split, random_split, recbole_split_sizes, temporal_split
from openfyp.recsys.interactions import InteractionDataError, Interactions
from openfyp.recsys.models import EASERecommender


def _interactions(seed: int = 0, n_users: int = 40, n_items: int = 60) -> Interactions:
    rng = np.random.default_rng(seed)
    users, items = [], []
    for u in range(n_users):
        count = int(rng.integers(1, min(40, n_items)))
        chosen = rng.choice(n_items, size=count, replace=False)
        users += [u] * count
        items += chosen.tolist()
    times = rng.permutation(len(users)).astype(float)
    return Interactions.from_external(users, items, timestamps=times)


@pytest.mark.parametrize("total, sizes", [(10, (8, 1, 1)), (20, (16, 2, 2)), (5, (3, 1, 1)), (2, (1, 0, 1)),
                                          (1, (1, 0, 0)), (19, (17, 1, 1)), (3, (1, 1, 1))])
def test_split_sizes_follow_recbole_rounding(total, sizes):
    assert recbole_split_sizes(total, (0.8, 0.1, 0.1)) == sizes


def _pairs(part: Interactions) -> set[tuple[int, int]]:
    return set(zip(part.users.tolist(), part.items.tolist()))


def test_random_split_is_disjoint_complete_and_per_user_sized():
    data = _interactions()
    split = random_split(data, seed=2020)
    train, valid, test = _pairs(split.train), _pairs(split.valid), _pairs(split.test)
    assert not (train & valid) and not (train & test) and not (valid & test)
    assert train | valid | test == _pairs(data)
    counts = data.user_counts()
    for user in range(data.n_users):
        expected = recbole_split_sizes(int(counts[user]), (0.8, 0.1, 0.1))
        got = tuple(int((part.users == user).sum()) for part in (split.train, split.valid, split.test))
        assert got == expected


def test_random_split_is_seeded():
    data = _interactions()
    a, b, c = random_split(data, 1), random_split(data, 1), random_split(data, 2)
    assert _pairs(a.test) == _pairs(b.test)
    assert _pairs(a.test) != _pairs(c.test)


def test_temporal_split_leaves_the_last_two_out():
    data = _interactions()
    split = temporal_split(data)
    for user in range(data.n_users):
        mine = data.users == user
        ordered = data.items[mine][np.argsort(data.timestamps[mine], kind="stable")]
        test_items = split.test.items[split.test.users == user].tolist()
        valid_items = split.valid.items[split.valid.users == user].tolist()
        if len(ordered) >= 3:
            assert test_items == [ordered[-1]] and valid_items == [ordered[-2]]
        elif len(ordered) == 2:
            assert test_items == [ordered[-1]] and valid_items == []
        else:
            assert test_items == [] and valid_items == []
        assert int((split.train.users == user).sum()) >= 1


def test_unknown_protocol_is_a_structured_error():
    with pytest.raises(InteractionDataError) as err:
        make_split(_interactions(), "kfold", 1)
    assert err.value.code == "bad_protocol"


def test_scoring_masks_train_for_validation_and_train_plus_validation_for_test():
    prepared = PreparedSplit.build(random_split(_interactions(n_items=30), 3))
    model = EASERecommender(l2=10.0).fit(prepared.train)
    top_valid, _ = model.top_k(prepared.valid_users, 30, exclude=prepared.train)
    top_test, _ = model.top_k(prepared.test_users, 30, exclude=prepared.test_exclude)
    train_pairs = _pairs(prepared.split.train)
    valid_pairs = _pairs(prepared.split.valid)
    for row, user in enumerate(prepared.valid_users):
        shown = {(int(user), int(i)) for i in top_valid[row] if i >= 0}
        assert not shown & train_pairs
    for row, user in enumerate(prepared.test_users):
        shown = {(int(user), int(i)) for i in top_test[row] if i >= 0}
        assert not shown & (train_pairs | valid_pairs)
        # full ranking: every item the user has not seen is ranked
        seen = sum(1 for p in train_pairs | valid_pairs if p[0] == user)
        assert len(shown) == 30 - seen
