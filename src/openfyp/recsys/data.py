"""Reading what the engine learns and serves from: videos, events, the social graph and logged impressions.

Everything is read for one region only, with explicit region conditions, so each function takes either
an ORM ``Session`` or a plain Core ``Connection`` (the serving path uses connections: no ORM overhead on a
request). Bulk reads return numpy columns (``EventColumns``) so that a log of millions of events loads in
seconds.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import (
    Connection,
    Integer,
    String,
    and_,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from openfyp.events.schema import Event
from openfyp.recsys.state import Catalog, EventRecord, VideoRecord, ViewerRelations
from openfyp.store.tables import (
    Block,
    EventRow,
    FeedRequest,
    Follow,
    Hashtag,
    Impression,
    NotInterested,
    Sound,
    User,
    Video,
    VideoHashtag,
)


def epoch(value: datetime | None) -> float:
    if value is None:
        return 0.0
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def record_from_event(event: Event) -> EventRecord:
    kind = getattr(event.kind, "value", event.kind)
    return EventRecord(int(event.seq or 0), event.user_id, event.video_id, event.target_user_id, str(kind),
                       event.watch_ratio, epoch(event.server_ts))


# ---- videos --------------------------------------------------------------------------------------------------


def _eligible_condition():
    return and_(Video.status == "ready", Video.visibility == "public", Video.moderation_state == "ok",
                Video.deleted_at.is_(None))


def load_video_records(session: Session | Connection, region: str, *, video_ids: Sequence[int] | None = None,
                       ready_after: datetime | None = None, created_after: datetime | None = None,
                       eligible_only: bool = True) -> list[VideoRecord]:
    """Videos of ``region`` as catalog records, oldest first (hashtags attached).

    A full load reads every video of the region, a million of them for a large deployment, every few minutes:
    eligibility is worked out by the database and, on SQLite, upload times are read as stored and converted
    all at once (rather than a datetime object per video and column)."""
    sqlite = (session.get_bind() if isinstance(session, Session) else session).dialect.name == "sqlite"
    eligible = and_(_eligible_condition(), User.deleted_at.is_(None))
    query = (select(Video.id, Video.creator_id, type_coerce(Video.created_at, String) if sqlite else Video.created_at,
                    Video.sound_id, Video.duration_s, Video.adult_only, eligible if not eligible_only else true())
             .join(User, User.id == Video.creator_id)
             .where(Video.region == region))
    if eligible_only:
        query = query.where(eligible)
    if video_ids is not None:
        query = query.where(Video.id.in_(list(video_ids)))
    if created_after is not None:
        query = query.where(Video.created_at >= created_after)
    if ready_after is not None:
        query = query.where(Video.ready_at > ready_after)
    rows = session.execute(query.order_by(Video.created_at, Video.id)).all()
    if not rows:
        return []
    ids, creators, created, sounds, durations, adults, eligibles = zip(*rows, strict=True)
    created_ts = _stored_times_as_epoch(created) if sqlite else [epoch(value) for value in created]
    tags = _hashtags_of(session, list(ids), region)
    no_tags: list[int] = []
    return [VideoRecord(*fields, tuple(tags.get(fields[0], no_tags)), bool(ok)) for fields, ok in zip(
        zip(ids, creators, created_ts, sounds, durations, map(bool, adults), strict=True), eligibles, strict=True)]


def _stored_times_as_epoch(stored: Sequence[str | None]) -> list[float]:
    """SQLite's stored UTC times (``YYYY-MM-DD HH:MM:SS[.ffffff]``) as epoch seconds, all at once; the same
    floats as :func:`epoch` of each parsed value (microseconds, then one division)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. a zone suffix written by hand: parse those one by one
            micros = np.array([value or "1970-01-01" for value in stored], dtype="datetime64[us]").astype(np.int64)
        return (micros / 1e6).tolist()
    except (ValueError, Warning):
        return [epoch(datetime.fromisoformat(value)) if value else 0.0 for value in stored]


# From this many videos on, their hashtags are read in one pass over the region's instead of by id.
WHOLE_REGION_HASHTAGS_FROM = 20_000


def _hashtags_of(session: Session | Connection, video_ids: list[int], region: str) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    if len(video_ids) >= WHOLE_REGION_HASHTAGS_FROM:  # a full load: one ordered scan, not hundreds of IN lists
        rows = session.execute(select(VideoHashtag.video_id, VideoHashtag.hashtag_id)
                               .join(Video, Video.id == VideoHashtag.video_id).where(Video.region == region)
                               .order_by(VideoHashtag.video_id, VideoHashtag.hashtag_id))
        for vid, tag in rows:
            out.setdefault(vid, []).append(tag)
        return out
    for start in range(0, len(video_ids), 5000):
        chunk = video_ids[start:start + 5000]
        if not chunk:
            continue
        for vid, tag in session.execute(select(VideoHashtag.video_id, VideoHashtag.hashtag_id)
                                        .where(VideoHashtag.video_id.in_(chunk))
                                        .order_by(VideoHashtag.video_id, VideoHashtag.hashtag_id)):
            out.setdefault(int(vid), []).append(int(tag))
    return out


def load_names(session: Session | Connection, catalog: Catalog, records: Iterable[VideoRecord]) -> None:
    """Usernames, hashtag names and sound titles the reasons mention, for the given records."""
    records = list(records)
    creators = {r.creator_id for r in records} - catalog.creator_names.keys()
    tags = {t for r in records for t in r.hashtag_ids} - catalog.hashtag_names.keys()
    sounds = {r.sound_id for r in records if r.sound_id is not None} - catalog.sound_titles.keys()
    for chunk in _chunks(sorted(creators)):
        catalog.creator_names.update(session.execute(select(User.id, User.username).where(User.id.in_(chunk))).all())
    for chunk in _chunks(sorted(tags)):
        catalog.hashtag_names.update(session.execute(select(Hashtag.id, Hashtag.name)
                                                     .where(Hashtag.id.in_(chunk))).all())
    for chunk in _chunks(sorted(sounds)):
        catalog.sound_titles.update(session.execute(select(Sound.id, Sound.title).where(Sound.id.in_(chunk))).all())


def _chunks(values: list, size: int = 5000) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


_FOLLOWING, _BLOCK, _DISMISSED = "following", "block", "dismissed"
_NO_ID, _NO_KIND = cast(null(), Integer), cast(null(), String)


def _tag(name: str):
    # A constant in the SQL rather than a bound parameter: nothing to bind on each execution.
    return literal_column(f"'{name}'", String)


def _prepared_statements() -> dict[str, Any]:
    """Statements of the per-request reads, built once: bind parameters keep SQLAlchemy's compile cache hot."""
    user = bindparam("user_id")
    latest_events = (select(*_EVENT_FIELDS).where(EventRow.user_id == user, EventRow.region == bindparam("region"))
                     .order_by(EventRow.seq.desc()).limit(bindparam("limit")))
    return {
        "viewer_events": latest_events,
        "viewer_events_since": latest_events.where(EventRow.server_ts >= bindparam("since")),
        # The viewer's follows, blocks either way and "not interested" marks in one round trip, as rows of
        # (what, id, other id, kind).
        "relations": union_all(
            select(_tag(_FOLLOWING), Follow.followee_id, _NO_ID, _NO_KIND).where(Follow.follower_id == user),
            select(_tag(_BLOCK), Block.blocker_id, Block.blocked_id, _NO_KIND)
            .where(or_(Block.blocker_id == user, Block.blocked_id == user)),
            select(_tag(_DISMISSED), NotInterested.target_id, _NO_ID, NotInterested.target_kind)
            .where(NotInterested.user_id == user)),
    }


# ---- the viewer -------------------------------------------------------------------------------------------


def load_relations(session: Session | Connection, user_id: int) -> ViewerRelations:
    following: set[int] = set()
    blocked: set[int] = set()
    by_kind: dict[str, set[int]] = {"video": set(), "creator": set(), "sound": set()}
    for what, first, second, kind in session.execute(_STATEMENTS["relations"], {"user_id": user_id}):
        if what == _FOLLOWING:
            following.add(int(first))
        elif what == _BLOCK:
            blocked.add(int(second) if first == user_id else int(first))
        else:
            by_kind.setdefault(kind, set()).add(int(first))
    return ViewerRelations(following=frozenset(following), blocked_creators=frozenset(blocked),
                           not_interested_videos=frozenset(by_kind["video"]),
                           not_interested_creators=frozenset(by_kind["creator"]),
                           not_interested_sounds=frozenset(by_kind["sound"]))


def epoch_column(column, dialect: str):
    """Seconds since the epoch computed by the database: a float per row instead of a parsed datetime."""
    from sqlalchemy import Float, cast, literal_column

    if dialect == "postgresql":
        return func.extract("epoch", column)
    if dialect == "sqlite":
        return (func.julianday(column) - literal_column("2440587.5")) * literal_column("86400.0")
    return cast(column, Float)


def _dialect(session: Session | Connection) -> str:
    bind = session.get_bind() if isinstance(session, Session) else session
    return bind.dialect.name


_EVENT_FIELDS = (EventRow.seq, EventRow.user_id, EventRow.video_id, EventRow.target_user_id, EventRow.kind,
                 EventRow.watch_ratio, EventRow.server_ts)


def load_viewer_events(session: Session | Connection, region: str, user_id: int, since: datetime | None,
                       limit: int = 5000) -> list[EventRecord]:
    """The viewer's latest ``limit`` events (since ``since``), oldest first."""
    parameters = {"user_id": user_id, "region": region, "limit": limit}
    if since is None:
        rows = session.execute(_STATEMENTS["viewer_events"], parameters).all()
    else:
        rows = session.execute(_STATEMENTS["viewer_events_since"], {**parameters, "since": since}).all()
    return [EventRecord(int(s), u, v, t, str(k), r, epoch(ts)) for s, u, v, t, k, r, ts in reversed(rows)]


_STATEMENTS = _prepared_statements()


# ---- the event log in bulk ------------------------------------------------------------------------------


@dataclass
class EventColumns:
    """Events as aligned numpy columns, in log order. Missing ids are -1 and missing ratios NaN."""

    seq: np.ndarray
    user_id: np.ndarray
    video_id: np.ndarray
    target_user_id: np.ndarray
    kind: np.ndarray  # str objects
    watch_ratio: np.ndarray
    ts: np.ndarray
    request_id: np.ndarray  # str objects or None

    def __len__(self) -> int:
        return len(self.seq)

    @classmethod
    def empty(cls) -> EventColumns:
        i = np.zeros(0, dtype=np.int64)
        return cls(i, i, i, i, np.zeros(0, dtype=object), np.zeros(0), np.zeros(0), np.zeros(0, dtype=object))

    @classmethod
    def from_rows(cls, rows: Sequence[tuple]) -> EventColumns:
        """From ``(seq, user_id, video_id, target_user_id, kind, watch_ratio, ts, request_id)`` tuples."""
        if not rows:
            return cls.empty()
        seq, user, video, target, kind, ratio, ts, request = zip(*rows)

        def numbers(values, missing: float, dtype) -> np.ndarray:
            # None becomes NaN in a float array; only then the missing value is put in.
            array = np.array(values, dtype=np.float64)
            return np.where(np.isnan(array), missing, array).astype(dtype)

        times = ts if not any(isinstance(t, datetime) for t in ts[:1]) else [epoch(t) for t in ts]
        return cls(np.array(seq, dtype=np.int64), numbers(user, -1, np.int64), numbers(video, -1, np.int64),
                   numbers(target, -1, np.int64), np.array(kind, dtype=object), numbers(ratio, np.nan, np.float64),
                   np.array(times, dtype=np.float64), np.array(request, dtype=object))

    def take(self, mask: np.ndarray) -> EventColumns:
        return EventColumns(self.seq[mask], self.user_id[mask], self.video_id[mask], self.target_user_id[mask],
                            self.kind[mask], self.watch_ratio[mask], self.ts[mask], self.request_id[mask])

    def records(self) -> list[EventRecord]:
        return [EventRecord(int(s), None if u < 0 else int(u), None if v < 0 else int(v),
                            None if t < 0 else int(t), str(k), None if np.isnan(r) else float(r), float(ts))
                for s, u, v, t, k, r, ts in zip(self.seq, self.user_id, self.video_id, self.target_user_id,
                                                  self.kind, self.watch_ratio, self.ts)]

    def as_signal_rows(self) -> list[dict]:
        """Rows in the shape :func:`openfyp.recsys.signals.tally_events` reads."""
        keep = self.video_id >= 0
        return [{"user_id": int(u), "video_id": int(v), "kind": str(k),
                 "watch_ratio": None if np.isnan(r) else float(r), "server_ts": float(ts)}
                for u, v, k, r, ts in zip(self.user_id[keep], self.video_id[keep], self.kind[keep],
                                          self.watch_ratio[keep], self.ts[keep]) if u >= 0]


class ForeignRegionData(ValueError):
    code = "foreign_region"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = "region"


def read_event_columns(session: Session | Connection, region: str, *, after_seq: int = 0, until_seq: int | None = None,
                       since: datetime | None = None, batch: int = 200_000) -> tuple[EventColumns, int]:
    """This region's events in log order, and how many rows of other regions were refused in that range."""
    conditions = [EventRow.seq > after_seq]
    if until_seq is not None:
        conditions.append(EventRow.seq <= until_seq)
    if since is not None:
        conditions.append(EventRow.server_ts >= since)
    # Core on the connection: the session's region guard would hide the very rows being counted.
    connection = session.connection() if isinstance(session, Session) else session
    foreign = connection.execute(select(func.count()).select_from(EventRow)
                                 .where(*conditions, EventRow.region != region)).scalar() or 0
    fields = (EventRow.seq, EventRow.user_id, EventRow.video_id, EventRow.target_user_id, EventRow.kind,
              EventRow.watch_ratio, epoch_column(EventRow.server_ts, _dialect(connection)), EventRow.request_id)
    rows: list[tuple] = []
    cursor = after_seq
    while True:
        query = (select(*fields).where(EventRow.seq > cursor, *conditions[1:], EventRow.region == region)
                 .order_by(EventRow.seq).limit(batch))
        chunk = connection.execute(query).all()
        if not chunk:
            break
        rows.extend(chunk)
        cursor = int(chunk[-1][0])
        if len(chunk) < batch:
            break
    return EventColumns.from_rows(rows), int(foreign)


def log_head(session: Session | Connection, region: str) -> int:
    return int(session.execute(select(func.coalesce(func.max(EventRow.seq), 0))
                               .where(EventRow.region == region)).scalar() or 0)


# ---- logged impressions ---------------------------------------------------------------------------------


@dataclass
class LoggedImpressions:
    """Impressions the For You feed served, with the ranker features logged when they were ranked."""

    user_id: np.ndarray
    video_id: np.ndarray
    ts: np.ndarray
    request_id: np.ndarray
    features: np.ndarray  # (n, n_features) float32, NaN where a feature was not logged
    feature_names: list[str]

    def __len__(self) -> int:
        return len(self.user_id)


def read_logged_impressions(session: Session | Connection, region: str, feature_names: Sequence[str],
                            since: datetime | None = None) -> LoggedImpressions:
    """``impressions`` joined with their request's logged features (aligned to ``feature_names`` by name)."""
    import orjson

    connection = session.connection() if isinstance(session, Session) else session
    query = (select(Impression.request_id, Impression.user_id, Impression.video_id,
                    epoch_column(Impression.created_at, _dialect(connection)))
             .where(Impression.region == region, Impression.user_id.is_not(None)))
    if since is not None:
        query = query.where(Impression.created_at >= since)
    impressions = connection.execute(query.order_by(Impression.id)).all()
    n_features = len(feature_names)
    position = {name: i for i, name in enumerate(feature_names)}
    features = np.full((len(impressions), n_features), np.nan, dtype=np.float32)
    request_ids = sorted({r[0] for r in impressions})
    logged: dict[str, dict[int, list[float]]] = {}
    for chunk in _chunks(request_ids, 500):
        for request_id, inputs in connection.execute(select(FeedRequest.id, FeedRequest.inputs)
                                                     .where(FeedRequest.id.in_(chunk))):
            if isinstance(inputs, (str, bytes)):
                inputs = orjson.loads(inputs)
            logged[request_id] = _features_by_video(inputs or {}, position, n_features)
    for i, (request_id, _user, video, _ts) in enumerate(impressions):
        row = logged.get(request_id, {}).get(int(video))
        if row is not None:
            features[i] = row
    return LoggedImpressions(
        user_id=np.array([r[1] for r in impressions], dtype=np.int64),
        video_id=np.array([r[2] for r in impressions], dtype=np.int64),
        ts=np.array([r[3] for r in impressions], dtype=np.float64),
        request_id=np.array([r[0] for r in impressions], dtype=object),
        features=features, feature_names=list(feature_names))


def _features_by_video(inputs: dict, position: dict[str, int], n_features: int) -> dict[int, np.ndarray]:
    candidates = inputs.get("candidates") or {}
    names = inputs.get("feature_names") or []
    ids = candidates.get("video_ids") or []
    matrix = candidates.get("features") or []
    if not ids or not matrix or not names:
        return {}
    columns = [(j, position[name]) for j, name in enumerate(names) if name in position]
    logged = np.asarray(matrix, dtype=np.float32).reshape(len(ids), len(names))
    aligned = np.full((len(ids), n_features), np.nan, dtype=np.float32)
    if columns:
        aligned[:, [t for _, t in columns]] = logged[:, [j for j, _ in columns]]
    return dict(zip((int(v) for v in ids), aligned))
