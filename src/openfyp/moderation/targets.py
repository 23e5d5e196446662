"""What a case is about: loading a video, comment or account, who owns it, how far it reaches, and how a
decision changes (and an overturn restores) its state."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openfyp.events.schema import EventKind
from openfyp.moderation import sanctions
from openfyp.moderation.policy import DecisionAction, TargetKind
from openfyp.platform.errors import InvalidInput, NotFound
from openfyp.store.tables import Comment, EventRow, Follow, ModerationState, User, Video

Target = Video | Comment | User


def parse_kind(value: str) -> TargetKind:
    try:
        return TargetKind(value)
    except ValueError:
        raise InvalidInput("invalid_target_kind", "target_kind must be video, comment or user",
                           "target_kind") from None


def load(db: Session, region: str, kind: TargetKind, target_id: int) -> Target:
    """The live target in this region, or 404."""
    model = {TargetKind.video: Video, TargetKind.comment: Comment, TargetKind.user: User}[kind]
    row = db.get(model, target_id)
    if row is None or row.region != region or row.deleted_at is not None:
        raise NotFound(kind.value, target_id)
    return row


def load_any(db: Session, kind: TargetKind, target_id: int) -> Target | None:
    """The target even if deleted since (moderators still see what a case was about)."""
    model = {TargetKind.video: Video, TargetKind.comment: Comment, TargetKind.user: User}[kind]
    return db.get(model, target_id)


def owner_id(kind: TargetKind, target: Target) -> int:
    if kind is TargetKind.video:
        return target.creator_id
    if kind is TargetKind.comment:
        return target.user_id
    return target.id


def reach(db: Session, kind: TargetKind, target: Target) -> int:
    """How many people the target reaches: plays of a video (of the video under a comment), followers of an
    account."""
    if kind is TargetKind.user:
        return db.scalar(select(func.count()).select_from(Follow).where(Follow.followee_id == target.id)) or 0
    video_id = target.id if kind is TargetKind.video else target.video_id
    return db.scalar(select(func.count()).select_from(EventRow).where(
        EventRow.video_id == video_id, EventRow.kind == EventKind.play.value)) or 0


def current_state(db: Session, kind: TargetKind, target: Target) -> dict[str, Any]:
    if kind is TargetKind.video:
        return {"moderation_state": target.moderation_state, "adult_only": bool(target.adult_only)}
    if kind is TargetKind.comment:
        return {"moderation_state": target.moderation_state}
    return {"sanctions": sorted(sanctions.active_kinds(db, target.id))}


def apply_decision(db: Session, *, region: str, case_id: int, kind: TargetKind, target: Target,
                   action: DecisionAction) -> None:
    """Changes the target as the decision says. Dismissing releases whatever a keyword filter held."""
    if kind is TargetKind.user:
        if action is DecisionAction.remove:
            sanctions.impose(db, region=region, user_id=target.id, kind=sanctions.SanctionKind.suspended,
                             case_id=case_id)
        elif action is DecisionAction.restrict:
            sanctions.impose(db, region=region, user_id=target.id, kind=sanctions.SanctionKind.restricted,
                             case_id=case_id)
        return
    if action is DecisionAction.remove:
        target.moderation_state = ModerationState.removed.value
    elif action is DecisionAction.restrict:
        target.moderation_state = ModerationState.restricted.value
    elif action is DecisionAction.age_restrict:
        target.adult_only = True
        if target.moderation_state == ModerationState.held.value:
            target.moderation_state = ModerationState.ok.value
    elif target.moderation_state == ModerationState.held.value:
        target.moderation_state = ModerationState.ok.value


def restore(db: Session, *, case_id: int, kind: TargetKind, target: Target | None, prior: dict[str, Any]) -> None:
    """Undoes a decision after an overturned appeal. Content that a filter had held comes back as ``ok``:
    overturning says it was fine all along."""
    if kind is TargetKind.user:
        sanctions.lift_for_case(db, case_id)
        return
    if target is None:
        return
    state = prior.get("moderation_state", ModerationState.ok.value)
    target.moderation_state = ModerationState.ok.value if state == ModerationState.held.value else state
    if kind is TargetKind.video:
        target.adult_only = bool(prior.get("adult_only", False))


def describe(db: Session, kind: TargetKind, target: Target | None, target_id: int) -> dict[str, Any]:
    """The target as a moderator needs to see it, whatever its state."""
    if target is None:
        return {"kind": kind.value, "id": target_id, "gone": True}
    base: dict[str, Any] = {"kind": kind.value, "id": target.id,
                            "gone": getattr(target, "deleted_at", None) is not None}
    if kind is TargetKind.video:
        creator = db.get(User, target.creator_id)
        base.update({
            "caption": target.caption, "status": target.status, "visibility": target.visibility,
            "moderation_state": target.moderation_state, "adult_only": bool(target.adult_only),
            "video_url": f"/media/{target.media_key}" if target.media_key else None,
            "poster_url": f"/media/{target.poster_key}" if target.poster_key else None,
            "duration_s": target.duration_s, "created_at": _iso(target.created_at),
            "owner": _person(creator),
        })
    elif kind is TargetKind.comment:
        base.update({
            "body": target.body, "video_id": target.video_id, "parent_id": target.parent_id,
            "moderation_state": target.moderation_state, "created_at": _iso(target.created_at),
            "owner": _person(db.get(User, target.user_id)),
        })
    else:
        base.update({
            "username": target.username, "display_name": target.display_name, "bio": target.bio,
            "created_at": _iso(target.created_at), "sanctions": sorted(sanctions.active_kinds(db, target.id)),
            "owner": _person(target),
        })
    return base


def _person(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.id, "username": user.username, "display_name": user.display_name}


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None
