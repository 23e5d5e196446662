"""Roles and permissions. A role counts only in the region its account belongs to, and staff reaching
someone else's protected data must say why (the reason is audit-logged by the caller).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from openfyp.governance.errors import JustificationRequired
from openfyp.platform.errors import Forbidden, NotAuthenticated
from openfyp.store.tables import Role

STAFF = frozenset({Role.moderator.value, Role.admin.value})
MAX_JUSTIFICATION = 500
MIN_JUSTIFICATION = 8


class Permission(StrEnum):
    read_private_profile = "read_private_profile"
    read_events = "read_events"
    export_user_data = "export_user_data"
    view_nonpublic_video = "view_nonpublic_video"
    read_messages = "read_messages"
    read_moderation_records = "read_moderation_records"
    read_protected = "read_protected"
    read_audit_log = "read_audit_log"
    view_oversight = "view_oversight"
    decide_oversight = "decide_oversight"
    propose_release = "propose_release"
    set_role = "set_role"
    replay_feed = "replay_feed"


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]  # roles that may act on anyone's data
    owner: bool = False  # the data's owner may act on it
    justify: bool = False  # a non-owner must give a justification


_ADMIN = frozenset({Role.admin.value})
POLICY: dict[Permission, Rule] = {
    Permission.read_private_profile: Rule(STAFF, owner=True, justify=True),
    Permission.read_events: Rule(_ADMIN, owner=True, justify=True),
    Permission.export_user_data: Rule(_ADMIN, owner=True, justify=True),
    Permission.view_nonpublic_video: Rule(STAFF, owner=True, justify=True),
    Permission.read_messages: Rule(frozenset(), owner=True),
    Permission.read_moderation_records: Rule(STAFF, owner=True, justify=True),
    Permission.read_protected: Rule(_ADMIN, owner=True, justify=True),
    Permission.read_audit_log: Rule(frozenset({Role.admin.value, Role.overseer.value})),
    Permission.view_oversight: Rule(frozenset({Role.admin.value, Role.overseer.value})),
    Permission.decide_oversight: Rule(frozenset({Role.overseer.value})),
    Permission.propose_release: Rule(_ADMIN),
    Permission.set_role: Rule(_ADMIN),
    Permission.replay_feed: Rule(frozenset({Role.admin.value, Role.overseer.value}), owner=True),
}


@dataclass(frozen=True)
class Grant:
    actor_id: int
    role: str | None
    as_owner: bool
    justification: str | None

    @property
    def needs_audit(self) -> bool:
        return not self.as_owner


def effective_role(user: Any, region: str) -> str | None:
    """A role is bound to its region: an account of another region (or a deleted one) holds none here."""
    if user is None or getattr(user, "deleted_at", None) is not None or getattr(user, "region", None) != region:
        return None
    return getattr(user, "role", None)


def clean_justification(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())[:MAX_JUSTIFICATION]
    return text or None


def authorize(actor: Any, permission: Permission | str, *, region: str, owner_id: int | None = None,
              justification: str | None = None, what: str | None = None) -> Grant:
    """May ``actor`` (a ``User`` or a viewer with ``.user``) do ``permission`` on data owned by ``owner_id``?"""
    user = getattr(actor, "user", actor)
    if user is None:
        raise NotAuthenticated()
    permission = Permission(permission)
    rule = POLICY[permission]
    role = effective_role(user, region)
    if role is None:
        raise Forbidden("forbidden_region", "this account holds no rights in this region")
    if rule.owner and owner_id is not None and owner_id == user.id:
        return Grant(user.id, role, as_owner=True, justification=None)
    if role not in rule.roles:
        allowed = " or ".join(sorted(rule.roles)) or "the owner"
        raise Forbidden("forbidden_role", f"{permission.value.replace('_', ' ')} needs the role {allowed}")
    reason = clean_justification(justification)
    if rule.justify and (reason is None or len(reason) < MIN_JUSTIFICATION):
        raise JustificationRequired(what or permission.value.replace("_", " "))
    return Grant(user.id, role, as_owner=False, justification=reason)
