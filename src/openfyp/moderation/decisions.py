"""Deciding a case, appealing the decision once, and resolving the appeal by a second moderator.

Each step is a conditional update on the case's (or appeal's) status, so two moderators acting at once
cannot both decide: the second gets a 409. Each decision is audit-logged in the same transaction.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from openfyp.moderation import audit, cases, notifications, targets
from openfyp.moderation.policy import (
    ACTIONS_FOR_TARGET, APPEALABLE, DECISION_REASONS, NO_VIOLATION, AppealOutcome, AppealStatus, CaseStatus,
    DecisionAction, TargetKind,
)
from openfyp.platform.errors import Conflict, Forbidden, InvalidInput, NotFound
from openfyp.store.base import utcnow
from openfyp.store.tables import Appeal, ModerationCase, Report, User

MAX_NOTE = 2000
MAX_APPEAL = 2000
STAFF_ROLES = frozenset({"moderator", "admin"})


def _ensure_staff_of_region(moderator: User, region: str) -> None:
    if moderator.role not in STAFF_ROLES:
        raise Forbidden("forbidden_role", "this needs the role moderator or admin")
    if moderator.region != region:
        raise Forbidden("wrong_region", f"moderators of region {moderator.region} cannot act in {region}")


def _parse_action(value: str) -> DecisionAction:
    try:
        return DecisionAction(value)
    except ValueError:
        allowed = ", ".join(a.value for a in DecisionAction)
        raise InvalidInput("invalid_action", f"action must be one of {allowed}", "action") from None


def _check_note(note: str | None, limit: int, field: str = "note") -> str | None:
    note = (note or "").strip()
    if len(note) > limit:
        raise InvalidInput(f"{field}_too_long", f"keep the {field} to {limit} characters", field)
    return note or None


def _check_reason(action: DecisionAction, reason_code: str | None) -> str:
    if reason_code is None or reason_code == "":
        if action is DecisionAction.dismiss:
            return NO_VIOLATION
        raise InvalidInput("reason_required", "name the policy the content violates", "reason_code")
    if reason_code not in DECISION_REASONS:
        allowed = ", ".join(sorted(DECISION_REASONS))
        raise InvalidInput("invalid_reason_code", f"reason_code must be one of {allowed}", "reason_code")
    if (action is DecisionAction.dismiss) != (reason_code == NO_VIOLATION):
        raise InvalidInput("reason_mismatch",
                           "dismiss goes with no_violation; every other action names the violated policy",
                           "reason_code")
    return reason_code


def decide(db: Session, *, region: str, case_id: int, moderator: User, action: str,
           reason_code: str | None, note: str | None) -> ModerationCase:
    _ensure_staff_of_region(moderator, region)
    chosen = _parse_action(action)
    reason = _check_reason(chosen, reason_code)
    note = _check_note(note, MAX_NOTE)
    case = cases.get_case(db, region, case_id)
    kind = TargetKind(case.target_kind)
    if chosen not in ACTIONS_FOR_TARGET[kind]:
        raise InvalidInput("action_not_applicable", f"a {kind.value} cannot be given the action {chosen.value}",
                           "action")
    if case.owner_id == moderator.id:
        raise Forbidden("own_content", "another moderator must decide a case about your own content")
    if case.status != CaseStatus.open.value:
        raise Conflict("case_not_open", f"case {case.id} was already decided")

    target = targets.load_any(db, kind, case.target_id)
    prior = targets.current_state(db, kind, target) if target is not None else {}
    now = utcnow()
    won = db.execute(update(ModerationCase)
                     .where(ModerationCase.id == case.id, ModerationCase.status == CaseStatus.open.value)
                     .values(status=CaseStatus.decided.value, open_key=None, decision=chosen.value,
                             decision_reason=reason, decision_note=note, decided_by=moderator.id,
                             decided_at=now, updated_at=now, prior_state=prior)
                     .execution_options(synchronize_session=False)).rowcount
    if not won:
        raise Conflict("case_not_open", f"case {case.id} was already decided")
    db.refresh(case)
    if target is not None:
        targets.apply_decision(db, region=region, case_id=case.id, kind=kind, target=target, action=chosen)
    db.flush()
    audit.decision(db, moderator, case, note=note)
    _tell_people(db, case, held=prior.get("moderation_state") == "held")
    return case


def _tell_people(db: Session, case: ModerationCase, *, held: bool) -> None:
    region = case.region
    action = DecisionAction(case.decision)
    subject = {"case_id": case.id, "target_kind": case.target_kind, "target_id": case.target_id}
    if action in APPEALABLE:
        notifications.notify(db, region=region, user_id=case.owner_id, kind="moderation_decision",
                             payload={**subject, "action": action.value, "reason_code": case.decision_reason,
                                      "appealable": True})
    elif held:
        notifications.notify(db, region=region, user_id=case.owner_id, kind="content_released", payload=subject)
    reporters = db.scalars(select(Report.reporter_id).where(Report.case_id == case.id))
    outcome = "no_violation" if action is DecisionAction.dismiss else "action_taken"
    notifications.notify_many(db, region=region, user_ids=reporters, kind="report_resolved",
                              payload={"case_id": case.id, "target_kind": case.target_kind,
                                       "target_id": case.target_id, "outcome": outcome})


# ---- appeals ------------------------------------------------------------------------------------------


def file_appeal(db: Session, *, region: str, case_id: int, appellant: User, text: str) -> Appeal:
    """The owner of removed or restricted content asks, once, for a second look."""
    text = (text or "").strip()
    if not text:
        raise InvalidInput("appeal_text_required", "say why the decision is wrong", "text")
    if len(text) > MAX_APPEAL:
        raise InvalidInput("text_too_long", f"keep the appeal to {MAX_APPEAL} characters", "text")
    case = cases.get_case(db, region, case_id)
    if case.owner_id != appellant.id:
        # Others learn nothing about cases that are not about them.
        raise NotFound("case", case_id)
    if cases.appeal_of(db, case.id) is not None:
        raise Conflict("already_appealed", "this decision was already appealed; each decision is appealed once")
    if case.status != CaseStatus.decided.value or case.decision is None \
            or DecisionAction(case.decision) not in APPEALABLE:
        raise Conflict("not_appealable", "only a decision to remove or restrict content can be appealed")
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    created = db.execute(insert(Appeal).values(
        region=region, case_id=case.id, appellant_id=appellant.id, text=text,
        status=AppealStatus.pending.value, created_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["case_id"])).rowcount
    if not created:
        raise Conflict("already_appealed", "this decision was already appealed; each decision is appealed once")
    case.status = CaseStatus.appealed.value
    case.updated_at = utcnow()
    db.flush()
    return cases.appeal_of(db, case.id)


def resolve_appeal(db: Session, *, region: str, case_id: int, moderator: User, outcome: str,
                   note: str | None) -> Appeal:
    """A moderator other than the one who decided upholds or overturns; overturning restores the content."""
    _ensure_staff_of_region(moderator, region)
    try:
        chosen = AppealOutcome(outcome)
    except ValueError:
        raise InvalidInput("invalid_outcome", "outcome must be uphold or overturn", "outcome") from None
    note = _check_note(note, MAX_NOTE)
    case = cases.get_case(db, region, case_id)
    appeal = cases.appeal_of(db, case.id)
    if appeal is None:
        raise NotFound("appeal", case_id)
    if case.decided_by == moderator.id:
        raise Forbidden("same_moderator", "an appeal is resolved by a different moderator than the one who decided")
    if case.owner_id == moderator.id:
        raise Forbidden("own_content", "another moderator must resolve an appeal about your own content")
    if appeal.status != AppealStatus.pending.value:
        raise Conflict("appeal_already_resolved", "this appeal was already resolved")
    status = AppealStatus.upheld if chosen is AppealOutcome.uphold else AppealStatus.overturned
    now = utcnow()
    won = db.execute(update(Appeal)
                     .where(Appeal.id == appeal.id, Appeal.status == AppealStatus.pending.value)
                     .values(status=status.value, resolved_by=moderator.id, resolution_note=note, resolved_at=now)
                     .execution_options(synchronize_session=False)).rowcount
    if not won:
        raise Conflict("appeal_already_resolved", "this appeal was already resolved")
    db.refresh(appeal)
    if chosen is AppealOutcome.overturn:
        kind = TargetKind(case.target_kind)
        targets.restore(db, case_id=case.id, kind=kind, target=targets.load_any(db, kind, case.target_id),
                        prior=case.prior_state or {})
    case.status = CaseStatus.closed.value
    case.updated_at = now
    db.flush()
    audit.appeal_decision(db, moderator, case, appeal_id=appeal.id, outcome=chosen.value, note=note)
    notifications.notify(db, region=region, user_id=appeal.appellant_id, kind="appeal_resolved",
                         payload={"case_id": case.id, "appeal_id": appeal.id, "outcome": status.value,
                                  "target_kind": case.target_kind, "target_id": case.target_id})
    return appeal
