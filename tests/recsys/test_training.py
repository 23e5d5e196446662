from __future__ import annotations

import json
import random
import uuid

from datetime import UTC, datetime

import numpy as np
import pytest

from openfyp.recsys import artifacts
from openfyp.recsys.contracts import RecsysError
from openfyp.recsys.ranking.predictors import HEURISTIC_VERSION
from openfyp.recsys.training import TrainingConfig, load_training_data, train
from openfyp.store.tables import EventRow
from openfyp.governance.ceremony import ensure_overseer_key, release
from tests.recsys.world import World, topic_world

TOPICS = ("cooking", "dance", "cats", "cars")


def simulate(world: World, viewers: int = 16, rounds: int = 2, seed: int = 0) -> dict[str, str]:
    """Viewers who each love one topic browse For You; they finish and like what they love."""
    rng = random.Random(seed)
    taste = {}
    for v in range(viewers):
        taste[world.user(f"viewer{v}") and f"viewer{v}"] = TOPICS[v % len(TOPICS)]
    for _ in range(rounds):
        for viewer, topic in taste.items():
            result = world.serve(viewer, request_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)))
            request_id = result.logged_inputs["request"]["request_id"]
            batch: list = []
            for item in result.items:
                loved = world.videos[item.video_id]["tags"][0] == topic
                if rng.random() < (0.85 if loved else 0.1):
                    kinds = ["play", "complete"] + (["like"] if rng.random() < 0.5 and loved else [])
                    world.events(viewer, item.video_id, *kinds, request_id=request_id, buffer=batch)
                else:
                    world.events(viewer, item.video_id, "play", "skip", ratio=0.05, request_id=request_id,
                                 buffer=batch)
            world.services.events.append(batch)
    world.services.events.settle()
    return taste


@pytest.fixture(scope="module")
def trained_world(tmp_path_factory):
    from openfyp.services import build_services
    from tests.conftest import make_settings

    services = build_services(make_settings(tmp_path_factory.mktemp("training")))
    world = World(services)
    world.by_topic = topic_world(world, per_topic=25)
    world.taste = simulate(world)
    world.before = {v: [i.video_id for i in world.serve(v, request_id=f"00000000-0000-4000-8000-00000000000{n}").items]
                    for n, v in enumerate(list(world.taste)[:4])}
    world.report = train(services.settings, services.session_factory,
                         config=TrainingConfig(embedding={"factors": 16, "iterations": 8, "threads": 1}))
    world.overseer_key = ensure_overseer_key(services.settings, tmp_path_factory.mktemp("overseer"))
    release(services.settings, world.report.version, overseer_key=world.overseer_key, reason="tests")
    yield world
    services.close()


def test_training_writes_a_complete_versioned_artifact(trained_world):
    settings = trained_world.services.settings
    report = trained_world.report
    manifest = report.artifact.manifest
    assert report.activated and artifacts.current_version(settings) == report.version
    assert report.artifact.path == settings.models_dir / report.version
    assert manifest.region == "us"
    assert 0 < manifest.event_seq_from <= manifest.event_seq_to
    assert len(manifest.data_hash) == 64 and manifest.code_version.startswith("0.")
    assert manifest.ranking_config_version == trained_world.services.feed.config.version
    assert manifest.rows["events"] > 0 and manifest.rows["impressions_with_features"] > 0
    assert manifest.rows["embedded_videos"] > 0 and manifest.rows["cowatch_pairs"] > 0
    finish = manifest.metrics["ranker"]["finish"]
    assert 0.0 <= finish["validation_auc"] <= 1.0 and finish["trees"] >= 1
    assert finish["validation_rows"] > 0 and "heuristic_auc" in finish
    assert {"embeddings.npz", "cowatch.npz", "ranking_config.json", "ranker/finish.txt"} <= set(manifest.files)
    assert artifacts.resolve_servable(settings).version == report.version


def test_same_data_same_hash(trained_world):
    services = trained_world.services
    first = load_training_data(services.session_factory, "us")
    second = load_training_data(services.session_factory, "us")
    assert first.content_hash() == second.content_hash()


def test_server_picks_up_the_new_model_without_a_restart(trained_world):
    engine = trained_world.services.feed
    engine.poll_artifacts(background=False)
    assert engine.model_version == trained_world.report.version
    assert engine.models is not None and engine.models.index.count > 0
    result = trained_world.serve("viewer0")
    assert result.model_version == trained_world.report.version


def test_a_trained_model_changes_rankings_towards_taste(trained_world):
    engine = trained_world.services.feed
    engine.reload()
    changed = 0
    hits = 0
    total = 0
    for viewer, before in trained_world.before.items():
        n = list(trained_world.before).index(viewer)
        result = trained_world.serve(viewer, request_id=f"00000000-0000-4000-8000-00000000010{n}")
        after = [i.video_id for i in result.items]
        changed += after != before
        topic = trained_world.taste[viewer]
        hits += sum(trained_world.videos[v]["tags"][0] == topic for v in after)
        total += len(after)
        assert any(source in {"embedding", "cowatch"} for i in result.items for source in i.reason.sources)
    assert changed >= 3
    assert hits / total > 0.5  # four topics: chance is 0.25


@pytest.fixture(scope="module")
def second_version(trained_world):
    """A second, smaller model trained on the same log, not yet released."""
    services = trained_world.services
    return train(services.settings, services.session_factory, activate=False,
                 config=TrainingConfig(embedding={"factors": 8, "iterations": 3, "threads": 1}))


def serve_current(trained_world, version: str) -> None:
    artifacts.set_current(trained_world.services.settings, version)
    trained_world.services.feed.reload()


def test_an_unreleased_model_does_not_serve(trained_world, second_version):
    serve_current(trained_world, second_version.version)
    engine = trained_world.services.feed
    assert engine.model_version == trained_world.report.version
    assert engine.artifact_error and "approv" in engine.artifact_error.lower()
    assert trained_world.serve("viewer2").items
    serve_current(trained_world, trained_world.report.version)


def test_a_tampered_artifact_is_refused_and_serving_continues(trained_world, second_version):
    settings = trained_world.services.settings
    path = second_version.artifact.path / "ranker" / "finish.txt"
    original = path.read_bytes()
    path.write_bytes(original + b"\n# edited by hand\n")
    try:
        with pytest.raises(RecsysError) as error:
            artifacts.load_artifact(settings, second_version.version)
        assert error.value.code == "tampered_file"
        (settings.models_dir / artifacts.CURRENT).write_text(second_version.version + "\n")
        engine = trained_world.services.feed
        engine.reload()
        assert engine.model_version == trained_world.report.version
        assert "tampered_file" in engine.artifact_error
    finally:
        path.write_bytes(original)
    serve_current(trained_world, trained_world.report.version)


def test_replay_uses_the_model_a_page_was_served_with(trained_world, second_version):
    serve_current(trained_world, trained_world.report.version)
    served = trained_world.serve("viewer1")
    release(trained_world.services.settings, second_version.version, overseer_key=trained_world.overseer_key,
            reason="tests")
    serve_current(trained_world, second_version.version)
    engine = trained_world.services.feed
    assert engine.model_version == second_version.version
    replayed = engine.replay(served.logged_inputs)
    assert replayed.model_version == trained_world.report.version
    assert [(i.video_id, i.score) for i in replayed.items] == [(i.video_id, i.score) for i in served.items]
    serve_current(trained_world, trained_world.report.version)


def test_events_of_another_region_are_refused(trained_world):
    services = trained_world.services
    with services.engine.begin() as connection:
        connection.execute(EventRow.__table__.insert().values(
            event_id="00000000-0000-4000-8000-00000000e0e0", region="eu", user_id=1, video_id=1, kind="like",
            server_ts=datetime(2025, 1, 1, tzinfo=UTC)))
    data = load_training_data(services.session_factory, "us")
    assert data.refused_foreign_events == 1
    data.region = "eu"
    with pytest.raises(RecsysError) as error:
        train(services.settings, services.session_factory, data=data)
    assert error.value.code == "foreign_region"


def test_untrained_deployment_serves_the_heuristic(services):
    assert services.feed.model_version == HEURISTIC_VERSION
    assert artifacts.resolve_servable(services.settings) is None


def test_train_command_prints_the_new_version(trained_world, monkeypatch):
    from typer.testing import CliRunner

    from openfyp.cli import app
    from openfyp.settings import get_settings

    settings = trained_world.services.settings
    monkeypatch.setenv("OPENFYP_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("OPENFYP_REGION", settings.region)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["train", "--no-activate", "--json", "--embedding", "bpr"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout[result.stdout.index("{"):])
    assert manifest["region"] == "us" and manifest["models"]["embedding"]["method"] == "ridge"
    assert (settings.models_dir / manifest["version"] / "manifest.json").is_file()


def test_vectorised_grading_matches_the_reference_grading():
    from openfyp.recsys.data import EventColumns
    from openfyp.recsys.datasets import interactions_from_events
    from openfyp.recsys.training import graded_interactions

    rng = np.random.default_rng(5)
    kinds = ["impression", "play", "watch", "complete", "replay", "skip", "like", "share", "comment", "save",
             "not_interested", "report"]
    n = 3000
    rows = [(i + 1, int(rng.integers(1, 30)), int(rng.integers(1, 40)), None, str(rng.choice(kinds)),
             None if rng.uniform() < 0.3 else float(rng.uniform(0, 2.5)), float(1000 + i), None) for i in range(n)]
    events = EventColumns.from_rows(rows)
    fast = graded_interactions(events)
    slow = interactions_from_events(events.as_signal_rows())
    as_dict = lambda inter: {(u, i): (round(v, 9), t) for u, i, v, t in inter.external_rows()}  # noqa: E731
    assert as_dict(fast) == as_dict(slow) and len(fast) > 100
