"""Search over creators, hashtags and video captions, and the hashtag and sound pages.

User text never reaches a full-text parser as syntax: the query is cut into plain word tokens, which are
then quoted for FTS5 (SQLite) or joined into a prefix ``tsquery`` (PostgreSQL). Quotes, ``*``, ``NEAR``,
``OR`` or unbalanced parentheses in a query are just characters, never an error.

Only discoverable videos appear (ready, public, in good standing, not blocked either way), through
``access.video_visible(..., discovery=True)``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from sqlalchemy import ColumnElement, Float, Integer, and_, bindparam, func, literal_column, or_, select, text
from sqlalchemy.orm import Session

from openfyp.platform.access import Audience, not_blocked_with, video_visible
from openfyp.platform.cursor import CursorCodec, Page, offset_of
from openfyp.platform.errors import InvalidInput, NotFound
from openfyp.store.tables import Comment, Follow, Hashtag, Like, Save, Share, Sound, User, Video, VideoHashtag

if TYPE_CHECKING:
    from openfyp.services import Services

SearchType = Literal["all", "users", "hashtags", "videos"]
MAX_QUERY_CHARS = 200
MAX_TERMS = 8
MAX_TERM_CHARS = 64
SECTION_LIMITS = {"users": 5, "hashtags": 5}
MAX_OFFSET = 1000
# Letters and digits only: everything else, including every FTS operator character, separates words.
_WORD = re.compile(r"[^\W_]+")
_HASHTAG_CHARS = re.compile(r"[^\w]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def query_terms(query: str) -> list[str]:
    words = _WORD.findall(query[:MAX_QUERY_CHARS].lower())
    return [w[:MAX_TERM_CHARS] for w in words[:MAX_TERMS]]


def fts5_expression(terms: list[str]) -> str:
    """Every term as a quoted prefix phrase, ANDed: operators like NEAR or OR are plain words inside quotes."""
    return " ".join(f'"{term}"*' for term in terms)


def tsquery_expression(terms: list[str]) -> str:
    return " & ".join(f"{term}:*" for term in terms)


def _like_prefix(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _dialect(db: Session) -> str:
    return db.get_bind().dialect.name


_SIMPLE = literal_column("'simple'")


def _pg_user_document():
    # Keep equal to the index expression of migration 0002, or the planner skips the index.
    names = User.username.op("||")(literal_column("' '")).op("||")(User.display_name)
    return func.to_tsvector(_SIMPLE, names)


def _pg_caption_document():
    return func.to_tsvector(_SIMPLE, Video.caption)


def _user_text_match(db: Session, terms: list[str]) -> ColumnElement[bool]:
    if _dialect(db) == "postgresql":
        query = func.to_tsquery(_SIMPLE, bindparam("user_terms", tsquery_expression(terms)))
        return _pg_user_document().op("@@")(query)
    hits = text("SELECT rowid AS id FROM users_fts WHERE users_fts MATCH :user_terms").bindparams(
        user_terms=fts5_expression(terms)).columns(id=Integer)
    return User.id.in_(hits)


def _caption_hits(db: Session, terms: list[str]):
    """An (id, score) subquery of videos whose caption matches; a higher score is a better match."""
    if _dialect(db) == "postgresql":
        query = func.to_tsquery(_SIMPLE, bindparam("caption_terms", tsquery_expression(terms)))
        document = _pg_caption_document()
        return (select(Video.id.label("id"), func.ts_rank(document, query).label("score"))
                .where(document.op("@@")(query)).subquery("caption_hits"))
    # bm25() is lower for better matches, so it is negated into a score.
    return (text("SELECT rowid AS id, -bm25(videos_fts) AS score FROM videos_fts "
                 "WHERE videos_fts MATCH :caption_terms")
            .bindparams(caption_terms=fts5_expression(terms)).columns(id=Integer, score=Float)
            .subquery("caption_hits"))


@dataclass(frozen=True)
class CreatorHit:
    user: User
    followers: int
    viewer_follows: bool | None


@dataclass(frozen=True)
class HashtagHit:
    name: str
    video_count: int


@dataclass
class SearchResults:
    query: str
    type: str
    users: list[CreatorHit] = field(default_factory=list)
    hashtags: list[HashtagHit] = field(default_factory=list)
    videos: list[Video] = field(default_factory=list)
    next_cursor: str | None = None


def _follower_count_column():
    return (select(func.count()).select_from(Follow).where(Follow.followee_id == User.id)
            .correlate(User).scalar_subquery())


def search_users(db: Session, audience: Audience, query: str, *, offset: int = 0,
                 limit: int = 20) -> tuple[list[CreatorHit], bool]:
    """Accounts whose username or display name starts with the query, or whose names contain its words."""
    query = _CONTROL.sub(" ", query)
    terms = query_terms(query)
    if not terms:
        return [], False
    compact = "".join(ch for ch in query.strip().lower().lstrip("@") if not ch.isspace())
    name_prefix = _like_prefix(compact)
    display_prefix = _like_prefix(" ".join(query.strip().lower().split()))
    followers = _follower_count_column().label("followers")
    statement = (
        select(User, followers)
        .where(User.deleted_at.is_(None), not_blocked_with(audience.user_id, User.id),
               or_(User.username.like(name_prefix, escape="\\"),
                   func.lower(User.display_name).like(display_prefix, escape="\\"),
                   _user_text_match(db, terms)))
        .order_by((User.username == compact).desc(), User.username.like(name_prefix, escape="\\").desc(),
                  followers.desc(), User.id)
        .offset(offset).limit(limit + 1)
    )
    rows = list(db.execute(statement))
    more = len(rows) > limit
    rows = rows[:limit]
    followed: set[int] = set()
    if audience.user_id is not None and rows:
        followed = set(db.scalars(select(Follow.followee_id).where(
            Follow.follower_id == audience.user_id, Follow.followee_id.in_([u.id for u, _ in rows]))))
    hits = [CreatorHit(user=u, followers=count,
                       viewer_follows=(u.id in followed) if audience.user_id is not None else None)
            for u, count in rows]
    return hits, more


def normalise_hashtag(name: str) -> str:
    return _HASHTAG_CHARS.sub("", name.strip().lstrip("#").lower())


def _hashtag_video_count(audience: Audience):
    return (select(func.count()).select_from(VideoHashtag).join(Video, Video.id == VideoHashtag.video_id)
            .where(VideoHashtag.hashtag_id == Hashtag.id, video_visible(audience, discovery=True))
            .correlate(Hashtag).scalar_subquery())


def search_hashtags(db: Session, audience: Audience, region: str, query: str, *, offset: int = 0,
                    limit: int = 20) -> tuple[list[HashtagHit], bool]:
    """Hashtags starting with the query (``#`` optional), the most used first; unused ones are left out."""
    prefix = normalise_hashtag(query)
    if not prefix:
        return [], False
    count = _hashtag_video_count(audience).label("video_count")
    statement = (select(Hashtag.name, count)
                 .where(Hashtag.region == region, Hashtag.name.like(_like_prefix(prefix), escape="\\"), count > 0)
                 .order_by((Hashtag.name == prefix).desc(), count.desc(), Hashtag.name)
                 .offset(offset).limit(limit + 1))
    rows = list(db.execute(statement))
    return [HashtagHit(name=n, video_count=c) for n, c in rows[:limit]], len(rows) > limit


def search_videos(db: Session, audience: Audience, query: str, *, offset: int = 0,
                  limit: int = 20) -> tuple[list[Video], bool]:
    """Discoverable videos whose caption contains every word of the query (as prefixes), best match first."""
    terms = query_terms(query)
    if not terms:
        return [], False
    hits = _caption_hits(db, terms)
    statement = (select(Video).join(hits, hits.c.id == Video.id)
                 .where(video_visible(audience, discovery=True))
                 .order_by(hits.c.score.desc(), Video.id.desc()).offset(offset).limit(limit + 1))
    videos = list(db.scalars(statement))
    return videos[:limit], len(videos) > limit


def search(db: Session, services: Services, codec: CursorCodec, query: str, viewer: User | None, *,
           kind: SearchType = "all", cursor: str | None = None, limit: int = 20) -> SearchResults:
    """``all`` returns the top of every section without a cursor; a single type pages with ``next_cursor``."""
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput("query_too_long", f"search queries are limited to {MAX_QUERY_CHARS} characters", "q")
    audience = Audience.of(viewer, services.settings.adult_age)
    results = SearchResults(query=query, type=kind)
    query = _CONTROL.sub(" ", query)  # PostgreSQL refuses NUL in text; no control character means anything
    if kind == "all":
        results.users, _ = search_users(db, audience, query, limit=SECTION_LIMITS["users"])
        results.hashtags, _ = search_hashtags(db, audience, services.region, query, limit=SECTION_LIMITS["hashtags"])
        results.videos, _ = search_videos(db, audience, query, limit=limit)
        return results
    listing = f"search:{kind}:{hashlib.sha256(query.encode()).hexdigest()[:16]}"
    offset = offset_of(codec.decode(listing, cursor))
    if offset > MAX_OFFSET:
        raise InvalidInput("invalid_cursor", "search results stop after the first thousand", "cursor")
    if kind == "users":
        results.users, more = search_users(db, audience, query, offset=offset, limit=limit)
    elif kind == "hashtags":
        results.hashtags, more = search_hashtags(db, audience, services.region, query, offset=offset, limit=limit)
    else:
        results.videos, more = search_videos(db, audience, query, offset=offset, limit=limit)
    results.next_cursor = codec.encode(listing, [offset + limit]) if more else None
    return results


def _engagement():
    """Likes, comments, shares and saves of a video: what "most engaged" ranks by."""
    def count(table, *conditions):
        return (select(func.count()).select_from(table).where(table.video_id == Video.id, *conditions)
                .correlate(Video).scalar_subquery())
    return (count(Like) + count(Comment, Comment.deleted_at.is_(None)) + count(Share) + count(Save))


def _engaged_videos(db: Session, codec: CursorCodec, listing: str, audience: Audience, condition,
                    cursor: str | None, limit: int) -> Page[Video]:
    offset = offset_of(codec.decode(listing, cursor))
    engagement = _engagement().label("engagement")
    rows = list(db.execute(select(Video, engagement).where(condition, video_visible(audience, discovery=True))
                           .order_by(engagement.desc(), Video.id.desc()).offset(offset).limit(limit + 1)))
    more = len(rows) > limit
    return Page(items=[v for v, _ in rows[:limit]], next_cursor=codec.encode(listing, [offset + limit]) if more else None)


@dataclass(frozen=True)
class HashtagPage:
    hashtag: HashtagHit
    videos: Page[Video]


def hashtag_page(db: Session, services: Services, codec: CursorCodec, name: str, viewer: User | None, *,
                 cursor: str | None = None, limit: int = 20) -> HashtagPage:
    """A hashtag and its discoverable videos, most engaged first."""
    audience = Audience.of(viewer, services.settings.adult_age)
    normal = normalise_hashtag(name)
    tag = db.scalar(select(Hashtag).where(Hashtag.region == services.region, Hashtag.name == normal)) if normal else None
    if tag is None:
        raise NotFound("hashtag", name)
    tagged = Video.id.in_(select(VideoHashtag.video_id).where(VideoHashtag.hashtag_id == tag.id))
    total = db.scalar(select(func.count()).select_from(Video).where(
        tagged, video_visible(audience, discovery=True))) or 0
    videos = _engaged_videos(db, codec, f"hashtag:{tag.id}", audience, tagged, cursor, limit)
    return HashtagPage(hashtag=HashtagHit(name=tag.name, video_count=total), videos=videos)


@dataclass(frozen=True)
class SoundPage:
    sound: Sound
    creator: User | None
    video_count: int
    videos: Page[Video]


def sound_page(db: Session, services: Services, codec: CursorCodec, sound_id: int, viewer: User | None, *,
               cursor: str | None = None, limit: int = 20) -> SoundPage:
    """A sound and the discoverable videos that use it, most engaged first."""
    audience = Audience.of(viewer, services.settings.adult_age)
    sound = db.get(Sound, sound_id)
    if sound is None or sound.region != services.region:
        raise NotFound("sound", sound_id)
    creator = None
    if sound.creator_id is not None:
        creator = db.scalar(select(User).where(User.id == sound.creator_id, User.deleted_at.is_(None),
                                               not_blocked_with(audience.user_id, User.id)))
    using = and_(Video.sound_id == sound.id)
    total = db.scalar(select(func.count()).select_from(Video).where(
        using, video_visible(audience, discovery=True))) or 0
    videos = _engaged_videos(db, codec, f"sound:{sound.id}", audience, using, cursor, limit)
    return SoundPage(sound=sound, creator=creator, video_count=total, videos=videos)
