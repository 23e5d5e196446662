"""Models that know where they came from: the trainer signs each artifact's manifest, and a server loads
only an artifact of its own region, signed by its own trainer, unaltered since, and released by both the
operator and the overseer.

The manifest (written by ``openfyp.recsys.artifacts``) states the region, the event-log range and the hash
of the training data, row counts, code version, ranking config and metrics, and the SHA-256 of every file.
The signature sits beside it in ``manifest.sig``: ``{"key_id", "signature", "manifest_sha256", ...}`` over
the manifest's canonical JSON, so reformatting the file changes nothing and changing any value breaks it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from openfyp.governance.canonical import canonical_json, digest, sha256_hex
from openfyp.governance.errors import ArtifactRefused, ForeignTrainingData
from openfyp.governance.keys import KeyRing
from openfyp.settings import Settings
from openfyp.store.tables import ErasedUser

MANIFEST_FILE = "manifest.json"
SIGNATURE_FILE = "manifest.sig"
SIGNATURE_FORMAT = 1


@dataclass(frozen=True)
class SignedManifest:
    directory: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    key_id: str

    @property
    def version(self) -> str:
        return str(self.manifest.get("version"))


def read_manifest_dict(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST_FILE
    if not path.is_file():
        raise ArtifactRefused("no_manifest", f"{directory.name} has no {MANIFEST_FILE}", "version")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactRefused("model_tampered", f"the manifest of {directory.name} is not valid JSON: {exc}",
                              "manifest") from None
    if not isinstance(manifest, dict):
        raise ArtifactRefused("model_tampered", f"the manifest of {directory.name} is not a JSON object", "manifest")
    return manifest


def manifest_sha256(manifest: dict[str, Any]) -> str:
    return sha256_hex(canonical_json(manifest))


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def sign_artifact(settings: Settings, directory: Path) -> SignedManifest:
    """Sign ``directory``'s manifest with this deployment's trainer key (made on first use).

    The trainer refuses to sign an artifact that claims another region: it only vouches for its own.
    """
    manifest = read_manifest_dict(directory)
    if manifest.get("region") != settings.region:
        raise ArtifactRefused("model_foreign_region",
                              f"refusing to sign {directory.name}: it was trained for region "
                              f"{manifest.get('region')!r}, this deployment serves {settings.region!r}", "region")
    key = KeyRing(settings).trainer_key(create=True)
    payload = canonical_json(manifest)
    envelope = {
        "format": SIGNATURE_FORMAT, "algorithm": "ed25519", "role": "trainer", "key_id": key.key_id,
        "version": manifest.get("version"), "region": settings.region, "manifest_sha256": sha256_hex(payload),
        "signed_at": datetime.now(UTC).isoformat(), "signature": key.sign(payload),
    }
    _write_atomically(directory / SIGNATURE_FILE, json.dumps(envelope, indent=2, sort_keys=True) + "\n")
    return SignedManifest(directory, manifest, envelope["manifest_sha256"], key.key_id)


def verify_artifact(settings: Settings, directory: Path) -> SignedManifest:
    """The signed manifest of ``directory`` or a refusal naming why: foreign, unsigned, unknown signer,
    tampered. (The files' own hashes are checked by ``openfyp.recsys.artifacts.verify_files``.)"""
    name = directory.name
    manifest = read_manifest_dict(directory)
    region = manifest.get("region")
    if region != settings.region:
        raise ArtifactRefused("model_foreign_region",
                              f"model {name} was trained for region {region!r}; this deployment serves "
                              f"{settings.region!r} and only loads models trained on its own data", "region")
    signature_path = directory / SIGNATURE_FILE
    if not signature_path.is_file():
        raise ArtifactRefused("model_unsigned",
                              f"model {name} is unsigned: its manifest carries no trainer signature", "signature")
    try:
        envelope = json.loads(signature_path.read_text())
        key_id, signature = str(envelope["key_id"]), str(envelope["signature"])
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
        raise ArtifactRefused("model_unsigned", f"model {name} has an unreadable {SIGNATURE_FILE}",
                              "signature") from None
    trainer = KeyRing(settings).trainer_public()
    if trainer is None or trainer.key_id != key_id:
        raise ArtifactRefused("model_unknown_signer",
                              f"model {name} was signed by key {key_id}, which is not this deployment's trainer "
                              f"key{f' ({trainer.key_id})' if trainer else ''}", "signature")
    payload = canonical_json(manifest)
    if not trainer.verify(payload, signature):
        raise ArtifactRefused("model_tampered",
                              f"model {name}'s manifest was changed after it was signed: the trainer's signature "
                              "no longer matches it", "manifest")
    return SignedManifest(directory, manifest, sha256_hex(payload), key_id)


# -- what training may read and must prove ------------------------------------------------------------------
def erased_user_ids(db: Session, region: str | None = None) -> frozenset[int]:
    """Accounts deleted at their owner's request, in ``region`` (default: the session's region, if scoped)."""
    from openfyp.governance.residency import session_region

    region = region or session_region(db)
    query = select(ErasedUser.user_id)
    if region is not None:
        query = query.where(ErasedUser.region == region)
    return frozenset(db.scalars(query))


def check_training_events(events: Iterable[Any], region: str, erased: frozenset[int] = frozenset()) -> int:
    """Refuse training input holding another region's events or an erased account's; returns the count."""
    count = 0
    for event in events:
        get = event.get if isinstance(event, dict) else lambda name, e=event: getattr(e, name, None)
        event_region = get("region")
        if event_region != region:
            raise ForeignTrainingData("foreign_training_data",
                                      f"training input holds an event of region {event_region!r} (seq {get('seq')}); "
                                      f"models of region {region!r} are trained on its own data only")
        if erased and get("user_id") in erased:
            raise ForeignTrainingData("erased_user_in_training_data",
                                      f"training input holds an event of erased account {get('user_id')}")
        count += 1
    return count


def exclusion_section(erased: Iterable[int], trained_user_ids: Iterable[int]) -> dict[str, Any]:
    """The manifest section proving that no erased account's data was trained on.

    Refuses (``erased_user_in_training_data``) if any erased id is among the trained users.
    """
    erased_ids = sorted({int(u) for u in erased})
    present = sorted(set(erased_ids) & {int(u) for u in trained_user_ids if u is not None})
    if present:
        raise ForeignTrainingData("erased_user_in_training_data",
                                  f"training data still holds erased accounts {present[:10]}")
    return {"erased_user_ids": erased_ids, "erased_users": len(erased_ids),
            "erased_user_ids_sha256": digest(erased_ids), "checked_absent": True}


def proves_exclusion(manifest: dict[str, Any], user_id: int) -> bool:
    section = manifest.get("exclusion") or {}
    return bool(section.get("checked_absent")) and user_id in set(section.get("erased_user_ids") or [])


def seal_artifact(settings: Settings, directory: Path, *, session_factory: Any,
                  trained_user_ids: Iterable[int]) -> SignedManifest:
    """The trainer's last step: state in the manifest which erased accounts were checked absent from the
    training data (refusing if any is present), then sign the manifest.

    Call it after the manifest is written (``artifacts.write_manifest``) and before the artifact is moved
    into place; ``trained_user_ids`` are the accounts whose events or impressions were read.
    """
    with session_factory() as db:
        erased = erased_user_ids(db)
    manifest = read_manifest_dict(directory)
    manifest["exclusion"] = exclusion_section(erased, trained_user_ids)
    _write_atomically(directory / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    return sign_artifact(settings, directory)
