"""What may serve: the checks ``openfyp.recsys.artifacts.resolve_servable`` runs before a model goes live.

A model serves only if its manifest is of this region, signed by this deployment's trainer and unchanged,
and its release (which pins the manifest, hence every file and the bundled ranking config) carries both the
operator's and the overseer's signatures. A ranking config used without a model needs the same sign-off,
except the baseline shipped with the code, which is public in the source itself.
"""

from __future__ import annotations

from typing import Any

from openfyp.governance.errors import DomainError
from openfyp.governance.provenance import verify_artifact
from openfyp.governance.releases import ReleaseBook
from openfyp.settings import Settings


def _as_artifact_error(exc: DomainError) -> Exception:
    from openfyp.recsys.artifacts import ArtifactError

    return ArtifactError(exc.code, exc.message, exc.field)


def check_servable(settings: Settings, artifact: Any) -> None:
    """Raise ``ArtifactError`` (a ``RecsysError``) naming why ``artifact`` may not serve; None if it may."""
    try:
        verify_artifact(settings, artifact.path)
        book = ReleaseBook(settings)
        book.require_approved(book.model(artifact.version))
    except DomainError as exc:
        raise _as_artifact_error(exc) from None


def check_config_servable(settings: Settings, config: Any) -> None:
    """A ranking config without a model: the shipped baseline, or one both parties signed."""
    from openfyp.recsys.ranking.config import load_ranking_config

    try:
        baseline = load_ranking_config()
    except Exception:
        baseline = None
    if baseline is not None and baseline.version == config.version and baseline.digest == config.digest:
        return
    try:
        book = ReleaseBook(settings)
        book.require_approved(book.config_subject(config))
    except DomainError as exc:
        raise _as_artifact_error(exc) from None
