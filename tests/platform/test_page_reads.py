"""The page counters and the engine's viewer reads, read as single statements, answer as the ORM would."""

from __future__ import annotations

from datetime import date

from openfyp.platform.accounts import create_user
from openfyp.platform.analytics import engagement_counts
from openfyp.recsys.data import load_relations
from openfyp.store.tables import Block, Follow, Like, NotInterested, Video


def test_page_counters_see_what_the_session_has_not_flushed_yet(any_db_services):
    with any_db_services.session_factory() as db:
        creator = create_user(db, region="us", username="cleo", password="correct horse",
                              birth_date=date(1990, 1, 1), minimum_age=13)
        fan = create_user(db, region="us", username="fran", password="correct horse",
                          birth_date=date(1990, 1, 1), minimum_age=13)
        videos = [Video(region="us", creator_id=creator.id, caption=str(i), status="ready", visibility="public")
                  for i in range(3)]
        db.add_all(videos)
        db.commit()
        db.add(Like(user_id=fan.id, video_id=videos[1].id))  # pending: the counters' read flushes it first
        counts = engagement_counts(db, [v.id for v in videos])
        assert [counts[v.id]["likes"] for v in videos] == [0, 1, 0]
        assert engagement_counts(db, []) == {}


def test_relations_in_one_read_on_either_database(any_db_services):
    with any_db_services.session_factory() as db:
        ana, bob, cy, dee = (create_user(db, region="us", username=name, password="correct horse",
                                         birth_date=date(1990, 1, 1), minimum_age=13).id
                             for name in ("ana", "bob", "cyd", "dee"))
        db.add_all([Follow(follower_id=ana, followee_id=bob), Follow(follower_id=bob, followee_id=ana),
                    Block(blocker_id=cy, blocked_id=ana), Block(blocker_id=ana, blocked_id=dee),
                    NotInterested(region="us", user_id=ana, target_kind="creator", target_id=bob),
                    NotInterested(region="us", user_id=bob, target_kind="video", target_id=5)])
        db.commit()
        with any_db_services.engine.connect() as connection:
            relations = load_relations(connection, ana)
    assert relations.following == {bob}
    assert relations.blocked_creators == {cy, dee}
    assert relations.not_interested_creators == {bob}
    assert relations.not_interested_videos == set() and relations.not_interested_sounds == set()


def test_region_scoped_statements_of_two_regions_never_share_a_compiled_form(any_db_services):
    from sqlalchemy import select

    from openfyp.platform.access import region_scoped, scoped_rows
    from tests.governance.conftest import FOREIGN, plant_region

    services = any_db_services
    with services.session_factory() as db:
        creator = create_user(db, region="us", username="ursula", password="correct horse",
                              birth_date=date(1990, 1, 1), minimum_age=13)
        db.add(Video(region="us", creator_id=creator.id, caption="from us", status="ready", visibility="public"))
        db.commit()
    plant_region(services.engine)
    captions = select(Video.caption).order_by(Video.id)
    with services.session_factory() as db:
        for _ in range(2):  # the second round runs from SQLAlchemy's compiled cache
            ours = scoped_rows(db, region_scoped(captions, "us"), {}).scalars().all()
            theirs = scoped_rows(db, region_scoped(captions, FOREIGN), {}).scalars().all()
            assert ours == ["from us"]
            assert theirs and "from us" not in theirs
    try:
        region_scoped(captions, "us' OR '1'='1")
    except ValueError:
        pass
    else:
        raise AssertionError("a region name that is not one must be refused")
