"""Reports and the cases they group into, the queue moderators work from, and the cases a creator can see.

Every report on a target joins the target's one open case; the case's priority is recomputed from its
reports each time one arrives, so the queue order is always a plain ``ORDER BY priority``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from openfyp.events.schema import Event, EventKind
from openfyp.moderation import notifications, targets
from openfyp.moderation.filters import Verdict
from openfyp.moderation.policy import (
    APPEALABLE, KEYWORD_HOLD_SEVERITY, SEVERITY, CaseOrigin, CaseStatus, DecisionAction, ReportReason, TargetKind,
    case_priority,
)
from openfyp.moderation.visibility import can_see_comment, can_see_video
from openfyp.platform.errors import InvalidInput, NotFound
from openfyp.settings import Settings
from openfyp.store.base import utcnow
from openfyp.store.tables import Appeal, ModerationCase, Report, User, Video

MAX_DETAILS = 2000
MAX_PAGE = 100
_REPORT_EVENT_NAMESPACE = uuid.UUID("6f2b7c1e-4d0a-4f57-9a55-2f1e0c3b8d41")


def _insert(db: Session):
    return pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert


def _open_key(region: str, kind: TargetKind, target_id: int) -> str:
    return f"{region}:{kind.value}:{target_id}"


def open_case_for(db: Session, *, region: str, kind: TargetKind, target_id: int, owner_id: int | None,
                  origin: CaseOrigin = CaseOrigin.report) -> ModerationCase:
    """The target's open case, opened now if it has none. Safe against two first reports racing."""
    key = _open_key(region, kind, target_id)
    case = db.scalar(select(ModerationCase).where(ModerationCase.open_key == key))
    if case is not None:
        return case
    now = utcnow()
    db.execute(_insert(db)(ModerationCase).values(
        region=region, target_kind=kind.value, target_id=target_id, owner_id=owner_id,
        status=CaseStatus.open.value, open_key=key, origin=origin.value, report_count=0, severity=0, reach=0,
        priority=0.0, created_at=now, updated_at=now,
    ).on_conflict_do_nothing(index_elements=["open_key"]))
    return db.scalar(select(ModerationCase).where(ModerationCase.open_key == key))


def refresh_priority(db: Session, case: ModerationCase, target: targets.Target | None = None) -> None:
    """Recomputes the case's counts, severity, reach and priority from its reports."""
    counts = dict(db.execute(select(Report.reason, func.count()).where(Report.case_id == case.id)
                             .group_by(Report.reason)).all())
    severity = max((SEVERITY.get(reason, 0) for reason in counts), default=0)
    if case.held_rule_id is not None or case.origin == CaseOrigin.keyword:
        severity = max(severity, KEYWORD_HOLD_SEVERITY)
    kind = TargetKind(case.target_kind)
    if target is None:
        target = targets.load_any(db, kind, case.target_id)
    case.report_count = sum(counts.values())
    case.top_reason = (max(counts, key=lambda r: (SEVERITY.get(r, 0), counts[r])) if counts else None)
    case.severity = severity
    case.reach = targets.reach(db, kind, target) if target is not None else 0
    case.priority = case_priority(severity=severity, urgent=ReportReason.minor_safety.value in counts,
                                  reporters=case.report_count, reach=case.reach)
    case.updated_at = utcnow()
    db.flush()


# ---- reporting ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportOutcome:
    report: Report
    case: ModerationCase
    duplicate: bool
    event: Event


def _report_event(report: Report, kind: TargetKind, target: targets.Target) -> Event:
    video_id = target.id if kind is TargetKind.video else (target.video_id if kind is TargetKind.comment else None)
    event = Event.server_side(
        EventKind.report, user_id=report.reporter_id, region=report.region, video_id=video_id,
        target_user_id=targets.owner_id(kind, target),
        extra={"target_kind": kind.value, "target_id": report.target_id, "reason": report.reason,
               "report_id": report.id},
    )
    # One event per report, whatever the retries: the event log absorbs a repeated id.
    event_id = uuid.uuid5(_REPORT_EVENT_NAMESPACE, f"{report.region}:{report.id}")
    return event.model_copy(update={"event_id": str(event_id)})


def _reportable_target(db: Session, reporter: User, kind: TargetKind, target_id: int,
                       settings: Settings) -> targets.Target:
    target = targets.load(db, settings.region, kind, target_id)
    if kind is TargetKind.video and not can_see_video(db, target, reporter, settings):
        raise NotFound("video", target_id)
    if kind is TargetKind.comment and not can_see_comment(db, target, reporter, settings):
        raise NotFound("comment", target_id)
    if targets.owner_id(kind, target) == reporter.id:
        raise InvalidInput("cannot_report_own", "you cannot report your own content", "target_id")
    return target


def file_report(db: Session, *, reporter: User, target_kind: str, target_id: int, reason: str,
                details: str = "", settings: Settings) -> ReportOutcome:
    """Files ``reporter``'s report; a repeat on the same target returns the first report (``duplicate``).

    The caller commits and then appends ``outcome.event`` to the event log.
    """
    kind = targets.parse_kind(target_kind)
    try:
        reason = ReportReason(reason).value
    except ValueError:
        allowed = ", ".join(r.value for r in ReportReason)
        raise InvalidInput("invalid_reason", f"reason must be one of {allowed}", "reason") from None
    details = (details or "").strip()
    if len(details) > MAX_DETAILS:
        raise InvalidInput("details_too_long", f"keep details to {MAX_DETAILS} characters", "details")
    region = settings.region
    target = _reportable_target(db, reporter, kind, target_id, settings)

    existing = _existing_report(db, reporter.id, kind, target_id)
    if existing is not None:
        return ReportOutcome(existing, db.get(ModerationCase, existing.case_id), True,
                             _report_event(existing, kind, target))

    case = open_case_for(db, region=region, kind=kind, target_id=target_id,
                         owner_id=targets.owner_id(kind, target))
    inserted = db.execute(_insert(db)(Report).values(
        region=region, case_id=case.id, reporter_id=reporter.id, target_kind=kind.value, target_id=target_id,
        reason=reason, details=details, created_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["reporter_id", "target_kind", "target_id"])).rowcount
    report = _existing_report(db, reporter.id, kind, target_id)
    if not inserted:  # the same person's concurrent request won the race
        return ReportOutcome(report, db.get(ModerationCase, report.case_id), True, _report_event(report, kind, target))
    refresh_priority(db, case, target)
    return ReportOutcome(report, case, False, _report_event(report, kind, target))


def _existing_report(db: Session, reporter_id: int, kind: TargetKind, target_id: int) -> Report | None:
    return db.scalar(select(Report).where(Report.reporter_id == reporter_id, Report.target_kind == kind.value,
                                          Report.target_id == target_id))


# ---- content held by a keyword filter -----------------------------------------------------------------


def hold_for_review(db: Session, *, region: str, target_kind: str, target_id: int, owner_id: int,
                    verdict: Verdict) -> ModerationCase:
    """Queues content a keyword rule held. The caller has already stored it in the ``held`` state."""
    kind = targets.parse_kind(target_kind)
    case = open_case_for(db, region=region, kind=kind, target_id=target_id, owner_id=owner_id,
                         origin=CaseOrigin.keyword)
    case.held_rule_id = verdict.rule_id
    case.held_pattern = verdict.pattern
    refresh_priority(db, case)
    notifications.notify(db, region=region, user_id=owner_id, kind="content_held",
                         payload={"case_id": case.id, "target_kind": kind.value, "target_id": target_id})
    return case


# ---- reading cases ------------------------------------------------------------------------------------


def get_case(db: Session, region: str, case_id: int) -> ModerationCase:
    case = db.get(ModerationCase, case_id)
    if case is None or case.region != region:
        raise NotFound("case", case_id)
    return case


def queue(db: Session, region: str, *, limit: int = 50, offset: int = 0,
          target_kind: str | None = None) -> list[ModerationCase]:
    """Open cases, most urgent first; equal priorities are served oldest first."""
    query = select(ModerationCase).where(ModerationCase.region == region,
                                         ModerationCase.status == CaseStatus.open.value)
    if target_kind is not None:
        query = query.where(ModerationCase.target_kind == targets.parse_kind(target_kind).value)
    query = query.order_by(ModerationCase.priority.desc(), ModerationCase.created_at, ModerationCase.id)
    return list(db.scalars(query.offset(max(offset, 0)).limit(max(1, min(limit, MAX_PAGE)))))


def pending_appeals(db: Session, region: str, *, limit: int = 50,
                    offset: int = 0) -> list[tuple[Appeal, ModerationCase]]:
    """Appeals waiting for a second moderator, oldest first."""
    rows = db.execute(select(Appeal, ModerationCase).join(ModerationCase, ModerationCase.id == Appeal.case_id)
                      .where(Appeal.region == region, Appeal.status == "pending")
                      .order_by(Appeal.created_at, Appeal.id)
                      .offset(max(offset, 0)).limit(max(1, min(limit, MAX_PAGE))))
    return [(appeal, case) for appeal, case in rows]


def cases_about(db: Session, region: str, owner_id: int, *, limit: int = 50) -> list[ModerationCase]:
    """Decided cases about this person's content (what they may appeal or are appealing), newest first."""
    query = (select(ModerationCase)
             .where(ModerationCase.region == region, ModerationCase.owner_id == owner_id,
                    ModerationCase.decided_at.is_not(None))
             .order_by(ModerationCase.decided_at.desc(), ModerationCase.id.desc())
             .limit(max(1, min(limit, MAX_PAGE))))
    return list(db.scalars(query))


def appeal_of(db: Session, case_id: int) -> Appeal | None:
    return db.scalar(select(Appeal).where(Appeal.case_id == case_id))


def reports_of(db: Session, case_id: int) -> list[Report]:
    return list(db.scalars(select(Report).where(Report.case_id == case_id).order_by(Report.id)))


# ---- shapes -------------------------------------------------------------------------------------------


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def appeal_out(appeal: Appeal | None) -> dict[str, Any] | None:
    if appeal is None:
        return None
    return {"id": appeal.id, "status": appeal.status, "text": appeal.text, "created_at": _iso(appeal.created_at),
            "resolved_at": _iso(appeal.resolved_at), "resolution_note": appeal.resolution_note}


def case_summary(case: ModerationCase) -> dict[str, Any]:
    return {
        "id": case.id, "status": case.status, "target": {"kind": case.target_kind, "id": case.target_id},
        "owner_id": case.owner_id, "origin": case.origin, "report_count": case.report_count,
        "top_reason": case.top_reason, "severity": case.severity, "reach": case.reach,
        "priority": round(case.priority, 3),
        "held_by": ({"rule_id": case.held_rule_id, "pattern": case.held_pattern}
                    if case.held_pattern is not None else None),
        "created_at": _iso(case.created_at), "updated_at": _iso(case.updated_at),
        "decision": decision_out(case),
    }


def decision_out(case: ModerationCase) -> dict[str, Any] | None:
    if case.decision is None:
        return None
    return {"action": case.decision, "reason_code": case.decision_reason, "note": case.decision_note,
            "decided_by": case.decided_by, "decided_at": _iso(case.decided_at)}


def case_detail(db: Session, case: ModerationCase) -> dict[str, Any]:
    kind = TargetKind(case.target_kind)
    target = targets.load_any(db, kind, case.target_id)
    body = case_summary(case)
    body["content"] = targets.describe(db, kind, target, case.target_id)
    if kind is TargetKind.comment and target is not None:
        video = db.get(Video, target.video_id)
        body["content"]["video_caption"] = video.caption if video is not None else None
    body["reports"] = [{"id": r.id, "reporter_id": r.reporter_id, "reason": r.reason, "details": r.details,
                        "created_at": _iso(r.created_at)} for r in reports_of(db, case.id)]
    body["appeal"] = appeal_out(appeal_of(db, case.id))
    return body


def owner_view(db: Session, case: ModerationCase) -> dict[str, Any]:
    """What the owner of the content sees about a decision: never who reported it."""
    return {
        "id": case.id, "status": case.status, "target": {"kind": case.target_kind, "id": case.target_id},
        "decision": ({"action": case.decision, "reason_code": case.decision_reason, "note": case.decision_note,
                      "decided_at": _iso(case.decided_at)} if case.decision is not None else None),
        "appealable": _appealable(db, case),
        "appeal": appeal_out(appeal_of(db, case.id)),
    }


def _appealable(db: Session, case: ModerationCase) -> bool:
    return (case.status == CaseStatus.decided.value and case.decision is not None
            and DecisionAction(case.decision) in APPEALABLE and appeal_of(db, case.id) is None)

