"""Creator analytics from the event log and the state tables, computed with grouped SQL on either database.

Definitions (the numbers a creator sees):

- **views**: ``play`` events; **unique viewers**: distinct signed-in accounts among them.
- a **viewing** is one viewer's watching events (play, watch, complete, replay, skip) on one video within
  one feed request (or, outside feeds, all of a viewer's such events without a request). Its watch time
  is the furthest ``watch_seconds`` reported; it is **complete** when a ``complete`` event arrived or the
  watch ratio reached 1.
- **average watch time** and **completion rate** are over viewings.
- likes, saves, comments and shares are current state (an unlike takes a like away); the daily series
  counts the events of each day (UTC).
- **traffic sources**: the share of views by the surface the video was played on.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, CompoundSelect, Select, case, func, literal, select, union_all
from sqlalchemy.orm import Session

from openfyp.events.schema import EventKind
from openfyp.governance.residency import session_region
from openfyp.platform.access import region_scoped, scoped_rows
from openfyp.store.base import utcnow
from openfyp.store.id_list import id_list, in_id_list
from openfyp.store.tables import Comment, EventRow, Follow, Like, Save, Share, User, Video, VideoViewCount

PERIOD_DAYS = 30
# The numbers are read from the events table, which an acknowledged event may not have reached yet (the staged
# log moves it there within milliseconds at rest, within one move under load; the Redis sink within one poll).
# Analytics wait at most this long for that, so a like a creator just got shows; when the log is stuck they
# answer with what the table holds rather than fail.
SETTLE_SECONDS = 1.0
TOP_VIDEOS = 50
WATCHING_KINDS = (EventKind.play.value, EventKind.watch.value, EventKind.complete.value, EventKind.replay.value,
                  EventKind.skip.value)
DAILY_KINDS = {EventKind.play.value: "views", EventKind.like.value: "likes", EventKind.comment.value: "comments",
               EventKind.share.value: "shares", EventKind.save.value: "saves"}
ENGAGEMENT = ("likes", "comments", "shares", "saves")

VideoSelector = Sequence[int] | Select


def _grouped(db: Session, column, videos: VideoSelector, *conditions) -> dict[int, int]:
    rows = db.execute(select(column, func.count()).where(column.in_(videos), *conditions).group_by(column))
    return {video_id: count for video_id, count in rows}


def _counted(name: str, column, video_ids, *conditions) -> Select:
    return (select(literal(name), column, func.count()).where(in_id_list(column, video_ids), *conditions)
            .group_by(column))


def _count_conditions() -> dict[str, tuple]:
    """Each public counter but views: the column that names the video and what a row must satisfy to count.
    Views (plays) are read from ``video_view_counts``, which the database keeps as plays come and go."""
    return {
        "likes": (Like.video_id,),
        "comments": (Comment.video_id, Comment.deleted_at.is_(None), Comment.moderation_state != "removed"),
        "shares": (Share.video_id,),
        "saves": (Save.video_id,),
    }


COUNTER_NAMES = ("views", *_count_conditions())


@functools.cache
def _page_counts_statement(region: str | None) -> CompoundSelect:
    """The five counters of a list of videos in one statement, built once (per region scope) with the ids as a
    parameter: a page of videos pays one round trip and no statement building (which cost more CPU than the
    counting)."""
    ids = id_list("video_ids")
    views = select(literal("views"), VideoViewCount.video_id, VideoViewCount.views).where(
        in_id_list(VideoViewCount.video_id, ids))
    statement = union_all(views, *(_counted(name, column, ids, *conditions)
                                   for name, (column, *conditions) in _count_conditions().items()))
    return region_scoped(statement, region) if region is not None else statement


def engagement_counts(db: Session, video_ids: Sequence[int] | Select) -> dict[int, dict[str, int]]:
    """Per video: views, likes, comments, shares and saves, whatever the count of videos."""
    names = COUNTER_NAMES
    if isinstance(video_ids, Select):
        counts = {name: _grouped(db, column, video_ids, *conditions)
                  for name, (column, *conditions) in _count_conditions().items()}
        counts["views"] = {video_id: views for video_id, views in db.execute(select(
            VideoViewCount.video_id, VideoViewCount.views).where(VideoViewCount.video_id.in_(video_ids),
                                                                  VideoViewCount.views > 0))}
        ids = set().union(*(c.keys() for c in counts.values()))
        return {vid: {name: counts[name].get(vid, 0) for name in names} for vid in ids}
    out = {vid: dict.fromkeys(names, 0) for vid in video_ids}
    if out:
        if db.autoflush:
            db.flush()  # as the session's own execution would: a like just added counts
        statement = _page_counts_statement(session_region(db))
        for name, video_id, count in scoped_rows(db, statement, {"video_ids": list(out)}):
            out[video_id][name] = count
    return out


def _utc_day(db: Session, column) -> ColumnElement:
    if db.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)  # SQLite keeps UTC timestamps as ISO text


def _as_day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _period_start(now: datetime, days: int) -> tuple[date, datetime]:
    first = now.astimezone(UTC).date() - timedelta(days=days - 1)
    return first, datetime.combine(first, time.min, tzinfo=UTC)


def _watch_summary(db: Session, scope: ColumnElement) -> dict[str, Any]:
    finished = case((EventRow.kind == EventKind.complete.value, 1), (EventRow.watch_ratio >= 1.0, 1), else_=0)
    viewings = (
        select(func.max(func.coalesce(EventRow.watch_seconds, 0.0)).label("seconds"),
               func.max(finished).label("finished"))
        .where(scope, EventRow.kind.in_(WATCHING_KINDS))
        .group_by(EventRow.video_id, EventRow.user_id, EventRow.request_id)
        .subquery()
    )
    count, average, completed = db.execute(
        select(func.count(), func.avg(viewings.c.seconds), func.coalesce(func.sum(viewings.c.finished), 0))
    ).one()
    return {
        "viewings": count,
        "avg_watch_seconds": round(float(average), 2) if average is not None else 0.0,
        "completion_rate": round(completed / count, 4) if count else 0.0,
    }


def _views_and_viewers(db: Session, scope: ColumnElement) -> tuple[int, int]:
    views, viewers = db.execute(
        select(func.count(), func.count(EventRow.user_id.distinct()))
        .where(scope, EventRow.kind == EventKind.play.value)
    ).one()
    return views, viewers


def _traffic_sources(db: Session, scope: ColumnElement) -> list[dict[str, Any]]:
    source = func.coalesce(EventRow.source, literal("other"))
    rows = db.execute(select(source, func.count()).where(scope, EventRow.kind == EventKind.play.value)
                      .group_by(source)).all()
    total = sum(count for _, count in rows)
    return sorted(({"source": name, "views": count, "share": round(count / total, 4)} for name, count in rows),
                  key=lambda row: (-row["views"], row["source"]))


def _daily(db: Session, scope: ColumnElement, now: datetime, days: int,
           extra: dict[str, ColumnElement] | None = None) -> list[dict[str, Any]]:
    """One row per UTC day of the period, oldest first, zeros included."""
    first, since = _period_start(now, days)
    day = _utc_day(db, EventRow.server_ts)
    names = list(DAILY_KINDS.values()) + list(extra or {})
    per_day: dict[date, dict[str, int]] = defaultdict(lambda: dict.fromkeys(names, 0))
    rows = db.execute(select(day, EventRow.kind, func.count())
                      .where(scope, EventRow.kind.in_(list(DAILY_KINDS)), EventRow.server_ts >= since)
                      .group_by(day, EventRow.kind))
    for value, kind, count in rows:
        per_day[_as_day(value)][DAILY_KINDS[kind]] += count
    for name, condition in (extra or {}).items():
        for value, count in db.execute(select(day, func.count()).where(condition, EventRow.server_ts >= since)
                                       .group_by(day)):
            per_day[_as_day(value)][name] += count
    return [{"date": (first + timedelta(days=i)).isoformat(), **per_day[first + timedelta(days=i)]}
            for i in range(days)]


def _settle(event_log: Any) -> None:
    """Wait (briefly) until every event acknowledged so far is in the events table."""
    if event_log is not None:
        event_log.settle(timeout=SETTLE_SECONDS)


def video_analytics(db: Session, video: Video, *, event_log: Any = None, now: datetime | None = None,
                    days: int = PERIOD_DAYS) -> dict:
    """``event_log``: the deployment's, so the numbers include every event acknowledged before the call."""
    _settle(event_log)
    now = now or utcnow()
    scope = (EventRow.video_id == video.id) & (EventRow.region == video.region)
    views, viewers = _views_and_viewers(db, scope)
    engagement = engagement_counts(db, [video.id])[video.id]
    return {
        "video_id": video.id,
        "status": video.status,
        "period_days": days,
        "views": views,
        "unique_viewers": viewers,
        **_watch_summary(db, scope),
        **{name: engagement[name] for name in ENGAGEMENT},
        "traffic_sources": _traffic_sources(db, scope),
        "daily": _daily(db, scope, now, days),
    }


def traffic_pool(services: Any, video_id: int) -> dict[str, Any] | None:
    """The traffic pool a new video is in (its creator's view): pool name and size, views used, status
    (active, settled, graduated), its completion and like rates against the pool's typical video.
    ``None`` when traffic pools are off or the video never entered one."""
    from openfyp.realtime.wiring import pool_status

    return pool_status(services, video_id)


def creator_analytics(db: Session, creator: User, *, event_log: Any = None, now: datetime | None = None,
                      days: int = PERIOD_DAYS) -> dict:
    """The same numbers over all of a creator's videos, plus followers and the best videos by views."""
    _settle(event_log)
    now = now or utcnow()
    owned = select(Video.id).where(Video.creator_id == creator.id, Video.region == creator.region)
    scope = EventRow.video_id.in_(owned) & (EventRow.region == creator.region)
    views, viewers = _views_and_viewers(db, scope)
    per_video = engagement_counts(db, owned)
    totals = {name: sum(counts[name] for counts in per_video.values()) for name in ENGAGEMENT}
    follows = (EventRow.target_user_id == creator.id) & (EventRow.kind == EventKind.follow.value)
    videos = list(db.scalars(select(Video).where(Video.id.in_(owned))))
    ranked = sorted(videos, key=lambda v: (-per_video.get(v.id, {}).get("views", 0), -v.id))[:TOP_VIDEOS]
    return {
        "user_id": creator.id,
        "period_days": days,
        "videos_count": len(videos),
        "followers": db.scalar(select(func.count()).select_from(Follow).where(Follow.followee_id == creator.id)),
        "views": views,
        "unique_viewers": viewers,
        **_watch_summary(db, scope),
        **totals,
        "traffic_sources": _traffic_sources(db, scope),
        "daily": _daily(db, scope, now, days, extra={"follows": follows}),
        "top_videos": [{"id": v.id, "caption": v.caption, "status": v.status,
                        "created_at": v.created_at.isoformat() if v.created_at else None,
                        **per_video.get(v.id, {"views": 0, **dict.fromkeys(ENGAGEMENT, 0)})} for v in ranked],
    }
