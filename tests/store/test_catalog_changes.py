"""``catalog_changes``: the triggers record every change of a video's feed eligibility, whoever makes it."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import delete, select, update

from openfyp.platform.videos import set_hashtags
from openfyp.recsys.engine import SqlFeedStore
from openfyp.store.tables import CatalogChange, User, Video
from tests.recsys.world import World


def _changed(services, after: int = 0) -> list[int]:
    with services.session_factory() as db:
        return list(db.scalars(select(CatalogChange.video_id).where(CatalogChange.seq > after)
                               .order_by(CatalogChange.seq)))


def test_eligibility_changes_are_recorded_and_other_edits_are_not(any_db_services):
    services = any_db_services
    world = World(services)
    world.user("ana")
    world.user("bo")
    first, second = world.video("ana", ["cooking"]), world.video("ana", ["travel"])
    other = world.video("bo", ["cooking"])
    store = SqlFeedStore(services.engine, "us")
    start = store.catalog_changes_head()  # (these test videos were written ready, then tagged)
    with services.session_factory() as db:
        db.execute(update(Video).where(Video.id == first).values(caption="a new caption", width=1080))
        db.execute(update(Video).where(Video.id == first).values(visibility="public"))  # unchanged value
        db.commit()
        assert _changed(services, start) == []
        db.execute(update(Video).where(Video.id == first).values(moderation_state="removed"))
        db.execute(update(Video).where(Video.id == second).values(visibility="private"))
        db.execute(update(Video).where(Video.id == other).values(adult_only=True))
        db.commit()
        assert _changed(services, start) == [first, second, other]
        head = store.catalog_changes_head()
        db.execute(delete(Video).where(Video.id == other))
        db.execute(update(User).where(User.id == world.users["ana"]).values(deleted_at=datetime.now(UTC)))
        db.commit()
    changed = _changed(services, head)  # the deleted video, then each of ana's (in no particular order)
    assert changed[0] == other and sorted(changed[1:]) == [first, second]
    assert [video for _, video in store.catalog_changes_after(head, 10)] == changed
    assert [video for _, video in store.catalog_changes_after(head, 2)] == changed[:2]


def test_pruning_forgets_old_changes_but_never_the_newest(any_db_services):
    services = any_db_services
    world = World(services)
    world.user("ana")
    video = world.video("ana", ["cooking"])
    store = SqlFeedStore(services.engine, "us")
    with services.session_factory() as db:
        for state in ("removed", "ok", "removed"):
            db.execute(update(Video).where(Video.id == video).values(moderation_state=state))
            db.commit()
    head = store.catalog_changes_head()
    store.prune_catalog_changes(time.time() + 60)  # everything is older than that
    assert [position for position, _ in store.catalog_changes_after(0, 10)] == [head]
    with services.session_factory() as db:
        db.execute(update(Video).where(Video.id == video).values(moderation_state="ok"))
        db.commit()
    assert store.catalog_changes_head() > head  # numbering went on past what was read, not from the start


def test_a_ready_videos_hashtags_and_sound_are_recorded_but_an_uploads_are_not(any_db_services):
    services = any_db_services
    world = World(services)
    world.user("ana")
    ready = world.video("ana", ["cooking"])
    processing = world.video("ana", status="processing")
    start = SqlFeedStore(services.engine, "us").catalog_changes_head()
    with services.session_factory() as db:
        video = db.get(Video, processing)
        set_hashtags(db, video, ["travel", "food"])  # an upload's tags, written while it is processing
        db.commit()
        assert _changed(services, start) == []
        set_hashtags(db, db.get(Video, ready), ["baking"])  # the creator edits the caption
        db.commit()
        edited = _changed(services, start)
        assert edited and set(edited) == {ready}
        db.execute(update(Video).where(Video.id == ready).values(sound_id=world.sound("beat")))
        db.commit()
    assert _changed(services, start)[len(edited):] == [ready]
