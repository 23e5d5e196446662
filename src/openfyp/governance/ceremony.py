"""The release ceremony as one call: the operator proposes, the overseer signs with their own key.

This is what an operator and an overseer do by hand with ``openfyp oversight propose`` and
``openfyp oversight approve --key``; the demo and end-to-end tests run it in one step. The overseer's
private key is read from where the overseer keeps it and never copied into the deployment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openfyp.governance.audit import AuditLog
from openfyp.governance.keys import OPERATOR, OVERSEER, KeyRing, create_overseer_keypair, load_private_key
from openfyp.governance.releases import Decision, ReleaseBook, ReleaseStatus, overseer_sign
from openfyp.settings import Settings


def ensure_operator_key(settings: Settings) -> None:
    keys = KeyRing(settings)
    if not keys.has(OPERATOR):
        keys.init_operator()


def ensure_overseer_key(settings: Settings, folder: Path) -> Path:
    """The overseer's private key in ``folder`` (outside the deployment), created and registered if absent."""
    path = folder / f"{OVERSEER}.key"
    if not path.is_file():
        path, _ = create_overseer_keypair(folder, settings)
    else:
        KeyRing(settings).register_overseer(load_private_key(path, OVERSEER).public.pem())
    return path


def release(settings: Settings, version: str, *, overseer_key: Path, reason: str, kind: str | None = None,
            audit: AuditLog | None = None, actor: Any = None) -> ReleaseStatus:
    book = ReleaseBook(settings, audit)
    subject = book.find(version, kind)
    ensure_operator_key(settings)
    book.propose(subject, reason=reason, actor=actor)
    key = load_private_key(overseer_key, OVERSEER)
    book.overseer_decide(subject, Decision.approve, reason=reason, key_id=key.key_id,
                         signature=overseer_sign(key, subject, Decision.approve, reason))
    return book.status(subject)
