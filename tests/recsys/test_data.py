from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from openfyp.recsys.data import (
    load_relations,
    load_video_records,
    load_viewer_events,
    read_event_columns,
    read_logged_impressions,
)
from openfyp.recsys.ranking.features import FEATURE_NAMES
from openfyp.recsys.state import Catalog, EventRecord, VideoRecord, VideoStats, ViewerState, ViewerStateConfig
from openfyp.store.tables import Block, EventRow, Follow, NotInterested
from tests.recsys.world import World


@pytest.fixture
def services(any_db_services):
    """These readers run on SQLite and on PostgreSQL."""
    return any_db_services


@pytest.fixture
def world(services) -> World:
    w = World(services)
    w.user("ana")
    w.user("bob")
    w.user("cy")
    return w


def test_video_records_carry_hashtags_and_only_recommendable_videos(world, services):
    good = world.video("ana", ["cooking", "pasta"], sound="beat")
    world.video("ana", ["cooking"], status="processing")
    world.video("ana", ["cooking"], moderation="restricted")
    world.video("ana", ["cooking"], region="eu")
    with services.session_factory() as db:
        records = load_video_records(db, "us")
        everything = load_video_records(db, "us", eligible_only=False)
    assert [r.video_id for r in records] == [good]
    assert records[0].hashtag_ids == (world.tags["cooking"], world.tags["pasta"])
    assert records[0].sound_id == world.sounds["beat"] and records[0].eligible
    assert len(everything) == 3 and sum(r.eligible for r in everything) == 1


def test_relations_read_follows_blocks_both_ways_and_dismissals(world, services):
    ana, bob, cy = (world.users[n] for n in ("ana", "bob", "cy"))
    with services.session_factory() as db:
        db.add_all([Follow(follower_id=ana, followee_id=bob), Block(blocker_id=cy, blocked_id=ana),
                    NotInterested(region="us", user_id=ana, target_kind="sound", target_id=7),
                    NotInterested(region="us", user_id=ana, target_kind="video", target_id=9)])
        db.commit()
        relations = load_relations(db, ana)
    assert relations.following == {bob}
    assert relations.blocked_creators == {cy}
    assert relations.not_interested_sounds == {7} and relations.not_interested_videos == {9}


def test_event_columns_are_in_log_order_and_count_foreign_rows(world, services):
    video = world.video("bob", ["cats"])
    world.finish("ana", video)
    world.events("ana", video, "like")
    with services.engine.begin() as connection:
        connection.execute(EventRow.__table__.insert().values(
            event_id="00000000-0000-4000-8000-0000000000ee", region="eu", user_id=1, video_id=video, kind="like",
            server_ts=datetime.now(UTC)))
    with services.session_factory() as db:
        columns, foreign = read_event_columns(db, "us")
        history = load_viewer_events(db, "us", world.users["ana"], None)
    assert foreign == 1
    assert list(columns.kind) == ["play", "complete", "like"]
    assert np.all(np.diff(columns.seq) > 0)
    assert [e.kind for e in history] == ["play", "complete", "like"]


def test_logged_impressions_align_features_by_name(world, services):
    for i in range(3):
        world.video("bob", ["cats"], age_hours=i + 1)
    services.feed.refresh_catalog(full=True)
    served = world.serve("ana")
    names = ["video_like_rate", "no_such_feature", "emb_sim"]
    with services.session_factory() as db:
        logged = read_logged_impressions(db, "us", names)
    assert len(logged) == len(served.items) == 3
    inputs = served.logged_inputs
    first = inputs["candidates"]["video_ids"].index(int(logged.video_id[0]))
    expected = inputs["candidates"]["features"][first][list(FEATURE_NAMES).index("video_like_rate")]
    assert logged.features[0, 0] == pytest.approx(expected)
    assert np.isnan(logged.features[:, 1]).all()


def test_bulk_catalog_matches_one_by_one_upserts():
    records = [VideoRecord(i + 10, creator_id=i % 3, created_ts=float(i), sound_id=i % 2 if i % 4 else None,
                           hashtag_ids=(i % 5, 100 + i % 2)) for i in range(20)]
    slow = Catalog("us")
    slow.upsert(records)
    fast = Catalog.from_arrays("us", np.array([r.video_id for r in records]), np.array([r.creator_id for r in records]),
                               np.array([r.created_ts for r in records]),
                               sound_ids=np.array([-1 if r.sound_id is None else r.sound_id for r in records]),
                               hashtags=np.array([r.hashtag_ids for r in records]))
    assert fast.row_of == slow.row_of
    assert fast.by_creator == slow.by_creator and fast.by_hashtag == slow.by_hashtag
    assert fast.by_sound == slow.by_sound
    assert np.array_equal(fast.hashtags[:20], slow.hashtags[:20])


def test_viewer_state_grades_events_into_affinities():
    catalog = Catalog("us")
    catalog.upsert([VideoRecord(1, 50, 0.0, sound_id=7, hashtag_ids=(3,)), VideoRecord(2, 51, 0.0, hashtag_ids=(4,))])
    state = ViewerState(99, ViewerStateConfig())
    assert not state.has_signals
    state.apply(EventRecord(1, 99, 1, None, "play", None, 100.0), catalog)
    state.apply(EventRecord(2, 99, 1, None, "complete", 1.0, 110.0), catalog)
    state.apply(EventRecord(2, 99, 1, None, "complete", 1.0, 110.0), catalog)  # the same event twice
    assert state.has_signals and state.counts["completes"] == 1
    assert state.hashtag_affinity.get(3, 110.0) == pytest.approx(1.5)  # watch 1.0 + finish bonus 0.5
    assert state.creator_affinity.get(50, 110.0) > 0 and state.sound_affinity.get(7, 110.0) > 0
    state.apply(EventRecord(3, 99, 2, None, "not_interested", None, 120.0), catalog)
    assert state.hashtag_affinity.get(4, 120.0) < 0
    assert [kind for _, _, kind in state.negatives] == ["not_interested"]
    assert state.seen == {1, 2} and [v for _, v in state.completions] == [1]
    week = 7 * 86400.0
    assert state.hashtag_affinity.get(3, 110.0 + week) == pytest.approx(0.75)


def test_video_stats_count_and_decay():
    catalog = Catalog("us")
    catalog.upsert([VideoRecord(1, 50, 0.0), VideoRecord(2, 51, 0.0)])
    stats = VideoStats(catalog, half_life_hours=1.0)
    stats.apply(np.array([0, 0, 1, -1]), ["play", "complete", "like", "like"], np.array([np.nan, 1.0, np.nan, np.nan]),
                np.array([0.0, 0.0, 3600.0, 0.0]))
    assert stats["plays"][0] == 1 and stats["completes"][0] == 1 and stats["likes"][1] == 1
    assert stats.trending_at(np.array([1]), 7200.0)[0] == pytest.approx(3.0 / 2)
    assert stats.top_trending(5, 7200.0).tolist() == [1, 0]
