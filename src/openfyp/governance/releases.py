"""Overseer sign-off: a model version or a ranking config goes live only with two signatures on it.

Each party signs the same kind of statement, the canonical JSON of::

    {"statement": "openfyp-release/v1", "kind": "model"|"config", "version", "region", "digest",
     "decision": "propose"|"approve"|"reject", "reason"}

``digest`` pins the exact content (the model's signed manifest, which hashes every file and names its
ranking config; or the config's canonical JSON), so a signature never carries over to a changed artifact.
The operator proposes with the deployment's operator key; the overseer approves or rejects with a key whose
public half is registered (``openfyp keys overseer-new`` / ``register-overseer``) - the deployment never
holds the overseer's private key. The latest decision of each party lives in
``data_dir/governance/releases/<kind>/<version>/``; every decision is also audit-logged.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from openfyp.governance.audit import AuditAction, AuditLog, AuditRecord, actor_fields
from openfyp.governance.canonical import canonical_json
from openfyp.governance.errors import (
    ArtifactRefused,
    InvalidInput,
    KeyMissing,
    ReleaseRefused,
    SignatureInvalid,
    UnknownVersion,
)
from openfyp.governance.keys import KeyRing, SigningKey
from openfyp.governance.provenance import manifest_sha256, read_manifest_dict
from openfyp.settings import Settings

STATEMENT = "openfyp-release/v1"
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_REASON = 2000


class ReleaseKind(StrEnum):
    model = "model"
    config = "config"


class Decision(StrEnum):
    propose = "propose"
    approve = "approve"
    reject = "reject"


class ReleaseState(StrEnum):
    unreleased = "unreleased"  # nobody signed yet
    awaiting_overseer = "awaiting_overseer"
    awaiting_operator = "awaiting_operator"
    approved = "approved"  # both signatures valid: may go live
    rejected = "rejected"
    invalid = "invalid"  # a signature is present but does not hold (changed content, unknown key)


@dataclass(frozen=True)
class ReleaseSubject:
    kind: ReleaseKind
    version: str
    digest: str
    region: str
    content: dict[str, Any]  # the manifest or the config
    path: Path | None = None
    bundled_config: dict[str, Any] | None = None  # a model's ranking config

    def statement(self, decision: Decision | str, reason: str | None) -> bytes:
        return canonical_json({"statement": STATEMENT, "kind": self.kind.value, "version": self.version,
                               "region": self.region, "digest": self.digest, "decision": Decision(decision).value,
                               "reason": clean_reason(reason)})


@dataclass(frozen=True)
class SignedDecision:
    role: str  # operator or overseer
    decision: str
    reason: str
    digest: str
    key_id: str | None
    signature: str | None
    signed_at: str
    actor_id: int | None = None
    valid: bool = False
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "decision": self.decision, "reason": self.reason, "digest": self.digest,
                "key_id": self.key_id, "signed_at": self.signed_at, "actor_id": self.actor_id, "valid": self.valid,
                "problem": self.problem, "signature": self.signature}


@dataclass(frozen=True)
class ReleaseStatus:
    subject: ReleaseSubject
    state: ReleaseState
    operator: SignedDecision | None
    overseer: SignedDecision | None
    problems: list[str] = field(default_factory=list)

    @property
    def live_ready(self) -> bool:
        return self.state == ReleaseState.approved

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.subject.kind.value, "version": self.subject.version, "digest": self.subject.digest,
                "region": self.subject.region, "state": self.state.value,
                "operator": self.operator.to_dict() if self.operator else None,
                "overseer": self.overseer.to_dict() if self.overseer else None, "problems": self.problems}


def clean_reason(reason: str | None) -> str:
    return " ".join((reason or "").split())[:MAX_REASON]


def _check_version(version: str) -> str:
    if not VERSION_PATTERN.fullmatch(version or ""):
        raise InvalidInput("invalid_version", f"{version!r} is not a version name", "version")
    return version


class ReleaseBook:
    """Models and ranking configs of one deployment, and who signed them off."""

    def __init__(self, settings: Settings, audit: AuditLog | None = None) -> None:
        self.settings = settings
        self.audit = audit
        self.keys = KeyRing(settings)
        self.folder = settings.data_dir / "governance" / "releases"
        # Ranking configs the operator wrote for this deployment (the engine may be pointed at one by path).
        self.config_folder = settings.data_dir / "configs"

    # -- what can be released --------------------------------------------------------------------------
    def model(self, version: str) -> ReleaseSubject:
        _check_version(version)
        directory = self.settings.models_dir / version
        if not (directory / "manifest.json").is_file():
            raise UnknownVersion(version)
        manifest = read_manifest_dict(directory)
        bundled = None
        config_path = directory / "ranking_config.json"
        if config_path.is_file():
            try:
                bundled = json.loads(config_path.read_text())
            except json.JSONDecodeError:
                bundled = None
        return ReleaseSubject(ReleaseKind.model, version, manifest_sha256(manifest), str(manifest.get("region")),
                              manifest, directory, bundled)

    def models(self) -> list[ReleaseSubject]:
        if not self.settings.models_dir.is_dir():
            return []
        found = []
        for directory in sorted(self.settings.models_dir.iterdir()):
            if directory.is_dir() and (directory / "manifest.json").is_file() and VERSION_PATTERN.fullmatch(
                    directory.name):
                try:
                    found.append(self.model(directory.name))
                except ArtifactRefused:
                    continue
        return found

    def configs(self) -> list[ReleaseSubject]:
        """Ranking configs shipped with the code and those bundled in model artifacts (one per digest)."""
        from openfyp.recsys.contracts import RecsysError
        from openfyp.recsys.ranking.config import CONFIGS_DIR, parse_ranking_config

        paths = sorted(CONFIGS_DIR.glob("*.json")) + sorted(self.config_folder.glob("*.json"))
        if self.settings.models_dir.is_dir():
            paths += sorted(self.settings.models_dir.glob("*/ranking_config.json"))
        seen: dict[tuple[str, str], ReleaseSubject] = {}
        for path in paths:
            try:
                config = parse_ranking_config(path.read_text(), origin=str(path))
            except (RecsysError, OSError):
                continue
            key = (config.version, config.digest)
            if key not in seen:
                seen[key] = ReleaseSubject(ReleaseKind.config, config.version, config.digest, self.settings.region,
                                           config.model_dump(mode="json"), path)
        return sorted(seen.values(), key=lambda s: s.version)

    def config_subject(self, config: Any) -> ReleaseSubject:
        """The release subject of a loaded ``RankingConfig``."""
        return ReleaseSubject(ReleaseKind.config, config.version, config.digest, self.settings.region,
                              config.model_dump(mode="json"))

    def config(self, version: str, digest: str | None = None) -> ReleaseSubject:
        _check_version(version)
        matches = [s for s in self.configs() if s.version == version and (digest is None or s.digest == digest)]
        if not matches:
            raise UnknownVersion(version)
        if len(matches) > 1:
            raise InvalidInput("ambiguous_config",
                               f"several ranking configs are named {version!r}; give the digest", "digest")
        return matches[0]

    def find(self, version: str, kind: ReleaseKind | str | None = None) -> ReleaseSubject:
        if kind is not None:
            return self.model(version) if ReleaseKind(kind) == ReleaseKind.model else self.config(version)
        found: list[ReleaseSubject] = []
        for lookup in (self.model, self.config):
            try:
                found.append(lookup(version))
            except UnknownVersion:
                continue
        if not found:
            raise UnknownVersion(version)
        if len(found) > 1:
            raise InvalidInput("ambiguous_version", f"{version!r} names both a model and a config; say which",
                               "kind")
        return found[0]

    # -- signatures ---------------------------------------------------------------------------------------
    def _path(self, subject: ReleaseSubject, role: str) -> Path:
        return self.folder / subject.kind.value / subject.version / f"{role}.json"

    def _write(self, subject: ReleaseSubject, role: str, record: dict[str, Any]) -> None:
        path = self._path(subject, role)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{role}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        os.replace(temporary, path)

    def _audit(self, action: AuditAction, subject: ReleaseSubject, actor: Any, reason: str,
               details: dict[str, Any]) -> None:
        if self.audit is None:
            return
        actor_id, actor_role = actor_fields(actor)
        self.audit.append(AuditRecord(action=action.value, actor_id=actor_id, actor_role=actor_role,
                                      target_kind=subject.kind.value, target_id=subject.version,
                                      justification=reason or None,
                                      details={"digest": subject.digest, **details}))

    def propose(self, subject: ReleaseSubject, *, reason: str = "", actor: Any = None,
                operator_key: SigningKey | None = None) -> SignedDecision:
        """The operator's signature: this exact content is what the operator wants to put live."""
        self._require_own_region(subject)
        key = operator_key or self.keys.operator_key()
        reason = clean_reason(reason)
        signature = key.sign(subject.statement(Decision.propose, reason))
        actor_id, _ = actor_fields(actor)
        record = {"role": "operator", "decision": Decision.propose.value, "reason": reason, "digest": subject.digest,
                  "key_id": key.key_id, "signature": signature, "signed_at": datetime.now(UTC).isoformat(),
                  "actor_id": actor_id}
        self._write(subject, "operator", record)
        self._audit(AuditAction.release_proposed, subject, actor, reason, {"key_id": key.key_id})
        return self._operator_decision(subject)  # type: ignore[return-value]

    def overseer_decide(self, subject: ReleaseSubject, decision: Decision | str, *, reason: str,
                        key_id: str | None = None, signature: str | None = None, actor: Any = None) -> SignedDecision:
        """Record the overseer's decision. An approval must carry a valid signature by a registered overseer
        key; a rejection may be unsigned (refusing is always safe) but is verified if signed."""
        decision = Decision(decision)
        if decision == Decision.propose:
            raise InvalidInput("invalid_decision", "the overseer approves or rejects", "decision")
        reason = clean_reason(reason)
        if not reason:
            raise InvalidInput("reason_required", "the overseer's decision needs a reason", "reason")
        if decision == Decision.approve:
            self._require_own_region(subject)
        if decision == Decision.approve or signature:
            if not key_id or not signature:
                raise SignatureInvalid("an approval needs the overseer's key_id and signature", "signature_required")
            public = self.keys.overseer_keys().get(key_id)
            if public is None:
                raise SignatureInvalid(f"key {key_id} is not a registered overseer key", "overseer_key_unknown")
            if not public.verify(subject.statement(decision, reason), signature):
                raise SignatureInvalid(f"the signature does not match {decision.value} of {subject.kind.value} "
                                       f"{subject.version} (digest {subject.digest[:12]}) with this reason")
        actor_id, _ = actor_fields(actor)
        record = {"role": "overseer", "decision": decision.value, "reason": reason, "digest": subject.digest,
                  "key_id": key_id, "signature": signature, "signed_at": datetime.now(UTC).isoformat(),
                  "actor_id": actor_id}
        self._write(subject, "overseer", record)
        action = AuditAction.overseer_approval if decision == Decision.approve else AuditAction.overseer_rejection
        self._audit(action, subject, actor, reason, {"key_id": key_id, "signed": bool(signature)})
        return self._overseer_decision(subject)  # type: ignore[return-value]

    def _require_own_region(self, subject: ReleaseSubject) -> None:
        if subject.region != self.settings.region:
            raise ReleaseRefused("model_foreign_region",
                                 f"{subject.kind.value} {subject.version} belongs to region {subject.region!r}; "
                                 f"this deployment serves {self.settings.region!r}")

    # -- reading decisions back ------------------------------------------------------------------------------
    def _load(self, subject: ReleaseSubject, role: str) -> dict[str, Any] | None:
        path = self._path(subject, role)
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text())
        except json.JSONDecodeError:
            return {"role": role, "decision": "?", "reason": "", "digest": "", "signed_at": "", "unreadable": True}
        return record if isinstance(record, dict) else None

    def _decision(self, subject: ReleaseSubject, record: dict[str, Any], role: str, valid: bool,
                  problem: str | None) -> SignedDecision:
        return SignedDecision(role=role, decision=str(record.get("decision")), reason=str(record.get("reason", "")),
                              digest=str(record.get("digest", "")), key_id=record.get("key_id"),
                              signature=record.get("signature"), signed_at=str(record.get("signed_at", "")),
                              actor_id=record.get("actor_id"), valid=valid, problem=problem)

    def _operator_decision(self, subject: ReleaseSubject) -> SignedDecision | None:
        record = self._load(subject, "operator")
        if record is None:
            return None
        problem = self._check(subject, record, "operator")
        return self._decision(subject, record, "operator", problem is None, problem)

    def _overseer_decision(self, subject: ReleaseSubject) -> SignedDecision | None:
        record = self._load(subject, "overseer")
        if record is None:
            return None
        problem = None
        if record.get("decision") == Decision.approve.value or record.get("signature"):
            problem = self._check(subject, record, "overseer")
        elif record.get("digest") != subject.digest:
            problem = "decided on different content (the digest changed since)"
        return self._decision(subject, record, "overseer", problem is None, problem)

    def _check(self, subject: ReleaseSubject, record: dict[str, Any], role: str) -> str | None:
        if record.get("unreadable"):
            return f"the {role} record is unreadable"
        if record.get("digest") != subject.digest:
            return f"the {role} signed different content (digest {str(record.get('digest'))[:12]}, now " \
                   f"{subject.digest[:12]})"
        if role == "operator":
            try:
                public = self.keys.operator_public()
            except KeyMissing:
                return "this deployment has no operator key"
            if public.key_id != record.get("key_id"):
                return f"signed by key {record.get('key_id')}, not this deployment's operator key"
        else:
            public = self.keys.overseer_keys().get(str(record.get("key_id")))
            if public is None:
                return f"signed by key {record.get('key_id')}, which is not a registered overseer key"
        decision = str(record.get("decision"))
        if decision not in {d.value for d in Decision}:
            return f"unknown decision {decision!r}"
        if not public.verify(subject.statement(decision, record.get("reason")), str(record.get("signature") or "")):
            return f"the {role}'s signature does not verify"
        return None

    def status(self, subject: ReleaseSubject) -> ReleaseStatus:
        operator = self._operator_decision(subject)
        overseer = self._overseer_decision(subject)
        problems = [d.problem for d in (operator, overseer) if d is not None and d.problem]
        if subject.region != self.settings.region:
            problems.append(f"belongs to region {subject.region!r}")
            return ReleaseStatus(subject, ReleaseState.invalid, operator, overseer, problems)
        if overseer is not None and overseer.decision == Decision.reject.value and overseer.valid:
            return ReleaseStatus(subject, ReleaseState.rejected, operator, overseer, problems)
        if problems:
            return ReleaseStatus(subject, ReleaseState.invalid, operator, overseer, problems)
        operator_ok = operator is not None and operator.valid
        overseer_ok = overseer is not None and overseer.valid and overseer.decision == Decision.approve.value
        if operator_ok and overseer_ok:
            state = ReleaseState.approved
        elif operator_ok:
            state = ReleaseState.awaiting_overseer
        elif overseer_ok:
            state = ReleaseState.awaiting_operator
        else:
            state = ReleaseState.unreleased
        return ReleaseStatus(subject, state, operator, overseer, problems)

    def require_approved(self, subject: ReleaseSubject) -> ReleaseStatus:
        """Raise ``ReleaseRefused`` with the reason unless both parties signed this exact content."""
        status = self.status(subject)
        what = f"{subject.kind.value} {subject.version}"
        if status.state == ReleaseState.approved:
            return status
        messages = {
            ReleaseState.unreleased: (f"{subject.kind.value}_not_approved",
                                      f"{what} carries neither the operator's nor the overseer's signature"),
            ReleaseState.awaiting_overseer: (f"{subject.kind.value}_not_approved",
                                             f"{what} awaits the overseer's signature"),
            ReleaseState.awaiting_operator: (f"{subject.kind.value}_not_approved",
                                             f"{what} lacks the operator's signature"),
            ReleaseState.rejected: (f"{subject.kind.value}_rejected",
                                    f"{what} was rejected by the overseer: {status.overseer.reason if status.overseer else ''}"),
            ReleaseState.invalid: (f"{subject.kind.value}_approval_invalid",
                                   f"{what}: {'; '.join(status.problems)}"),
        }
        code, message = messages[status.state]
        raise ReleaseRefused(code, message)

    def overview(self) -> list[ReleaseStatus]:
        return [self.status(s) for s in (*self.models(), *self.configs())]


def overseer_sign(key: SigningKey, subject: ReleaseSubject, decision: Decision | str, reason: str) -> str:
    """What the overseer's own machine does: sign the statement (the CLI's ``oversight approve --key``)."""
    return key.sign(subject.statement(decision, reason))
