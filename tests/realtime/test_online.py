"""The online state on a trained, released model: embeddings learned event by event, co-watch, rebasing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import numpy as np
import pytest

from openfyp.events import Event, EventKind
from openfyp.governance.ceremony import ensure_overseer_key, release
from openfyp.realtime.wiring import realtime_of
from openfyp.recsys.training import TrainingConfig, train
from tests.recsys.world import World, topic_world

TOPICS = ("cooking", "dance", "cats", "cars")
SMALL_MODEL = TrainingConfig(embedding={"factors": 16, "iterations": 8, "threads": 1})


def _finish(user_id: int, video_id: int, *, like: bool = False) -> list[Event]:
    now = datetime.now(UTC)
    kinds = [EventKind.play, EventKind.complete] + ([EventKind.like] if like else [])
    return [Event(event_id=str(uuid.uuid4()), region="us", user_id=user_id, video_id=video_id, kind=kind,
                  watch_ratio=1.0 if kind == EventKind.complete else None, client_ts=now, server_ts=now)
            for kind in kinds]


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Viewers who each love one topic, a model trained on them and released, the learner positioned."""
    from openfyp.services import build_services
    from tests.conftest import make_settings

    services = build_services(make_settings(tmp_path_factory.mktemp("online")))
    world = World(services)
    world.by_topic = topic_world(world, per_topic=20, topics=TOPICS)
    world.fans = {topic: [world.user(f"{topic}_fan{i}") for i in range(6)] for topic in TOPICS}
    world.users_by_id = {user_id: name for name, user_id in world.users.items()}
    batch: list[Event] = []
    for topic, fans in world.fans.items():
        for fan in fans:
            for video in world.by_topic[topic][:14]:
                batch += _finish(fan, video, like=video % 3 == 0)
    services.events.append(batch)
    services.events.settle()  # training reads the events table
    world.report = train(services.settings, services.session_factory, config=SMALL_MODEL)
    world.overseer_key = ensure_overseer_key(services.settings, tmp_path_factory.mktemp("overseer"))
    release(services.settings, world.report.version, overseer_key=world.overseer_key, reason="tests")
    services.feed.reload()
    realtime = realtime_of(services)
    realtime.learner.resume()
    realtime.learner.catch_up()
    yield world
    services.close()


def test_the_state_is_based_on_the_served_model_and_starts_after_its_training_range(trained):
    realtime = realtime_of(trained.services)
    assert realtime.state.base() == (f"model:{trained.report.version}", trained.report.artifact.manifest.event_seq_to)
    assert realtime.learner.position == trained.services.events.head()
    assert realtime.state.videos is not None and realtime.state.videos.config.dim == 16


def test_a_new_video_uses_its_features_until_enough_events_then_learns_who_likes_it(trained):
    services = trained.services
    engine, realtime = services.feed, realtime_of(services)
    # Tagged #cooking, but it is the dance fans who finish it.
    video = trained.video("creator0", ["cooking"], sound="cooking-beat-0", age_hours=0.2)
    engine.refresh_catalog()
    row = engine.catalog.row_of[video]
    start = engine.models.table[row].copy()
    dance_rows = engine.catalog.rows_of(trained.by_topic["dance"][:14])
    dance_centre = engine.models.table[dance_rows].mean(axis=0)

    fans = trained.fans["dance"]
    for fan in fans:
        trained.serve(trained.users_by_id[fan])  # browsing: the engine holds their state, folded-in vector
    for fan in fans[:2]:
        services.events.append(_finish(fan, video))
    realtime.learner.catch_up()
    assert realtime.state.videos.rows_of(np.array([video]))[0] == -1, "below the frequency filter"
    assert np.array_equal(engine.models.table[row], start), "it still uses its features' embedding"

    for _ in range(4):
        for fan in fans:
            services.events.append(_finish(fan, video, like=True))
    realtime.learner.catch_up()
    assert realtime.state.videos.rows_of(np.array([video]))[0] >= 0
    learned = engine.models.table[row]
    assert _cosine(learned, dance_centre) > _cosine(start, dance_centre) + 0.3
    assert realtime.state.users.rows_of(np.array(fans)).min() >= 0, "the fans earned vectors of their own"
    # Retrieval follows: the refreshed index returns the learned vector for this row.
    realtime.state.refresh_index()
    rows, _ = engine.models.index.search(learned.astype(np.float32), 5)
    assert row in rows.tolist()


def test_finishes_in_one_session_become_co_watch_neighbours_at_once(trained):
    services = trained.services
    realtime = realtime_of(services)
    cats, cars = trained.by_topic["cats"][15], trained.by_topic["cars"][15]
    viewer = trained.user("pairs_viewer")
    services.events.append(_finish(viewer, cats) + _finish(viewer, cars))
    realtime.learner.catch_up()
    rows, scores = realtime.state.cowatch_neighbours([(cats, 1.0)])
    assert services.feed.catalog.row_of[cars] in rows.tolist() and (scores > 0).all()


def test_a_new_model_version_starts_the_learned_state_over_from_its_training_range(trained):
    services = trained.services
    realtime = realtime_of(services)
    before_events = services.events.head()
    report = train(services.settings, services.session_factory, config=SMALL_MODEL)
    release(services.settings, report.version, overseer_key=trained.overseer_key, reason="tests")
    services.feed.reload()
    assert services.feed.model_version == report.version
    viewer = trained.user("after_retrain")
    video = trained.by_topic["cars"][16]
    services.events.append(_finish(viewer, video))
    realtime.learner.catch_up()
    assert realtime.state.base()[0] == f"model:{report.version}"
    assert report.artifact.manifest.event_seq_to == before_events
    # Only what happened after the new model's training range is in the learned state now.
    assert realtime.state.videos.count_of(np.array([video])).tolist() == [1]
    assert len(realtime.state.cowatch) == 0 or set(realtime.state.cowatch.finishes) == {video}
    assert realtime.learner.position == services.events.head()
