"""Bring likes, saves and follows back in step with the event log after a crash.

``record_interactions`` appends an event (durable, acknowledged by the log) and then commits the state it
implies. A crash between the two leaves the event without its state, and a retry of the same event is
absorbed as a duplicate, so nothing else would ever write that state. The log is the source of truth:
the latest like/unlike (save/unsave, follow/unfollow) event of a viewer about a target decides the state.

The repair reads only the tail of the log (the last ``window`` events), because a crash can interrupt only
the requests in flight at that moment, and older history may legitimately have been overtaken by changes
that are not events (a video deleted, an account erased). "Not interested" is left alone for the same
reason: taking it back is not an event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openfyp.events.schema import EventKind
from openfyp.platform.interactions import STATE_CHANGES, StateKey, apply_state, current_state
from openfyp.store.tables import EventRow, User, Video

REPAIRED_FAMILIES = frozenset({"like", "save", "follow"})
REPAIRED_KINDS = tuple(kind.value for kind, (family, _) in STATE_CHANGES.items() if family in REPAIRED_FAMILIES)
DEFAULT_WINDOW = 100_000


@dataclass
class RepairReport:
    scanned: int = 0
    # (user id, family, target id, the state written) for every row the repair changed.
    repaired: list[tuple[int, str, int, bool]] = field(default_factory=list)


def _latest_states(rows) -> dict[tuple[int, StateKey], bool]:
    latest: dict[tuple[int, StateKey], bool] = {}
    for user_id, kind, video_id, target_user_id in rows:
        family, on = STATE_CHANGES[EventKind(kind)]
        target = target_user_id if family == "follow" else video_id
        if user_id is None or target is None:
            continue
        latest[(user_id, (family, str(target)))] = on  # rows come in log order: the last one wins
    return latest


def _live_targets(db: Session, latest: dict[tuple[int, StateKey], bool]) -> tuple[set[int], set[int]]:
    video_ids = {int(key[1]) for (_, key) in latest if key[0] != "follow"}
    user_ids = {user_id for (user_id, _) in latest} | {int(key[1]) for (_, key) in latest if key[0] == "follow"}
    videos = set(db.scalars(select(Video.id).where(Video.id.in_(video_ids), Video.deleted_at.is_(None)))) \
        if video_ids else set()
    users = set(db.scalars(select(User.id).where(User.id.in_(user_ids), User.deleted_at.is_(None)))) \
        if user_ids else set()
    return videos, users


def repair_interaction_state(db: Session, region: str, *, window: int = DEFAULT_WINDOW) -> RepairReport:
    """Write the state the log's tail implies wherever it is missing; commits only when something changed."""
    head = db.scalar(select(func.max(EventRow.seq))) or 0
    rows = db.execute(select(EventRow.user_id, EventRow.kind, EventRow.video_id, EventRow.target_user_id)
                      .where(EventRow.seq > head - window, EventRow.kind.in_(REPAIRED_KINDS))
                      .order_by(EventRow.seq)).all()
    report = RepairReport(scanned=len(rows))
    latest = _latest_states(rows)
    live_videos, live_users = _live_targets(db, latest)
    by_user: dict[int, dict[StateKey, bool]] = {}
    for (user_id, key), on in latest.items():
        target = int(key[1])
        if user_id not in live_users or (target not in live_users if key[0] == "follow" else target not in live_videos):
            continue
        if current_state(db, user_id, key) != on:
            by_user.setdefault(user_id, {})[key] = on
            report.repaired.append((user_id, key[0], target, on))
    for user_id, final in by_user.items():
        apply_state(db, user_id, final, region)
    if report.repaired:
        db.commit()
    return report
