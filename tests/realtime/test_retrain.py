from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from openfyp.events import Event, EventKind
from openfyp.governance.ceremony import ensure_overseer_key, release
from openfyp.realtime.retrain import RetrainScheduler
from openfyp.realtime.wiring import realtime_of
from openfyp.recsys import artifacts
from openfyp.recsys.ranking.predictors import HEURISTIC_VERSION
from tests.recsys.world import World, topic_world


def _watch_topics(services, by_topic, viewers: int = 8) -> None:
    now = datetime.now(UTC)
    batch = []
    for v in range(viewers):
        topic = list(by_topic)[v % len(by_topic)]
        for video in by_topic[topic][:6]:
            for kind in (EventKind.play, EventKind.complete):
                batch.append(Event(event_id=str(uuid.uuid4()), region="us", user_id=500 + v, video_id=video,
                                   kind=kind, watch_ratio=1.0 if kind == EventKind.complete else None,
                                   client_ts=now, server_ts=now))
    services.events.append(batch)
    services.events.settle()  # training reads the events table


def test_scheduled_retraining_waits_for_new_events_then_trains_and_the_new_model_serves_once_released(
        services, tmp_path):
    by_topic = topic_world(World(services), per_topic=8)
    scheduler = RetrainScheduler(services, interval_minutes=60, min_new_events=50)
    assert scheduler.run_if_due() is None, "no events yet: nothing to learn from"
    _watch_topics(services, by_topic)
    version = scheduler.run_if_due()
    assert version is not None and artifacts.current_version(services.settings) == version
    # Trained and pointed at, but not released: serving carries on with what it had.
    assert services.feed.model_version == HEURISTIC_VERSION and "approv" in services.feed.artifact_error.lower()
    assert scheduler.run_if_due() is None, "nothing new since that training"

    release(services.settings, version, overseer_key=ensure_overseer_key(services.settings, tmp_path / "overseer"),
            reason="tests")
    services.feed.reload()
    assert services.feed.model_version == version
    learner = realtime_of(services).learner
    learner.resume()
    assert learner.catch_up() == services.events.head()
    assert learner.identity == f"model:{version}"


def test_the_schedule_runs_on_its_own_thread_and_is_off_at_zero(services):
    off = RetrainScheduler(services, interval_minutes=0)
    off.start()
    assert not off.enabled and off._thread is None
    by_topic = topic_world(World(services), per_topic=8)
    _watch_topics(services, by_topic)
    on = RetrainScheduler(services, interval_minutes=0.01, min_new_events=50)  # every 0.6 s
    on.start()
    try:
        deadline = time.monotonic() + 120
        while on.runs == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        on.stop()
    assert on.runs == 1 and on.last_error is None
    assert artifacts.current_version(services.settings) == on.last_version
