from __future__ import annotations

import numpy as np

from openfyp.recsys.filters import FilterInput, apply_filters
from openfyp.recsys.state import Catalog, VideoRecord, ViewerRelations


def make_catalog() -> Catalog:
    catalog = Catalog("us")
    catalog.upsert([
        VideoRecord(1, creator_id=10, created_ts=0.0, sound_id=100),
        VideoRecord(2, creator_id=11, created_ts=0.0, sound_id=101, adult_only=True),
        VideoRecord(3, creator_id=12, created_ts=0.0, sound_id=102, eligible=False),
        VideoRecord(4, creator_id=13, created_ts=0.0, sound_id=103),
        VideoRecord(5, creator_id=14, created_ts=0.0, sound_id=104),
        VideoRecord(6, creator_id=15, created_ts=0.0, sound_id=105),
    ])
    return catalog


def kept(inp: FilterInput) -> tuple[list[int], dict[str, int]]:
    rows = np.arange(inp.catalog.size)
    rows, dropped = apply_filters(rows, inp)
    return [int(v) for v in inp.catalog.video_ids[rows]], dropped


def test_no_rules_keeps_all_recommendable_videos():
    catalog = make_catalog()
    ids, dropped = kept(FilterInput(catalog, "us", frozenset(), ViewerRelations(), is_minor=False))
    assert ids == [1, 2, 4, 5, 6]
    assert dropped == {"not_recommendable": 1}


def test_each_rule_drops_its_videos_and_is_counted():
    catalog = make_catalog()
    relations = ViewerRelations(blocked_creators=frozenset({13}), not_interested_videos=frozenset({5}),
                                not_interested_sounds=frozenset({105}))
    ids, dropped = kept(FilterInput(catalog, "us", frozenset({1}), relations, is_minor=True))
    assert ids == []
    assert dropped == {"not_recommendable": 1, "minor_safety": 1, "blocked_creator": 1, "not_interested": 2,
                       "seen": 1}


def test_not_interested_creator_and_adults_see_adult_videos():
    catalog = make_catalog()
    relations = ViewerRelations(not_interested_creators=frozenset({10}))
    ids, _ = kept(FilterInput(catalog, "us", frozenset(), relations, is_minor=False))
    assert 1 not in ids and 2 in ids


def test_other_region_serves_nothing():
    catalog = make_catalog()
    ids, dropped = kept(FilterInput(catalog, "eu", frozenset(), ViewerRelations(), is_minor=False))
    assert ids == [] and dropped == {"other_region": 6}
