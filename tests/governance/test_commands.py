"""The operator's and overseer's command line, run as a user would (real settings, real files)."""

from __future__ import annotations

import json

from sqlalchemy import text

from openfyp.governance.canonical import canonical_json
from openfyp.governance.keys import KeyRing
from openfyp.governance.provenance import sign_artifact
from openfyp.governance.releases import ReleaseBook

from .artifact_support import make_artifact

A, B = "20260101T000000Z-aaaaaaaaaa", "20260102T000000Z-bbbbbbbbbb"


def test_keys_and_the_release_ceremony(cli, settings, tmp_path):
    cli("keys", "init")
    assert "key_exists" in cli("keys", "init", code=2).stderr
    laptop = tmp_path / "overseer-laptop"
    created = cli("keys", "overseer-new", "--out", str(laptop))
    assert (laptop / "overseer.key").is_file() and "keep it off this server" in created.output
    listed_keys = cli("keys", "list").output
    assert "operator" in listed_keys and "overseer" in listed_keys

    for version, auc in ((A, 0.61), (B, 0.66)):
        sign_artifact(settings, make_artifact(settings, version, metrics={"auc": auc}))
    assert "unreleased" in cli("oversight", "list").output
    refused = cli("oversight", "check", B, code=2)
    assert "model_not_approved" in refused.stderr

    diff = json.loads(cli("oversight", "diff", A, B).output)
    assert diff["metrics"][0]["key"] == "auc" and diff["files"]["changed"] == []

    cli("oversight", "propose", B, "--reason", "weekly retrain")
    approved = cli("oversight", "approve", B, "--key", str(laptop / "overseer.key"), "--reason", "auc up 5 points")
    assert "approved" in approved.output
    assert "may serve" in cli("oversight", "check", B).output
    listing = json.loads(cli("oversight", "list", "--json").output)
    states = {item["version"]: item["state"] for item in listing["items"] if item["kind"] == "model"}
    assert states == {A: "unreleased", B: "approved"}

    cli("oversight", "reject", B, "--reason", "caption spam went up")
    assert "model_rejected" in cli("oversight", "check", B, code=2).stderr

    # Signing offline: print the statement, sign it on another machine, submit the signature.
    statement = cli("oversight", "statement", A, "--decision", "approve", "--reason", "ok").output
    (tmp_path / "statement.json").write_text(statement)
    key_id, signature = cli("oversight", "sign-statement", str(tmp_path / "statement.json"),
                            "--key", str(laptop / "overseer.key")).output.split()
    book = ReleaseBook(settings)
    book.overseer_decide(book.model(A), "approve", reason="ok", key_id=key_id, signature=signature)
    assert book.status(book.model(A)).overseer.valid

    unknown = cli("oversight", "approve", "nope", "--key", str(laptop / "overseer.key"), "--reason", "x", code=2)
    assert "error version_not_found" in unknown.stderr
    assert "error unknown_model_version" in cli("oversight", "check", "nope", code=2).stderr


def test_audit_verify_head_and_tampering(cli, settings, services, tmp_path):
    from openfyp.governance.audit import AuditRecord
    from openfyp.governance.wiring import governance_of

    audit = governance_of(services).audit
    for number in range(5):
        audit.append(AuditRecord(action="admin_action", details={"n": number}))
    assert "intact: 5 entries" in cli("audit", "verify").output
    cli("keys", "init")
    held = tmp_path / "head.json"
    cli("audit", "head", "--out", str(held))
    head = json.loads(held.read_text())
    assert head["seq"] == 5 and len(head["entry_hash"]) == 64
    # The operator signs the exported head, so whoever holds it can show where it came from.
    statement = canonical_json({k: head[k] for k in ("region", "seq", "entry_hash")})
    assert KeyRing(settings).operator_public().verify(statement, head["signature"])

    with services.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log WHERE seq = 5"))
    assert "ok" in cli("audit", "verify").output
    truncated = cli("audit", "verify", "--head", str(held), code=1)
    assert "FAILED at entry 5 (head_mismatch)" in truncated.stderr
    with services.engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET details = '{\"n\": 99}' WHERE seq = 3"))
    edited = cli("audit", "verify", code=1)
    assert "FAILED at entry 3 (entry_altered)" in edited.stderr
    lines = cli("audit", "log", "--limit", "2").output.strip().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2]


def test_roles_grant(cli, services):
    from fastapi.testclient import TestClient

    from openfyp.web.app import create_app
    from tests.web.social_support import fast_user

    with TestClient(create_app(services)) as client:
        user = fast_user(client, services, "olive")
    assert "viewer -> overseer" in cli("roles", "grant", "olive", "overseer", "--reason", "appointed overseer").output
    assert "invalid_role" in cli("roles", "grant", "olive", "emperor", "--reason", "why not", code=2).stderr
    assert "user_not_found" in cli("roles", "grant", "nobody", "admin", "--reason", "x", code=2).stderr
    from openfyp.store.tables import User

    with services.session_factory() as db:
        assert db.get(User, user.id).role == "overseer"


def test_federation_add_peer_and_pull_errors(cli, settings, services, tmp_path):
    peer = KeyRing(type(settings)(region="eu", data_dir=tmp_path / "eu"))
    peer.folder.mkdir(parents=True)
    peer.init_operator()
    pem = tmp_path / "eu-operator.pub"
    pem.write_text(peer.operator_public().pem())

    added = cli("federation", "add-peer", "eu", str(pem))
    assert peer.operator_public().key_id in added.output and "not shared with yet" in added.output
    assert f"{peer.operator_public().key_id} (region eu)" in cli("keys", "list").output
    assert KeyRing(settings).peer_key("eu").key_id == peer.operator_public().key_id
    assert "invalid_region" in cli("federation", "add-peer", "EU!", str(pem), code=2).stderr
    garbage = tmp_path / "garbage.pub"
    garbage.write_text("not a key")
    assert "bad_key" in cli("federation", "add-peer", "fr", str(garbage), code=2).stderr

    cli("keys", "init")
    # Nothing listens on port 9 of the loopback: the pull says so instead of crashing.
    assert "peer_unreachable" in cli("federation", "pull", "http://127.0.0.1:9", code=2).stderr
