"""Events as columns (openfyp.recsys.event_batch) and the engine's exactly-once folding of them."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from openfyp.events.schema import Event, EventKind
from openfyp.recsys.data import record_from_event
from openfyp.recsys.engine import RECENT_SEQS, ForYouEngine
from openfyp.recsys.event_batch import KINDS, OTHER_KIND, EventBatch, EventRecord, kind_codes
from openfyp.recsys.signals import SignalWeights
from openfyp.recsys.state import Catalog, VideoStats, engagement_weight, engagement_weights

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def event(seq: int | None, kind: str, *, user: int | None = 7, video: int | None = 100,
          ratio: float | None = None, at: datetime = T0) -> Event:
    return Event(seq=seq, event_id=f"e{seq}-{kind}-{user}-{video}", region="us", user_id=user, video_id=video,
                 kind=EventKind(kind), watch_ratio=ratio, server_ts=at, client_ts=at)


def catalog_of(*video_ids: int) -> Catalog:
    ids = np.array(video_ids, dtype=np.int64)
    return Catalog.from_arrays("us", ids, np.arange(len(ids)) + 1, np.zeros(len(ids)))


def test_columns_keep_missing_ids_and_ratios_apart_from_real_ones():
    events = [event(1, "play"), event(None, "follow", video=None, user=None),
              event(3, "skip", ratio=0.25, at=T0 + timedelta(seconds=2))]
    batch = EventBatch.from_events(events)
    assert batch.seq.tolist() == [1, 0, 3]
    assert batch.user.tolist() == [7, -1, 7] and batch.video.tolist() == [100, -1, 100]
    assert [KINDS[code] for code in batch.kind] == ["play", "follow", "skip"]
    assert math.isnan(batch.ratio[0]) and batch.ratio[2] == 0.25
    assert batch.ts.tolist() == [T0.timestamp(), T0.timestamp(), T0.timestamp() + 2]
    # Records are built on demand, exactly as the store's reader builds them.
    assert [batch.record(i) for i in range(3)] == [record_from_event(e) for e in events]


def test_records_in_records_out():
    records = [EventRecord(5, 1, 10, None, "like", None, 100.0), EventRecord(6, None, None, 2, "follow", None, 101.0)]
    batch = EventBatch.of(records)
    assert batch.records == records
    assert batch.user.tolist() == [1, -1] and batch.seq.tolist() == [5, 6]
    assert len(EventBatch.of([])) == 0 and len(EventBatch.from_events([])) == 0


def test_a_kind_this_version_does_not_know_counts_for_nothing():
    assert kind_codes(["like", "hologram"]).tolist() == [KINDS.index("like"), OTHER_KIND]
    catalog = catalog_of(100)
    stats = VideoStats(catalog)
    stats.apply(np.array([0, 0]), ["hologram", "like"], np.array([np.nan, np.nan]), np.array([10.0, 10.0]))
    assert stats["likes"][0] == 1 and stats["impressions"][0] == 0
    assert stats.trend_acc[0] == pytest.approx(SignalWeights().like)


def test_vectorised_trending_weights_match_the_definition():
    weights = SignalWeights()
    kinds = [kind for kind in KINDS for _ in range(4)]
    ratios = np.array([np.nan, 0.0, 0.1, 0.9] * len(KINDS))
    expected = [engagement_weight(kind, None if math.isnan(r) else float(r), weights) for kind, r in zip(kinds, ratios)]
    assert engagement_weights(kind_codes(kinds), ratios, weights).tolist() == pytest.approx(expected)
    # An early skip is a negative, a long one is not.
    skip = kind_codes(["skip", "skip"])
    early, late = engagement_weights(skip, np.array([0.01, 0.9]), weights)
    assert early < 0 and late == 0


def test_select_keeps_order_and_the_looked_up_rows():
    catalog = catalog_of(100, 200)
    batch = EventBatch.from_events([event(1, "play", video=200), event(2, "play", video=999), event(3, "like")])
    assert batch.rows(catalog).tolist() == [1, -1, 0]
    picked = batch.select(np.array([True, False, True]))
    assert picked.seq.tolist() == [1, 3] and picked.rows(catalog).tolist() == [1, 0]
    assert [r.seq for r in picked.records] == [1, 3]


def engine_with(*video_ids: int) -> ForYouEngine:
    return ForYouEngine("us", catalog=catalog_of(*video_ids))


def test_the_engine_folds_each_event_once_whatever_order_it_arrives_in():
    engine = engine_with(100, 200)
    first = [event(seq, "impression", video=100) for seq in range(1, 6)]
    assert len(engine.observe(EventBatch.from_events(first))) == 5
    # The same events again (the log tail is read with an overlap), then late ones mixed with repeats.
    assert len(engine.observe(EventBatch.from_events(first))) == 0
    late = [event(9, "impression", video=200), event(3, "impression", video=100),
            event(7, "impression", video=200), event(7, "impression", video=200), event(8, "impression", video=200)]
    fresh = engine.observe(EventBatch.from_events(late))
    assert fresh.seq.tolist() == [9, 7, 8]
    assert engine.stats["impressions"][:2].tolist() == [5, 3]
    # Events without a seq (not logged) always count; plain records work as well as batches.
    engine.observe([EventRecord(0, 7, 100, None, "impression", None, 1.0)] * 2)
    assert engine.stats["impressions"][0] == 7


def test_the_engine_forgets_seqs_older_than_what_it_remembers():
    engine = engine_with(100)
    engine.observe(EventBatch.from_events([event(seq, "impression") for seq in range(1, RECENT_SEQS + 11)]))
    # Seq 5 is older than anything the engine remembers: it was applied, so it does not count again.
    assert len(engine.observe(EventBatch.from_events([event(5, "impression")]))) == 0
    assert engine.stats["impressions"][0] == RECENT_SEQS + 10
