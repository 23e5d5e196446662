"""Governance over HTTP: cross-region reads fail every way, staff access needs a justification, the overseer
signs releases off, roles change under audit, and the audit log can be checked."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from sqlalchemy import text

from openfyp.governance import ceremony, federation
from openfyp.governance.errors import InvalidInput
from openfyp.governance.keys import KeyRing, load_private_key
from openfyp.governance.provenance import sign_artifact
from openfyp.governance.wiring import governance_of
from openfyp.platform.accounts import hash_token
from openfyp.settings import Settings
from tests.governance.artifact_support import make_artifact
from tests.governance.conftest import FOREIGN, plant_region
from tests.web.social_support import add_video, fast_user

JUSTIFY = {"X-Justification": "user report #42 about impersonation"}


def _refused(response) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "cross_region_refused"


def _denied(response) -> None:
    """Refused (403 cross_region_refused) or, where the code path hides foreign rows, simply not there (404)."""
    assert response.status_code in (403, 404), response.text
    if response.status_code == 403:
        assert response.json()["error"]["code"] == "cross_region_refused"
    assert f"{FOREIGN} p" not in response.text and f"{FOREIGN} comment" not in response.text


def _audited_refusals(services) -> int:
    return len(governance_of(services).audit.entries(action="cross_region_refused", limit=500))


def test_every_api_read_of_another_region_fails(any_db_client, any_db_services, tmp_path):
    services, client = any_db_services, any_db_client
    planted = plant_region(services.engine)
    viewer = fast_user(client, services, "vera")
    admin = fast_user(client, services, "ada", role="admin")
    own = add_video(services, viewer.id, "a local video #local")

    _refused(viewer.get(f"/api/videos/{planted.video_id}"))
    _refused(viewer.get(f"/api/videos/{planted.private_video_id}"))
    _denied(viewer.post(f"/api/videos/{planted.video_id}/like"))
    _denied(viewer.post(f"/api/videos/{planted.video_id}/comments", json={"body": "hello"}))
    _denied(viewer.get(f"/api/videos/{planted.video_id}/comments"))
    _denied(viewer.get(f"/api/comments/{planted.comment_id}/replies"))
    _denied(viewer.delete(f"/api/comments/{planted.comment_id}"))
    _denied(viewer.post(f"/api/users/eve_{FOREIGN}/follow"))
    _denied(viewer.get(f"/api/analytics/videos/{planted.video_id}"))
    # Even if the foreign region's media sat in this region's store, its files are not served here.
    leak = tmp_path / "leak.mp4"
    leak.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    key = f"videos/{planted.video_id}/leak.mp4"
    services.media.put_file(key, leak, "video/mp4")
    with services.engine.begin() as connection:
        connection.execute(text("UPDATE videos SET media_key = :k WHERE id = :v"), {"k": key, "v": planted.video_id})
    _denied(client.get(f"/media/{key}"))
    assert viewer.get(f"/api/users/eve_{FOREIGN}").status_code == 404
    search = viewer.get("/api/search", params={"q": FOREIGN})
    assert search.status_code == 200 and f"{FOREIGN} public" not in search.text
    feed = viewer.get("/api/feed/foryou")
    assert feed.status_code == 200
    assert planted.video_id not in {item["id"] for item in feed.json()["items"]}
    assert own is not None

    _refused(admin.client.get(f"/api/governance/users/{planted.user_id}", headers={**admin.headers, **JUSTIFY}))
    _refused(admin.client.get(f"/api/governance/users/{planted.user_id}/events", headers={**admin.headers, **JUSTIFY}))
    _refused(admin.client.post(f"/api/governance/users/{planted.user_id}/export", headers={**admin.headers, **JUSTIFY}))
    _refused(admin.client.get(f"/api/governance/videos/{planted.private_video_id}", headers={**admin.headers, **JUSTIFY}))
    overseer = fast_user(client, services, "otto", role="overseer")
    _refused(overseer.get(f"/api/oversight/replay/{planted.request_id}"))

    with services.engine.begin() as connection:  # a session token for the foreign account
        connection.execute(text("INSERT INTO auth_sessions (token_hash, user_id, kind, expires_at, last_seen_at, "
                                "created_at) VALUES (:h, :u, 'bearer', '2999-01-01 00:00:00', '2000-01-01 00:00:00', "
                                "'2000-01-01 00:00:00')"), {"h": hash_token("foreign-token"), "u": planted.user_id})
    stolen = client.get("/api/auth/me", headers={"Authorization": "Bearer foreign-token"})
    _refused(stolen)

    entries = governance_of(services).audit.entries(action="cross_region_refused", limit=500)
    assert len(entries) >= 9
    assert all(e.details["foreign_region"] == FOREIGN for e in entries)
    assert {e.actor_id for e in entries if e.details["via"] == "gateway"} == {admin.id}
    assert governance_of(services).audit.verify().ok


def _peer_keys(tmp_path, region: str) -> KeyRing:
    """Another region's deployment keys, made as its operator would with ``openfyp keys init``."""
    keys = KeyRing(Settings(region=region, data_dir=tmp_path / region))
    keys.folder.mkdir(parents=True, exist_ok=True)
    keys.init_operator()
    return keys


def test_federation_shares_public_metadata_only_with_signed_peers_policy_allows(client, services, tmp_path):
    creator = fast_user(client, services, "cora")
    public = add_video(services, creator.id, "public #dance", hashtags=("dance",))
    private = add_video(services, creator.id, "private one", visibility="private")
    eu, impostor = _peer_keys(tmp_path, "eu"), _peer_keys(tmp_path, "xx")
    governance_of(services).keys.register_peer("eu", eu.operator_public().pem())

    unsigned = client.get("/api/federation/videos")
    assert unsigned.status_code == 401 and unsigned.json()["error"]["code"] == "peer_not_authenticated"
    assert _audited_refusals(services) == 1
    # A proven peer the policy does not share with is refused too.
    with pytest.raises(httpx.HTTPStatusError) as not_shared:
        federation.fetch_peer_videos(client, eu, "eu")
    _refused(not_shared.value.response)
    assert _audited_refusals(services) == 2

    services.settings.public_metadata_shared_with = ["eu"]
    governance_of(services).gateway.shared_with = frozenset({"eu"})
    page = federation.fetch_peer_videos(client, eu, "eu")
    assert page["requesting_region"] == "eu"
    assert [item["id"] for item in page["items"]] == [public]
    assert page["items"][0]["hashtags"] == ["dance"] and "creator_id" not in page["items"][0]
    assert private not in {item["id"] for item in page["items"]}

    path = "/api/federation/videos?after=0&limit=100"
    forged = federation.signed_headers(impostor.operator_key(), "eu", "GET", path)  # claims eu, wrong key
    stale = federation.signed_headers(eu.operator_key(), "eu", "GET", path, now=datetime.now(UTC) - timedelta(hours=1))
    signed = federation.signed_headers(eu.operator_key(), "eu", "GET", path)
    unknown = federation.signed_headers(impostor.operator_key(), "xx", "GET", path)  # no key registered for xx
    for headers, url in ((forged, path), (stale, path), (signed, "/api/federation/videos?after=0&limit=500"),
                         (unknown, path), ({**signed, "X-Openfyp-Date": "yesterday"}, path)):
        refused = client.get(url, headers=headers)
        assert refused.status_code == 401, (headers, url, refused.text)
        assert refused.json()["error"]["code"] == "peer_not_authenticated"
    assert client.get(path, headers=signed).status_code == 200
    assert _audited_refusals(services) == 7
    assert governance_of(services).audit.verify().ok


def test_a_peer_key_must_not_be_the_deployments_own(services):
    keys = governance_of(services).keys
    if not keys.has("operator"):
        keys.init_operator()
    with pytest.raises(InvalidInput):
        keys.register_peer("eu", keys.operator_public().pem())


def test_staff_access_needs_a_justification_and_is_audited(client, services):
    subject = fast_user(client, services, "sam")
    moderator = fast_user(client, services, "mo", role="moderator")
    viewer = fast_user(client, services, "vic")
    admin = fast_user(client, services, "adam", role="admin")

    missing = moderator.get(f"/api/governance/users/{subject.id}")
    assert missing.status_code == 403 and missing.json()["error"]["code"] == "justification_required"
    assert viewer.client.get(f"/api/governance/users/{subject.id}", headers={**viewer.headers, **JUSTIFY}).status_code == 403
    granted = moderator.client.get(f"/api/governance/users/{subject.id}", headers={**moderator.headers, **JUSTIFY})
    assert granted.status_code == 200 and granted.json()["username"] == "sam"
    # Events are for admins only, and also need a reason.
    assert moderator.client.get(f"/api/governance/users/{subject.id}/events", headers={**moderator.headers, **JUSTIFY}).status_code == 403
    assert admin.get(f"/api/governance/users/{subject.id}/events").status_code == 403
    assert admin.client.get(f"/api/governance/users/{subject.id}/events", headers={**admin.headers, **JUSTIFY}).status_code == 200
    assert subject.get(f"/api/governance/users/{subject.id}").status_code == 200  # one's own data needs no reason

    entries = governance_of(services).audit.entries(action="staff_data_access")
    assert [(e.actor_id, e.target_id, e.justification) for e in entries] == [
        (moderator.id, str(subject.id), JUSTIFY["X-Justification"]),
        (admin.id, str(subject.id), JUSTIFY["X-Justification"])]


def test_roles_change_only_by_admins_and_under_audit(client, services):
    admin = fast_user(client, services, "root", role="admin")
    target = fast_user(client, services, "tess")
    body = {"role": "moderator", "reason": "joined the trust and safety team"}
    assert target.client.put(f"/api/governance/users/{target.id}/role", json=body,
                             headers=target.headers).status_code == 403
    changed = client.put(f"/api/governance/users/{target.id}/role", json=body, headers=admin.headers)
    assert changed.status_code == 200 and changed.json() == {"id": target.id, "role": "moderator",
                                                              "previous_role": "viewer"}
    short = client.put(f"/api/governance/users/{target.id}/role", json={"role": "admin", "reason": "x"},
                       headers=admin.headers)
    assert short.status_code == 422
    bad = client.put(f"/api/governance/users/{target.id}/role", json={"role": "king", "reason": "because I can"},
                     headers=admin.headers)
    assert bad.status_code == 422
    entries = governance_of(services).audit.entries(action="role_change")
    assert [(e.actor_id, e.target_id, e.details) for e in entries] == [
        (admin.id, str(target.id), {"from": "viewer", "to": "moderator"})]


VERSION = "20260101T000000Z-abcdef0123"
NEXT = "20260102T000000Z-abcdef0456"


def test_the_overseer_reviews_and_signs_releases(client, services, tmp_path):
    settings = services.settings
    overseer_key = ceremony.ensure_overseer_key(settings, tmp_path / "overseer")
    ceremony.ensure_operator_key(settings)
    for version, auc in ((VERSION, 0.70), (NEXT, 0.74)):
        sign_artifact(settings, make_artifact(settings, version, metrics={"auc": auc}))
    admin = fast_user(client, services, "op", role="admin")
    overseer = fast_user(client, services, "ovi", role="overseer")
    viewer = fast_user(client, services, "val")

    assert viewer.get("/api/oversight/releases").status_code == 403
    listed = overseer.get("/api/oversight/releases").json()
    models = {i["version"]: i["state"] for i in listed["items"] if i["kind"] == "model"}
    assert models == {VERSION: "unreleased", NEXT: "unreleased"}

    diff = overseer.get("/api/oversight/diff", params={"a": VERSION, "b": NEXT}).json()
    assert [(m["key"], round(m["delta"], 2)) for m in diff["metrics"]] == [("auc", 0.04)]

    assert overseer.post(f"/api/oversight/releases/model/{NEXT}/propose", json={}).status_code == 403
    proposed = admin.post(f"/api/oversight/releases/model/{NEXT}/propose", json={"reason": "weekly"})
    assert proposed.status_code == 200 and proposed.json()["state"] == "awaiting_overseer"

    reason = "auc up, no new engagement bait"
    statement = overseer.get(f"/api/oversight/releases/model/{NEXT}/statement",
                             params={"decision": "approve", "reason": reason}).json()
    key = load_private_key(overseer_key, "overseer")
    signature = key.sign(base64.b64decode(statement["statement_b64"]))
    assert admin.post(f"/api/oversight/releases/model/{NEXT}/approve",
                      json={"key_id": key.key_id, "signature": signature, "reason": reason}).status_code == 403
    forged = overseer.post(f"/api/oversight/releases/model/{NEXT}/approve",
                           json={"key_id": key.key_id, "signature": signature, "reason": reason + "!"})
    assert forged.status_code == 422 and forged.json()["error"]["code"] == "signature_invalid"
    approved = overseer.post(f"/api/oversight/releases/model/{NEXT}/approve",
                             json={"key_id": key.key_id, "signature": signature, "reason": reason})
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    rejected = overseer.post(f"/api/oversight/releases/model/{VERSION}/reject", json={"reason": "superseded"})
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    missing = overseer.post("/api/oversight/releases/model/no-such-version/reject", json={"reason": "x"})
    assert missing.status_code == 404

    actions = [e.action for e in governance_of(services).audit.entries()]
    assert actions == ["release_proposed", "overseer_approval", "overseer_rejection"]


def test_the_audit_log_over_http(client, services):
    admin = fast_user(client, services, "aud", role="admin")
    viewer = fast_user(client, services, "vue")
    target = fast_user(client, services, "tom")
    for role in ("moderator", "creator", "viewer"):
        client.put(f"/api/governance/users/{target.id}/role", json={"role": role, "reason": "rotation of duties"},
                   headers=admin.headers)
    assert viewer.get("/api/governance/audit/verify").status_code == 403
    head = admin.get("/api/governance/audit/head").json()
    assert head["seq"] == 3
    assert admin.get("/api/governance/audit/verify").json()["ok"] is True
    entries = admin.get("/api/governance/audit", params={"action": "role_change"}).json()["items"]
    assert [e["details"]["to"] for e in entries] == ["moderator", "creator", "viewer"]

    with services.engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET justification = 'nothing happened' WHERE seq = 2"))
    report = admin.get("/api/governance/audit/verify").json()
    assert (report["ok"], report["first_bad_seq"], report["problem"]) == (False, 2, "entry_altered")
    held = admin.post("/api/governance/audit/verify", json=head).json()
    assert held["ok"] is False
