from __future__ import annotations

import json

import pytest

from openfyp.recsys.contracts import RecsysError
from openfyp.recsys.pipeline import rank_logged, request_seed
from openfyp.recsys.ranking.predictors import HeuristicPredictor
from openfyp.recsys.sources.base import CandidateSource, SourceRequest, SourceResult
from openfyp.store.tables import FeedRequest
from tests.recsys.world import World, topic_world


class BrokenSource(CandidateSource):
    name = "broken"

    def __call__(self, request: SourceRequest, quota: int) -> SourceResult:
        raise RuntimeError("index file vanished")


@pytest.fixture
def world(services) -> World:
    w = World(services)
    w.by_topic = topic_world(w)
    w.user("ana")
    for video in w.by_topic["cats"][:3]:
        w.finish("ana", video)
    return w


def page(result) -> list[tuple[int, float, str]]:
    return [(i.video_id, i.score, i.reason.summary) for i in result.items]


def test_a_failing_source_does_not_fail_the_request(world, services, caplog):
    services.feed.pipeline.sources.insert(0, BrokenSource())
    result = world.serve("ana")
    assert len(result.items) == 10
    assert "index file vanished" in result.logged_inputs["source_errors"]["broken"]
    assert "broken" not in result.logged_inputs["sources"]
    assert any("broken failed" in record.message for record in caplog.records)


def test_same_request_same_page(world, services):
    context = world.context("ana", request_id="3f0c6a55-1111-4222-8333-944455556666")
    first = services.feed.recommend(context)
    second = services.feed.recommend(context)
    assert page(first) == page(second)
    assert first.logged_inputs["seed"] == request_seed(context.request_id)
    different = services.feed.recommend(world.context("ana", request_id="00000000-1111-4222-8333-944455556666"))
    assert different.logged_inputs["seed"] != first.logged_inputs["seed"]


def test_replay_reproduces_a_logged_page_from_the_database(world, services):
    served = world.serve("ana")
    # Afterwards the world moves on: more events, other pages. The replay must not care.
    for video in world.by_topic["dance"][:3]:
        world.finish("ana", video)
    world.serve("ana")
    with services.session_factory() as db:
        stored = db.get(FeedRequest, served.logged_inputs["request"]["request_id"])
        inputs = stored.inputs
    replayed = services.feed.replay(inputs)
    assert page(replayed) == page(served)
    assert [i.reason.to_dict() for i in replayed.items] == [i.reason.to_dict() for i in served.items]
    assert replayed.model_version == served.model_version and replayed.config_version == served.config_version


def test_logged_inputs_are_plain_json_with_everything_needed(world):
    inputs = world.serve("ana").logged_inputs
    text = json.dumps(inputs, allow_nan=False)
    again = json.loads(text)
    assert again["candidates"]["video_ids"] and len(again["candidates"]["features"]) == len(
        again["candidates"]["video_ids"])
    assert {"seed", "config_version", "config_digest", "model_version", "feature_names", "sources"} <= set(again)
    assert page(rank_logged(again, HeuristicPredictor(), world.services.feed.config)) == page(
        rank_logged(inputs, HeuristicPredictor(), world.services.feed.config))


def test_replay_refuses_broken_or_unknown_inputs(world, services):
    with pytest.raises(RecsysError) as error:
        services.feed.replay({"schema": 99})
    assert error.value.code == "bad_logged_inputs"
    inputs = world.serve("ana").logged_inputs
    with pytest.raises(RecsysError) as error:
        services.feed.replay({**inputs, "config_version": "nobody-wrote-this"})
    assert error.value.code == "unknown_ranking_config"
    with pytest.raises(RecsysError) as error:
        services.feed.replay({**inputs, "model_version": "20990101T000000Z-deadbeef00"})
    assert error.value.code == "unknown_model_version"
