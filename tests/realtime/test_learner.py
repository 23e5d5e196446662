from __future__ import annotations

import uuid
from datetime import UTC, datetime

import numpy as np

from openfyp.events import Event, EventKind
from openfyp.realtime.learner import read_checkpoint_position
from openfyp.realtime.wiring import checkpoint_path, realtime_of
from openfyp.services import build_services, open_event_log
from tests.recsys.world import World, topic_world


def _finish(user_id: int, video_id: int) -> list[Event]:
    now = datetime.now(UTC)
    return [Event(event_id=str(uuid.uuid4()), region="us", user_id=user_id, video_id=video_id, kind=kind,
                  watch_ratio=1.0 if kind == EventKind.complete else None, client_ts=now, server_ts=now)
            for kind in (EventKind.play, EventKind.complete)]


def test_the_learner_applies_every_event_once_in_order_including_other_writers(services):
    world = World(services)
    by_topic = topic_world(world, per_topic=4)
    videos = [v for vs in by_topic.values() for v in vs]
    realtime = realtime_of(services)
    learner = realtime.learner
    learner.resume()
    # A second log object on the same database stands for another server process: its appends never
    # reach this learner's listener, so they leave gaps the learner must fill from the log.
    other_process = open_event_log(services.settings, services.session_factory)
    learner.events.add_listener(learner._on_append)
    for i, video in enumerate(videos):
        log = other_process if i % 3 == 0 else services.events
        log.append(_finish(1000 + i % 5, video))
        if i % 4 == 0:
            learner.step()
    learner.catch_up()
    other_process.close()
    head = services.events.head()
    assert learner.position == head and learner.applied == head == 2 * len(videos)
    stats = services.feed.stats
    rows = services.feed.catalog.rows_of(videos)
    assert np.array_equal(stats["completes"][rows], np.ones(len(videos))), "each finish counted exactly once"
    assert realtime.state.cowatch.pairs > 0


def test_a_restarted_learner_resumes_from_its_checkpoint(settings):
    first = build_services(settings)
    world = World(first)
    by_topic = topic_world(world, per_topic=3)
    videos = by_topic["cooking"] + by_topic["cats"]
    realtime = realtime_of(first)
    realtime.learner.resume()
    for video in videos:
        first.events.append(_finish(77, video))
    realtime.learner.catch_up()
    position = realtime.learner.checkpoint()
    links = {k: dict(v) for k, v in realtime.state.cowatch.links.items()}
    assert position == first.events.head() and links
    assert read_checkpoint_position(checkpoint_path(settings)) == position
    for video in by_topic["dance"]:
        first.events.append(_finish(78, video))  # after the checkpoint: replayed on restart
    first.close()

    second = build_services(settings)
    try:
        learner = realtime_of(second).learner
        assert learner.resume() is True and learner.position == position
        restored = realtime_of(second).state.cowatch.links
        assert {k: dict(v) for k, v in restored.items()} == links
        assert learner.catch_up() == second.events.head() > position
        assert realtime_of(second).state.cowatch.links.keys() > links.keys()
    finally:
        second.close()


def test_a_checkpoint_made_on_another_model_is_ignored_and_the_state_rebuilt_from_the_new_base(settings, tmp_path):
    from openfyp.governance.ceremony import ensure_overseer_key, release
    from openfyp.recsys.training import TrainingConfig, train

    first = build_services(settings)
    by_topic = topic_world(World(first), per_topic=6)
    learner = realtime_of(first).learner
    learner.resume()
    for i, video in enumerate(by_topic["cooking"] + by_topic["cats"]):
        first.events.append(_finish(300 + i % 4, video))
    learner.catch_up()
    assert learner.checkpoint() == first.events.head() and learner.identity == "heuristic"
    report = train(settings, first.session_factory,
                   config=TrainingConfig(embedding={"factors": 8, "iterations": 4, "threads": 1}))
    release(settings, report.version, overseer_key=ensure_overseer_key(settings, tmp_path / "overseer"),
            reason="tests")
    first.close()

    second = build_services(settings)  # serves the new model from the start
    try:
        assert second.feed.model_version == report.version
        learner = realtime_of(second).learner
        assert learner.resume() is False, "the heuristic-based checkpoint does not fit the new model"
        assert learner.identity == f"model:{report.version}"
        assert learner.position == report.artifact.manifest.event_seq_to
        assert len(realtime_of(second).state.cowatch) == 0, "co-watch before the training range is the model's"
    finally:
        second.close()
