"""Every moderation decision, appeal decision and filter change goes into the region's hash-chained audit
log, inside the same transaction as the change itself: a decision that is not audited does not happen."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from openfyp.governance import audit as governance_audit
from openfyp.governance.audit import AuditAction
from openfyp.store.tables import ModerationCase, User


def decision(db: Session, moderator: User, case: ModerationCase, *, note: str | None) -> None:
    governance_audit.record(
        db, AuditAction.moderation_decision, actor=moderator, target_kind=case.target_kind,
        target_id=case.target_id, justification=note or None,
        details={"case_id": case.id, "action": case.decision, "reason_code": case.decision_reason,
                 "owner_id": case.owner_id, "report_count": case.report_count, "origin": case.origin},
    )


def appeal_decision(db: Session, moderator: User, case: ModerationCase, *, appeal_id: int, outcome: str,
                    note: str | None) -> None:
    governance_audit.record(
        db, AuditAction.appeal_decision, actor=moderator, target_kind=case.target_kind,
        target_id=case.target_id, justification=note or None,
        details={"case_id": case.id, "appeal_id": appeal_id, "outcome": outcome, "original_action": case.decision,
                 "original_moderator_id": case.decided_by, "owner_id": case.owner_id},
    )


def admin_change(db: Session, actor: User | None, *, what: str, target_id: Any, details: dict[str, Any]) -> None:
    """A change to region-wide moderation settings (keyword filters). ``actor`` None is the operator's CLI."""
    governance_audit.record(db, AuditAction.admin_action, actor=actor, target_kind=what, target_id=target_id,
                            details=details)
