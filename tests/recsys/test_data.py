from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import text

from openfyp.recsys.data import (
    epoch,
    load_relations,
    load_video_records,
    load_viewer_events,
    read_event_columns,
    read_logged_impressions,
)
from openfyp.recsys.ranking.features import FEATURE_NAMES
from openfyp.recsys.state import (
    MAX_TAGS, Catalog, EventRecord, VideoRecord, VideoStats, ViewerState, ViewerStateConfig,
)
from openfyp.store.tables import Block, EventRow, Follow, NotInterested, Video
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


def test_upload_times_read_in_bulk_are_the_times_of_each_video(any_db_services):
    world = World(any_db_services)
    world.user("ana")
    ids = [world.video("ana", ["cooking"], age_hours=hours) for hours in (0.0001, 1.5, 30.25)]
    with any_db_services.session_factory() as db:
        db.get(Video, ids[1]).created_at = db.get(Video, ids[1]).created_at.replace(microsecond=0)
        db.commit()
        expected = {video_id: epoch(db.get(Video, video_id).created_at) for video_id in ids}
        if any_db_services.engine.dialect.name == "sqlite":  # a time written by hand, with its zone
            db.execute(text("UPDATE videos SET created_at = '2026-01-02T03:04:05.250000+00:00' WHERE id = :id"),
                       {"id": ids[2]})
            db.commit()
            expected[ids[2]] = datetime(2026, 1, 2, 3, 4, 5, 250000, tzinfo=UTC).timestamp()
        loaded = {record.video_id: record.created_ts for record in load_video_records(db, "us")}
    assert loaded == expected


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


def _upsert_one_by_one(catalog: Catalog, records: list[VideoRecord]) -> list[int]:
    """The catalog's upsert as a record-by-record pass: the specification the column-wise one must match."""
    added = []
    for record in records:
        row = catalog.row_of.get(record.video_id)
        created = row is None
        if created:
            catalog._grow(catalog.size + 1)
            row = catalog.size
            catalog.size += 1
            catalog.row_of[record.video_id] = row
            catalog.video_ids[row], catalog.creator_ids[row] = record.video_id, record.creator_id
            catalog.created_ts[row] = record.created_ts
            catalog.by_creator.setdefault(record.creator_id, []).append(row)
            added.append(row)
        catalog.sound_ids[row] = record.sound_id if record.sound_id is not None else -1
        catalog.duration_s[row] = record.duration_s or 0.0
        catalog.adult_only[row], catalog.eligible[row] = record.adult_only, record.eligible
        tags = record.hashtag_ids[:MAX_TAGS]
        old_tags = {int(t) for t in catalog.hashtags[row] if t >= 0}
        catalog.hashtags[row] = -1
        catalog.hashtags[row, : len(tags)] = tags
        for tag in tags:
            if tag not in old_tags:
                catalog.by_hashtag.setdefault(int(tag), []).append(row)
        if record.sound_id is not None and created:
            catalog.by_sound.setdefault(int(record.sound_id), []).append(row)
    return added


@pytest.mark.parametrize("seed", range(6))
def test_upserts_column_by_column_match_a_record_by_record_pass(seed):
    rng = np.random.default_rng(seed)
    columnwise, reference = Catalog("us", capacity=4), Catalog("us", capacity=4)
    for _ in range(5):  # batches of new videos and of changes to known ones (some twice in a batch)
        ids = rng.integers(1, 60, int(rng.integers(0, 40))).tolist()
        records = [VideoRecord(video_id, creator_id=video_id % 7, created_ts=float(video_id),
                               sound_id=None if rng.random() < 0.3 else int(rng.integers(0, 4)),
                               duration_s=None if rng.random() < 0.2 else float(rng.integers(5, 60)),
                               adult_only=bool(rng.random() < 0.1), eligible=bool(rng.random() < 0.8),
                               hashtag_ids=tuple(int(t) for t in rng.integers(0, 12, int(rng.integers(0, 11)))))
                   for video_id in ids]
        assert columnwise.upsert(records) == _upsert_one_by_one(reference, records)
        size = reference.size
        assert columnwise.size == size and columnwise.row_of == reference.row_of
        for column in ("video_ids", "creator_ids", "sound_ids", "created_ts", "duration_s", "adult_only",
                       "eligible", "hashtags"):
            assert np.array_equal(getattr(columnwise, column)[:size], getattr(reference, column)[:size]), column
        assert columnwise.by_creator == reference.by_creator and columnwise.by_sound == reference.by_sound
        assert columnwise.by_hashtag == reference.by_hashtag


def test_a_prepared_upsert_applies_only_to_the_catalog_it_was_prepared_on():
    catalog = Catalog("us")
    catalog.upsert([VideoRecord(1, 50, 0.0, hashtag_ids=(3,))])
    prepared = catalog.prepare([VideoRecord(1, 50, 0.0, hashtag_ids=(3, 4)), VideoRecord(2, 51, 1.0)])
    assert catalog.size == 1 and catalog.hashtags_of(0) == [3]  # nothing written yet
    catalog.upsert([VideoRecord(9, 52, 2.0)])  # another writer got in between
    with pytest.raises(ValueError):
        catalog.apply(prepared)
    with pytest.raises(ValueError):
        catalog.prepare([VideoRecord(2, 51, 1.0), VideoRecord(2, 51, 1.0)])
    assert catalog.apply(catalog.prepare([VideoRecord(1, 50, 0.0, hashtag_ids=(3, 4))])) == []
    assert catalog.hashtags_of(0) == [3, 4] and catalog.by_hashtag[4] == [0]


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
