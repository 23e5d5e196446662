"""Every rule that protects minors, in one place. Ages come from ``User.birth_date``, counted in UTC.

* A *minor* is younger than ``settings.adult_age``. Minors never see ``adult_only`` videos anywhere (feeds,
  search, profiles, direct links answer 404). A signed-out visitor's age is unknown, so they are treated
  as a minor for this rule.
* A *protected minor* is younger than ``settings.protected_minor_age`` (16). Their uploads default to
  followers-only, and adults may comment on their videos or message them only if the minor follows them.
* Minors get a daily screen-time limit (``settings.minor_daily_screen_minutes``); once it is used up the
  feed answers with a ``screen_time_limit_reached`` notice instead of more videos.
* Protected minors' videos are kept out of the For You feed of adults who do not follow them (and of
  signed-out visitors). For You is the one surface that pushes a child's video in front of strangers
  who never asked for it; keeping it out removes the main route by which adults discover children to
  contact, while the minor's followers, peers and anyone given a link can still see what was shared.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.orm import Session

from openfyp.platform.accounts import age_on
from openfyp.platform.errors import Forbidden
from openfyp.settings import Settings
from openfyp.store.tables import EventRow, Follow, User, Video, Visibility

SCREEN_TIME_NOTICE = "screen_time_limit_reached"


def today_utc() -> date:
    return datetime.now(UTC).date()


def age_of(user: User, today: date | None = None) -> int:
    return age_on(user.birth_date, today or today_utc())


def is_minor(user: User | None, settings: Settings, today: date | None = None) -> bool:
    """Younger than the adult age. ``None`` (signed out) is not known to be an adult, so it counts."""
    return user is None or age_of(user, today) < settings.adult_age


def is_protected_minor(user: User, settings: Settings, today: date | None = None) -> bool:
    return age_of(user, today) < settings.protected_minor_age


def may_see_adult_content(viewer: User | None, settings: Settings, today: date | None = None) -> bool:
    return not is_minor(viewer, settings, today)


def latest_birth_date_for_age(age: int, today: date) -> date:
    """The latest birth date of someone who is at least ``age`` years old on ``today``."""
    try:
        return today.replace(year=today.year - age)
    except ValueError:  # 29 February in a year that has none: such people turn ``age`` on 1 March
        return today.replace(year=today.year - age, day=28)


def younger_than(age: int, today: date | None = None) -> ColumnElement[bool]:
    """WHERE clause on ``User``: younger than ``age`` today."""
    return User.birth_date > latest_birth_date_for_age(age, today or today_utc())


def default_upload_visibility(user: User, settings: Settings, today: date | None = None) -> str:
    """Protected minors share with their followers unless they choose otherwise."""
    if is_protected_minor(user, settings, today):
        return Visibility.followers.value
    return Visibility.public.value


def follows(db: Session, follower_id: int, followee_id: int) -> bool:
    return db.get(Follow, (follower_id, followee_id)) is not None


def ensure_may_contact(db: Session, sender: User, recipient: User, settings: Settings,
                       today: date | None = None) -> None:
    """An adult may comment on or message a protected minor only if the minor follows them (403 otherwise)."""
    if sender.id == recipient.id or not is_protected_minor(recipient, settings, today):
        return
    if is_minor(sender, settings, today):
        return
    if follows(db, recipient.id, sender.id):
        return
    raise Forbidden("minor_contact_restricted",
                    "this account belongs to a young person who does not follow you, so you cannot contact "
                    "them or comment on their videos")


def ensure_may_comment(db: Session, commenter: User, video: Video, settings: Settings,
                       today: date | None = None) -> None:
    creator = db.get(User, video.creator_id)
    if creator is not None:
        ensure_may_contact(db, commenter, creator, settings, today)


def foryou_protected_minor_creators(db: Session, viewer: User | None, settings: Settings,
                                    today: date | None = None) -> frozenset[int]:
    """Creators whose videos stay out of this viewer's For You: protected minors the viewer does not follow.

    Empty for minor viewers (peers may discover each other). Only creators with at least one video are
    listed, so the set stays as small as the number of young creators.
    """
    if viewer is not None and is_minor(viewer, settings, today):
        return frozenset()
    query = (select(User.id).where(User.region == settings.region, younger_than(settings.protected_minor_age, today),
                                   select(Video.id).where(Video.creator_id == User.id).exists()))
    if viewer is not None:
        query = query.where(~select(Follow.followee_id).where(
            Follow.follower_id == viewer.id, Follow.followee_id == User.id).exists(), User.id != viewer.id)
    return frozenset(db.scalars(query))


def foryou_protected_minor_clause(viewer: User | None, settings: Settings,
                                  today: date | None = None) -> ColumnElement[bool]:
    """WHERE clause on ``Video`` for For You: the SQL form of ``foryou_protected_minor_creators``."""
    if viewer is not None and is_minor(viewer, settings, today):
        return true()
    young_creator = select(User.id).where(User.id == Video.creator_id,
                                          younger_than(settings.protected_minor_age, today)).exists()
    if viewer is None:
        return ~young_creator
    followed = select(Follow.followee_id).where(Follow.follower_id == viewer.id,
                                                Follow.followee_id == Video.creator_id).exists()
    return ~and_(young_creator, ~followed, Video.creator_id != viewer.id)


# ---- screen time --------------------------------------------------------------------------------------


def day_start(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)


def screen_time_today(db: Session, user_id: int, now: datetime | None = None) -> float:
    """Seconds of video watched since midnight UTC, from the viewer's watch events.

    Watch events report progress "so far" for one playback, so each playback (video and the feed request
    that served it) counts with its largest value rather than the sum of its progress reports.
    """
    now = now or datetime.now(UTC)
    per_playback = (select(func.max(EventRow.watch_seconds).label("seconds"))
                    .where(EventRow.user_id == user_id, EventRow.server_ts >= day_start(now),
                           EventRow.server_ts <= now, EventRow.watch_seconds.is_not(None))
                    .group_by(EventRow.video_id, EventRow.request_id)
                    .subquery())
    return float(db.scalar(select(func.coalesce(func.sum(per_playback.c.seconds), 0.0))) or 0.0)


def screen_time_limit_minutes(user: User | None, settings: Settings, today: date | None = None) -> int | None:
    """The viewer's daily limit, or None when they have none (adults, signed-out visitors, limit 0)."""
    if user is None or settings.minor_daily_screen_minutes <= 0 or not is_minor(user, settings, today):
        return None
    return settings.minor_daily_screen_minutes


# A viewer's own watch events count once the log has moved them into the events table - within milliseconds
# at rest. Screen time waits at most this long for that, so a page right after the events sees them.
SETTLE_SECONDS = 2.0


def screen_time_status(db: Session, user: User | None, settings: Settings,
                       now: datetime | None = None, *, event_log: Any = None) -> dict[str, Any]:
    limit = screen_time_limit_minutes(user, settings, (now or datetime.now(UTC)).date())
    if user is not None and event_log is not None:
        event_log.settle(timeout=SETTLE_SECONDS)
    now = now or datetime.now(UTC)
    used = screen_time_today(db, user.id, now) if user is not None else 0.0
    return {
        "used_minutes": round(used / 60.0, 1),
        "limit_minutes": limit,
        "reached": limit is not None and used >= limit * 60,
        "resets_at": (day_start(now) + timedelta(days=1)).isoformat(),
    }


def screen_time_notice(db: Session, user: User | None, settings: Settings,
                       now: datetime | None = None, *, event_log: Any = None) -> dict[str, Any] | None:
    """The feed item to serve instead of videos once a minor's daily limit is used up, else None."""
    if screen_time_limit_minutes(user, settings, (now or datetime.now(UTC)).date()) is None:
        return None  # no limit (adults, signed-out visitors): nothing to count
    status = screen_time_status(db, user, settings, now, event_log=event_log)
    if not status["reached"]:
        return None
    return {
        "type": "notice",
        "code": SCREEN_TIME_NOTICE,
        "message": f"You have watched {status['limit_minutes']} minutes today, your daily limit. "
                   "The feed is back tomorrow.",
        "used_minutes": status["used_minutes"],
        "limit_minutes": status["limit_minutes"],
        "resets_at": status["resets_at"],
    }
