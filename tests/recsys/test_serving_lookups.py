"""The serving path's lookups and per-viewer caches give what recomputing from scratch gives."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from openfyp.recsys.pipeline import _hashtag_lists
from openfyp.recsys.sources.base import lookup_sorted
from openfyp.recsys.state import Catalog, VideoRecord
from tests.recsys.world import World, topic_world


def by_dict(keys: np.ndarray, values: np.ndarray, queries: np.ndarray, default: float) -> np.ndarray:
    table = dict(zip(keys.tolist(), values.tolist()))
    return np.array([table.get(q, default) for q in queries.ravel().tolist()]).reshape(queries.shape)


@pytest.mark.parametrize("span", [50, 3_000, 10_000_000], ids=["table", "table-wide", "binary-search"])
def test_lookup_sorted_matches_a_dictionary(span):
    rng = np.random.default_rng(span)
    keys = np.unique(rng.integers(0, span, 40))
    values = rng.normal(size=len(keys))
    queries = rng.integers(-1, span, (300, 8))
    queries[:, 4:] = -1  # the hashtag slots' padding
    queries[::4, 0] = rng.choice(keys, len(queries[::4]))
    queries[0, :4] = [keys[0], keys[-1], keys[0] - 1, keys[-1] + 1]  # both ends of the range and just outside
    for default in (0.0, 1.0):
        found = lookup_sorted(keys, values, queries, default=default)
        assert found.shape == queries.shape and found.dtype == np.float64
        assert np.array_equal(found, by_dict(keys, values, queries, default))
    assert (lookup_sorted(keys, values, queries) != 0).sum() >= len(queries[::4])
    empty = lookup_sorted(np.zeros(0, np.int64), np.zeros(0), queries[:3], default=2.0)
    assert empty.shape == (3, 8) and (empty == 2.0).all()


def test_hashtag_lists_drop_the_padding_and_keep_the_slot_order():
    tags = np.array([[5, 3, -1, -1], [-1, -1, -1, -1], [7, -1, 2, -1], [1, 2, 3, 4]])
    assert _hashtag_lists(tags) == [[5, 3], [], [7, 2], [1, 2, 3, 4]]
    assert _hashtag_lists(tags[:0]) == []


def test_newest_rows_follow_new_uploads():
    catalog = Catalog("us")
    catalog.upsert([VideoRecord(100 + i, creator_id=1, created_ts=float(i), sound_id=9, hashtag_ids=(4,))
                    for i in range(5)])
    first = catalog.newest_rows("hashtag", 4, 3)
    assert first.tolist() == [2, 3, 4] and not first.flags.writeable
    assert catalog.newest_rows("hashtag", 4, 3) is first  # reused while nothing was added
    catalog.upsert([VideoRecord(200, creator_id=2, created_ts=10.0, sound_id=9, hashtag_ids=(4, 6))])
    assert catalog.newest_rows("hashtag", 4, 3).tolist() == [3, 4, 5]
    assert catalog.newest_rows("sound", 9, 10).tolist() == [0, 1, 2, 3, 4, 5]
    assert catalog.newest_rows("hashtag", 6, 3).tolist() == [5]
    assert catalog.newest_rows("hashtag", 12345, 3).tolist() == []


def test_a_new_dismissal_reaches_the_very_next_page(services):
    world = World(services)
    by_topic = topic_world(world)
    world.user("ana")
    for video in by_topic["cats"][:3]:
        world.finish("ana", video)
    engine = services.feed

    def dismissed() -> list[int]:
        viewer = engine.viewers.cached(world.users["ana"])
        request = SimpleNamespace(viewer=viewer, catalog=engine.catalog)
        return sorted(d.creator_id for d in engine.pipeline._dismissals(request))

    first = world.serve("ana")
    assert all(value == 1.0 for value in first.logged_inputs["candidates"]["fatigue"]) and dismissed() == []
    # An early skip of a cats video: its creator, hashtag and sound lose score on the next page.
    world.events("ana", by_topic["cats"][3], "play", "skip", ratio=0.05)
    second = world.serve("ana")
    assert min(second.logged_inputs["candidates"]["fatigue"]) < 1.0 and len(dismissed()) == 1
    world.events("ana", by_topic["cats"][4], "play", "skip", ratio=0.05)
    third = world.serve("ana")
    assert len(dismissed()) == 2  # the viewer's cached dismissals were rebuilt after the new event
    assert min(third.logged_inputs["candidates"]["fatigue"]) < min(second.logged_inputs["candidates"]["fatigue"])


def test_seeded_generators_draw_what_numpy_list_seeds_draw():
    """``seeded_rng`` builds numpy's own 32-bit seed words: the stream equals ``default_rng(list)``'s."""
    from openfyp.recsys.sources.base import seeded_rng

    for entropy in ([0], [7, 7], [2**32 - 1, 7], [2**32, 1], [2**63 - 1, *b"fresh"], [123456789012345, 0, 2**40]):
        ours, numpys = seeded_rng(*entropy), np.random.default_rng(entropy)
        assert np.array_equal(ours.exponential(size=50), numpys.exponential(size=50))
        assert ours.permutation(30).tolist() == numpys.permutation(30).tolist()
    with pytest.raises(ValueError):
        seeded_rng(-1)


def test_unique_and_sums_by_key_match_numpy_bit_for_bit():
    from openfyp.recsys.sources.base import sum_by_key, unique_sorted

    rng = np.random.default_rng(3)
    for size in (0, 1, 2, 17, 600, 2500):
        keys = rng.integers(0, max(size // 3, 1), size)
        weights = rng.normal(size=size) * 10 ** rng.uniform(-3, 3, size)  # sums whose order shows in the bits
        assert np.array_equal(unique_sorted(keys), np.unique(keys))
        distinct, summed = sum_by_key(keys, weights)
        expected_keys, inverse = np.unique(keys, return_inverse=True)
        assert np.array_equal(distinct, expected_keys)
        assert np.array_equal(summed, np.bincount(inverse, weights=weights, minlength=len(expected_keys)))


def test_sparse_source_scores_list_each_sources_proposals():
    from openfyp.recsys.pipeline import _dense_source_scores, _sparse_source_scores

    rng = np.random.default_rng(4)
    names = ["following", "cowatch", "fresh"]
    for n in (0, 1, 80):
        scores = np.round(rng.normal(size=(n, 3)) * 5, 6)
        scores[rng.uniform(size=(n, 3)) < 0.6] = np.nan
        sparse = _sparse_source_scores(names, scores)
        for j, name in enumerate(names):
            proposed = np.flatnonzero(~np.isnan(scores[:, j]))
            assert sparse[name] == {"index": proposed.tolist(), "score": scores[proposed, j].tolist()}
        assert np.array_equal(_dense_source_scores(names, sparse, n), scores, equal_nan=True)


def test_hints_reuse_the_features_lookups_and_say_the_same():
    """The reasons' hints take the hashtag and sound affinities the features looked up; looked up afresh,
    they are the same."""
    from openfyp.recsys.event_batch import EventRecord
    from openfyp.recsys.pipeline import _hints
    from openfyp.recsys.ranking.features import SLOT_AFFINITIES, build_features
    from openfyp.recsys.sources.base import SourceRequest
    from openfyp.recsys.state import (
        VideoStats,
        ViewerRelations,
        ViewerState,
        ViewerStateConfig,
    )

    n = 60
    catalog = Catalog.from_arrays("us", np.arange(1, n + 1), 100 + np.arange(n) % 7, np.full(n, 1_000.0),
                                  sound_ids=np.arange(n) % 5, hashtags=np.stack([np.arange(n) % 9,
                                                                                 20 + np.arange(n) % 4], axis=1))
    for tag in range(9):
        catalog.hashtag_names[tag] = f"tag{tag}"
    for sound in range(5):
        catalog.sound_titles[sound] = f"sound{sound}"
    viewer = ViewerState(1, ViewerStateConfig())
    for seq, video in enumerate((1, 2, 3, 12, 13)):
        viewer.apply(EventRecord(seq + 1, 1, video, None, "complete", 1.0, 2_000.0 + seq), catalog)
    viewer.apply(EventRecord(9, 1, 30, None, "skip", 0.05, 2_100.0), catalog)
    request = SourceRequest(now=5_000.0, catalog=catalog, stats=VideoStats(catalog), viewer=viewer,
                            relations=ViewerRelations(following=frozenset({101})), seed=1)
    rows = np.arange(n, dtype=np.int64)
    build_features(request, rows, [], np.zeros((n, 0)))
    cached_rows, tags, sounds = request.cache[SLOT_AFFINITIES]
    assert cached_rows is rows
    short = np.array([0, 3, 11, 29, 40, 59])
    reused = _hints(request, rows[short], (tags[short], sounds[short]))
    assert reused == _hints(request, rows[short])
    assert any("tag" in hint for hint in reused) and any(hint.get("followed") for hint in reused)


def test_decaying_scores_arrays_follow_the_clock_and_every_change():
    """``arrays`` keeps the sorted keys between requests and only decays again at a new time; what it returns
    is what decaying each stored value by hand gives, and an ``add`` shows at once."""
    import math

    from openfyp.recsys.state import DecayingScores

    def by_hand(scores: DecayingScores, now: float) -> tuple[list[int], list[float]]:
        keys = sorted(scores.values)
        return keys, [scores.values[k][0] * math.exp2(-max(now - scores.values[k][1], 0.0) / scores.half_life_s)
                      for k in keys]

    scores = DecayingScores(3600.0)
    assert [a.tolist() for a in scores.arrays(10.0)] == [[], []]
    for key, delta, ts in ((30, 1.0, 0.0), (4, 2.5, 100.0), (17, -1.0, 50.0), (4, 1.0, 200.0)):
        scores.add(key, delta, ts)
    for now in (200.0, 5000.0, 5000.0, 90_000.0, 150.0):
        keys, values = scores.arrays(now)
        expected_keys, expected = by_hand(scores, now)
        assert keys.tolist() == expected_keys
        np.testing.assert_allclose(values, expected, rtol=1e-15)
    scores.add(1, 3.0, 6000.0)
    keys, values = scores.arrays(90_000.0)
    assert keys.tolist() == [1, 4, 17, 30]
    np.testing.assert_allclose(values, by_hand(scores, 90_000.0)[1], rtol=1e-15)
