"""Versioned model artifacts: ``<models_dir>/<version>/`` holds the model files and a ``manifest.json``.

``<models_dir>/current`` names the version the servers should use. Which artifact may serve is decided
in exactly one place, :func:`resolve_servable`; governance extends that function (signatures, overseer
approval) and every server picks the decision up without a restart.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from openfyp.recsys.contracts import RecsysError
from openfyp.recsys.ranking.config import RankingConfig, parse_ranking_config
from openfyp.settings import Settings

MANIFEST = "manifest.json"
CURRENT = "current"
RANKING_CONFIG_FILE = "ranking_config.json"
ARTIFACT_FORMAT = 1
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ArtifactError(RecsysError):
    pass


class ArtifactManifest(BaseModel):
    model_config = ConfigDict(extra="allow")

    format: int = ARTIFACT_FORMAT
    version: str
    region: str
    created_at: datetime
    code_version: str
    feature_version: str
    feature_names: list[str]
    ranking_config_version: str
    ranking_config_digest: str
    event_seq_from: int = Field(ge=0)
    event_seq_to: int = Field(ge=0)
    data_hash: str
    rows: dict[str, int] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    models: dict[str, Any] = Field(default_factory=dict)
    files: dict[str, str] = Field(default_factory=dict)  # relative path -> sha256
    refused_foreign_events: int = 0


@dataclass(frozen=True)
class ServableArtifact:
    path: Path
    manifest: ArtifactManifest

    @property
    def version(self) -> str:
        return self.manifest.version

    def ranking_config(self) -> RankingConfig:
        return parse_ranking_config((self.path / RANKING_CONFIG_FILE).read_text(),
                                    origin=str(self.path / RANKING_CONFIG_FILE))


def new_version(data_hash: str, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{data_hash[:10]}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory: Path, manifest: ArtifactManifest) -> None:
    """Hash every file of the artifact into the manifest, then write the manifest last."""
    files = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            files[path.relative_to(directory).as_posix()] = file_sha256(path)
    manifest.files = files
    (directory / MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n")


def read_manifest(directory: Path) -> ArtifactManifest:
    path = directory / MANIFEST
    if not path.is_file():
        raise ArtifactError("no_manifest", f"{directory} has no {MANIFEST}", "version")
    try:
        return ArtifactManifest.model_validate_json(path.read_text())
    except ValidationError as exc:
        raise ArtifactError("bad_manifest", f"{path}: {exc.errors()[0].get('msg', 'invalid')}", "manifest") from None


def verify_files(artifact: ServableArtifact) -> None:
    """Every file listed in the manifest is present and unchanged."""
    for relative, expected in artifact.manifest.files.items():
        path = artifact.path / relative
        if not path.is_file():
            raise ArtifactError("missing_file", f"artifact {artifact.version} lacks {relative}", relative)
        if file_sha256(path) != expected:
            raise ArtifactError("tampered_file", f"artifact {artifact.version}: {relative} does not match its hash",
                                relative)


def artifact_dir(settings: Settings, version: str) -> Path:
    if not VERSION_PATTERN.match(version):
        raise ArtifactError("bad_version", f"{version!r} is not a model version", "version")
    return settings.models_dir / version


def load_artifact(settings: Settings, version: str) -> ServableArtifact:
    """A stored artifact by version (for replay and audits), checked for region and integrity."""
    directory = artifact_dir(settings, version)
    if not directory.is_dir():
        raise ArtifactError("unknown_model_version", f"no artifact {version!r} in {settings.models_dir}", "version")
    manifest = read_manifest(directory)
    if manifest.region != settings.region:
        raise ArtifactError("foreign_artifact", f"artifact {version} was trained for region {manifest.region!r}, "
                            f"this deployment serves {settings.region!r}", "region")
    artifact = ServableArtifact(directory, manifest)
    verify_files(artifact)
    return artifact


def current_version(settings: Settings) -> str | None:
    pointer = settings.models_dir / CURRENT
    try:
        text = pointer.read_text().strip()
    except FileNotFoundError:
        return None
    return text or None


def pointer_stamp(settings: Settings) -> tuple[float, int] | None:
    """A cheap fingerprint of the ``current`` pointer (mtime, size); servers poll it to notice a new version."""
    try:
        stat = (settings.models_dir / CURRENT).stat()
    except FileNotFoundError:
        return None
    return (stat.st_mtime, stat.st_size)


def set_current(settings: Settings, version: str) -> None:
    """Point ``current`` at ``version`` atomically (write a temporary file, then rename over)."""
    load_artifact(settings, version)
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    temporary = settings.models_dir / f".{CURRENT}.{os.getpid()}.tmp"
    temporary.write_text(version + "\n")
    os.replace(temporary, settings.models_dir / CURRENT)


def resolve_servable(settings: Settings) -> ServableArtifact | None:
    """The artifact this deployment may serve now, or ``None`` (serve the untrained heuristic).

    The single seam for "which model may serve": governance adds signature and overseer-approval checks
    here. An artifact that fails a check raises :class:`ArtifactError`; the engine then keeps serving what
    it had and reports the error.
    """
    version = current_version(settings)
    if version is None:
        return None
    artifact = load_artifact(settings, version)
    from openfyp.governance.serving import check_servable  # trainer signature and two-party sign-off

    check_servable(settings, artifact)
    return artifact


def list_versions(settings: Settings) -> list[str]:
    if not settings.models_dir.is_dir():
        return []
    return sorted(p.name for p in settings.models_dir.iterdir() if p.is_dir() and (p / MANIFEST).is_file())


def dump_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
