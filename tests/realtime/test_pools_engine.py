"""Traffic pools in the running engine: a simulated audience's views move new videos between pools, the
fresh source serves only videos whose pool still has views to give, and creators see their pool."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import numpy as np
import pytest

from openfyp.demo.audience import ClipTraits, SimulatedViewer
from openfyp.events import Event, EventKind
from openfyp.realtime.pools import ACTIVE, GRADUATED, SETTLED
from openfyp.realtime.wiring import install_realtime, realtime_of
from openfyp.recsys.engine import EngineSettings, build_feed_engine
from openfyp.recsys.ranking.config import load_ranking_config
from tests.conftest import signup
from tests.recsys.world import World

STAGES = [{"name": "first", "size": 40, "confidence": 0.9}, {"name": "second", "size": 120, "confidence": 0.9},
          {"name": "third", "size": 400, "confidence": 0.9}]


@pytest.fixture
def pooled(services, tmp_path):
    """The deployment's engine on a ranking config with small pools, so a test audience can fill them."""
    config = load_ranking_config().model_dump(mode="json")
    config.update(version="pools-test", traffic_pools={"enabled": True, "stages": STAGES})
    path = tmp_path / "pools.json"
    path.write_text(json.dumps(config))
    services.feed = build_feed_engine(services, EngineSettings(ranking_config=str(path)))
    services.extras.pop("realtime", None)
    install_realtime(services)
    return services


def _views(services, clip: ClipTraits, viewers: list[SimulatedViewer], first_user: int) -> list[Event]:
    now = datetime.now(UTC)
    events = []
    for i, viewer in enumerate(viewers):
        outcome = viewer.watch(clip)
        kinds = [EventKind.impression, EventKind.play]
        kinds += [EventKind.complete] if outcome.completed else ([EventKind.skip] if outcome.skipped else [])
        kinds += [EventKind.like] if outcome.liked else []
        for kind in kinds:
            events.append(Event(event_id=str(uuid.uuid4()), region="us", user_id=first_user + i,
                                video_id=clip.video_id, kind=kind, client_ts=now, server_ts=now,
                                watch_ratio=outcome.watch_ratio if kind in (EventKind.complete, EventKind.skip)
                                else None))
    return events


def test_views_move_new_videos_through_the_pools_and_the_fresh_source_follows(pooled):
    services = pooled
    world = World(services)
    world.user("maker")
    audience = [SimulatedViewer.sample(i, 4, seed=3) for i in range(400)]
    rng = np.random.default_rng(0)
    ordinary = [ClipTraits(world.video("maker", ["ordinary"], age_hours=1), topic=int(rng.integers(4)),
                           quality=float(rng.normal(0, 0.4)), seconds=14.0, creator_id=0) for _ in range(24)]
    better = ClipTraits(world.video("maker", ["better"], age_hours=1), 0, 3.0, 14.0, 0)
    worse = ClipTraits(world.video("maker", ["worse"], age_hours=1), 0, -3.0, 14.0, 0)
    services.feed.refresh_catalog(full=True)
    realtime = realtime_of(services)
    learner, pools, catalog = realtime.learner, realtime.state.pools, services.feed.catalog
    learner.resume()
    row = {clip.video_id: catalog.row_of[clip.video_id] for clip in [*ordinary, better, worse]}
    assert all(pools.status[r] == ACTIVE and pools.stage[r] == 0 for r in row.values()), "uploads enter pool one"

    # Each video's first pool is shown to 40 viewers; the ordinary ones first, so the pool knows its typical video.
    for clip in ordinary:
        services.events.append(_views(services, clip, audience[:40], 10_000))
    learner.catch_up()
    for clip in (better, worse):
        services.events.append(_views(services, clip, audience[:40], 10_000))
    learner.catch_up()
    assert pools.status[row[worse.video_id]] == SETTLED and pools.stage[row[worse.video_id]] == 0
    assert pools.stage[row[better.video_id]] == 1 and pools.status[row[better.video_id]] == ACTIVE

    # The fresh source now proposes the promoted video and never the settled one.
    viewer = world.user("curious")
    page = world.serve("curious", limit=10)
    fresh = page.logged_inputs["sources"].index("fresh") if "fresh" in page.logged_inputs["sources"] else None
    assert fresh is not None
    proposed = page.logged_inputs["candidates"]["source_scores"]["fresh"]["index"]
    proposed_ids = {page.logged_inputs["candidates"]["video_ids"][i] for i in proposed}
    assert better.video_id in proposed_ids and worse.video_id not in proposed_ids
    assert viewer

    # The next, larger pool: the better video keeps beating the typical video and climbs again.
    services.events.append(_views(services, better, audience[40:160], 20_000))
    learner.catch_up()
    assert pools.stage[row[better.video_id]] == 2 or pools.status[row[better.video_id]] == GRADUATED


def test_creators_see_the_pool_of_their_videos_and_no_one_else_does(pooled, tmp_path):
    from fastapi.testclient import TestClient

    from openfyp.web.app import create_app

    services = pooled
    with TestClient(create_app(services)) as client:
        maker, other = signup(client, "maker"), signup(client, "other")
        world = World(services)
        world.users["maker"] = maker.id
        video = world.video("maker", ["fresh"], age_hours=0.5)
        services.feed.refresh_catalog()
        mine = maker.get(f"/api/videos/{video}").json()
        assert mine["traffic_pool"]["pool"] == "first" and mine["traffic_pool"]["status"] == "active"
        assert mine["traffic_pool"]["pool_size"] == 40 and mine["traffic_pool"]["views_in_pool"] == 0
        assert "traffic_pool" not in other.get(f"/api/videos/{video}").json()
        analytics = maker.get(f"/api/analytics/videos/{video}").json()
        assert analytics["traffic_pool"]["pool"] == "first"
        top = maker.get("/api/analytics/me").json()["top_videos"]
        assert top[0]["traffic_pool"]["pools"] == 3
