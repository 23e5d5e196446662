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
