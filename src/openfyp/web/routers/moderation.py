"""Trust and safety over HTTP: reports, the moderation queue, decisions and appeals, keyword filters, and
each viewer's muted words, notifications and screen time."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from openfyp.moderation import cases, decisions, filters, minors, muted_words, notifications
from openfyp.moderation.audit import admin_change
from openfyp.moderation.policy import ReportReason
from openfyp.platform.errors import Forbidden, NotFound
from openfyp.web.deps import DB, AppServices, CurrentViewer, Viewer, WriteLimit, require_role
from openfyp.web.params import MAX_ID, RowId

router = APIRouter(tags=["moderation"])

# Ids are 32-bit in the database; a larger number is a bad request, not a database error.
IdPath = RowId

ReasonName = Literal[tuple(r.value for r in ReportReason)]  # type: ignore[valid-type]


_any_staff = require_role("moderator", "admin")
_admins_only = require_role("admin")


def _of_this_region(viewer: Viewer, services) -> Viewer:
    if viewer.user.region != services.settings.region:
        raise Forbidden("wrong_region", f"staff of region {viewer.user.region} cannot act in "
                                        f"{services.settings.region}")
    return viewer


def moderator_of_region(viewer: Annotated[Viewer, Depends(_any_staff)], services: AppServices) -> Viewer:
    return _of_this_region(viewer, services)


def admin_of_region(viewer: Annotated[Viewer, Depends(_admins_only)], services: AppServices) -> Viewer:
    return _of_this_region(viewer, services)


Moderator = Annotated[Viewer, Depends(moderator_of_region)]
Admin = Annotated[Viewer, Depends(admin_of_region)]


# ---- reports ------------------------------------------------------------------------------------------


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target_kind: Literal["video", "comment", "user"]
    target_id: int = Field(ge=1, le=MAX_ID)
    reason: ReasonName
    details: str = Field("", max_length=2000)


@router.post("/api/reports", status_code=201, dependencies=[WriteLimit])
def create_report(body: ReportIn, viewer: CurrentViewer, db: DB, services: AppServices,
                  response: Response) -> dict[str, Any]:
    outcome = cases.file_report(db, reporter=viewer.user, target_kind=body.target_kind, target_id=body.target_id,
                                reason=body.reason, details=body.details, settings=services.settings)
    db.commit()
    # After the commit: the event log writes through its own connection (and absorbs a repeated id).
    services.events.append([outcome.event])
    if outcome.duplicate:
        response.status_code = 200
    report = outcome.report
    return {"report": {"id": report.id, "target": {"kind": report.target_kind, "id": report.target_id},
                       "reason": report.reason, "created_at": report.created_at.isoformat()},
            "case_id": report.case_id, "duplicate": outcome.duplicate}


# ---- the queue, decisions and appeals -----------------------------------------------------------------


@router.get("/api/moderation/queue")
def moderation_queue(viewer: Moderator, db: DB, services: AppServices,
                     limit: Annotated[int, Query(ge=1, le=100)] = 50,
                     offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
                     target_kind: Literal["video", "comment", "user"] | None = None) -> dict[str, Any]:
    found = cases.queue(db, services.settings.region, limit=limit + 1, offset=offset, target_kind=target_kind)
    more = len(found) > limit
    return {"items": [cases.case_summary(c) for c in found[:limit]],
            "next_offset": offset + limit if more else None}


@router.get("/api/moderation/appeals")
def appeals_queue(viewer: Moderator, db: DB, services: AppServices,
                  limit: Annotated[int, Query(ge=1, le=100)] = 50,
                  offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> dict[str, Any]:
    found = cases.pending_appeals(db, services.settings.region, limit=limit + 1, offset=offset)
    more = len(found) > limit
    return {"items": [{**cases.case_summary(case), "appeal": cases.appeal_out(appeal)}
                      for appeal, case in found[:limit]],
            "next_offset": offset + limit if more else None}


@router.get("/api/moderation/cases/{case_id}")
def get_case(case_id: IdPath, viewer: CurrentViewer, db: DB, services: AppServices) -> dict[str, Any]:
    """Staff of the region see everything; the content's owner sees the decision and their appeal."""
    region = services.settings.region
    case = cases.get_case(db, region, case_id)
    if viewer.user.role in decisions.STAFF_ROLES and viewer.user.region == region:
        return cases.case_detail(db, case)
    if case.owner_id == viewer.id and case.decision is not None:
        return cases.owner_view(db, case)
    raise NotFound("case", case_id)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["remove", "restrict", "age_restrict", "dismiss"]
    reason_code: str | None = Field(None, max_length=24)
    note: str | None = Field(None, max_length=2000)


@router.post("/api/moderation/cases/{case_id}/decision", dependencies=[WriteLimit])
def decide_case(case_id: IdPath, body: DecisionIn, viewer: Moderator, db: DB, services: AppServices) -> dict[str, Any]:
    case = decisions.decide(db, region=services.settings.region, case_id=case_id, moderator=viewer.user,
                            action=body.action, reason_code=body.reason_code, note=body.note)
    db.commit()
    return cases.case_detail(db, case)


class AppealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2000)


@router.post("/api/moderation/cases/{case_id}/appeal", status_code=201, dependencies=[WriteLimit])
def appeal_case(case_id: IdPath, body: AppealIn, viewer: CurrentViewer, db: DB, services: AppServices) -> dict[str, Any]:
    decisions.file_appeal(db, region=services.settings.region, case_id=case_id, appellant=viewer.user,
                          text=body.text)
    db.commit()
    return cases.owner_view(db, cases.get_case(db, services.settings.region, case_id))


class ResolutionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["uphold", "overturn"]
    note: str | None = Field(None, max_length=2000)


@router.post("/api/moderation/cases/{case_id}/appeal/resolution", dependencies=[WriteLimit])
def resolve_appeal(case_id: IdPath, body: ResolutionIn, viewer: Moderator, db: DB,
                   services: AppServices) -> dict[str, Any]:
    decisions.resolve_appeal(db, region=services.settings.region, case_id=case_id, moderator=viewer.user,
                             outcome=body.outcome, note=body.note)
    db.commit()
    return cases.case_detail(db, cases.get_case(db, services.settings.region, case_id))


@router.get("/api/me/moderation")
def my_cases(viewer: CurrentViewer, db: DB, services: AppServices,
             limit: Annotated[int, Query(ge=1, le=100)] = 50) -> dict[str, Any]:
    """Decisions about the viewer's own content, each with whether it can still be appealed."""
    found = cases.cases_about(db, services.settings.region, viewer.id, limit=limit)
    return {"items": [cases.owner_view(db, c) for c in found]}


# ---- keyword filters ----------------------------------------------------------------------------------


class KeywordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pattern: str = Field(min_length=1, max_length=200)
    scope: Literal["comments", "captions", "both"] = "both"
    action: Literal["hold", "block"] = "hold"


@router.get("/api/moderation/keywords")
def list_keywords(viewer: Admin, db: DB, services: AppServices) -> dict[str, Any]:
    return {"items": [filters.filter_out(r) for r in filters.list_filters(db, services.settings.region)]}


@router.post("/api/moderation/keywords", status_code=201, dependencies=[WriteLimit])
def add_keyword(body: KeywordIn, viewer: Admin, db: DB, services: AppServices) -> dict[str, Any]:
    rule = filters.add_filter(db, region=services.settings.region, pattern=body.pattern, scope=body.scope,
                              action=body.action, created_by=viewer.id)
    admin_change(db, viewer.user, what="keyword_filter", target_id=rule.id,
                 details={"change": "added", "scope": rule.scope, "action": rule.action})
    db.commit()
    return filters.filter_out(rule)


@router.delete("/api/moderation/keywords/{rule_id}", status_code=204, dependencies=[WriteLimit])
def remove_keyword(rule_id: IdPath, viewer: Admin, db: DB, services: AppServices) -> Response:
    rule = filters.remove_filter(db, region=services.settings.region, rule_id=rule_id)
    admin_change(db, viewer.user, what="keyword_filter", target_id=rule.id,
                 details={"change": "removed", "scope": rule.scope, "action": rule.action})
    db.commit()
    return Response(status_code=204)


# ---- the viewer's own: muted words, notifications, screen time ----------------------------------------


class MutedWordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    word: str = Field(min_length=1, max_length=200)


def _muted_out(row) -> dict[str, Any]:
    return {"id": row.id, "word": row.pattern, "created_at": row.created_at.isoformat() if row.created_at else None}


@router.get("/api/me/muted-words")
def list_muted(viewer: CurrentViewer, db: DB) -> dict[str, Any]:
    return {"items": [_muted_out(r) for r in muted_words.list_muted_words(db, viewer.id)]}


@router.post("/api/me/muted-words", status_code=201, dependencies=[WriteLimit])
def add_muted(body: MutedWordIn, viewer: CurrentViewer, db: DB, response: Response) -> dict[str, Any]:
    row, created = muted_words.mute(db, viewer.user, body.word)
    db.commit()
    if not created:
        response.status_code = 200
    return _muted_out(row)


@router.delete("/api/me/muted-words/{muted_id}", status_code=204, dependencies=[WriteLimit])
def remove_muted(muted_id: IdPath, viewer: CurrentViewer, db: DB) -> Response:
    muted_words.unmute(db, viewer.id, muted_id)
    db.commit()
    return Response(status_code=204)


@router.get("/api/me/notifications")
def list_notifications(viewer: CurrentViewer, db: DB, unread: bool = False,
                       before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                       limit: Annotated[int, Query(ge=1, le=100)] = 50) -> dict[str, Any]:
    found = notifications.list_for(db, viewer.id, unread_only=unread, before_id=before, limit=limit)
    return {
        "items": [{"id": n.id, "kind": n.kind, "payload": n.payload, "read": n.read_at is not None,
                   "created_at": n.created_at.isoformat() if n.created_at else None} for n in found],
        "unread": notifications.unread_count(db, viewer.id),
        "next_before": found[-1].id if len(found) == limit else None,
    }


class MarkReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(None, max_length=500)


@router.post("/api/me/notifications/read", dependencies=[WriteLimit])
def mark_notifications_read(body: MarkReadIn, viewer: CurrentViewer, db: DB) -> dict[str, Any]:
    changed = notifications.mark_read(db, viewer.id, body.ids)
    db.commit()
    return {"marked": changed}


@router.get("/api/me/screen-time")
def screen_time(viewer: CurrentViewer, db: DB, services: AppServices) -> dict[str, Any]:
    return minors.screen_time_status(db, viewer.user, services.settings, event_log=services.events)
