"""Oversight and governance over HTTP: the overseer's review of model and config releases, the audit log,
staff access to protected data (with a recorded justification), role changes, replay, and the public
metadata federation endpoint."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from openfyp.governance import audit as audit_module
from openfyp.governance import federation, privacy
from openfyp.governance.audit import AuditAction, ChainHead
from openfyp.governance.authz import Permission, authorize
from openfyp.governance.diffing import diff_subjects
from openfyp.governance.releases import Decision, ReleaseBook
from openfyp.governance.replay import replay_request
from openfyp.governance.wiring import governance_of
from openfyp.platform.errors import InvalidInput
from openfyp.store.tables import EventRow, FeedRequest, Role, User, Video
from openfyp.web.deps import DB, AppServices, CurrentViewer, WriteLimit
from openfyp.web.params import MAX_ID, OpaqueKey, RowId
from openfyp.web.routers.privacy import export_out
from openfyp.web.schemas import user_out

router = APIRouter(tags=["governance"])

Justification = Annotated[str | None, Header(alias="X-Justification", max_length=500)]
Kind = Literal["model", "config"]


def _allow(viewer, services, permission: Permission, **kwargs) -> None:
    authorize(viewer.user, permission, region=services.settings.region, **kwargs)


def _book(services) -> ReleaseBook:
    return ReleaseBook(services.settings, governance_of(services).audit)


# ---- federation -------------------------------------------------------------------------------------------
@router.get("/api/federation/videos")
def federated_videos(request: Request, services: AppServices, db: DB,
                     after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
                     limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    """Public video metadata for a peer region that signs its request (see ``openfyp.governance.federation``)."""
    governance = governance_of(services)
    path = f"{request.url.path}?{request.url.query}" if request.url.query else request.url.path
    try:
        requesting_region = federation.authenticate_peer(governance.keys, request.headers, request.method, path)
    except federation.PeerNotAuthenticated as refused:
        governance.gateway.refuse_peer(db, refused.region, refused.message)
        raise
    items = governance.gateway.share_public_metadata(db, requesting_region, after_id=after, limit=limit)
    return {"region": services.settings.region, "requesting_region": requesting_region, "items": items,
            "next_after": items[-1]["id"] if len(items) == limit else None}


# ---- oversight: releases ---------------------------------------------------------------------------------
def _serving(services) -> dict[str, Any]:
    engine = services.feed
    config = getattr(engine, "config", None)
    return {"model_version": getattr(engine, "model_version", None),
            "config_version": getattr(config, "version", None), "config_digest": getattr(config, "digest", None),
            "refused": getattr(engine, "artifact_error", None)}


@router.get("/api/oversight/releases")
def list_releases(viewer: CurrentViewer, services: AppServices, db: DB) -> dict[str, Any]:
    _allow(viewer, services, Permission.view_oversight)
    served: dict[tuple[str, str], int] = {}
    for model, config, count in _served_counts(db):
        served[("model", model or "")] = served.get(("model", model or ""), 0) + count
        served[("config", config or "")] = served.get(("config", config or ""), 0) + count
    items = []
    for status in _book(services).overview():
        entry = status.to_dict()
        entry["pages_served"] = served.get((status.subject.kind.value, status.subject.version), 0)
        items.append(entry)
    return {"items": items, "serving": _serving(services)}


def _served_counts(db) -> list[tuple[str | None, str | None, int]]:
    return [tuple(row) for row in db.execute(
        select(FeedRequest.model_version, FeedRequest.config_version, func.count())
        .where(FeedRequest.surface == "foryou")
        .group_by(FeedRequest.model_version, FeedRequest.config_version)).all()]


@router.get("/api/oversight/releases/{kind}/{version}")
def release_detail(kind: Kind, version: str, viewer: CurrentViewer, services: AppServices) -> dict[str, Any]:
    _allow(viewer, services, Permission.view_oversight)
    book = _book(services)
    subject = book.find(version, kind)
    return {**book.status(subject).to_dict(), "content": subject.content, "bundled_config": subject.bundled_config}


@router.get("/api/oversight/diff")
def release_diff(viewer: CurrentViewer, services: AppServices, a: Annotated[str, Query(max_length=64)],
                 b: Annotated[str, Query(max_length=64)], kind: Kind | None = None) -> dict[str, Any]:
    _allow(viewer, services, Permission.view_oversight)
    book = _book(services)
    return diff_subjects(book.find(a, kind), book.find(b, kind))


@router.get("/api/oversight/releases/{kind}/{version}/statement")
def statement_to_sign(kind: Kind, version: str, viewer: CurrentViewer, services: AppServices,
                      decision: Literal["approve", "reject", "propose"] = "approve",
                      reason: Annotated[str, Query(max_length=2000)] = "") -> dict[str, Any]:
    """The exact bytes the overseer signs (offline, with ``openfyp oversight sign-statement``)."""
    _allow(viewer, services, Permission.view_oversight)
    subject = _book(services).find(version, kind)
    statement = subject.statement(decision, reason)
    return {"statement": statement.decode(), "statement_b64": base64.b64encode(statement).decode(),
            "digest": subject.digest}


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key_id: str = Field(min_length=1, max_length=64)
    signature: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)
    key_id: str | None = Field(None, max_length=64)
    signature: str | None = Field(None, max_length=200)


class ProposeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=2000)


@router.post("/api/oversight/releases/{kind}/{version}/approve", dependencies=[WriteLimit])
def approve_release(kind: Kind, version: str, body: ApproveIn, viewer: CurrentViewer,
                    services: AppServices) -> dict[str, Any]:
    _allow(viewer, services, Permission.decide_oversight)
    book = _book(services)
    subject = book.find(version, kind)
    book.overseer_decide(subject, Decision.approve, reason=body.reason, key_id=body.key_id,
                         signature=body.signature, actor=viewer.user)
    return book.status(subject).to_dict()


@router.post("/api/oversight/releases/{kind}/{version}/reject", dependencies=[WriteLimit])
def reject_release(kind: Kind, version: str, body: RejectIn, viewer: CurrentViewer,
                   services: AppServices) -> dict[str, Any]:
    _allow(viewer, services, Permission.decide_oversight)
    book = _book(services)
    subject = book.find(version, kind)
    book.overseer_decide(subject, Decision.reject, reason=body.reason, key_id=body.key_id,
                         signature=body.signature, actor=viewer.user)
    return book.status(subject).to_dict()


@router.post("/api/oversight/releases/{kind}/{version}/propose", dependencies=[WriteLimit])
def propose_release(kind: Kind, version: str, body: ProposeIn, viewer: CurrentViewer,
                    services: AppServices) -> dict[str, Any]:
    _allow(viewer, services, Permission.propose_release)
    book = _book(services)
    subject = book.find(version, kind)
    book.propose(subject, reason=body.reason, actor=viewer.user)
    return book.status(subject).to_dict()


@router.get("/api/oversight/replay/{request_id}")
def replay(request_id: OpaqueKey, viewer: CurrentViewer, services: AppServices, db: DB) -> dict[str, Any]:
    request = db.get(FeedRequest, request_id)
    _allow(viewer, services, Permission.replay_feed, owner_id=request.user_id if request else None)
    return replay_request(services, request_id).to_dict()


# ---- the audit log ---------------------------------------------------------------------------------------
@router.get("/api/governance/audit")
def audit_entries(viewer: CurrentViewer, services: AppServices, after: Annotated[int, Query(ge=0)] = 0,
                  limit: Annotated[int, Query(ge=1, le=500)] = 100,
                  action: Annotated[str | None, Query(max_length=48)] = None) -> dict[str, Any]:
    _allow(viewer, services, Permission.read_audit_log)
    entries = governance_of(services).audit.entries(after=after, limit=limit, action=action)
    return {"items": [e.to_dict() for e in entries],
            "next_after": entries[-1].seq if len(entries) == limit else None}


@router.get("/api/governance/audit/head")
def audit_head(viewer: CurrentViewer, services: AppServices) -> dict[str, Any]:
    _allow(viewer, services, Permission.read_audit_log)
    from openfyp.governance.commands import signed_head

    governance = governance_of(services)
    return signed_head(governance.audit, governance.keys)


class HeldHeadIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    region: str = Field(max_length=16)
    seq: int = Field(ge=0)
    entry_hash: str = Field(min_length=64, max_length=64)


@router.get("/api/governance/audit/verify")
def audit_verify(viewer: CurrentViewer, services: AppServices) -> dict[str, Any]:
    _allow(viewer, services, Permission.read_audit_log)
    return governance_of(services).audit.verify().to_dict()


@router.post("/api/governance/audit/verify")
def audit_verify_against(body: HeldHeadIn, viewer: CurrentViewer, services: AppServices) -> dict[str, Any]:
    _allow(viewer, services, Permission.read_audit_log)
    return governance_of(services).audit.verify(ChainHead(body.region, body.seq, body.entry_hash)).to_dict()


# ---- staff access to protected data -------------------------------------------------------------------------
@router.get("/api/governance/users/{user_id}")
def staff_read_user(user_id: RowId, viewer: CurrentViewer, services: AppServices, db: DB,
                    justification: Justification = None) -> dict[str, Any]:
    user = governance_of(services).gateway.fetch(db, User, user_id, actor=viewer.user, purpose="profile_review",
                                                 justification=justification,
                                                 permission=Permission.read_private_profile)
    return {**user_out(user).model_dump(mode="json"), "email": user.email,
            "deleted": user.deleted_at is not None}


@router.get("/api/governance/users/{user_id}/events")
def staff_read_events(user_id: RowId, viewer: CurrentViewer, services: AppServices, db: DB,
                      justification: Justification = None, after: Annotated[int, Query(ge=0)] = 0,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict[str, Any]:
    governance_of(services).gateway.authorize_subject(db, user_id, actor=viewer.user, permission=Permission.read_events,
                                                      purpose="events_review", justification=justification)
    rows = db.scalars(select(EventRow).where(EventRow.user_id == user_id, EventRow.seq > after)
                      .order_by(EventRow.seq).limit(limit)).all()
    return {"items": [{"seq": r.seq, "kind": r.kind, "video_id": r.video_id, "target_user_id": r.target_user_id,
                       "watch_ratio": r.watch_ratio, "source": r.source, "server_ts": r.server_ts.isoformat()}
                      for r in rows], "next_after": rows[-1].seq if len(rows) == limit else None}


@router.get("/api/governance/videos/{video_id}")
def staff_read_video(video_id: RowId, viewer: CurrentViewer, services: AppServices, db: DB,
                     justification: Justification = None) -> dict[str, Any]:
    video = governance_of(services).gateway.fetch(db, Video, video_id, actor=viewer.user, purpose="video_review",
                                                  justification=justification)
    return {"id": video.id, "region": video.region, "creator_id": video.creator_id, "caption": video.caption,
            "status": video.status, "visibility": video.visibility, "moderation_state": video.moderation_state,
            "created_at": video.created_at.isoformat() if video.created_at else None}


@router.post("/api/governance/users/{user_id}/export", status_code=202, dependencies=[WriteLimit])
def staff_export(user_id: RowId, viewer: CurrentViewer, services: AppServices, db: DB,
                 justification: Justification = None) -> dict[str, Any]:
    request = privacy.export_for_staff(db, services, viewer.user, user_id, justification)
    db.commit()
    services.jobs.notify()
    return export_out(request)


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    reason: str = Field(min_length=8, max_length=500)


@router.put("/api/governance/users/{user_id}/role", dependencies=[WriteLimit])
def set_role(user_id: RowId, body: RoleIn, viewer: CurrentViewer, services: AppServices, db: DB) -> dict[str, Any]:
    _allow(viewer, services, Permission.set_role)
    user = governance_of(services).gateway.resolve(db, User, user_id, actor=viewer.user, purpose="role_change")
    if user.deleted_at is not None:
        raise InvalidInput("account_deleted", "that account was deleted", "user_id")
    if user.id == viewer.id and body.role.value != Role.admin.value:
        raise InvalidInput("own_role", "ask another admin to change your own role", "role")
    previous = user.role
    user.role = body.role.value
    audit_module.record(db, AuditAction.role_change, actor=viewer.user, target_kind="user", target_id=user.id,
                        justification=body.reason, details={"from": previous, "to": body.role.value})
    db.commit()
    return {"id": user.id, "role": user.role, "previous_role": previous}
