"""The explicit door to protected data: region check, authorisation, justification, audit.

The ORM guard already hides foreign rows from every query. The gateway is what a staff tool, an export
or a federation peer goes through: it looks at the row's region itself, so a foreign id is *refused* (and
the attempt audit-logged) rather than merely not found, and it records why staff opened someone's data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from openfyp.governance.audit import AuditAction, AuditLog, AuditRecord, actor_fields
from openfyp.governance.authz import Grant, Permission, authorize
from openfyp.governance.data_classes import (
    DataClass,
    classify,
    is_public_video,
    table_name,
)
from openfyp.governance.errors import CrossRegionAccessRefused, InvalidInput
from openfyp.governance.export import request_export
from openfyp.governance.residency import refuse, region_of_row
from openfyp.platform.errors import NotFound
from openfyp.settings import REGION_PATTERN
from openfyp.store.tables import DataRequest, Hashtag, User, Video, VideoHashtag

_PERMISSION_FOR: dict[DataClass, Permission] = {
    DataClass.accounts: Permission.read_private_profile,
    DataClass.events: Permission.read_events,
    DataClass.videos: Permission.view_nonpublic_video,
    DataClass.messages: Permission.read_messages,
    DataClass.moderation: Permission.read_moderation_records,
    DataClass.governance: Permission.read_audit_log,
    DataClass.protected: Permission.read_protected,
}
_OWNER_COLUMNS = ("user_id", "creator_id", "owner_id", "appellant_id", "reporter_id")


def owner_of(row: Any) -> int | None:
    if isinstance(row, User):
        return row.id
    for column in _OWNER_COLUMNS:
        value = getattr(row, column, None)
        if value is not None:
            return value
    return None


@dataclass
class RegionGateway:
    region: str
    shared_with: frozenset[str]
    audit: AuditLog

    def fetch(self, db: Session, model: Any, ident: object, *, actor: Any, purpose: str,
              justification: str | None = None, permission: Permission | None = None) -> Any:
        """The row ``ident`` of ``model`` for ``actor``, or a refusal: foreign region (403, audited), missing
        (404), not allowed (403) or staff without a justification (403). Staff access is audit-logged."""
        row = self.resolve(db, model, ident, actor=actor, purpose=purpose)
        data_class = classify(model)
        if data_class == DataClass.public_content or (data_class == DataClass.videos and isinstance(row, Video)
                                                       and is_public_video(row) and permission is None):
            return row
        grant = authorize(actor, permission or _PERMISSION_FOR[data_class], region=self.region,
                          owner_id=owner_of(row), justification=justification, what=f"{data_class.value} data")
        self._audit_staff_access(db, grant, model, ident, purpose)
        return row

    def resolve(self, db: Session, model: Any, ident: object, *, actor: Any, purpose: str) -> Any:
        """The row, refusing (and auditing) one of another region and 404 for none; no access decision."""
        row_region = region_of_row(db, model, ident)
        actor_id, actor_role = actor_fields(actor)
        if row_region is None:
            raise NotFound(table_name(model).rstrip("s"), ident)
        if row_region != self.region:
            refuse(db, model=model, ident=ident, foreign_region=row_region, via="gateway", actor_id=actor_id,
                   actor_role=actor_role, purpose=purpose)
        return db.get(model, ident)

    def authorize_subject(self, db: Session, user_id: int, *, actor: Any, permission: Permission, purpose: str,
                          justification: str | None = None) -> tuple[User, Grant]:
        """The account ``user_id`` as the subject of ``permission`` (an export, an events read...)."""
        row_region = region_of_row(db, User, user_id)
        actor_id, actor_role = actor_fields(actor)
        if row_region is None:
            raise NotFound("user", user_id)
        if row_region != self.region:
            refuse(db, model=User, ident=user_id, foreign_region=row_region, via="gateway", actor_id=actor_id,
                   actor_role=actor_role, purpose=purpose)
        subject = db.get(User, user_id)
        if subject is None or subject.deleted_at is not None:
            raise NotFound("user", user_id)
        grant = authorize(actor, permission, region=self.region, owner_id=subject.id, justification=justification,
                          what="this account's data")
        self._audit_staff_access(db, grant, User, user_id, purpose)
        return subject, grant

    def export(self, db: Session, services: Any, user_id: int, *, actor: Any,
               justification: str | None = None) -> DataRequest:
        """Queue a zip of everything about ``user_id``: for the account holder, or for an admin with a reason.
        A foreign account is refused; the request is recorded and audit-logged (caller commits)."""
        subject, grant = self.authorize_subject(db, user_id, actor=actor, permission=Permission.export_user_data,
                                                purpose="data_export", justification=justification)
        return request_export(db, services, subject, grant=grant, kind="export" if grant.as_owner else "staff_export")

    def _audit_staff_access(self, db: Session, grant: Grant, model: Any, ident: object, purpose: str) -> None:
        if not grant.needs_audit:
            return
        self.audit.append_beside(db, AuditRecord(
            action=AuditAction.staff_data_access.value, actor_id=grant.actor_id, actor_role=grant.role,
            target_kind=table_name(model), target_id=str(ident), justification=grant.justification,
            details={"purpose": purpose, "data_class": classify(model).value}))

    # -- federation ---------------------------------------------------------------------------------------
    def check_sharing(self, db: Session | None, requesting_region: str) -> None:
        if not re.fullmatch(REGION_PATTERN, requesting_region or ""):
            raise InvalidInput("invalid_region", "requesting_region must be a region code such as 'eu'",
                               "requesting_region")
        if requesting_region == self.region or requesting_region in self.shared_with:
            return
        self._audit_federation_refusal(db, requesting_region)
        raise CrossRegionAccessRefused(
            f"region {self.region!r} does not share public video metadata with {requesting_region!r}",
            data_class=DataClass.videos.value, foreign_region=requesting_region)

    def refuse_peer(self, db: Session | None, claimed_region: str | None, reason: str) -> None:
        """Audit a federation request whose signature did not prove the region it claimed."""
        self._audit_federation_refusal(db, claimed_region, reason=reason[:200])

    def _audit_federation_refusal(self, db: Session | None, region: str | None, **extra: str) -> None:
        self.audit.append_beside(db, AuditRecord(
            action=AuditAction.cross_region_refused.value, target_kind="videos", target_id="*",
            details={"data_class": DataClass.videos.value, "foreign_region": region, "via": "federation",
                     "direction": "outbound", **extra}))

    def share_public_metadata(self, db: Session, requesting_region: str, *, after_id: int = 0,
                              limit: int = 100) -> list[dict[str, Any]]:
        """This region's public video metadata for a peer region its policy shares with; nothing personal."""
        self.check_sharing(db, requesting_region)
        videos = db.scalars(
            select(Video).where(
                Video.region == self.region, Video.id > after_id, Video.visibility == "public",
                Video.status == "ready", Video.moderation_state == "ok", Video.deleted_at.is_(None),
                Video.adult_only.is_(False),
            ).order_by(Video.id).limit(max(1, min(limit, 500)))
        ).all()
        tags = _hashtags_of(db, [v.id for v in videos])
        return [{"id": v.id, "region": v.region, "caption": v.caption, "hashtags": tags.get(v.id, []),
                 "duration_s": v.duration_s, "width": v.width, "height": v.height,
                 "created_at": v.created_at.isoformat() if v.created_at else None} for v in videos]


def _hashtags_of(db: Session, video_ids: list[int]) -> dict[int, list[str]]:
    if not video_ids:
        return {}
    rows = db.execute(select(VideoHashtag.video_id, Hashtag.name).join(Hashtag, Hashtag.id == VideoHashtag.hashtag_id)
                      .where(VideoHashtag.video_id.in_(video_ids)).order_by(Hashtag.name)).all()
    found: dict[int, list[str]] = {}
    for video_id, name in rows:
        found.setdefault(video_id, []).append(name)
    return found

