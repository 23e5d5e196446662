"""Trust and safety over HTTP, on SQLite and PostgreSQL: reports, the queue, decisions and their effect on
what people can see, appeals, keyword filters, muted words, notifications and protections for minors."""

from __future__ import annotations

from sqlalchemy import select

from openfyp.moderation.sanctions import ensure_may_post
from openfyp.platform.errors import Forbidden
from openfyp.store.tables import Comment, EventRow, User, Video
from tests.moderation.helpers import api_user, follow, make_comment, make_video, row


def _services(client):
    return client.app.state.services


def _people(client):
    alice, bob, carol = api_user(client, "alice"), api_user(client, "bob"), api_user(client, "carol")
    mod, mod2 = api_user(client, "mod.one", role="moderator"), api_user(client, "mod.two", role="moderator")
    return _services(client), alice, bob, carol, mod, mod2


def _report(user, kind, target_id, reason="spam", **extra):
    return user.post("/api/reports", json={"target_kind": kind, "target_id": target_id, "reason": reason, **extra})


def _open_case_for(mod, kind, target_id):
    items = mod.get("/api/moderation/queue").json()["items"]
    return next(c for c in items if c["target"] == {"kind": kind, "id": target_id})


def _audit_count(services, action):
    return services.extras["audit"].count(action)


# ---- reports --------------------------------------------------------------------------------------------


def test_reports_group_into_one_case_and_repeats_are_absorbed(any_db_client):
    services, alice, bob, carol, mod, _ = _people(any_db_client)
    video = make_video(services, alice.id, "dance")

    first = _report(bob, "video", video, "spam", details="posted 20 times")
    assert first.status_code == 201, first.text
    again = _report(bob, "video", video, "hate")
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["report"]["id"] == first.json()["report"]["id"]
    assert again.json()["report"]["reason"] == "spam"  # the first report stands
    other = _report(carol, "video", video, "harassment")
    assert other.status_code == 201
    assert other.json()["case_id"] == first.json()["case_id"]

    case = _open_case_for(mod, "video", video)
    assert case["report_count"] == 2
    assert case["top_reason"] == "harassment"
    services.events.settle()  # acknowledged events reach the table one move later
    with services.session_factory() as db:
        events = db.scalars(select(EventRow).where(EventRow.kind == "report")).all()
        # Two reports, two events: the absorbed repeat re-sent its event id and the log absorbed it too.
        assert sorted(e.user_id for e in events) == sorted([bob.id, carol.id])
        assert all(e.video_id == video for e in events)
        assert {e.extra["reason"] for e in events} == {"spam", "harassment"}


def test_reports_on_comments_and_users(any_db_client):
    services, alice, bob, carol, mod, _ = _people(any_db_client)
    video = make_video(services, alice.id)
    comment = make_comment(services, video, carol.id, "you are all terrible")
    assert _report(bob, "comment", comment, "harassment").status_code == 201
    assert _report(bob, "user", carol.id, "harassment").status_code == 201
    kinds = {c["target"]["kind"] for c in mod.get("/api/moderation/queue").json()["items"]}
    assert kinds == {"comment", "user"}
    detail = mod.get(f"/api/moderation/cases/{_open_case_for(mod, 'comment', comment)['id']}").json()
    assert detail["content"]["body"] == "you are all terrible"
    assert detail["content"]["owner"]["id"] == carol.id
    assert [r["reporter_id"] for r in detail["reports"]] == [bob.id]


def test_bad_reports_get_structured_errors(any_db_client):
    services, alice, bob, *_ = _people(any_db_client)
    video = make_video(services, alice.id)
    cases = [
        ({"target_kind": "video", "target_id": video, "reason": "boring"}, 422, "invalid_input", "reason"),
        ({"target_kind": "song", "target_id": video, "reason": "spam"}, 422, "invalid_input", "target_kind"),
        ({"target_kind": "video", "target_id": 0, "reason": "spam"}, 422, "invalid_input", "target_id"),
        ({"target_kind": "video", "target_id": 2**40, "reason": "spam"}, 422, "invalid_input", "target_id"),
        ({"target_kind": "video", "target_id": "seven", "reason": "spam"}, 422, "invalid_input", "target_id"),
        ({"target_kind": "video", "target_id": video, "reason": "spam", "details": "x" * 2001}, 422,
         "invalid_input", "details"),
        ({"target_kind": "video", "target_id": video, "reason": "spam", "extra": 1}, 422, "invalid_input", "extra"),
        ({"target_kind": "video", "target_id": 999_999, "reason": "spam"}, 404, "video_not_found", None),
        ({"target_kind": "user", "target_id": 999_999, "reason": "spam"}, 404, "user_not_found", None),
        ({"target_kind": "comment", "target_id": 999_999, "reason": "spam"}, 404, "comment_not_found", None),
    ]
    for body, status, code, field in cases:
        response = bob.post("/api/reports", json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["code"] == code
        if field:
            assert response.json()["error"]["field"] == field
    own = _report(alice, "video", video)
    assert own.status_code == 422 and own.json()["error"]["code"] == "cannot_report_own"
    anonymous = any_db_client.post("/api/reports", json={"target_kind": "video", "target_id": video, "reason": "spam"})
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "not_authenticated"
    private = make_video(services, alice.id, visibility="private")  # nobody reports what they cannot see
    hidden = _report(bob, "video", private)
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "video_not_found"
    garbled = any_db_client.post("/api/reports", content=b"{not json",
                                 headers={**bob.headers, "Content-Type": "application/json"})
    assert garbled.status_code == 400 and garbled.json()["error"]["code"] == "malformed_json"


# ---- the queue ------------------------------------------------------------------------------------------


def test_queue_puts_minor_safety_first_then_severity_count_and_reach(any_db_client):
    services, alice, bob, carol, mod, _ = _people(any_db_client)
    dave = api_user(any_db_client, "dave")
    spam_many = make_video(services, alice.id, "spam many")
    spam_one = make_video(services, alice.id, "spam one")
    viral_spam = make_video(services, alice.id, "viral spam")
    violent = make_video(services, alice.id, "violent")
    child = make_video(services, alice.id, "child")
    for reporter in (bob, carol, dave):
        _report(reporter, "video", spam_many, "spam")
    _report(bob, "video", spam_one, "spam")
    _report(bob, "video", violent, "violence")
    with services.session_factory() as db:  # the viral one has been played a hundred times
        db.add_all([EventRow(region=services.region, event_id=f"00000000-0000-4000-8000-{i:012d}", user_id=bob.id,
                             video_id=viral_spam, kind="play") for i in range(100)])
        db.commit()
    _report(bob, "video", viral_spam, "spam")
    _report(bob, "video", child, "minor_safety")

    order = [c["target"]["id"] for c in mod.get("/api/moderation/queue").json()["items"]]
    assert order[0] == child
    assert order[1] == violent
    assert order.index(spam_many) < order.index(spam_one)
    assert order.index(viral_spam) < order.index(spam_one)
    page = mod.get("/api/moderation/queue", params={"limit": 2}).json()
    assert [c["target"]["id"] for c in page["items"]] == order[:2] and page["next_offset"] == 2
    rest = mod.get("/api/moderation/queue", params={"limit": 10, "offset": 2}).json()
    assert [c["target"]["id"] for c in rest["items"]] == order[2:]


def test_only_moderators_and_admins_work_the_queue(any_db_client):
    services, alice, bob, carol, mod, _ = _people(any_db_client)
    video = make_video(services, alice.id)
    _report(bob, "video", video)
    case_id = _open_case_for(mod, "video", video)["id"]
    for url in ("/api/moderation/queue", "/api/moderation/appeals", f"/api/moderation/cases/{case_id}"):
        response = carol.get(url)
        assert response.status_code in (403, 404), url
    assert carol.get("/api/moderation/queue").json()["error"]["code"] == "forbidden_role"
    decision = carol.post(f"/api/moderation/cases/{case_id}/decision", json={"action": "remove", "reason_code": "spam"})
    assert decision.status_code == 403 and decision.json()["error"]["code"] == "forbidden_role"
    assert any_db_client.get("/api/moderation/queue").status_code == 401
    admin = api_user(any_db_client, "admin.one", role="admin")
    assert admin.get("/api/moderation/queue").status_code == 200
    assert mod.get("/api/moderation/queue", params={"limit": 0}).status_code == 422
    assert mod.get("/api/moderation/queue", params={"target_kind": "song"}).status_code == 422
    missing = mod.get("/api/moderation/cases/424242")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "case_not_found"
    for bad_id in ("abc", "0", str(2**40)):
        response = mod.get(f"/api/moderation/cases/{bad_id}")
        assert response.status_code == 422 and response.json()["error"]["field"] == "case_id", bad_id


# ---- decisions and what they do to visibility -----------------------------------------------------------


def _foryou(user) -> list[int]:
    response = user.get("/api/feed/foryou", params={"limit": 30})
    assert response.status_code == 200, response.text
    return [v["id"] for v in response.json()["items"]]


def _following(user) -> list[int]:
    return [v["id"] for v in user.get("/api/feed/following", params={"limit": 30}).json()["items"]]


def _search(user, query: str) -> list[int]:
    response = user.get("/api/search", params={"q": query, "type": "videos"})
    assert response.status_code == 200, response.text
    return [v["id"] for v in response.json()["videos"]]


def _decide(mod, kind, target_id, action, reason_code=None):
    case_id = _open_case_for(mod, kind, target_id)["id"]
    response = mod.post(f"/api/moderation/cases/{case_id}/decision",
                        json={"action": action, "reason_code": reason_code, "note": "see policy"})
    assert response.status_code == 200, response.text
    return case_id


def test_remove_hides_the_video_everywhere_but_from_its_creator(any_db_client):
    services, alice, bob, carol, mod, _ = _people(any_db_client)
    dave = api_user(any_db_client, "dave")
    follow(services, carol.id, alice.id)
    video = make_video(services, alice.id, "sunset over the harbour")
    # Before: every surface shows it (For You never repeats a video, so each viewer looks once).
    assert video in _following(carol) and video in _search(bob, "harbour") and video in _foryou(dave)
    _report(bob, "video", video, "violence")
    case_id = _decide(mod, "video", video, "remove", "violence")

    assert row(services, Video, video).moderation_state == "removed"
    assert bob.get(f"/api/videos/{video}").status_code == 404
    assert any_db_client.get(f"/api/videos/{video}").status_code == 404
    assert alice.get(f"/api/videos/{video}").status_code == 200
    assert video not in _following(carol)
    assert video not in _search(bob, "harbour")
    assert video not in _foryou(bob)
    assert _audit_count(services, "moderation_decision") == 1

    notes = alice.get("/api/me/notifications").json()
    decision_note = next(n for n in notes["items"] if n["kind"] == "moderation_decision")
    assert decision_note["payload"] == {"case_id": case_id, "target_kind": "video", "target_id": video,
                                        "action": "remove", "reason_code": "violence", "appealable": True}
    assert [n["kind"] for n in bob.get("/api/me/notifications").json()["items"]] == ["report_resolved"]

    again = mod.post(f"/api/moderation/cases/{case_id}/decision", json={"action": "dismiss"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "case_not_open"


def test_restrict_keeps_the_video_up_but_out_of_recommendations(any_db_client):
    services, alice, bob, carol, mod, _ = _people(any_db_client)
    follow(services, carol.id, alice.id)
    video = make_video(services, alice.id, "borderline harbour stunt")
    assert video in _search(carol, "harbour")
    _report(bob, "video", video, "misinformation")
    _decide(mod, "video", video, "restrict", "misinformation")

    assert row(services, Video, video).moderation_state == "restricted"
    assert bob.get(f"/api/videos/{video}").status_code == 200
    assert video in _following(carol)
    assert video not in _search(bob, "harbour")
    assert video not in _foryou(bob)

    listed = alice.get("/api/me/notifications").json()
    assert listed["unread"] == 1 and listed["items"][0]["payload"]["action"] == "restrict"
    assert alice.post("/api/me/notifications/read", json={"ids": [listed["items"][0]["id"]]}).json()["marked"] == 1
    assert alice.get("/api/me/notifications", params={"unread": True}).json()["items"] == []
    # Someone else's ids are never touched.
    assert bob.post("/api/me/notifications/read", json={"ids": [listed["items"][0]["id"]]}).json()["marked"] == 0
    assert bob.post("/api/me/notifications/read", json={"ids": ["x"]}).status_code == 422


def test_age_restrict_hides_the_video_from_minors_only(any_db_client):
    services, alice, bob, carol, mod, _ = _people(any_db_client)
    teen = api_user(any_db_client, "teen", age=15)
    follow(services, teen.id, alice.id)
    follow(services, carol.id, alice.id)
    video = make_video(services, alice.id, "extreme sport")
    _report(bob, "video", video, "violence")
    _decide(mod, "video", video, "age_restrict", "violence")

    assert row(services, Video, video).adult_only is True
    assert teen.get(f"/api/videos/{video}").status_code == 404
    assert any_db_client.get(f"/api/videos/{video}").status_code == 404  # age unknown
    assert carol.get(f"/api/videos/{video}").status_code == 200
    # For You first: whatever a feed served (Following too) is never served again.
    assert video not in _foryou(teen) and video in _foryou(carol)
    assert video not in _following(teen) and video in _following(carol)
    assert video not in _search(teen, "extreme") and video in _search(bob, "extreme")


def test_dismiss_changes_nothing_and_tells_the_reporter(any_db_client):
    services, alice, bob, carol, mod, _ = _people(any_db_client)
    video = make_video(services, alice.id)
    _report(bob, "video", video, "other")
    case_id = _open_case_for(mod, "video", video)["id"]
    early = alice.post(f"/api/moderation/cases/{case_id}/appeal", json={"text": "why"})
    assert early.status_code == 409 and early.json()["error"]["code"] == "not_appealable"
    assert mod.post(f"/api/moderation/cases/{case_id}/decision", json={"action": "dismiss"}).status_code == 200
    late = alice.post(f"/api/moderation/cases/{case_id}/appeal", json={"text": "why"})
    assert late.status_code == 409 and late.json()["error"]["code"] == "not_appealable"
    assert row(services, Video, video).moderation_state == "ok"
    assert bob.get(f"/api/videos/{video}").status_code == 200
    resolved = bob.get("/api/me/notifications").json()["items"][0]
    assert resolved["kind"] == "report_resolved" and resolved["payload"]["outcome"] == "no_violation"
    assert alice.get("/api/me/notifications").json()["items"] == []  # nothing happened to her video
    assert mod.get("/api/moderation/queue").json()["items"] == []
    # A new report by someone else opens a fresh case; the dismissed reporter's repeat stays absorbed.
    assert _report(bob, "video", video).json()["duplicate"] is True
    assert mod.get("/api/moderation/queue").json()["items"] == []
    fresh = _report(carol, "video", video)
    assert fresh.status_code == 201 and fresh.json()["case_id"] != case_id


def test_bad_decisions_get_structured_errors(any_db_client):
    services, alice, bob, carol, mod, _ = _people(any_db_client)
    video = make_video(services, alice.id)
    comment = make_comment(services, video, carol.id, "hello")
    _report(bob, "video", video)
    _report(bob, "comment", comment)
    video_case = _open_case_for(mod, "video", video)["id"]
    comment_case = _open_case_for(mod, "comment", comment)["id"]
    url = f"/api/moderation/cases/{video_case}/decision"
    for body, code, field in [
        ({"action": "delete", "reason_code": "spam"}, "invalid_input", "action"),
        ({"action": "remove"}, "reason_required", "reason_code"),
        ({"action": "remove", "reason_code": "ugly"}, "invalid_reason_code", "reason_code"),
        ({"action": "remove", "reason_code": "no_violation"}, "reason_mismatch", "reason_code"),
        ({"action": "dismiss", "reason_code": "spam"}, "reason_mismatch", "reason_code"),
        ({"action": "remove", "reason_code": "spam", "note": "n" * 2001}, "invalid_input", "note"),
    ]:
        response = mod.post(url, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["code"] == code and response.json()["error"]["field"] == field
    not_applicable = mod.post(f"/api/moderation/cases/{comment_case}/decision",
                              json={"action": "age_restrict", "reason_code": "nudity"})
    assert not_applicable.status_code == 422 and not_applicable.json()["error"]["code"] == "action_not_applicable"
    missing = mod.post("/api/moderation/cases/999999/decision", json={"action": "dismiss"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "case_not_found"
    own = make_video(services, mod.id, "my own")
    _report(bob, "video", own)
    own_case = _open_case_for(mod, "video", own)["id"]
    response = mod.post(f"/api/moderation/cases/{own_case}/decision", json={"action": "dismiss"})
    assert response.status_code == 403 and response.json()["error"]["code"] == "own_content"
    assert _audit_count(services, "moderation_decision") == 0


def test_removing_a_comment_hides_it_from_the_comment_list(any_db_client):
    services, alice, bob, carol, mod, _ = _people(any_db_client)
    video = make_video(services, alice.id)
    comment = make_comment(services, video, carol.id, "nasty remark")
    kept = make_comment(services, video, bob.id, "nice one")
    _report(bob, "comment", comment, "harassment")
    case_id = _open_case_for(mod, "comment", comment)["id"]
    assert mod.post(f"/api/moderation/cases/{case_id}/decision",
                    json={"action": "remove", "reason_code": "harassment"}).status_code == 200
    assert row(services, Comment, comment).moderation_state == "removed"
    listed = bob.get(f"/api/videos/{video}/comments").json()
    ids = [c["id"] for c in listed["items"]]
    assert kept in ids and comment not in ids


def test_suspending_an_account_hides_its_videos_until_an_appeal_lifts_it(any_db_client):
    services, _alice, bob, carol, mod, mod2 = _people(any_db_client)
    video = make_video(services, carol.id, "carol's clip")
    _report(bob, "user", carol.id, "spam")
    case_id = _open_case_for(mod, "user", carol.id)["id"]
    assert mod.post(f"/api/moderation/cases/{case_id}/decision",
                    json={"action": "remove", "reason_code": "spam"}).status_code == 200
    assert bob.get(f"/api/videos/{video}").status_code == 404
    assert carol.get(f"/api/videos/{video}").status_code == 200  # her own, still hers
    with services.session_factory() as db:
        try:
            ensure_may_post(db, db.get(User, carol.id))
            raise AssertionError("a suspended account could post")
        except Forbidden as refused:
            assert refused.code == "account_suspended"

    assert carol.post(f"/api/moderation/cases/{case_id}/appeal", json={"text": "hacked"}).status_code == 201
    assert mod2.post(f"/api/moderation/cases/{case_id}/appeal/resolution",
                     json={"outcome": "overturn", "note": "account was compromised"}).status_code == 200
    assert bob.get(f"/api/videos/{video}").status_code == 200


# ---- appeals --------------------------------------------------------------------------------------------


def test_appeal_once_and_a_different_moderator_overturns(any_db_client):
    services, alice, bob, carol, mod, mod2 = _people(any_db_client)
    video = make_video(services, alice.id, "my cooking")
    _report(bob, "video", video, "nudity")
    case_id = _open_case_for(mod, "video", video)["id"]
    mod.post(f"/api/moderation/cases/{case_id}/decision", json={"action": "remove", "reason_code": "nudity"})

    mine = alice.get("/api/me/moderation").json()["items"]
    assert [(c["id"], c["appealable"]) for c in mine] == [(case_id, True)]
    assert carol.post(f"/api/moderation/cases/{case_id}/appeal", json={"text": "me too"}).status_code == 404
    assert alice.post(f"/api/moderation/cases/{case_id}/appeal", json={"text": ""}).status_code == 422
    filed = alice.post(f"/api/moderation/cases/{case_id}/appeal", json={"text": "it is a cooking video"})
    assert filed.status_code == 201, filed.text
    assert filed.json()["appeal"]["status"] == "pending"
    twice = alice.post(f"/api/moderation/cases/{case_id}/appeal", json={"text": "please"})
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_appealed"

    pending = mod2.get("/api/moderation/appeals").json()["items"]
    assert [a["id"] for a in pending] == [case_id]
    same = mod.post(f"/api/moderation/cases/{case_id}/appeal/resolution", json={"outcome": "overturn"})
    assert same.status_code == 403 and same.json()["error"]["code"] == "same_moderator"
    assert carol.post(f"/api/moderation/cases/{case_id}/appeal/resolution",
                      json={"outcome": "overturn"}).status_code == 403
    bad = mod2.post(f"/api/moderation/cases/{case_id}/appeal/resolution", json={"outcome": "maybe"})
    assert bad.status_code == 422
    resolved = mod2.post(f"/api/moderation/cases/{case_id}/appeal/resolution",
                         json={"outcome": "overturn", "note": "food, not nudity"})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["appeal"]["status"] == "overturned"
    assert row(services, Video, video).moderation_state == "ok"
    assert bob.get(f"/api/videos/{video}").status_code == 200
    assert _audit_count(services, "appeal_decision") == 1
    assert services.extras["audit"].verify().ok

    seen_by_creator = alice.get(f"/api/moderation/cases/{case_id}").json()
    assert seen_by_creator["appeal"]["status"] == "overturned" and "reports" not in seen_by_creator
    assert "appeal_resolved" in [n["kind"] for n in alice.get("/api/me/notifications").json()["items"]]
    again = mod2.post(f"/api/moderation/cases/{case_id}/appeal/resolution", json={"outcome": "uphold"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "appeal_already_resolved"


def test_upheld_appeal_keeps_the_decision_and_age_restriction_overturn_restores(any_db_client):
    services, alice, bob, _carol, mod, mod2 = _people(any_db_client)
    removed = make_video(services, alice.id, "first")
    aged = make_video(services, alice.id, "second")
    for video, action, reason in ((removed, "remove", "hate"), (aged, "age_restrict", "nudity")):
        _report(bob, "video", video, reason)
        case_id = _open_case_for(mod, "video", video)["id"]
        mod.post(f"/api/moderation/cases/{case_id}/decision", json={"action": action, "reason_code": reason})
        alice.post(f"/api/moderation/cases/{case_id}/appeal", json={"text": "please look again"})
        outcome = "uphold" if video == removed else "overturn"
        assert mod2.post(f"/api/moderation/cases/{case_id}/appeal/resolution",
                         json={"outcome": outcome}).status_code == 200
    assert row(services, Video, removed).moderation_state == "removed"
    assert row(services, Video, aged).adult_only is False


# ---- keyword filters ------------------------------------------------------------------------------------


def _admin(client):
    return api_user(client, "admin.kw", role="admin")


def test_admins_manage_keyword_filters(any_db_client):
    services, _alice, _bob, _carol, mod, _ = _people(any_db_client)
    admin = _admin(any_db_client)
    created = admin.post("/api/moderation/keywords", json={"pattern": "  Free   CRYPTO ", "scope": "both",
                                                           "action": "block"})
    assert created.status_code == 201, created.text
    assert created.json()["pattern"] == "free crypto"
    hostile = admin.post("/api/moderation/keywords", json={"pattern": "a.b*(", "scope": "comments", "action": "hold"})
    assert hostile.status_code == 201
    listed = admin.get("/api/moderation/keywords").json()["items"]
    assert [r["pattern"] for r in listed] == ["free crypto", "a.b*("]
    duplicate = admin.post("/api/moderation/keywords", json={"pattern": "FREE crypto"})
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "keyword_exists"
    for body, code in [({"pattern": "   "}, "empty_pattern"), ({"pattern": "x", "scope": "bios"}, "invalid_input"),
                       ({"pattern": "x", "action": "shadowban"}, "invalid_input"), ({}, "invalid_input"),
                       ({"pattern": "x" * 101}, "pattern_too_long")]:
        response = admin.post("/api/moderation/keywords", json=body)
        assert response.status_code == 422 and response.json()["error"]["code"] == code, (body, response.text)
    assert mod.post("/api/moderation/keywords", json={"pattern": "nope"}).status_code == 403
    assert mod.get("/api/moderation/keywords").status_code == 403
    assert admin.delete(f"/api/moderation/keywords/{created.json()['id']}").status_code == 204
    gone = admin.delete(f"/api/moderation/keywords/{created.json()['id']}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "keyword_filter_not_found"
    assert [r["pattern"] for r in admin.get("/api/moderation/keywords").json()["items"]] == ["a.b*("]
    assert _audit_count(services, "admin_action") == 3


def test_held_caption_waits_in_the_queue_until_released(any_db_client):
    services, alice, bob, _carol, mod, _ = _people(any_db_client)
    admin = _admin(any_db_client)
    admin.post("/api/moderation/keywords", json={"pattern": "miracle cure", "scope": "captions", "action": "hold"})
    admin.post("/api/moderation/keywords", json={"pattern": "kill yourself", "scope": "both", "action": "block"})
    video = make_video(services, alice.id, "my garden")

    blocked = alice.patch(f"/api/videos/{video}", json={"caption": "KILL   yourself now"})
    assert blocked.status_code == 422
    assert blocked.json()["error"]["code"] == "keyword_blocked"
    assert "kill yourself" in blocked.json()["error"]["message"]
    assert blocked.json()["error"]["field"] == "caption"

    held = alice.patch(f"/api/videos/{video}", json={"caption": "This Miracle Cure works #health"})
    assert held.status_code == 200, held.text
    assert row(services, Video, video).moderation_state == "held"
    assert bob.get(f"/api/videos/{video}").status_code == 404
    assert alice.get(f"/api/videos/{video}").status_code == 200
    case = _open_case_for(mod, "video", video)
    assert case["origin"] == "keyword" and case["held_by"]["pattern"] == "miracle cure"
    assert mod.post(f"/api/moderation/cases/{case['id']}/decision", json={"action": "dismiss"}).status_code == 200
    assert row(services, Video, video).moderation_state == "ok"
    assert bob.get(f"/api/videos/{video}").status_code == 200
    assert "content_released" in [n["kind"] for n in alice.get("/api/me/notifications").json()["items"]]


# ---- muted words ----------------------------------------------------------------------------------------


def test_muted_words_hide_videos_from_the_viewers_feeds_only(any_db_client):
    services, alice, bob, carol, *_ = _people(any_db_client)
    follow(services, bob.id, alice.id)
    follow(services, carol.id, alice.id)
    spoiler = make_video(services, alice.id, "The finale was wild", hashtags=("gameofthrones",))
    tagged = make_video(services, alice.id, "no words here", hashtags=("Spoilers",))
    plain = make_video(services, alice.id, "my dog")

    added = bob.post("/api/me/muted-words", json={"word": "FINALE"})
    assert added.status_code == 201 and added.json()["word"] == "finale"
    assert bob.post("/api/me/muted-words", json={"word": "finale"}).status_code == 200  # absorbed
    bob.post("/api/me/muted-words", json={"word": "#spoilers"})
    bob.post("/api/me/muted-words", json={"word": "spoilers"})
    assert [w["word"] for w in bob.get("/api/me/muted-words").json()["items"]] == ["finale", "#spoilers", "spoilers"]

    # For You first: whatever a feed served (Following too) is never served again.
    assert _foryou(bob) == [plain]
    assert sorted(_foryou(carol)) == sorted([spoiler, tagged, plain])
    assert _following(bob) == [plain]
    assert sorted(_following(carol)) == sorted([spoiler, tagged, plain])
    assert bob.get(f"/api/videos/{spoiler}").status_code == 200  # muting filters feeds, it does not censor

    first = bob.get("/api/me/muted-words").json()["items"][0]
    assert bob.delete(f"/api/me/muted-words/{first['id']}").status_code == 204
    assert carol.delete(f"/api/me/muted-words/{first['id']}").status_code == 404
    for body in ({"word": ""}, {"word": "   "}, {"word": "x" * 201}, {"words": "x"}):
        response = bob.post("/api/me/muted-words", json=body)
        assert response.status_code == 422, body
        assert "code" in response.json()["error"]


# ---- minors ---------------------------------------------------------------------------------------------


def test_minors_never_see_adult_only_videos(any_db_client):
    services, alice, *_ = _people(any_db_client)
    teen = api_user(any_db_client, "teen", age=17)
    adult = api_user(any_db_client, "grownup", age=18)
    follow(services, teen.id, alice.id)
    follow(services, adult.id, alice.id)
    mature = make_video(services, alice.id, "mature theme", adult_only=True)
    ordinary = make_video(services, alice.id, "ordinary theme")
    assert teen.get(f"/api/videos/{mature}").status_code == 404
    assert adult.get(f"/api/videos/{mature}").status_code == 200
    assert _foryou(teen) == [ordinary]
    assert sorted(_foryou(adult)) == sorted([mature, ordinary])
    assert _following(teen) == [ordinary]
    assert sorted(_following(adult)) == sorted([mature, ordinary])
    assert _search(teen, "theme") == [ordinary]
    assert sorted(_search(adult, "theme")) == sorted([mature, ordinary])


def test_young_creators_stay_out_of_strangers_for_you(any_db_client):
    services, alice, bob, carol, *_ = _people(any_db_client)
    kid = api_user(any_db_client, "kid", age=14)
    peer = api_user(any_db_client, "peer", age=15)
    follow(services, kid.id, carol.id)
    follow(services, carol.id, kid.id)
    kid_video = make_video(services, kid.id, "my science project")
    grown_video = make_video(services, alice.id, "woodworking")
    assert _foryou(bob) == [grown_video]           # an adult stranger
    assert sorted(_foryou(carol)) == sorted([kid_video, grown_video])  # an adult the kid knows
    assert sorted(_foryou(peer)) == sorted([kid_video, grown_video])   # another young person
    assert bob.get(f"/api/videos/{kid_video}").status_code == 200      # shared links still work


def test_screen_time_for_minors(any_db_client):
    services, alice, *_ = _people(any_db_client)
    teen = api_user(any_db_client, "teen", age=14)
    status = teen.get("/api/me/screen-time").json()
    assert status["limit_minutes"] == 60 and status["reached"] is False and status["used_minutes"] == 0
    assert alice.get("/api/me/screen-time").json()["limit_minutes"] is None
    video = make_video(services, alice.id)
    events = [{"id": f"10000000-0000-4000-8000-{i:012d}", "kind": "watch", "video_id": video, "watch_seconds": 1900.0,
               "watch_ratio": 1.0, "request_id": f"20000000-0000-4000-8000-{i:012d}",
               "client_ts": "2020-01-01T00:00:00Z"} for i in range(2)]
    accepted = teen.post("/api/events", json={"events": events})
    assert accepted.status_code in (200, 201, 202), accepted.text
    status = teen.get("/api/me/screen-time").json()
    assert status["reached"] is True and status["used_minutes"] >= 60
    feed = teen.get("/api/feed/following").json()
    assert feed["items"] == [] and feed["notice"]["code"] == "screen_time_limit_reached"
