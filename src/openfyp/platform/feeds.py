"""The For You and Following feeds: ask for a page, log exactly what was served, remember it as seen.

For You asks the engine (``services.feed``) with a ``FeedContext``; Following is the followed creators'
videos, newest first. Either way the request is logged (``FeedRequest`` with the engine's inputs and
versions, so it can be replayed) with one ``Impression`` per item, durably, before the page is returned;
the rows of concurrent requests share one commit (``platform.feed_log``). Impressions - committed or
still on their way - are the signed-in viewer's seen set: nothing served once is ever served again. A
signed-out visitor has no rows to remember them by, so their seen set travels in the signed cursor.
"""

from __future__ import annotations

import dataclasses
import functools
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Integer, Row, Select, String, and_, bindparam, exists, or_, select
from sqlalchemy.orm import Session

from openfyp.moderation import minors
from openfyp.moderation.text import WordMatcher
from openfyp.moderation.visibility import (
    ViewerExclusions,
    creator_in_good_standing,
    recommendable_clause,
    viewer_exclusions,
)
from openfyp.platform.access import Audience, region_scoped, scoped_rows, video_visible
from openfyp.platform.cursor import codec_for
from openfyp.platform.errors import DomainError, InvalidInput
from openfyp.platform.feed_log import ServedPage, feed_log_of
from openfyp.recsys.contracts import FeedContext, FeedResult, Reason, RecsysError
from openfyp.services import Services
from openfyp.store.base import utcnow
from openfyp.store.id_list import id_list, in_id_list
from openfyp.store.tables import Follow, Impression, MutedWord, User, Video

FORYOU, FOLLOWING = "foryou", "following"
DEFAULT_LIMIT, MAX_LIMIT = 10, 30
# A signed-out visitor's cursor remembers this many of the latest videos they were shown.
ANONYMOUS_SEEN_CAP = 400
MAX_CURSOR_CHARS = 8192


class BadCursor(DomainError):
    status = 400

    def __init__(self, message: str = "the cursor is malformed, tampered with or not yours") -> None:
        super().__init__("bad_cursor", message, "cursor")


class FeedUnavailable(DomainError):
    status = 503

    def __init__(self, message: str = "the For You engine is not running on this server") -> None:
        super().__init__("feed_unavailable", message)


# What a For You page reads of each video (the API resource, the muted-word check), fetched by the policy check
# as plain rows: loading them as ``Video`` entities through the session cost a page more CPU than the check.
PAGE_VIDEO_COLUMNS = (Video.id, Video.creator_id, Video.caption, Video.status, Video.failure_code,
                      Video.failure_reason, Video.visibility, Video.adult_only, Video.sound_id, Video.media_key,
                      Video.poster_key, Video.duration_s, Video.width, Video.height, Video.created_at)


@dataclass(frozen=True)
class ServedItem:
    video: Video | Row  # For You: a row of PAGE_VIDEO_COLUMNS, read by attribute like a Video
    position: int
    score: float | None
    reason: dict[str, Any]


@dataclass(frozen=True)
class FeedPage:
    request_id: str | None  # None when nothing was served (a screen-time notice instead)
    surface: str
    items: list[ServedItem]
    next_cursor: str | None
    notice: dict[str, Any] | None = None


# ---- cursors ----------------------------------------------------------------------------------------------


def _read_cursor(services: Services, cursor: str | None, surface: str, viewer_id: int | None) -> dict[str, Any]:
    if not cursor:
        return {}
    data = codec_for(services).unseal(cursor, max_length=MAX_CURSOR_CHARS)
    if data is None:
        raise BadCursor()
    if data.get("s") != surface or data.get("u") != viewer_id:
        raise BadCursor("this cursor belongs to another feed or another viewer")
    offset = data.get("o")
    if not isinstance(offset, int) or offset < 0:
        raise BadCursor()
    return data


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput("invalid_limit", f"limit must be between 1 and {MAX_LIMIT}", "limit")
    return limit


# ---- shared ---------------------------------------------------------------------------------------------


def seen_video_ids(db: Session, user_id: int, services: Services | None = None) -> set[int]:
    """Every video ever served to this viewer, on any feed - including pages whose commit is under way.

    The pending set is read first: a page committed in between is then in the table when it is queried.
    With ``services``, the committed part comes from the feed log's in-memory seen sets, which read only the
    impressions committed since the viewer's previous page.
    """
    if services is None:
        return set(db.scalars(_SEEN_QUERY, {"viewer_id": user_id}))
    return seen_state(db, user_id, services)[0]


def seen_state(db: Session, user_id: int, services: Services) -> tuple[set[int], int]:
    """The viewer's seen set (as :func:`seen_video_ids`) and the impression id its committed part is complete
    up to: a page chosen against it is committed without whatever was served to the viewer above that id."""
    log = feed_log_of(services)
    pending = log.pending_video_ids(user_id)
    seen, watermark = log.seen.read_with_watermark(db, user_id, _seen_since_query(services.settings.region))
    seen |= pending  # (a copy: ours to extend)
    return seen, watermark


def _log(db: Session, services: Services, *, request_id: str, surface: str, viewer: User | None,
         personalised: bool, items: list[ServedItem], model_version: str | None, config_version: str | None,
         inputs: dict[str, Any], seen_watermark: int | None = None) -> list[ServedItem]:
    """Store the request and its impressions; returns once they are durable, with the items as served: those
    the commit found served to the viewer since ``seen_watermark`` (by an overlapping request, or another server
    process) are left out and the rest move up."""
    # This session's transaction ends first: it holds nothing the log needs, and on SQLite an open write
    # transaction here would block the log's commit that this request is waiting for.
    db.commit()
    dropped = feed_log_of(services).record(ServedPage(
        request_id=request_id, region=services.settings.region, user_id=viewer.id if viewer else None,
        surface=surface, personalised=personalised, model_version=model_version, config_version=config_version,
        inputs=inputs, created_at=utcnow(), seen_watermark=seen_watermark if viewer else None,
        items=[{"video_id": i.video.id, "position": i.position, "score": i.score, "reason": i.reason}
               for i in items],
    ))
    if not dropped:
        return items
    kept = [item for item in items if item.video.id not in dropped]
    first = items[0].position
    return [dataclasses.replace(item, position=first + index) for index, item in enumerate(kept)]


# ---- For You --------------------------------------------------------------------------------------------


def foryou_context(db: Session, services: Services, viewer: User | None, *, request_id: str, limit: int,
                   anonymous_seen: frozenset[int] = frozenset(), seen: set[int] | None = None) -> FeedContext:
    """``seen``: the signed-in viewer's seen set if already read (else read here)."""
    settings = services.settings
    audience = Audience.of(viewer, settings.adult_age)
    if viewer is None:
        return FeedContext(region=settings.region, user_id=None, request_id=request_id, now=utcnow(), limit=limit,
                           personalised=False, is_minor=not audience.adult, seen_video_ids=anonymous_seen)
    return FeedContext(
        region=settings.region, user_id=viewer.id, request_id=request_id, now=utcnow(), limit=limit,
        personalised=viewer.personalised, is_minor=not audience.adult,
        seen_video_ids=frozenset(seen if seen is not None else seen_video_ids(db, viewer.id, services)),
        signals_since=viewer.feed_reset_at,
    )


_VIEWER_ID = bindparam("viewer_id", type_=Integer)
_PICKS = id_list("picks")
_REGION = bindparam("region", type_=String)
_SEEN_QUERY = select(Impression.video_id).where(Impression.user_id == _VIEWER_ID).distinct()


@functools.cache
def _seen_since_query(region: str) -> Select:
    """The viewer's impressions after a watermark id (served by the ``(user_id, id)`` index)."""
    return region_scoped(select(Impression.id, Impression.video_id).where(
        Impression.user_id == _VIEWER_ID, Impression.id > bindparam("after")), region)


@dataclass(frozen=True)
class _ParameterViewer:
    """A stand-in for the viewer in a statement built once: its id is a bound parameter, its birth date (only
    compared in Python, to tell minors from adults) the real one's."""

    id: Any
    birth_date: date


@dataclass(frozen=True)
class _PolicySettings:
    """The two settings the protected-minor clause reads (a hashable stand-in for ``Settings``)."""

    protected_minor_age: int
    adult_age: int


@functools.lru_cache(maxsize=32)
def _recommendable_query(region: str, signed_in: bool, adult: bool, viewer_is_minor: bool, today: date,
                         protected_minor_age: int, adult_age: int) -> Select:
    """The policy check of the engine's picks, built once per kind of audience and day with the viewer as a
    parameter: building it per request (aliased subqueries for blocks, accounts, sanctions and protected
    minors) cost more CPU than running it. Blocks either way and (for minors) adult-only videos are in
    ``video_visible``; the protected-minor rule is ``foryou_protected_minor_clause`` for this audience."""
    audience = Audience(user_id=_VIEWER_ID if signed_in else None, adult=adult)  # type: ignore[arg-type]
    stand_in = None
    if signed_in:  # a birth date that puts the stand-in on the same side of the adult age as the viewer
        years = adult_age - 1 if viewer_is_minor else adult_age
        stand_in = _ParameterViewer(_VIEWER_ID, minors.latest_birth_date_for_age(years, today))
    policy = _PolicySettings(protected_minor_age=protected_minor_age, adult_age=adult_age)
    minor_clause = minors.foryou_protected_minor_clause(stand_in, policy, today)  # type: ignore[arg-type]
    return region_scoped(select(*PAGE_VIDEO_COLUMNS).where(
        in_id_list(Video.id, _PICKS), Video.region == _REGION, video_visible(audience, discovery=True),
        recommendable_clause(), minor_clause), region)


def _recommendable(db: Session, ids: list[int], viewer: User | None, services: Services) -> dict[int, Row]:
    """The engine's picks that may really be shown to this viewer: public, recommendable, not excluded."""
    if not ids:
        return {}
    settings = services.settings
    today = minors.today_utc()
    audience = Audience.of(viewer, settings.adult_age)
    viewer_is_minor = minors.is_minor(viewer, settings, today)
    query = _recommendable_query(settings.region, viewer is not None, audience.adult, viewer_is_minor, today,
                                 settings.protected_minor_age, settings.adult_age)
    found = scoped_rows(db, query, {"viewer_id": audience.user_id, "picks": ids, "region": settings.region})
    exclusions = _foryou_exclusions(db, viewer, viewer_is_minor, settings.region)
    return {video.id: video for video in exclusions.keep_videos(db, list(found), FORYOU)}


def _foryou_exclusions(db: Session, viewer: User | None, viewer_is_minor: bool, region: str) -> ViewerExclusions:
    """The Python half of ``viewer_exclusions`` for a page the SQL above has already filtered: adult-only videos
    for minors (their own included) and muted words. Blocks and protected minors are in the statement, so
    their lists (a query each; the protected minors' one a scan of every young account) are not fetched."""
    patterns = (scoped_rows(db, _muted_patterns_query(region), {"viewer_id": viewer.id}).scalars()
                if viewer is not None else ())
    return ViewerExclusions(
        viewer_id=viewer.id if viewer is not None else None,
        hide_adult_only=viewer_is_minor,
        blocked_user_ids=frozenset(),
        muted=WordMatcher.of(patterns),
        foryou_hidden_creator_ids=frozenset(),
    )


@functools.cache
def _muted_patterns_query(region: str) -> Select:
    """``muted_matcher``'s query, built once."""
    return region_scoped(select(MutedWord.pattern).where(MutedWord.user_id == _VIEWER_ID), region)


def _screen_time_over(db: Session, services: Services, viewer: User | None, surface: str,
                      cursor: str | None) -> FeedPage | None:
    """A minor whose daily time is used up gets a notice instead of videos; the cursor stays valid for tomorrow."""
    if minors.screen_time_limit_minutes(viewer, services.settings) is None:
        return None  # no limit to reach (adults, visitors): skip summing today's watch time
    notice = minors.screen_time_notice(db, viewer, services.settings, event_log=services.events)
    return FeedPage(None, surface, [], cursor or None, notice) if notice else None


def foryou_page(db: Session, services: Services, viewer: User | None, *, cursor: str | None = None,
                limit: int = DEFAULT_LIMIT) -> FeedPage:
    """One page of For You, logged and committed. Videos already served to the viewer never come back."""
    if services.feed is None:
        raise FeedUnavailable()
    limit = check_limit(limit)
    viewer_id = viewer.id if viewer else None
    state = _read_cursor(services, cursor, FORYOU, viewer_id)
    if (over := _screen_time_over(db, services, viewer, FORYOU, cursor)) is not None:
        return over
    offset = state.get("o", 0)
    remembered = [v for v in state.get("seen", []) if isinstance(v, int)] if viewer is None else []
    request_id = str(uuid.uuid4())
    seen, seen_watermark = seen_state(db, viewer.id, services) if viewer is not None else (None, None)
    context = foryou_context(db, services, viewer, request_id=request_id, limit=limit,
                             anonymous_seen=frozenset(remembered), seen=seen)
    db.commit()  # hands the connection back to the pool while the engine works
    try:
        result: FeedResult = services.feed.recommend(context)
    except RecsysError as error:
        raise FeedUnavailable(f"the For You engine could not answer ({error.code}): {error.message}") from error

    videos = _recommendable(db, [r.video_id for r in result.items], viewer, services)
    served: list[ServedItem] = []
    taken: set[int] = set()
    for recommendation in result.items:
        video_id = recommendation.video_id
        # The engine promises all of this; checking again keeps the promise even if an engine breaks it.
        if video_id in context.seen_video_ids or video_id in taken or video_id not in videos:
            continue
        taken.add(video_id)
        served.append(ServedItem(videos[video_id], offset + len(served), float(recommendation.score),
                                 _reason_dict(recommendation.reason)))
        if len(served) == limit:
            break

    dropped = len(result.items) - len(served)
    inputs = dict(result.logged_inputs)
    if dropped:
        inputs["platform_dropped"] = dropped
    served = _log(db, services, request_id=request_id, surface=FORYOU, viewer=viewer,
                  personalised=context.personalised, items=served, model_version=result.model_version,
                  config_version=result.config_version, inputs=inputs, seen_watermark=seen_watermark)

    next_cursor = None
    if served:
        next_state: dict[str, Any] = {"s": FORYOU, "u": viewer_id, "o": offset + len(served)}
        if viewer is None:
            next_state["seen"] = (remembered + [item.video.id for item in served])[-ANONYMOUS_SEEN_CAP:]
        next_cursor = codec_for(services).seal(next_state)
    return FeedPage(request_id, FORYOU, served, next_cursor)


def _reason_dict(reason: Reason | dict | None) -> dict[str, Any]:
    if reason is None:
        return {"sources": [], "contributions": [], "summary": ""}
    if isinstance(reason, Reason):
        return reason.to_dict()
    return dict(reason)


# ---- Following ------------------------------------------------------------------------------------------


def following_page(db: Session, services: Services, viewer: User, *, cursor: str | None = None,
                   limit: int = DEFAULT_LIMIT) -> FeedPage:
    """Followed creators' videos, newest first (keyset on created_at, id), logged like For You."""
    limit = check_limit(limit)
    settings = services.settings
    state = _read_cursor(services, cursor, FOLLOWING, viewer.id)
    if (over := _screen_time_over(db, services, viewer, FOLLOWING, cursor)) is not None:
        return over
    offset = state.get("o", 0)
    exclusions = viewer_exclusions(db, viewer, settings)
    query = select(Video).where(
        Video.region == settings.region,
        exists().where(Follow.follower_id == viewer.id, Follow.followee_id == Video.creator_id),
        video_visible(Audience.of(viewer, settings.adult_age)), creator_in_good_standing(viewer.id),
        exclusions.video_clause(FOLLOWING),
    )
    if "k" in state:
        created, last_id = _keyset(state["k"])
        query = query.where(or_(Video.created_at < created, and_(Video.created_at == created, Video.id < last_id)))
    found = list(db.scalars(query.order_by(Video.created_at.desc(), Video.id.desc()).limit(limit + 1)))
    page = found[:limit]
    # Muted words are matched in Python, so a page may come out shorter; the keyset still moves past it.
    shown = exclusions.keep_videos(db, page, FOLLOWING)
    creators = {u.id: u.username for u in db.scalars(select(User).where(User.id.in_({v.creator_id for v in shown})))}
    served = [ServedItem(video, offset + i, None, {
        "sources": [FOLLOWING], "contributions": [],
        "summary": f"New from @{creators.get(video.creator_id, '?')}, whom you follow",
    }) for i, video in enumerate(shown)]

    request_id = str(uuid.uuid4())
    _log(db, services, request_id=request_id, surface=FOLLOWING, viewer=viewer, personalised=False, items=served,
         model_version=None, config_version=None, inputs={"after": state.get("k"), "limit": limit})

    next_cursor = None
    if len(found) > limit:
        last = page[-1]
        next_cursor = codec_for(services).seal({"s": FOLLOWING, "u": viewer.id, "o": offset + len(served),
                                                "k": [last.created_at.isoformat(), last.id]})
    return FeedPage(request_id, FOLLOWING, served, next_cursor)


def _keyset(value: Any) -> tuple[datetime, int]:
    try:
        created, last_id = value
        return datetime.fromisoformat(created), int(last_id)
    except (TypeError, ValueError):
        raise BadCursor() from None
