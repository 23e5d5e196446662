"""The rules that protect minors: ages, defaults, who may contact whom, screen time, For You exposure."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from openfyp.moderation import minors
from openfyp.platform.errors import Forbidden
from openfyp.store.tables import EventRow, User, Video
from tests.moderation.helpers import api_user, follow, make_video


def _person(born: date, user_id: int = 1) -> User:
    return User(id=user_id, region="us", username=f"u{user_id}", password_hash="-", birth_date=born)


@pytest.mark.parametrize(("born", "today", "minor"), [
    (date(2008, 6, 15), date(2026, 6, 15), False),   # the 18th birthday itself
    (date(2008, 6, 15), date(2026, 6, 14), True),    # the day before
    (date(2008, 2, 29), date(2026, 2, 28), True),    # a leap-day birthday comes on 1 March
    (date(2008, 2, 29), date(2026, 3, 1), False),
])
def test_adulthood_starts_on_the_birthday(settings, born, today, minor):
    assert minors.is_minor(_person(born), settings, today) is minor
    assert (minors.younger_than(settings.adult_age, today).right.value < born) is minor


def test_latest_birth_date_on_a_leap_day():
    assert minors.latest_birth_date_for_age(18, date(2028, 2, 29)) == date(2010, 2, 28)
    assert minors.latest_birth_date_for_age(16, date(2028, 2, 29)) == date(2012, 2, 29)


def test_signed_out_visitors_never_count_as_adults(settings):
    assert minors.is_minor(None, settings) and not minors.may_see_adult_content(None, settings)


def test_under_16s_share_with_followers_by_default(settings):
    today = date(2026, 1, 10)
    assert minors.default_upload_visibility(_person(date(2010, 1, 11)), settings, today) == "followers"  # 15
    assert minors.default_upload_visibility(_person(date(2010, 1, 10)), settings, today) == "public"  # 16


def test_adults_may_contact_a_protected_minor_only_if_the_minor_follows_them(services, client):
    kid, adult, friend = api_user(client, "kid", age=14), api_user(client, "adult", age=30), api_user(client, "friend")
    api_user(client, "peer", age=15)
    api_user(client, "older", age=16)
    follow(services, kid.id, friend.id)
    follow(services, adult.id, kid.id)  # the adult following the child is not enough
    with services.session_factory() as db:
        user = {u.username: u for u in db.scalars(select(User))}
        settings = services.settings
        with pytest.raises(Forbidden) as refused:
            minors.ensure_may_contact(db, user["adult"], user["kid"], settings)
        assert refused.value.code == "minor_contact_restricted"
        minors.ensure_may_contact(db, user["friend"], user["kid"], settings)
        minors.ensure_may_contact(db, user["peer"], user["kid"], settings)
        minors.ensure_may_contact(db, user["kid"], user["kid"], settings)
        minors.ensure_may_contact(db, user["adult"], user["older"], settings)
        video = make_video(services, kid.id, "my drawing")
        with pytest.raises(Forbidden):
            minors.ensure_may_comment(db, user["adult"], db.get(Video, video), settings)
        minors.ensure_may_comment(db, user["friend"], db.get(Video, video), settings)


def _watch(services, user_id, video_id, seconds, *, request_id=None, at=None):
    with services.session_factory() as db:
        db.add(EventRow(region=services.region, event_id=str(uuid.uuid4()), user_id=user_id, video_id=video_id,
                        kind="watch", watch_seconds=seconds, request_id=request_id,
                        server_ts=at or datetime.now(UTC)))
        db.commit()


def test_screen_time_counts_each_playback_once_and_only_today(services, client):
    teen, adult = api_user(client, "teen", age=14), api_user(client, "adult", age=30)
    video = make_video(services, adult.id)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    for progress in (10.0, 20.0, 30.0):  # progress reports of one playback: 30 s, not 60
        _watch(services, teen.id, video, progress, request_id=first)
    _watch(services, teen.id, video, 45.0, request_id=second)
    _watch(services, teen.id, video, 5000.0, request_id=str(uuid.uuid4()),
           at=minors.day_start(datetime.now(UTC)) - timedelta(seconds=1))  # yesterday
    with services.session_factory() as db:
        assert minors.screen_time_today(db, teen.id) == pytest.approx(75.0)
        user = db.get(User, teen.id)
        assert minors.screen_time_notice(db, user, services.settings) is None
    _watch(services, teen.id, video, 60 * 60.0, request_id=str(uuid.uuid4()))
    with services.session_factory() as db:
        user = db.get(User, teen.id)
        notice = minors.screen_time_notice(db, user, services.settings)
        assert notice["code"] == "screen_time_limit_reached" and notice["limit_minutes"] == 60
        assert notice["used_minutes"] == pytest.approx(61.2, abs=0.1)
        grown = db.get(User, adult.id)
        assert minors.screen_time_limit_minutes(grown, services.settings) is None
        unlimited = services.settings.model_copy(update={"minor_daily_screen_minutes": 0})
        assert minors.screen_time_notice(db, user, unlimited) is None


def test_the_for_you_exclusion_of_young_creators_agrees_in_sql_and_python(services, client):
    kid, stranger, friend, peer = (api_user(client, "kid", age=13), api_user(client, "stranger", age=40),
                                   api_user(client, "friend", age=40), api_user(client, "peer", age=14))
    grown = api_user(client, "grown", age=25)
    follow(services, friend.id, kid.id)
    kid_video, grown_video = make_video(services, kid.id), make_video(services, grown.id)
    with services.session_factory() as db:
        for viewer_id, expected in [(stranger.id, {grown_video}), (friend.id, {kid_video, grown_video}),
                                    (peer.id, {kid_video, grown_video}), (kid.id, {kid_video, grown_video}),
                                    (None, {grown_video})]:
            viewer = db.get(User, viewer_id) if viewer_id else None
            clause = minors.foryou_protected_minor_clause(viewer, services.settings)
            assert set(db.scalars(select(Video.id).where(clause))) == expected, viewer_id
            hidden = minors.foryou_protected_minor_creators(db, viewer, services.settings)
            assert {v for v in (kid_video, grown_video)
                    if db.get(Video, v).creator_id not in hidden} == expected, viewer_id
