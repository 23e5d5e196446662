"""The one path by which every interaction is recorded.

``record_interactions`` serves the client's event batches (``POST /api/events``) and every REST action
(like, save, follow, comment, share, not interested) alike:

1. validate the whole batch against the database — any invalid event refuses all of it, nothing stored;
2. drop events already in the log (a retried batch) and stateful events that change nothing (liking a
   liked video), so state and log stay in step;
3. append the rest to ``services.events``, which returns only once they are durable;
4. apply the state they imply (likes, saves, follows, not-interested) and commit.

The log is appended before state is written because the log is the source of truth: state can always be
re-derived from it, never the other way round. Anything behind the ``EventLog`` protocol (a group-commit
writer, a Redis stream) can replace the SQL log without changing a caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from openfyp.events.ids import new_event_id
from openfyp.events.schema import VIDEO_KINDS, Event, EventIn, EventKind
from openfyp.platform.access import Audience, block_between, video_visible
from openfyp.platform.errors import InvalidInput
from openfyp.store.tables import Follow, Like, NotInterested, Save, Sound, User, Video

if TYPE_CHECKING:
    from openfyp.events.log import EventLog
    from openfyp.services import Services

# These carry state created by their own REST endpoints (a comment's text, a share's channel, a report's
# reason); an event alone would claim an action that never happened.
REST_ONLY_KINDS = frozenset({EventKind.comment, EventKind.share, EventKind.report})
CLIENT_KINDS = frozenset(EventKind) - REST_ONLY_KINDS

# kind -> (state family, whether the event turns the state on)
STATE_CHANGES: dict[EventKind, tuple[str, bool]] = {
    EventKind.like: ("like", True),
    EventKind.unlike: ("like", False),
    EventKind.save: ("save", True),
    EventKind.unsave: ("save", False),
    EventKind.follow: ("follow", True),
    EventKind.unfollow: ("follow", False),
    EventKind.not_interested: ("not_interested", True),
}
NOT_INTERESTED_TARGETS = ("video", "creator", "sound")
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class Origin:
    """Where in the product an action happened, so it joins back to the feed impression that caused it."""

    source: str | None = None
    request_id: str | None = None
    position: int | None = None


@dataclass(frozen=True)
class Recorded:
    accepted: int
    # Retried events plus stateful ones that changed nothing (a second like of the same video).
    duplicates: int
    appended: list[Event]
    # The appended events that changed state (a like that created a like).
    changed: list[Event]


def server_event(kind: EventKind, *, actor_id: int, region: str, video_id: int | None = None,
                 target_user_id: int | None = None, origin: Origin | None = None,
                 extra: dict | None = None) -> Event:
    """An event the server records on the actor's behalf, e.g. a like arriving through ``POST /like``."""
    origin = origin or Origin()
    now = datetime.now(UTC)
    return Event(event_id=new_event_id(), region=region, user_id=actor_id, video_id=video_id,
                 target_user_id=target_user_id, kind=kind, source=origin.source, request_id=origin.request_id,
                 position=origin.position, client_ts=now, server_ts=now, extra=extra)


def client_events(batch: Sequence[EventIn], *, actor_id: int, region: str) -> list[Event]:
    now = datetime.now(UTC)
    return [Event.from_client(e, user_id=actor_id, region=region, server_ts=now) for e in batch]


def record_interactions(db: Session, services: Services, actor: User, events: Sequence[Event], *,
                        allowed_kinds: frozenset[EventKind] = frozenset(EventKind)) -> Recorded:
    """Validate, log durably and apply ``events`` performed by ``actor``; all or nothing on invalid input.

    ``db`` must hold no uncommitted writes: on SQLite the log appends through its own connection and
    there is a single writer at a time. Raises ``InvalidInput`` whose ``field`` names the first bad
    event, e.g. ``events[3].video_id``.
    """
    _require_no_pending_writes(db)
    _validate(db, Audience.of(actor, services.settings.adult_age), actor, events, allowed_kinds)
    fresh = _not_yet_logged(services.events, events)
    to_append, final_state, changed = _plan(db, actor, fresh)
    result = services.events.append(to_append)
    apply_state(db, actor.id, final_state, services.region)
    db.commit()
    return Recorded(accepted=result.accepted, duplicates=len(events) - result.accepted, appended=to_append,
                    changed=changed)


def _require_no_pending_writes(db: Session) -> None:
    if db.new or db.dirty or db.deleted:
        raise RuntimeError("commit the session before recording interactions")
    if db.get_bind().dialect.name == "sqlite":
        raw = db.connection().connection.driver_connection
        if raw is not None and raw.in_transaction:
            raise RuntimeError("commit the session before recording interactions (SQLite has one writer)")


def _invalid(index: int, name: str, code: str, message: str) -> InvalidInput:
    field = f"events[{index}].{name}"
    return InvalidInput(code, f"{field}: {message}", field)


def _not_interested_target(event: Event) -> tuple[str, int | None]:
    kind = (event.extra or {}).get("target_kind", "video")
    if kind == "creator":
        return kind, event.target_user_id
    if kind == "sound":
        return kind, (event.extra or {}).get("sound_id")
    return kind, event.video_id


def _validate(db: Session, audience: Audience, actor: User, events: Sequence[Event],
              allowed_kinds: frozenset[EventKind]) -> None:
    # Ids beyond the 32-bit key range cannot exist; PostgreSQL would reject them in a query.
    video_ids = {e.video_id for e in events if e.video_id is not None and e.video_id <= MAX_ID}
    visible = set(db.scalars(select(Video.id).where(Video.id.in_(video_ids), video_visible(audience)))) \
        if video_ids else set()
    user_ids = {e.target_user_id for e in events if e.target_user_id is not None and e.target_user_id <= MAX_ID}
    reachable = set(db.scalars(select(User.id).where(
        User.id.in_(user_ids), User.deleted_at.is_(None), ~block_between(actor.id, User.id)))) if user_ids else set()
    followed = set(db.scalars(select(Follow.followee_id).where(
        Follow.follower_id == actor.id, Follow.followee_id.in_(user_ids)))) if user_ids else set()

    for index, event in enumerate(events):
        if event.user_id != actor.id:
            raise _invalid(index, "user_id", "wrong_actor", "events are recorded for the signed-in user only")
        if event.kind not in allowed_kinds:
            raise _invalid(index, "kind", "kind_not_accepted",
                           f"{event.kind.value} is recorded by its own endpoint, not in an event batch")
        if event.kind in VIDEO_KINDS and event.video_id is None and event.kind is not EventKind.not_interested:
            raise _invalid(index, "video_id", "video_required", f"a {event.kind.value} event needs video_id")
        if event.video_id is not None and event.video_id not in visible:
            raise _invalid(index, "video_id", "video_not_found", f"no such video: {event.video_id}")
        if event.kind in (EventKind.follow, EventKind.unfollow) and event.target_user_id is None:
            raise _invalid(index, "target_user_id", "target_required", f"a {event.kind.value} event needs "
                           "target_user_id")
        if event.target_user_id is not None:
            if event.target_user_id == actor.id and event.kind in (EventKind.follow, EventKind.unfollow):
                raise _invalid(index, "target_user_id", "cannot_follow_self", "you cannot follow yourself")
            # Unfollowing someone followed stays possible whatever happened since; everything else needs
            # a live account at the other end that is not blocked either way.
            unfollowing = event.kind is EventKind.unfollow and event.target_user_id in followed
            if event.target_user_id not in reachable and not unfollowing:
                raise _invalid(index, "target_user_id", "user_not_found", f"no such user: {event.target_user_id}")
        if event.kind is EventKind.not_interested:
            _validate_not_interested(db, index, event, actor)


def _validate_not_interested(db: Session, index: int, event: Event, actor: User) -> None:
    kind, target = _not_interested_target(event)
    if kind not in NOT_INTERESTED_TARGETS:
        raise _invalid(index, "extra", "invalid_target_kind", "target_kind must be video, creator or sound")
    if target is None:
        name = {"video": "video_id", "creator": "target_user_id", "sound": "extra"}[kind]
        raise _invalid(index, name, "target_required", f"a not_interested event about a {kind} needs its id")
    if kind == "creator" and target == actor.id:
        raise _invalid(index, "target_user_id", "invalid_target", "you cannot mark yourself not interesting")
    if kind == "sound" and (not isinstance(target, int) or not 1 <= target <= MAX_ID or db.get(Sound, target) is None):
        raise _invalid(index, "extra", "sound_not_found", f"no such sound: {target}")


def _not_yet_logged(event_log: EventLog, events: Sequence[Event]) -> list[Event]:
    """Events whose id the log has not seen, first occurrence only: retried batches are absorbed here."""
    unique: dict[str, Event] = {}
    for event in events:
        unique.setdefault(event.event_id, event)
    known = event_log.known(list(unique))
    return [e for e in unique.values() if e.event_id not in known]


StateKey = tuple[str, ...]


def state_key(event: Event) -> StateKey | None:
    change = STATE_CHANGES.get(event.kind)
    if change is None:
        return None
    family = change[0]
    if family == "follow":
        return ("follow", str(event.target_user_id))
    if family == "not_interested":
        kind, target = _not_interested_target(event)
        return ("not_interested", kind, str(target))
    return (family, str(event.video_id))


def current_state(db: Session, actor_id: int, key: StateKey) -> bool:
    family = key[0]
    if family == "like":
        return db.get(Like, (actor_id, int(key[1]))) is not None
    if family == "save":
        return db.get(Save, (actor_id, int(key[1]))) is not None
    if family == "follow":
        return db.get(Follow, (actor_id, int(key[1]))) is not None
    return db.scalar(select(NotInterested.id).where(
        NotInterested.user_id == actor_id, NotInterested.target_kind == key[1],
        NotInterested.target_id == int(key[2]))) is not None


def _plan(db: Session, actor: User, events: Sequence[Event]) -> tuple[list[Event], dict[StateKey, bool], list[Event]]:
    """Which events to append and the state they leave behind, replaying the batch in order."""
    initial: dict[StateKey, bool] = {}
    state: dict[StateKey, bool] = {}
    to_append: list[Event] = []
    changed: list[Event] = []
    for event in events:
        key = state_key(event)
        if key is None:
            to_append.append(event)
            continue
        if key not in state:
            initial[key] = state[key] = current_state(db, actor.id, key)
        wanted = STATE_CHANGES[event.kind][1]
        if state[key] == wanted:
            continue  # liking a liked video changes nothing, so it is not an event either
        state[key] = wanted
        to_append.append(event)
        changed.append(event)
    final = {key: value for key, value in state.items() if value != initial[key]}
    return to_append, final, changed


def _insert_ignoring_existing(db: Session, table, values: dict) -> None:
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.execute(insert(table).values(**values).on_conflict_do_nothing())


def apply_state(db: Session, actor_id: int, final: dict[StateKey, bool], region: str) -> None:
    now = datetime.now(UTC)
    for key, on in final.items():
        family = key[0]
        if family in ("like", "save"):
            table = Like if family == "like" else Save
            video_id = int(key[1])
            if on:
                _insert_ignoring_existing(db, table, {"user_id": actor_id, "video_id": video_id, "created_at": now})
            else:
                db.execute(delete(table).where(table.user_id == actor_id, table.video_id == video_id))
        elif family == "follow":
            followee = int(key[1])
            if on:
                _insert_ignoring_existing(db, Follow, {"follower_id": actor_id, "followee_id": followee,
                                                       "created_at": now})
            else:
                db.execute(delete(Follow).where(Follow.follower_id == actor_id, Follow.followee_id == followee))
        elif on:
            _insert_ignoring_existing(db, NotInterested, {
                "user_id": actor_id, "target_kind": key[1], "target_id": int(key[2]), "region": region,
                "created_at": now})
