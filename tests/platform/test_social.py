from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from openfyp.platform import social
from openfyp.platform.access import Audience, video_visible, visible_video
from openfyp.platform.errors import Forbidden, NotFound
from openfyp.store.tables import Block, EventRow, Follow, User, Video
from tests.web.social_support import add_video, fast_user


def _visible_ids(db, audience: Audience, *, discovery: bool = False) -> set[int]:
    return set(db.scalars(select(Video.id).where(video_visible(audience, discovery=discovery))))


def test_viewing_policy(any_db_services):
    services = any_db_services
    today = date.today()
    creator = fast_user(None, services, "creator").id
    fan = fast_user(None, services, "fan").id
    teen = fast_user(None, services, "teen", birth_date=date(today.year - 15, 1, 1)).id
    v = {name: add_video(services, creator, name, **columns) for name, columns in {
        "public": {}, "followers": {"visibility": "followers"}, "private": {"visibility": "private"},
        "held": {"moderation_state": "held"}, "restricted": {"moderation_state": "restricted"},
        "removed": {"moderation_state": "removed"}, "adult": {"adult_only": True},
        "failed": {"status": "failed"}}.items()}
    with services.session_factory() as db:
        db.add(Follow(follower_id=fan, followee_id=creator))
        db.commit()
        adult_age = services.settings.adult_age
        owner = Audience.of(db.get(User, creator), adult_age)
        follower = Audience.of(db.get(User, fan), adult_age)
        minor = Audience.of(db.get(User, teen), adult_age)
        anonymous = Audience.of(None, adult_age)
        assert follower.adult and not minor.adult and not anonymous.adult

        assert _visible_ids(db, owner) == {v[n] for n in ("public", "followers", "private", "held", "restricted",
                                                          "adult")}
        assert _visible_ids(db, follower) == {v[n] for n in ("public", "followers", "restricted", "adult")}
        assert _visible_ids(db, minor) == {v[n] for n in ("public", "restricted")}
        assert _visible_ids(db, anonymous) == {v[n] for n in ("public", "restricted")}
        # Discovery (search, hashtag and sound pages) shows strangers' public content in good standing only.
        assert _visible_ids(db, follower, discovery=True) == {v["public"], v["adult"]}
        assert _visible_ids(db, owner, discovery=True) == {v["public"], v["adult"]}

        db.add(Block(blocker_id=fan, blocked_id=creator))
        db.commit()
        assert _visible_ids(db, follower) == set()
        assert v["private"] in _visible_ids(db, owner)  # a block hides others, never one's own videos
        with pytest.raises(NotFound) as hidden:
            visible_video(db, v["public"], follower)
        assert hidden.value.code == "video_not_found"


def test_block_records_the_follows_it_ends(any_db_services):
    services = any_db_services
    alice_id, bob_id = fast_user(None, services, "alice").id, fast_user(None, services, "bob").id
    with services.session_factory() as db:
        db.add_all([Follow(follower_id=alice_id, followee_id=bob_id), Follow(follower_id=bob_id, followee_id=alice_id)])
        db.commit()
        alice = db.get(User, alice_id)
        social.block(db, services, alice, "bob")
        social.block(db, services, alice, "bob")
        assert db.scalar(select(Follow)) is None
        services.events.settle()  # acknowledged events reach the table one move later
        ended = {(e.user_id, e.target_user_id, e.extra["cause"]) for e in db.scalars(select(EventRow))}
        assert ended == {(alice_id, bob_id, "block"), (bob_id, alice_id, "block")}
        social.unblock(db, alice, "bob")
        assert db.scalar(select(Block)) is None


def test_comment_threads_stay_one_level_deep(any_db_services):
    services = any_db_services
    alice_id, bob_id = fast_user(None, services, "alice").id, fast_user(None, services, "bob").id
    video = add_video(services, alice_id)
    with services.session_factory() as db:
        alice, bob = db.get(User, alice_id), db.get(User, bob_id)
        top = social.add_comment(db, services, bob, video, "top")
        reply = social.add_comment(db, services, alice, video, "reply", top.comment.id)
        deeper = social.add_comment(db, services, bob, video, "deeper", reply.comment.id)
        assert reply.comment.parent_id == deeper.comment.parent_id == top.comment.id
        assert top.can_delete and reply.can_delete  # bob wrote it; alice owns the video
        with pytest.raises(Forbidden):
            social.delete_comment(db, services, bob, reply.comment.id)
        social.delete_comment(db, services, alice, top.comment.id)
        with pytest.raises(NotFound):
            social.add_comment(db, services, bob, video, "too late", deeper.comment.id)
