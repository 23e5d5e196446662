from __future__ import annotations

import json

import numpy as np
import pytest

from openfyp.recsys.contracts import RecsysError
from openfyp.recsys.data import EventColumns, LoggedImpressions
from openfyp.recsys.ranking.config import TASKS, load_ranking_config, parse_ranking_config
from openfyp.recsys.ranking.features import FEATURE_INDEX, FEATURE_NAMES
from openfyp.recsys.ranking.learn import RankerTrainingConfig, fit_ranker, impression_labels
from openfyp.recsys.ranking.predictors import BoostedPredictor, HeuristicPredictor, combine


def test_default_config_round_trips_through_its_file(tmp_path):
    config = load_ranking_config()
    assert config.version and set(config.task_weights.as_dict()) == set(TASKS)
    path = tmp_path / "copy.json"
    config.to_file(path)
    again = load_ranking_config(path)
    assert again == config and again.digest == config.digest
    changed = parse_ranking_config({**json.loads(path.read_text()), "version": "other-1"})
    assert changed.digest != config.digest


@pytest.mark.parametrize("patch, field", [
    ({"task_weights": {"like": -1}}, "task_weights.like"),
    ({"exploration": {"share": 0.9}}, "exploration.share"),
    ({"surprise": 1}, "surprise"),
    ({"version": "has spaces"}, "version"),
])
def test_bad_configs_are_refused_with_the_field(patch, field):
    data = load_ranking_config().model_dump(mode="json")
    data.update(patch)
    with pytest.raises(RecsysError) as error:
        parse_ranking_config(data)
    assert error.value.code == "bad_ranking_config" and error.value.field == field


def test_unknown_config_name_is_a_structured_error():
    with pytest.raises(RecsysError) as error:
        load_ranking_config("no-such-config")
    assert error.value.code == "unknown_ranking_config"


def features(rows: int, **values: float) -> np.ndarray:
    X = np.zeros((rows, len(FEATURE_NAMES)))
    for rate in ("video_completion_rate", "video_like_rate", "video_share_rate", "video_comment_rate",
                 "video_follow_rate"):
        X[:, FEATURE_INDEX[rate]] = 0.1
    X[:, FEATURE_INDEX["video_mean_watch"]] = 0.5
    for name, value in values.items():
        X[:, FEATURE_INDEX[name]] = value
    return X


def test_heuristic_gives_every_task_and_rewards_fit():
    predictor = HeuristicPredictor()
    cold = predictor.predict(features(1))
    warm = predictor.predict(features(1, hashtag_affinity=2.0, emb_sim=0.8, emb_known=1.0))
    assert set(cold) == set(TASKS)
    for task in TASKS:
        assert warm[task][0] > cold[task][0]
    for task in ("finish", "like", "share", "comment", "follow"):
        assert 0.0 < cold[task][0] < 1.0
    score, terms = combine(warm, load_ranking_config().task_weights)
    assert score[0] == pytest.approx(sum(t[0] for t in terms.values()))


def test_labels_join_impressions_to_later_events_of_the_same_pair():
    impressions = LoggedImpressions(user_id=np.array([1, 1, 2, 2]), video_id=np.array([10, 11, 10, 12]),
                                    ts=np.array([100.0, 100.0, 100.0, 100.0]), request_id=np.array(["a"] * 4, object),
                                    features=np.zeros((4, len(FEATURE_NAMES)), np.float32),
                                    feature_names=list(FEATURE_NAMES))
    rows = [
        (1, 1, 10, None, "complete", 1.0, 110.0, None),
        (2, 1, 10, None, "like", None, 111.0, None),
        (3, 1, 11, None, "skip", 0.1, 120.0, None),
        (4, 2, 10, None, "share", None, 50.0, None),  # before the impression: not its outcome
        (5, 2, 12, None, "like", None, 100.0 + 48 * 3600, None),  # past the horizon
        (6, 2, None, 99, "follow", None, 130.0, None),  # follows the creator of video 12
    ]
    labels = impression_labels(impressions, EventColumns.from_rows(rows), {10: 98, 11: 98, 12: 99}, 24.0)
    assert labels.finish.tolist() == [1, 0, 0, 0]
    assert labels.like.tolist() == [1, 0, 0, 0]
    assert labels.share.tolist() == [0, 0, 0, 0]
    assert labels.follow.tolist() == [0, 0, 0, 1]
    assert labels.watch_ratio.tolist() == [1.0, 0.1, 0.0, 0.0]


def test_boosters_learn_a_signal_the_heuristic_cannot_see():
    rng = np.random.default_rng(0)
    n = 4000
    X = features(n)
    X[:, FEATURE_INDEX["video_duration_s"]] = rng.uniform(5, 60, n)
    X[:, FEATURE_INDEX["viewer_log_events"]] = rng.uniform(0, 5, n)
    # Viewers finish short videos; the heuristic ignores duration entirely.
    finish = (rng.uniform(size=n) < np.where(X[:, FEATURE_INDEX["video_duration_s"]] < 20, 0.8, 0.1)).astype(float)
    labels = impression_labels(LoggedImpressions(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0),
                                                 np.zeros(0, object), np.zeros((0, len(FEATURE_NAMES))), []),
                               EventColumns.empty(), {})
    labels = type(labels)(finish, finish * (rng.uniform(size=n) < 0.3), np.zeros(n), np.zeros(n), np.zeros(n),
                          finish)
    trained = fit_ranker(X, labels, np.arange(n, dtype=float), list(FEATURE_NAMES),
                         RankerTrainingConfig(threads=1), HeuristicPredictor().predict(X))
    assert set(trained.boosters) == {"finish", "like", "watch_ratio"}
    assert "share" in trained.skipped
    assert trained.metrics["finish"]["validation_auc"] > 0.8
    assert trained.metrics["finish"]["heuristic_auc"] < 0.6
    predictor = BoostedPredictor("test", trained.boosters, list(FEATURE_NAMES))
    short, long_ = features(1, video_duration_s=10.0), features(1, video_duration_s=50.0)
    assert predictor.predict(short)["finish"][0] > predictor.predict(long_)["finish"][0] + 0.3
    # Tasks without a booster still answer, from the heuristic.
    assert predictor.predict(short)["share"][0] == HeuristicPredictor().predict(short)["share"][0]
