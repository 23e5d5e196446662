"""The For You and Following feeds: ask for a page, log exactly what was served, remember it as seen.

For You asks the engine (``services.feed``) with a ``FeedContext``; Following is the followed creators'
videos, newest first. Either way the request is logged (``FeedRequest`` with the engine's inputs and
versions, so it can be replayed) with one ``Impression`` per item, in the same commit that answers it.
Impressions are the signed-in viewer's seen set: nothing served once is ever served again. A signed-out
visitor has no rows to remember them by, so their seen set travels in the signed cursor.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from openfyp.moderation import minors
from openfyp.moderation.visibility import creator_in_good_standing, recommendable_clause, viewer_exclusions
from openfyp.platform.access import Audience, video_visible
from openfyp.platform.errors import DomainError, InvalidInput
from openfyp.recsys.contracts import FeedContext, FeedResult, Reason, RecsysError
from openfyp.services import Services
from openfyp.store.base import utcnow
from openfyp.store.tables import FeedRequest, Follow, Impression, User, Video

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


@dataclass(frozen=True)
class ServedItem:
    video: Video
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


class CursorSigner:
    """``base64(zlib(json)) . base64(hmac)``: opaque, compact, and refused when altered by one bit."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"openfyp-feed-cursor:" + secret.encode()).digest()

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:16]

    def encode(self, data: dict[str, Any]) -> str:
        body = zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 9)
        return f"{_b64(body)}.{_b64(self._mac(body))}"

    def decode(self, cursor: str) -> dict[str, Any]:
        if len(cursor) > MAX_CURSOR_CHARS or cursor.count(".") != 1:
            raise BadCursor()
        encoded_body, encoded_mac = cursor.split(".")
        try:
            body, mac = _unb64(encoded_body), _unb64(encoded_mac)
        except ValueError:
            raise BadCursor() from None
        if not hmac.compare_digest(mac, self._mac(body)):
            raise BadCursor()
        try:
            data = json.loads(zlib.decompress(body))
        except (zlib.error, ValueError):
            raise BadCursor() from None
        if not isinstance(data, dict):
            raise BadCursor()
        return data


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def _signer(services: Services) -> CursorSigner:
    return CursorSigner(services.settings.resolved_secret_key())


def _read_cursor(services: Services, cursor: str | None, surface: str, viewer_id: int | None) -> dict[str, Any]:
    if not cursor:
        return {}
    data = _signer(services).decode(cursor)
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


def seen_video_ids(db: Session, user_id: int) -> set[int]:
    """Every video ever served to this viewer, on any feed."""
    return set(db.scalars(select(Impression.video_id).where(Impression.user_id == user_id).distinct()))


def _log(db: Session, services: Services, *, request_id: str, surface: str, viewer: User | None,
         personalised: bool, items: list[ServedItem], model_version: str | None, config_version: str | None,
         inputs: dict[str, Any]) -> None:
    region = services.settings.region
    db.add(FeedRequest(
        id=request_id, region=region, user_id=viewer.id if viewer else None, surface=surface,
        model_version=model_version, config_version=config_version, personalised=personalised,
        inputs=_jsonable(inputs),
        items=[{"video_id": i.video.id, "position": i.position, "score": i.score, "reason": i.reason} for i in items],
    ))
    db.flush()  # the request row first: impressions reference it
    db.add_all([Impression(region=region, request_id=request_id, user_id=viewer.id if viewer else None,
                           video_id=i.video.id, position=i.position, score=i.score) for i in items])
    db.flush()


def _jsonable(value: Any) -> Any:
    """Engine inputs may hold numpy numbers or datetimes; the JSON column takes plain JSON only."""
    return json.loads(json.dumps(value, default=_plain))


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (datetime, uuid.UUID)):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return repr(value)


# ---- For You --------------------------------------------------------------------------------------------


def foryou_context(db: Session, services: Services, viewer: User | None, *, request_id: str, limit: int,
                   anonymous_seen: frozenset[int] = frozenset()) -> FeedContext:
    settings = services.settings
    audience = Audience.of(viewer, settings.adult_age)
    if viewer is None:
        return FeedContext(region=settings.region, user_id=None, request_id=request_id, now=utcnow(), limit=limit,
                           personalised=False, is_minor=not audience.adult, seen_video_ids=anonymous_seen)
    return FeedContext(
        region=settings.region, user_id=viewer.id, request_id=request_id, now=utcnow(), limit=limit,
        personalised=viewer.personalised, is_minor=not audience.adult,
        seen_video_ids=frozenset(seen_video_ids(db, viewer.id)), signals_since=viewer.feed_reset_at,
    )


def _recommendable(db: Session, ids: list[int], viewer: User | None, services: Services) -> dict[int, Video]:
    """The engine's picks that may really be shown to this viewer: public, recommendable, not excluded."""
    if not ids:
        return {}
    settings = services.settings
    exclusions = viewer_exclusions(db, viewer, settings)
    found = db.scalars(select(Video).where(
        Video.id.in_(ids), Video.region == settings.region,
        video_visible(Audience.of(viewer, settings.adult_age), discovery=True),
        recommendable_clause(), exclusions.video_clause(FORYOU),
    ))
    return {video.id: video for video in exclusions.keep_videos(db, list(found), FORYOU)}


def _screen_time_over(db: Session, services: Services, viewer: User | None, surface: str,
                      cursor: str | None) -> FeedPage | None:
    """A minor whose daily time is used up gets a notice instead of videos; the cursor stays valid for tomorrow."""
    notice = minors.screen_time_notice(db, viewer, services.settings) if viewer is not None else None
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
    context = foryou_context(db, services, viewer, request_id=request_id, limit=limit,
                             anonymous_seen=frozenset(remembered))
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
    _log(db, services, request_id=request_id, surface=FORYOU, viewer=viewer, personalised=context.personalised,
         items=served, model_version=result.model_version, config_version=result.config_version, inputs=inputs)
    db.commit()

    next_cursor = None
    if served:
        next_state: dict[str, Any] = {"s": FORYOU, "u": viewer_id, "o": offset + len(served)}
        if viewer is None:
            next_state["seen"] = (remembered + [item.video.id for item in served])[-ANONYMOUS_SEEN_CAP:]
        next_cursor = _signer(services).encode(next_state)
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
    db.commit()

    next_cursor = None
    if len(found) > limit:
        last = page[-1]
        next_cursor = _signer(services).encode({"s": FOLLOWING, "u": viewer.id, "o": offset + len(served),
                                                "k": [last.created_at.isoformat(), last.id]})
    return FeedPage(request_id, FOLLOWING, served, next_cursor)


def _keyset(value: Any) -> tuple[datetime, int]:
    try:
        created, last_id = value
        return datetime.fromisoformat(created), int(last_id)
    except (TypeError, ValueError):
        raise BadCursor() from None
