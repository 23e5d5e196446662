from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from openfyp.recsys.datasets import (interactions_from_events, load_csv, load_interactions, load_movielens,
                                     load_recbole)
from openfyp.recsys.interactions import InteractionDataError
from openfyp.recsys.signals import SignalWeights


def _value(inter, user, item) -> float:
    u = inter.user_map.index_of([user])[0]
    i = inter.item_map.index_of([item])[0]
    mask = (inter.users == u) & (inter.items == i)
    assert mask.sum() == 1
    return float(inter.values[mask][0])


def test_movielens_without_header_and_with_crlf(tmp_path: Path):
    (tmp_path / "ratings.csv").write_bytes(b"1,6,2.0,980730861\r\n1,22,3.0,980730138\r\n2,6,4.5,1000000000\r\n")
    inter = load_movielens(tmp_path)
    assert len(inter) == 3 and inter.shape == (2, 2)
    assert inter.item_map.external.tolist() == [6, 22]
    assert _value(inter, 2, 6) == 4.5
    assert sorted(inter.timestamps.tolist())[0] == 980730138.0


def test_movielens_with_header(tmp_path: Path):
    path = tmp_path / "ratings.csv"
    path.write_text("userId,movieId,rating,timestamp\n7,1,5.0,10\n7,2,1.0,11\n")
    inter = load_movielens(path)
    assert len(inter) == 2 and _value(inter, 7, 2) == 1.0


@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
def test_generic_csv_sniffs_delimiter_and_header(tmp_path: Path, delimiter: str):
    path = tmp_path / "events.txt"
    rows = [["alice", "v1", "1.5", "100"], ["bob", "v2", "0.5", "101"], ["alice", "v3", "2", "102"]]
    path.write_text("\n".join(delimiter.join(r) for r in rows) + "\n")
    no_header = load_csv(path)
    path.write_text(delimiter.join(["user", "item", "value", "timestamp"]) + "\n"
                    + "\n".join(delimiter.join(r) for r in rows) + "\n")
    with_header = load_csv(path)
    for inter in (no_header, with_header):
        assert len(inter) == 3
        assert _value(inter, "alice", "v3") == 2.0


def test_generic_csv_named_header_may_reorder_columns(tmp_path: Path):
    path = tmp_path / "x.csv"
    path.write_text("timestamp,rating,item_id,user_id\n5,4.0,10,1\n6,2.0,11,1\n")
    inter = load_csv(path)
    assert _value(inter, 1, 10) == 4.0
    assert sorted(inter.timestamps.tolist()) == [5.0, 6.0]


def test_generic_csv_with_two_columns_counts_every_row_as_one(tmp_path: Path):
    path = tmp_path / "pairs.csv"
    path.write_text("1,2\n1,3\n2,3\n")
    inter = load_csv(path)
    assert inter.values.tolist() == [1.0, 1.0, 1.0]


def test_recbole_atomic_inter(tmp_path: Path):
    path = tmp_path / "ml.inter"
    path.write_text("user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
                    "196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t377\t1\t878887116\n")
    inter = load_recbole(tmp_path)
    assert len(inter) == 3 and inter.shape == (2, 3)
    assert _value(inter, 196, 377) == 1.0
    assert load_interactions(path, "recbole").shape == (2, 3)


def test_recbole_header_must_be_typed(tmp_path: Path):
    path = tmp_path / "bad.inter"
    path.write_text("user_id\titem_id\n1\t2\n")
    with pytest.raises(InteractionDataError) as err:
        load_recbole(path)
    assert err.value.code == "bad_header"


def test_bad_inputs_give_structured_errors(tmp_path: Path):
    with pytest.raises(InteractionDataError) as err:
        load_movielens(tmp_path / "missing")
    assert err.value.code == "not_found" and err.value.field == "path"
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3.0,100\n1,3,oops,101\n")
    with pytest.raises(InteractionDataError) as err:
        load_csv(bad, has_header=False)
    assert err.value.code == "bad_number" and "line 2" in err.value.message
    with pytest.raises(InteractionDataError) as err:
        load_interactions(bad, "parquet")
    assert err.value.code == "bad_format"


def _event(user, video, kind, ratio=None, ts=100.0):
    return {"user_id": user, "video_id": video, "kind": kind, "watch_ratio": ratio, "server_ts": ts}


def test_events_become_graded_signed_signals():
    w = SignalWeights()
    rows = [
        _event(1, 10, "impression"), _event(1, 10, "play"), _event(1, 10, "watch", 1.0), _event(1, 10, "complete"),
        _event(1, 11, "impression"), _event(1, 11, "watch", 0.05), _event(1, 11, "skip", 0.05),
        _event(1, 12, "impression"),
        _event(1, 13, "watch", 0.5), _event(1, 13, "like"),
        _event(1, 14, "watch", 0.9), _event(1, 14, "not_interested"),
        _event(2, 10, "watch", 2.1), _event(2, 10, "replay"),
        _event(2, 15, "report"),
    ]
    inter = interactions_from_events(rows, w)
    assert _value(inter, 1, 10) == pytest.approx(w.watch * 1.0 + w.finish_bonus)
    assert _value(inter, 1, 11) == pytest.approx(w.early_skip)
    assert _value(inter, 1, 12) == pytest.approx(w.impression_without_play)
    assert _value(inter, 1, 13) == pytest.approx(0.5 * w.watch + w.like)
    assert _value(inter, 1, 14) == pytest.approx(w.not_interested)
    assert _value(inter, 2, 10) == pytest.approx(2.1 * w.watch + w.finish_bonus + w.rewatch_bonus)
    assert 15 not in inter.item_map.external.tolist()  # reports carry no preference
    # a rewatch beats a single finish, a finish beats a glance with a like only when the like is strong
    assert _value(inter, 2, 10) > _value(inter, 1, 10) > 0
    positive, negative = inter.positive(), inter.negative()
    assert len(positive) == 3 and len(negative) == 3
    assert (negative.values > 0).all()


def test_events_accept_objects_and_datetimes_and_report_missing_fields():
    when = datetime(2025, 1, 1, tzinfo=timezone.utc)
    rows = [SimpleNamespace(user_id=1, video_id=2, kind="like", watch_ratio=None, server_ts=when)]
    inter = interactions_from_events(rows)
    assert inter.timestamps.tolist() == [when.timestamp()]
    with pytest.raises(InteractionDataError) as err:
        interactions_from_events([{"user_id": 1, "video_id": 2, "kind": "like"}])
    assert err.value.code == "missing_field"


def test_signal_weights_round_trip_and_validation():
    weights = SignalWeights(like=5.0)
    assert SignalWeights.model_validate_json(weights.model_dump_json()) == weights
    with pytest.raises(ValueError):
        SignalWeights(not_interested=3.0)
