"""Model artifacts built by hand (no training), exactly as ``openfyp.recsys.artifacts`` lays them out."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from openfyp.recsys import artifacts
from openfyp.recsys.ranking.config import load_ranking_config


def make_artifact(settings, version: str = "20260101T000000Z-abcdef0123", *, region: str | None = None,
                  metrics: dict | None = None, config_overrides: dict | None = None) -> Path:
    directory = settings.models_dir / version
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    (directory / "weights.bin").write_bytes(b"\x00\x01" * 64)
    config = load_ranking_config()
    if config_overrides:
        config = config.model_copy(update=config_overrides)
    config.to_file(directory / artifacts.RANKING_CONFIG_FILE)
    manifest = artifacts.ArtifactManifest(
        version=version, region=region or settings.region, created_at=datetime.now(UTC), code_version="test",
        feature_version="f1", feature_names=["a", "b"], ranking_config_version=config.version,
        ranking_config_digest=config.digest, event_seq_from=1, event_seq_to=10, data_hash="d" * 64,
        rows={"events": 10, "users": 2}, metrics=metrics or {"auc": 0.7},
    )
    artifacts.write_manifest(directory, manifest)
    return directory
