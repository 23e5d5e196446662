"""Switches governance on for a deployment: the residency guard on its sessions, its audit log, its
gateway and its keys, reachable as ``services.extras["governance"]``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from openfyp.governance.audit import AuditLog
from openfyp.governance.gateway import RegionGateway
from openfyp.governance.keys import KeyRing
from openfyp.governance.residency import install_region_guard
from openfyp.settings import Settings

if TYPE_CHECKING:
    from openfyp.services import Services

EXTRAS_KEY = "governance"


@dataclass
class Governance:
    settings: Settings
    audit: AuditLog
    gateway: RegionGateway
    keys: KeyRing

    @property
    def region(self) -> str:
        return self.settings.region


def install_governance(services: Services) -> Governance:
    """Idempotent; call before any session is opened so every session is region-scoped."""
    existing = services.extras.get(EXTRAS_KEY)
    if existing is not None:
        return existing
    settings = services.settings
    audit = AuditLog(services.engine, settings.region, settings.resolved_secret_key())
    install_region_guard(services.session_factory, settings.region, audit)
    governance = Governance(
        settings=settings, audit=audit,
        gateway=RegionGateway(settings.region, frozenset(settings.public_metadata_shared_with), audit),
        keys=KeyRing(settings),
    )
    services.extras[EXTRAS_KEY] = governance
    services.extras["audit"] = audit
    return governance


def governance_of(services: Any) -> Governance:
    found = services.extras.get(EXTRAS_KEY)
    return found if found is not None else install_governance(services)
