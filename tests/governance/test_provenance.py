"""Signed models and two-party sign-off: each refusal names its reason, and only a released model serves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openfyp.governance import ceremony
from openfyp.governance.errors import ArtifactRefused, InvalidInput, SignatureInvalid
from openfyp.governance.keys import KeyRing, create_overseer_keypair, load_private_key, write_keypair
from openfyp.governance.provenance import SIGNATURE_FILE, sign_artifact, verify_artifact
from openfyp.governance.releases import Decision, ReleaseBook, ReleaseState, overseer_sign
from openfyp.governance.serving import check_config_servable
from openfyp.platform.errors import Conflict
from openfyp.recsys import artifacts
from openfyp.recsys.artifacts import ArtifactError
from openfyp.recsys.ranking.config import load_ranking_config

from .artifact_support import make_artifact

VERSION = "20260101T000000Z-abcdef0123"


@pytest.fixture
def overseer_key(settings, tmp_path) -> Path:
    return ceremony.ensure_overseer_key(settings, tmp_path / "overseer-laptop")


def _serve(settings) -> artifacts.ServableArtifact | None:
    artifacts.set_current(settings, VERSION)
    return artifacts.resolve_servable(settings)


def _refusal(settings) -> str:
    with pytest.raises(ArtifactError) as refused:
        _serve(settings)
    return refused.value.code


def test_an_unsigned_model_is_refused(settings):
    make_artifact(settings)
    assert _refusal(settings) == "model_unsigned"


def test_a_signed_model_still_needs_both_signatures(settings, overseer_key):
    make_artifact(settings)
    sign_artifact(settings, settings.models_dir / VERSION)
    assert _refusal(settings) == "model_not_approved"
    book = ReleaseBook(settings)
    ceremony.ensure_operator_key(settings)
    book.propose(book.model(VERSION), reason="weekly retrain")
    with pytest.raises(ArtifactError) as refused:
        _serve(settings)
    assert refused.value.code == "model_not_approved" and "overseer" in refused.value.message
    status = ceremony.release(settings, VERSION, overseer_key=overseer_key, reason="metrics reviewed")
    assert status.state == ReleaseState.approved
    assert _serve(settings).version == VERSION


def test_a_tampered_manifest_is_refused(settings, overseer_key):
    directory = make_artifact(settings)
    sign_artifact(settings, directory)
    ceremony.release(settings, VERSION, overseer_key=overseer_key, reason="ok")
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["metrics"]["auc"] = 0.99
    (directory / "manifest.json").write_text(json.dumps(manifest))
    assert _refusal(settings) == "model_tampered"


def test_a_tampered_model_file_is_refused(settings, overseer_key):
    directory = make_artifact(settings)
    sign_artifact(settings, directory)
    ceremony.release(settings, VERSION, overseer_key=overseer_key, reason="ok")
    (directory / "weights.bin").write_bytes(b"backdoor")
    assert _refusal(settings) == "tampered_file"


def test_a_foreign_model_is_refused_and_never_signed(settings, tmp_path):
    directory = make_artifact(settings, region="cn")
    with pytest.raises(ArtifactRefused) as refused:
        sign_artifact(settings, directory)
    assert refused.value.code == "model_foreign_region"
    with pytest.raises(ArtifactRefused) as refused:
        verify_artifact(settings, directory)
    assert refused.value.code == "model_foreign_region" and "'cn'" in refused.value.message
    (settings.models_dir / artifacts.CURRENT).write_text(VERSION)
    with pytest.raises(ArtifactError) as served:
        artifacts.resolve_servable(settings)
    assert served.value.code == "foreign_artifact"


def test_a_model_signed_by_another_trainer_is_refused(settings, tmp_path):
    directory = make_artifact(settings)
    sign_artifact(settings, directory)
    stranger = write_keypair(tmp_path / "elsewhere", "trainer", "trainer")
    envelope = json.loads((directory / SIGNATURE_FILE).read_text())
    from openfyp.governance.canonical import canonical_json

    envelope.update(key_id=stranger.key_id,
                    signature=stranger.sign(canonical_json(json.loads((directory / "manifest.json").read_text()))))
    (directory / SIGNATURE_FILE).write_text(json.dumps(envelope))
    assert _refusal(settings) == "model_unknown_signer"


def test_a_rejected_model_stays_off(settings, overseer_key):
    directory = make_artifact(settings)
    sign_artifact(settings, directory)
    ceremony.release(settings, VERSION, overseer_key=overseer_key, reason="first look fine")
    book = ReleaseBook(settings)
    book.overseer_decide(book.model(VERSION), Decision.reject, reason="engagement bait rises 40%")
    with pytest.raises(ArtifactError) as refused:
        _serve(settings)
    assert refused.value.code == "model_rejected" and "engagement bait" in refused.value.message


def test_approval_does_not_carry_over_to_changed_content(settings, overseer_key):
    directory = make_artifact(settings)
    sign_artifact(settings, directory)
    ceremony.release(settings, VERSION, overseer_key=overseer_key, reason="ok")
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["metrics"]["auc"] = 0.5
    (directory / "manifest.json").write_text(json.dumps(manifest))
    sign_artifact(settings, directory)  # even the trainer re-signing does not renew the sign-off
    with pytest.raises(ArtifactError) as refused:
        _serve(settings)
    assert refused.value.code == "model_approval_invalid" and "different content" in refused.value.message


def test_the_overseer_signature_is_checked(settings, overseer_key, tmp_path):
    make_artifact(settings)
    sign_artifact(settings, settings.models_dir / VERSION)
    book = ReleaseBook(settings)
    subject = book.model(VERSION)
    key = load_private_key(overseer_key, "overseer")
    with pytest.raises(SignatureInvalid) as wrong_reason:
        book.overseer_decide(subject, "approve", reason="something else", key_id=key.key_id,
                             signature=overseer_sign(key, subject, "approve", "what I signed"))
    assert wrong_reason.value.code == "signature_invalid"
    unregistered = write_keypair(tmp_path / "impostor", "overseer", "overseer")
    with pytest.raises(SignatureInvalid) as unknown:
        book.overseer_decide(subject, "approve", reason="ok", key_id=unregistered.key_id,
                             signature=overseer_sign(unregistered, subject, "approve", "ok"))
    assert unknown.value.code == "overseer_key_unknown"
    with pytest.raises(SignatureInvalid) as unsigned:
        book.overseer_decide(subject, "approve", reason="ok")
    assert unsigned.value.code == "signature_required"
    assert book.status(subject).state == ReleaseState.unreleased


def test_the_operator_cannot_be_its_own_overseer(settings, tmp_path):
    ceremony.ensure_operator_key(settings)
    keys = KeyRing(settings)
    with pytest.raises(InvalidInput) as refused:
        keys.register_overseer(keys.operator_public().pem())
    assert refused.value.code == "overseer_key_is_own"
    with pytest.raises(InvalidInput):
        create_overseer_keypair(settings.keys_dir / "sub", settings)
    with pytest.raises(Conflict):
        keys.init_operator()


def test_a_changed_ranking_config_needs_sign_off(settings, overseer_key):
    baseline = load_ranking_config()
    check_config_servable(settings, baseline)  # the published baseline ships with the code
    tweaked = baseline.model_copy(update={"version": "tweak-1", "shortlist": 80})
    with pytest.raises(ArtifactError) as refused:
        check_config_servable(settings, tweaked)
    assert refused.value.code == "config_not_approved"
    same_name = baseline.model_copy(update={"shortlist": 80})  # a changed config cannot pose as the baseline
    with pytest.raises(ArtifactError):
        check_config_servable(settings, same_name)


def test_a_signed_off_ranking_config_may_serve(settings, overseer_key):
    tweaked = load_ranking_config().model_copy(update={"version": "tweak-1", "shortlist": 80})
    (settings.data_dir / "configs").mkdir(parents=True)
    tweaked.to_file(settings.data_dir / "configs" / "tweak-1.json")
    status = ceremony.release(settings, "tweak-1", overseer_key=overseer_key, reason="smaller shortlist", kind="config")
    assert status.state == ReleaseState.approved
    check_config_servable(settings, tweaked)
    with pytest.raises(ArtifactError):
        check_config_servable(settings, tweaked.model_copy(update={"shortlist": 81}))
