from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from openfyp.platform.videos import set_hashtags
from openfyp.recsys.contracts import RecsysError
from openfyp.recsys.engine import ForYouEngine, build_feed_engine
from openfyp.recsys.pipeline import COLD_START, PERSONALISED, REGIONAL_POPULARITY
from openfyp.store.tables import Block, Follow, NotInterested, User, Video
from openfyp.services import build_services
from tests.conftest import make_settings
from tests.recsys.world import World, topic_world


@pytest.fixture
def world(services) -> World:
    return World(services)


@pytest.fixture
def postgres_services(postgres_url, tmp_path):
    built = build_services(make_settings(tmp_path, database_url=postgres_url), run_migrations=False)
    try:
        yield built
    finally:
        built.close()


def topics_of(world: World, result) -> list[str]:
    return [world.videos[item.video_id]["tags"][0] for item in result.items]


def test_engine_is_wired_into_services(services):
    assert isinstance(services.feed, ForYouEngine)
    assert services.feed.region == services.settings.region


def test_empty_catalog_gives_an_empty_page(world):
    world.user("ana")
    result = world.serve("ana")
    assert result.items == [] and result.config_version and result.model_version


def test_unknown_viewer_gets_trending_and_fresh_with_reasons(world):
    by_topic = topic_world(world)
    world.user("fan")
    for video in by_topic["dance"][:2]:
        world.events("fan", video, "play", "complete", "like")
    result = world.serve(None, personalised=True)
    assert len(result.items) == 10
    assert result.logged_inputs["request"]["mode"] == COLD_START
    assert {by_topic["dance"][0], by_topic["dance"][1]} <= {i.video_id for i in result.items}
    for item in result.items:
        assert item.reason.sources and item.reason.summary
        assert set(item.reason.sources) <= {"trending", "fresh", "exploration"}
    trending = [i for i in result.items if "trending" in i.reason.sources and "exploration" not in i.reason.sources]
    assert trending and trending[0].reason.summary == "Popular in your region"


def test_non_personalised_mode_is_regional_popularity(world):
    by_topic = topic_world(world)
    world.user("ana")
    world.user("fan")
    popular = by_topic["cars"][:3]
    for rank, video in enumerate(popular):
        for _ in range(3 - rank):
            world.events("fan", video, "like", "share")
    for video in by_topic["cooking"][:3]:
        world.finish("ana", video)  # ana's own taste must not matter in this mode
    result = world.serve("ana", personalised=False)
    assert result.logged_inputs["request"]["mode"] == REGIONAL_POPULARITY
    assert [i.video_id for i in result.items][:3] == popular
    assert not set(by_topic["cooking"][:3]) & {i.video_id for i in result.items}, "watched videos do not repeat"
    assert all(i.reason.summary.startswith("Popular in your region") for i in result.items[:3])
    # Three popular videos cannot fill a page: new uploads fill the rest, and say so.
    assert len(result.items) == 10
    assert all("trending" not in i.reason.sources and i.reason.summary.startswith("New in your region")
               for i in result.items[3:])


def test_signed_out_visitor_of_a_new_deployment_gets_new_uploads(world):
    """No one has watched anything yet, so nothing is popular: the visitor still gets a full page."""
    by_topic = topic_world(world)
    result = world.serve(None, personalised=False)
    assert result.logged_inputs["request"]["mode"] == REGIONAL_POPULARITY
    assert len(result.items) == 10
    assert len({i.video_id for i in result.items}) == 10
    all_videos = {v for videos in by_topic.values() for v in videos}
    assert {i.video_id for i in result.items} <= all_videos
    for item in result.items:
        assert "trending" not in item.reason.sources and set(item.reason.sources) & {"fresh", "newest"}
        assert item.reason.summary.startswith("New in your region")
    assert any("exploration" in i.reason.sources for i in result.items), "new videos explore their first viewers"
    # The page is a function of the logged inputs: the audit replay recomputes it exactly.
    replayed = world.services.feed.replay(result.logged_inputs)
    assert [(i.video_id, i.score) for i in replayed.items] == [(i.video_id, i.score) for i in result.items]
    # The same request draws the same page.
    logged = result.logged_inputs["request"]
    again = world.services.feed.recommend(world.context(None, personalised=False, request_id=logged["request_id"],
                                                        now=datetime.fromisoformat(logged["now"])))
    assert [i.video_id for i in again.items] == [i.video_id for i in result.items]


def test_signed_out_visitor_gets_old_unwatched_videos_rather_than_nothing(world):
    world.user("creator")
    old = [world.video("creator", ["archive"], age_hours=24 * 30 + i) for i in range(4)]
    world.services.feed.refresh_catalog(full=True)
    result = world.serve(None, personalised=False)
    # Too old for "fresh": the newest videos of any age, newest first.
    assert [i.video_id for i in result.items] == old
    assert all(i.reason.sources == ["newest"] for i in result.items)


def test_topic_rises_on_the_next_page_after_three_finished_watches(world):
    by_topic = topic_world(world)
    world.user("ana")
    before = topics_of(world, world.serve("ana"))
    for video in by_topic["cooking"][-3:]:
        world.finish("ana", video)
    page = world.serve("ana")
    after = topics_of(world, page)
    assert page.logged_inputs["request"]["mode"] == PERSONALISED
    assert after.count("cooking") >= 6 and after.count("cooking") > before.count("cooking")
    cooking = [i for i in page.items if world.videos[i.video_id]["tags"][0] == "cooking"]
    assert any(i.reason.summary == "Because you watched #cooking videos to the end" for i in cooking)
    assert not set(by_topic["cooking"][-3:]) & {i.video_id for i in page.items}


def test_filters_apply_to_a_live_request(world, services):
    by_topic = topic_world(world, per_topic=6)
    world.user("teen", birth=date(2012, 1, 1))
    world.user("blocked_me")
    adult = world.video("creator0", ["cooking"], adult_only=True, age_hours=0.5)
    hidden = [world.video("creator1", ["cooking"], status="processing"),
              world.video("creator1", ["cooking"], visibility="private"),
              world.video("creator1", ["cooking"], moderation="removed"),
              world.video("creator1", ["cooking"], moderation="restricted"),
              world.video("blocked_me", ["cooking"]),
              world.video("creator1", ["cooking"], region="eu")]
    dismissed = by_topic["dance"][0]
    with services.session_factory() as db:
        db.add(Block(blocker_id=world.users["blocked_me"], blocked_id=world.users["teen"]))
        db.add(NotInterested(region="us", user_id=world.users["teen"], target_kind="video", target_id=dismissed))
        db.add(NotInterested(region="us", user_id=world.users["teen"], target_kind="creator",
                             target_id=world.users["creator2"]))
        db.add(NotInterested(region="us", user_id=world.users["teen"], target_kind="sound",
                             target_id=world.sounds["cats-beat-0"]))
        db.commit()
    services.feed.refresh_catalog(full=True)
    seen = set(by_topic["cars"][:2])
    served: set[int] = set()
    for _ in range(6):
        result = world.serve("teen", is_minor=True, seen=seen | served)
        served |= {i.video_id for i in result.items}
    assert served, "the teen still gets a feed"
    assert not served & ({adult, dismissed, *hidden} | seen)
    assert all(world.videos[v]["creator"] != "creator2" for v in served)
    assert all(world.videos[v]["sound"] != "cats-beat-0" for v in served)
    adult_page = world.serve("blocked_me", limit=50)
    assert adult in {i.video_id for i in adult_page.items}


def test_a_video_removed_after_loading_is_never_served(world, services):
    by_topic = topic_world(world, per_topic=3)
    world.user("ana")
    victim = by_topic["cooking"][0]
    assert victim in {i.video_id for i in world.serve("ana", limit=50).items}
    # Written straight to the store, as another server process would: no video_changed() notification and no
    # catalog refresh. The next page reads the change log's tail first.
    with services.session_factory() as db:
        db.get(Video, victim).moderation_state = "removed"
        db.commit()
    result = world.serve("ana", limit=50)
    assert victim not in {i.video_id for i in result.items}
    assert not services.feed.catalog.eligible[services.feed.catalog.row_of[victim]]
    with services.session_factory() as db:  # reinstated on appeal
        db.get(Video, victim).moderation_state = "ok"
        db.commit()
    assert victim in {i.video_id for i in world.serve("ana", limit=50).items}


def test_a_creator_deleted_after_loading_takes_their_videos_out_of_every_process(any_db_services):
    world = World(any_db_services)
    by_topic = topic_world(world, per_topic=3)
    world.user("ana")
    other_process = build_feed_engine(any_db_services)  # its own catalog, read from the same database
    creator = world.users["creator0"]
    theirs = {v for v, video in world.videos.items() if video["creator"] == "creator0"}
    assert theirs and theirs <= {v for videos in by_topic.values() for v in videos}
    try:
        with any_db_services.session_factory() as db:
            db.get(User, creator).deleted_at = datetime.now(UTC)
            db.commit()
        for engine in (any_db_services.feed, other_process):
            engine.maintain()
            assert not any(engine.catalog.eligible[engine.catalog.row_of[v]] for v in theirs)
        page = other_process.recommend(world.context("ana", limit=50))
        assert page.items and not theirs & {i.video_id for i in page.items}
    finally:
        other_process.close()


def test_new_uploads_reach_the_feed_without_a_restart(world, services):
    topic_world(world, per_topic=2)
    world.user("ana")
    world.serve("ana")
    fresh = world.video("creator0", ["cooking"], age_hours=0.01)
    services.feed.video_changed(fresh)
    served = set()
    for _ in range(5):
        served |= {i.video_id for i in world.serve("ana", seen=served).items}
    assert fresh in served


def eventually(condition: Callable[[], bool], within_seconds: float = 30.0) -> bool:
    """Polls ``condition`` (a liveness wait with a generous bound, not a speed check)."""
    deadline = time.monotonic() + within_seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_maintenance_thread_refreshes_the_catalog_without_a_request(world, services):
    engine = services.feed
    world.user("creator")
    world.video("creator", ["cooking"], age_hours=0.5)
    engine.refresh_catalog(full=True)
    assert not engine.maintenance_running, "nothing runs in the background until the deployment starts"
    services.start()
    try:
        assert engine.maintenance_running
        upkeep = [t for t in threading.enumerate() if t.name == "openfyp-feed-upkeep"]
        assert len(upkeep) == 1 and upkeep[0].is_alive()
        # Written straight to the store: no video_changed() notification and no request to refresh for it.
        uploaded = world.video("creator", ["cooking"], age_hours=0.01)
        assert eventually(lambda: uploaded in engine.catalog.row_of), "the thread picked up the new upload"
        row = engine.catalog.row_of[uploaded]
        assert engine.catalog.eligible[row] and engine.catalog.hashtags_of(row) == [world.tags["cooking"]]
        assert engine.catalog.hashtag_names[world.tags["cooking"]] == "cooking"
        services.start()  # idempotent: still one thread
        assert [t for t in threading.enumerate() if t.name == "openfyp-feed-upkeep"] == upkeep
    finally:
        services.stop()
    assert not engine.maintenance_running and not upkeep[0].is_alive(), "stop() ends the thread"
    # With the thread gone, requests do the periodic upkeep themselves again.
    later = world.video("creator", ["cooking"], age_hours=0.01)
    assert eventually(lambda: later in {i.video_id for i in world.serve(None, personalised=False, limit=50).items})


def test_following_source_names_the_creator(world, services):
    topic_world(world, per_topic=3)
    world.user("ana")
    with services.session_factory() as db:
        db.add(Follow(follower_id=world.users["ana"], followee_id=world.users["creator3"]))
        db.commit()
    result = world.serve("ana", limit=20)
    followed = [i for i in result.items if "following" in i.reason.sources]
    assert followed and any(i.reason.summary == "New from @creator3, whom you follow" for i in followed)


def test_requests_are_checked(world):
    world.user("ana")
    with pytest.raises(RecsysError) as error:
        world.services.feed.recommend(world.context("ana", limit=0))
    assert error.value.code == "bad_limit"
    context = world.context("ana")
    other = type(context)(**{**context.__dict__, "region": "eu"})
    with pytest.raises(RecsysError) as error:
        world.services.feed.recommend(other)
    assert error.value.code == "wrong_region" and error.value.field == "region"


def test_topic_rise_and_replay_on_every_database(any_db_services):
    world = World(any_db_services)
    by_topic = topic_world(world, per_topic=4)
    world.user("ana")
    for video in by_topic["dance"][:3]:
        world.finish("ana", video)
    page = world.serve("ana")
    assert topics_of(world, page).count("dance") >= 1 and page.items[0].reason.summary
    assert [i.video_id for i in any_db_services.feed.replay(page.logged_inputs).items] == [
        i.video_id for i in page.items]


def test_a_change_committed_after_a_later_one_is_still_applied(postgres_services):
    """PostgreSQL numbers changes as they are written, not as they commit (SQLite has one writer at a time)."""
    world = World(postgres_services)
    by_topic = topic_world(world, per_topic=2)
    late, early = by_topic["cooking"][0], by_topic["cooking"][1]
    engine = postgres_services.feed
    engine.maintain()
    slow = postgres_services.session_factory()
    try:
        slow.get(Video, late).moderation_state = "removed"
        slow.flush()  # the trigger numbers its change now; the commit comes after the next one's
        with postgres_services.session_factory() as quick:
            quick.get(Video, early).visibility = "private"
            quick.commit()
        engine.maintain()
        catalog = engine.catalog
        assert not catalog.eligible[catalog.row_of[early]] and catalog.eligible[catalog.row_of[late]]
        slow.commit()
    finally:
        slow.close()
    engine.maintain()
    assert not catalog.eligible[catalog.row_of[late]]


def test_a_caption_edit_in_another_process_reaches_the_catalog_before_the_next_page(world, services):
    world.user("ana")
    video = world.video("ana", ["cooking"])
    engine = services.feed
    engine.refresh_catalog(full=True)
    with services.session_factory() as db:  # the edit, as another server process commits it
        set_hashtags(db, db.get(Video, video), ["baking", "cakes"])
        db.commit()
    engine.maintain()
    names = [engine.catalog.hashtag_names.get(t) for t in engine.catalog.hashtags_of(engine.catalog.row_of[video])]
    assert sorted(names) == ["baking", "cakes"]
