"""The whole promise, end to end: train on this region's log only, sign, get the overseer's approval,
serve, replay a served page identically, delete an account and show the next manifest excludes it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from openfyp.governance import ceremony
from openfyp.governance.errors import ForeignTrainingData
from openfyp.governance.provenance import check_training_events, proves_exclusion, verify_artifact
from openfyp.governance.replay import replay_request
from openfyp.governance.wiring import governance_of
from openfyp.recsys import artifacts, training
from openfyp.recsys.ranking.learn import RankerTrainingConfig
from openfyp.recsys.ranking.predictors import HEURISTIC_VERSION
from openfyp.store.tables import EventRow, FeedRequest
from tests.governance.conftest import FOREIGN, plant_region
from tests.web.social_support import PASSWORD, add_video, fast_user

pytestmark = pytest.mark.slow
# Small models: the test is about provenance and sign-off, not about model quality.
SMALL = training.TrainingConfig(embedding={"factors": 8, "iterations": 3, "threads": 1},
                                ranker=RankerTrainingConfig(num_boost_round=20, early_stopping_rounds=5, threads=1))


def _watch(user, page: dict, *, like_every: int = 2) -> None:
    now = datetime.now(UTC).isoformat()
    events = []
    for index, item in enumerate(page["items"]):
        common = {"video_id": item["id"], "source": "foryou", "request_id": page["request_id"],
                  "position": item["position"], "client_ts": now}
        events.append({"id": str(uuid.uuid4()), "kind": "impression", **common})
        ratio = 1.0 if index % 2 == 0 else 0.2
        events.append({"id": str(uuid.uuid4()), "kind": "watch", "watch_seconds": 10 * ratio, "watch_ratio": ratio,
                       **common})
        if ratio == 1.0:
            events.append({"id": str(uuid.uuid4()), "kind": "complete", **common})
        if index % like_every == 0:
            events.append({"id": str(uuid.uuid4()), "kind": "like", **common})
    response = user.post("/api/events", json={"events": events})
    assert response.status_code == 200, response.text


def _page(user) -> dict:
    response = user.get("/api/feed/foryou", params={"limit": 6})
    assert response.status_code == 200, response.text
    return response.json()


def test_train_sign_approve_serve_replay_and_erase(client, services, tmp_path, cli):
    settings = services.settings
    engine = services.feed
    creators = [fast_user(client, services, f"creator{n}") for n in range(3)]
    for number in range(18):
        add_video(services, creators[number % 3].id, f"clip {number}", hashtags=(f"topic{number % 4}",))
    viewers = [fast_user(client, services, f"viewer{n}") for n in range(5)]
    engine.refresh_catalog(full=True)
    for viewer in viewers:
        for _ in range(2):
            _watch(viewer, _page(viewer))
    planted = plant_region(services.engine)  # another region's rows in the same database

    # Training reads this region's log only, and refuses foreign input outright.
    with pytest.raises(ForeignTrainingData):
        check_training_events([{"region": FOREIGN, "seq": planted.event_seq, "user_id": planted.user_id}], "us")
    services.events.settle()  # training reads the events table
    first = training.train(settings, services.session_factory, config=SMALL)
    manifest = first.artifact.manifest
    with services.session_factory() as db:
        local_events = db.scalar(select(EventRow.seq).order_by(EventRow.seq.desc()).limit(1))
    assert manifest.region == "us" and manifest.event_seq_to == local_events
    assert manifest.rows["events"] == len(services.events.read_after(0))
    assert planted.user_id not in training.trained_user_ids(training.load_training_data(
        services.session_factory, "us")).tolist()
    signed = verify_artifact(settings, first.artifact.path)
    assert signed.manifest["exclusion"] == {"erased_user_ids": [], "erased_users": 0, "checked_absent": True,
                                            "erased_user_ids_sha256": signed.manifest["exclusion"]
                                            ["erased_user_ids_sha256"]}

    # Trained and signed, but not signed off: the engine refuses it and says why.
    engine.reload()
    assert engine.model_version == HEURISTIC_VERSION
    assert engine.artifact_error.startswith("model_not_approved")

    overseer_key = ceremony.ensure_overseer_key(settings, tmp_path / "overseer")
    status = ceremony.release(settings, first.version, overseer_key=overseer_key, reason="first US-only model")
    assert status.state.value == "approved"
    engine.reload()
    assert engine.model_version == first.version and engine.artifact_error is None

    viewer = viewers[0]
    page = _page(viewer)
    assert page["items"]
    with services.session_factory() as db:
        served = db.get(FeedRequest, page["request_id"])
        assert (served.model_version, served.config_version) == (first.version, manifest.ranking_config_version)
    report = replay_request(services, page["request_id"])
    assert report.identical, report.differences
    assert [r["video_id"] for r in report.served] == [item["id"] for item in page["items"]]
    replayed = cli("audit", "replay", page["request_id"])  # what the overseer runs
    assert replayed.output.startswith(f"identical: request {page['request_id']}")

    # A doctored log is caught: the replay shows where it differs.
    with services.session_factory() as db:
        doctored = db.get(FeedRequest, page["request_id"])
        items = [dict(item) for item in doctored.items]
        items[0]["score"] = items[0]["score"] + 1.0
        doctored.items = items
        db.commit()
    different = replay_request(services, page["request_id"])
    assert not different.identical
    assert any("position 0" in line and "scored" in line for line in different.differences)
    shown = cli("audit", "replay", page["request_id"], code=1)
    assert "DIFFERENT" in shown.stderr and "position 0" in shown.stderr

    # The account holder leaves; the next training run proves it left them out.
    leaver = viewers[1]
    assert client.request("DELETE", "/api/me", json={"password": PASSWORD}, headers=leaver.headers).status_code == 200
    services.events.settle()
    second = training.train(settings, services.session_factory, config=SMALL, activate=False)
    after = verify_artifact(settings, second.artifact.path).manifest
    assert proves_exclusion(after, leaver.id) and not proves_exclusion(signed.manifest, leaver.id)
    assert after["rows"]["events"] < manifest.rows["events"]
    assert after["data_hash"] != manifest.data_hash
    assert leaver.id not in training.trained_user_ids(training.load_training_data(
        services.session_factory, "us")).tolist()

    # Pointing servers at the unapproved successor changes nothing: the approved model keeps serving.
    artifacts.set_current(settings, second.version)
    engine.reload()
    assert engine.model_version == first.version
    assert engine.artifact_error.startswith("model_not_approved")
    assert governance_of(services).audit.verify().ok
