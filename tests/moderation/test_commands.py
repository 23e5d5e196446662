"""``openfyp moderation``: the queue and keyword filters from the operator's shell, on a real data dir."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from openfyp.cli import app
from openfyp.moderation import cases
from openfyp.settings import get_settings
from openfyp.store.tables import User
from tests.moderation.helpers import api_user, make_video


@pytest.fixture
def run(services, monkeypatch):
    monkeypatch.setenv("OPENFYP_DATA_DIR", str(services.settings.data_dir))
    monkeypatch.setenv("OPENFYP_REGION", services.settings.region)
    monkeypatch.setenv("OPENFYP_SECRET_KEY", services.settings.secret_key)
    monkeypatch.setenv("OPENFYP_JOB_WORKERS", "0")

    def invoke(*args: str):
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(app, ["moderation", *args])
        finally:
            get_settings.cache_clear()

    return invoke


def test_keyword_commands(run, services):
    added = run("keywords", "add", "Free  CRYPTO", "--action", "block", "--scope", "comments")
    assert added.exit_code == 0, added.output
    assert "“free crypto” (block comments)" in added.output
    listed = run("keywords", "list", "--json")
    rules = json.loads(listed.stdout)
    assert [(r["pattern"], r["action"], r["scope"]) for r in rules] == [("free crypto", "block", "comments")]

    duplicate = run("keywords", "add", "free crypto")
    assert duplicate.exit_code == 2 and "keyword_exists" in duplicate.output
    bad_scope = run("keywords", "add", "x", "--scope", "bios")
    assert bad_scope.exit_code == 2  # typer refuses the choice before anything runs

    removed = run("keywords", "remove", str(rules[0]["id"]))
    assert removed.exit_code == 0 and "removed rule" in removed.output
    missing = run("keywords", "remove", str(rules[0]["id"]))
    assert missing.exit_code == 2 and "keyword_filter_not_found" in missing.output
    assert "no keyword filters" in run("keywords", "list").output
    # Every change made from the shell is in the audit log, with the operator (no user) as the actor.
    entries = services.extras["audit"].entries(action="admin_action")
    assert [e.details["change"] for e in entries] == ["added", "removed"]
    assert all(e.actor_id is None for e in entries)


def test_queue_command(run, services, client):
    assert "the queue is empty" in run("queue").output
    alice, bob = api_user(client, "alice"), api_user(client, "bob")
    video = make_video(services, alice.id)
    with services.session_factory() as db:
        cases.file_report(db, reporter=db.get(User, bob.id), target_kind="video", target_id=video,
                          reason="minor_safety", settings=services.settings)
        db.commit()
    table = run("queue")
    assert table.exit_code == 0, table.output
    assert f"video:{video}" in table.output and "minor_safety" in table.output
    as_json = json.loads(run("queue", "--json").stdout)
    assert as_json[0]["target"] == {"kind": "video", "id": video} and as_json[0]["priority"] > 1_000_000
