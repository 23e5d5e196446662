"""Region keyword filters: verdicts for comments and captions, rule management, and cache invalidation."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from openfyp.moderation import cases, comments, decisions, filters, sanctions
from openfyp.moderation.visibility import can_see_comment
from openfyp.platform.errors import Conflict, Forbidden, InvalidInput, NotFound
from openfyp.store.tables import Comment, User, Video
from tests.moderation.helpers import api_user, make_video


def _add(services, pattern, scope="both", action="hold"):
    with services.session_factory() as db:
        rule = filters.add_filter(db, region=services.region, pattern=pattern, scope=scope, action=action,
                                  created_by=None)
        db.commit()
        return rule.id


def _check(services, kind, text_):
    with services.session_factory() as db:
        check = filters.check_comment if kind == "comment" else filters.check_caption
        return check(db, services.region, text_)


def test_verdicts_for_comments_and_captions(services):
    hold_id = _add(services, "miracle cure", "both", "hold")
    block_id = _add(services, "Kill Yourself", "comments", "block")
    _add(services, "buy followers", "captions", "block")

    assert _check(services, "comment", "lovely video").action == "allow"
    held = _check(services, "comment", "this MIRACLE   cure!")
    assert (held.action, held.rule_id, held.pattern, held.initial_state) == ("hold", hold_id, "miracle cure", "held")
    blocked = _check(services, "comment", "just kill yourself")
    assert (blocked.action, blocked.rule_id) == ("block", block_id)
    # Scopes: a comments-only rule leaves captions alone and the other way round.
    assert _check(services, "caption", "kill yourself").action == "allow"
    assert _check(services, "comment", "buy followers here").action == "allow"
    assert _check(services, "caption", "buy followers here").blocked
    # A block anywhere beats a hold, even one that comes first.
    assert _check(services, "comment", "miracle cure, or kill yourself").blocked
    with services.session_factory() as db:
        assert filters.check_caption(db, services.region, "my trip", ["buy followers"]).blocked


def test_a_block_is_a_structured_422_naming_the_rule(services):
    rule_id = _add(services, "a.b*(", "comments", "block")
    verdict = _check(services, "comment", "look: A.B*( here")
    with pytest.raises(InvalidInput) as refused:
        verdict.raise_if_blocked("body")
    assert refused.value.code == "keyword_blocked" and refused.value.field == "body"
    assert "a.b*(" in refused.value.message and str(rule_id) in refused.value.message
    assert _check(services, "comment", "look: aXb*( here").action == "allow"
    assert filters.ALLOW.raise_if_blocked() is filters.ALLOW


def test_removing_a_rule_takes_effect_immediately(services):
    rule_id = _add(services, "spoiler", "both", "block")
    assert _check(services, "comment", "spoiler alert").blocked
    with services.session_factory() as db:
        filters.remove_filter(db, region=services.region, rule_id=rule_id)
        db.commit()
    assert _check(services, "comment", "spoiler alert").action == "allow"


def test_a_change_made_by_another_process_is_seen_on_the_next_check(services):
    _add(services, "first", "both", "block")
    assert _check(services, "comment", "second thing").action == "allow"  # compiled and cached now
    # Another process writes straight to the database: the cache here only learns of it by the revision.
    with services.engine.begin() as conn:
        conn.execute(text("INSERT INTO keyword_filters (region, pattern, scope, action, created_at) "
                          "VALUES (:r, 'second', 'both', 'block', CURRENT_TIMESTAMP)"), {"r": services.region})
        conn.execute(text("UPDATE keyword_filter_revisions SET revision = revision + 1 WHERE region = :r"),
                     {"r": services.region})
    assert _check(services, "comment", "second thing").blocked


def test_managing_rules_refuses_bad_input(services):
    _add(services, "dup")
    with services.session_factory() as db:
        with pytest.raises(Conflict) as duplicate:
            filters.add_filter(db, region=services.region, pattern="  DUP ", scope="both", action="hold",
                               created_by=None)
        assert duplicate.value.code == "keyword_exists"
        for scope, action, code in [("bios", "hold", "invalid_scope"), ("both", "ban", "invalid_action")]:
            with pytest.raises(InvalidInput) as refused:
                filters.add_filter(db, region=services.region, pattern="x", scope=scope, action=action,
                                   created_by=None)
            assert refused.value.code == code
        with pytest.raises(NotFound) as missing:
            filters.remove_filter(db, region=services.region, rule_id=999)
        assert missing.value.code == "keyword_filter_not_found"


def test_a_held_comment_waits_for_a_moderator(services, client):
    author, reader, moderator = api_user(client, "author"), api_user(client, "reader"), api_user(client, "moderator")
    _add(services, "crypto", "comments", "hold")
    video_id = make_video(services, reader.id, "my video")
    with services.session_factory() as db:
        # Exactly what the comment path does.
        verdict = comments.screen_comment(db, services.settings, db.get(User, author.id), db.get(Video, video_id),
                                          "Crypto giveaway")
        comment = Comment(region=services.region, video_id=video_id, user_id=author.id, body="Crypto giveaway",
                          moderation_state=verdict.initial_state)
        db.add(comment)
        db.flush()
        comments.queue_if_held(db, comment, verdict)
        db.commit()
        case = cases.queue(db, services.region)[0]
        assert (case.target_kind, case.target_id) == ("comment", comment.id)
        assert case.origin == "keyword" and case.held_pattern == "crypto" and case.priority > 0
        assert can_see_comment(db, comment, db.get(User, author.id), services.settings)
        assert not can_see_comment(db, comment, db.get(User, reader.id), services.settings)

        mod = db.get(User, moderator.id)
        mod.role = "moderator"
        decisions.decide(db, region=services.region, case_id=case.id, moderator=mod, action="dismiss",
                         reason_code=None, note=None)
        db.commit()
        db.refresh(comment)
        assert comment.moderation_state == "ok"
        assert can_see_comment(db, comment, db.get(User, reader.id), services.settings)


def test_screening_a_comment_refuses_blocked_words_suspended_authors_and_strangers_of_children(services, client):
    author, kid, adult = api_user(client, "author"), api_user(client, "kid", age=14), api_user(client, "adult")
    _add(services, "idiot", "comments", "block")
    kid_video, adult_video = make_video(services, kid.id), make_video(services, adult.id)
    with services.session_factory() as db:
        me = db.get(User, author.id)
        assert comments.screen_comment(db, services.settings, me, db.get(Video, adult_video), "great").action == "allow"
        with pytest.raises(InvalidInput) as blocked:
            comments.screen_comment(db, services.settings, me, db.get(Video, adult_video), "you IDIOT")
        assert (blocked.value.code, blocked.value.field) == ("keyword_blocked", "body")
        with pytest.raises(Forbidden) as stranger:
            comments.screen_comment(db, services.settings, me, db.get(Video, kid_video), "hello")
        assert stranger.value.code == "minor_contact_restricted"
        sanctions.impose(db, region=services.region, user_id=author.id, kind=sanctions.SanctionKind.suspended,
                         case_id=None)
        with pytest.raises(Forbidden) as suspended:
            comments.screen_comment(db, services.settings, me, db.get(Video, adult_video), "great")
        assert suspended.value.code == "account_suspended"
