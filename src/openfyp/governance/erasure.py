"""Account deletion: personal data, videos (with their media files) and events go; the account id is
recorded in the erased-accounts register so every later training run can prove it left them out.

The account row stays as a scrubbed tombstone (no name, email, password or birth date), so its id is never
given to anyone else and old references (audit entries, report counts) cannot point at a new person.
Rows naming the account are found through the foreign keys to ``users``: nullable links are cut, other
rows are deleted, so tables added later are covered too. Other packages with data the keys do not reach
register an eraser with ``register_eraser``. An event log that keeps its own copy of the events beside the
table (the Redis stream) has their entries removed first, before the table's rows (``_erase_from_stream``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Table, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from openfyp.events.log import LogWithOwnCopy
from openfyp.governance.audit import AuditAction, AuditRecord, actor_fields, audit_log_of
from openfyp.governance.errors import EventLogNotSettled
from openfyp.governance.export import remove_exports_of
from openfyp.store.base import Base
from openfyp.store.id_floors import keep_floors
from openfyp.store.tables import (
    DataRequest,
    ErasedUser,
    EventRow,
    FeedRequest,
    Impression,
    NotInterested,
    Sound,
    User,
    Video,
)

log = logging.getLogger(__name__)

TOMBSTONE_BIRTH_DATE = date(1900, 1, 1)
# Account ids in these tables are kept on purpose: they hold no personal data and prove what happened.
KEPT_TABLES = frozenset({"users", "audit_log", "data_requests", "erased_users"})

# Events erased from a log's own store per round (the Redis stream).
ERASE_BATCH = 1000

Eraser = Callable[[Session, int], int]
_ERASERS: list[tuple[str, Eraser]] = []


def register_eraser(name: str, eraser: Eraser) -> None:
    """``eraser(db, user_id) -> rows removed`` runs inside the deletion's transaction."""
    if all(existing != name for existing, _ in _ERASERS):
        _ERASERS.append((name, eraser))


@dataclass
class ErasureReport:
    user_id: int
    videos_removed: int = 0
    events_removed: int = 0
    rows_removed: dict[str, int] = field(default_factory=dict)
    links_cut: dict[str, int] = field(default_factory=dict)
    media_keys: list[str] = field(default_factory=list)
    video_ids: list[int] = field(default_factory=list)


def tombstone_username(user_id: int) -> str:
    # "~" cannot appear in a chosen username, so a tombstone never collides with a real account.
    return f"~deleted~{user_id}"


def _user_foreign_keys() -> list[tuple[Table, str, bool]]:
    links = []
    for table in Base.metadata.sorted_tables:
        if table.name in KEPT_TABLES:
            continue
        for column in table.c:
            for foreign_key in column.foreign_keys:
                if foreign_key.column.table.name == "users":
                    links.append((table, column.name, bool(column.nullable)))
    return links


def erase_account(db: Session, services: Any, user: User, *, actor: Any = None,
                  reason: str = "requested by the account holder") -> ErasureReport:
    """Delete ``user``'s personal data inside ``db``'s transaction (the caller commits, then calls
    ``finish_erasure`` to remove the media files once nothing references them)."""
    uid = user.id
    actor_id, actor_role = actor_fields(actor if actor is not None else user)
    report = ErasureReport(uid)
    video_ids = list(db.scalars(select(Video.id).where(Video.creator_id == uid)))
    for video in db.scalars(select(Video).where(Video.creator_id == uid)):
        report.media_keys += [k for k in (video.upload_key, video.media_key, video.poster_key) if k]
    own_sounds = select(Sound).where(or_(Sound.creator_id == uid, Sound.origin_video_id.in_(video_ids)))
    sounds = list(db.scalars(own_sounds))
    report.media_keys += [s.audio_key for s in sounds if s.audio_key]
    if user.avatar_key:
        report.media_keys.append(user.avatar_key)

    # Events acknowledged but still on their way into the table would outlive the erasure otherwise.
    if not services.events.settle():
        raise EventLogNotSettled()
    about_them = [EventRow.user_id == uid, EventRow.target_user_id == uid]
    if video_ids:
        about_them.append(EventRow.video_id.in_(video_ids))
    if isinstance(services.events, LogWithOwnCopy):
        # A log that keeps events of its own beside the table (the Redis stream): its copies go first, so
        # nothing copies them back into the table after the delete below.
        report.rows_removed["event_stream"] = _erase_from_stream(db, services.events, about_them, uid, video_ids)
    keep_floors(db, user.region)  # the numbers of the events and impressions deleted next stay used
    report.events_removed = db.execute(delete(EventRow).where(or_(*about_them))).rowcount or 0
    impressions = [Impression.user_id == uid] + ([Impression.video_id.in_(video_ids)] if video_ids else [])
    report.rows_removed["impressions"] = db.execute(delete(Impression).where(or_(*impressions))).rowcount or 0
    request_ids = select(FeedRequest.id).where(FeedRequest.user_id == uid)
    db.execute(delete(Impression).where(Impression.request_id.in_(request_ids)))
    report.rows_removed["feed_requests"] = db.execute(delete(FeedRequest).where(FeedRequest.user_id == uid)).rowcount or 0
    report.rows_removed["not_interested_in_them"] = db.execute(delete(NotInterested).where(
        NotInterested.target_kind == "creator", NotInterested.target_id == uid)).rowcount or 0
    if sounds:
        sound_ids = [s.id for s in sounds]
        db.execute(update(Video).where(Video.sound_id.in_(sound_ids)).values(sound_id=None))
        report.rows_removed["sounds"] = db.execute(delete(Sound).where(Sound.id.in_(sound_ids))).rowcount or 0
    report.videos_removed = len(video_ids)
    report.video_ids = video_ids

    for table, column, nullable in _user_foreign_keys():
        condition = table.c[column] == uid
        if nullable:
            cut = db.execute(update(table).where(condition).values({column: None})).rowcount or 0
            if cut:
                report.links_cut[f"{table.name}.{column}"] = cut
        else:
            removed = db.execute(delete(table).where(condition)).rowcount or 0
            if removed:
                report.rows_removed[table.name] = report.rows_removed.get(table.name, 0) + removed
    for name, eraser in _ERASERS:
        report.rows_removed[name] = eraser(db, uid)
    remove_exports_of(db, services.settings, uid)

    now = datetime.now(UTC)
    user.username = tombstone_username(uid)
    user.email = None
    user.password_hash = "!"  # matches no password
    user.display_name = ""
    user.bio = ""
    user.avatar_key = None
    user.birth_date = TOMBSTONE_BIRTH_DATE
    user.role = "viewer"
    user.feed_reset_at = None
    user.deleted_at = now
    db.add(ErasedUser(region=user.region, user_id=uid, erased_at=now, events_removed=report.events_removed,
                      videos_removed=report.videos_removed))
    db.add(DataRequest(region=user.region, user_id=uid, kind="deletion", status="done",
                       requested_by=actor_id, completed_at=now))
    db.flush()
    audit_log_of(db).record(db, AuditRecord(
        action=AuditAction.account_deletion.value, actor_id=actor_id, actor_role=actor_role, target_kind="user",
        target_id=str(uid), justification=reason,
        details={"videos_removed": report.videos_removed, "events_removed": report.events_removed,
                 "rows_removed": report.rows_removed, "links_cut": report.links_cut,
                 "media_files": len(report.media_keys)}))
    return report


def _erase_from_stream(db: Session, stream: LogWithOwnCopy, about_them: list[Any], uid: int,
                       video_ids: list[int]) -> int:
    """Remove the events about ``uid`` from a log that holds its own copy (``RedisEventLog``); returns how many.

    Bounded by their number, not the stream's length: the entries already copied into the table are found
    through its indexes, and only the stream's tail past the copy (what arrived since the log settled) is read.
    The seqs are erased before the caller deletes the rows, which is what a copying sink relies on (see
    ``openfyp.realtime.redis_log``). Should the caller's transaction fail, the rows are still in the table and a
    repeated erasure finds them again.
    """
    # Read before the table: entries at or below it are committed there by now, later ones are read below.
    copied = stream.copied_position()
    their_videos = frozenset(video_ids)
    removed = 0
    held = db.execute(select(EventRow.seq, EventRow.event_id).where(or_(*about_them))
                      .execution_options(yield_per=ERASE_BATCH))
    for rows in held.partitions():
        removed += stream.erase_entries({int(seq): event_id for seq, event_id in rows})
    pending: dict[int, str] = {}
    for event in stream.entries_after(copied):
        if event.user_id == uid or event.target_user_id == uid or event.video_id in their_videos:
            pending[int(event.seq)] = event.event_id
    return removed + (stream.erase_entries(pending) if pending else 0)


def finish_erasure(services: Any, report: ErasureReport) -> None:
    """After the commit: delete the media files and tell the feed engine the videos are gone."""
    media = services.media
    for key in report.media_keys:
        if media is None:
            break
        try:
            media.delete(key)
        except Exception:
            log.warning("could not delete media %s of erased account %s", key, report.user_id, exc_info=True)
    video_changed = getattr(services.feed, "video_changed", None)
    if video_changed is not None:
        for video_id in report.video_ids:
            try:
                video_changed(video_id)
            except Exception:
                log.warning("the feed engine could not take note of erased video %s", video_id, exc_info=True)


def erased_count(db: Session, since: datetime | None = None, until: datetime | None = None) -> int:
    query = select(func.count()).select_from(ErasedUser)
    if since is not None:
        query = query.where(and_(ErasedUser.erased_at >= since))
    if until is not None:
        query = query.where(ErasedUser.erased_at < until)
    return db.scalar(query) or 0
