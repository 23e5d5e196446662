"""Cases, decisions and appeals as domain functions: priority, races, staff rules and restoration."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from openfyp.moderation import cases, decisions, filters, sanctions
from openfyp.moderation.policy import URGENT_BAND, case_priority
from openfyp.moderation.visibility import can_see_video, recommendable_clause
from openfyp.platform.errors import Conflict, Forbidden
from openfyp.store.tables import ModerationCase, User, Video
from tests.moderation.helpers import api_user, make_video


def test_priority_puts_child_safety_first_then_grows_with_reports_and_reach():
    child = case_priority(severity=100, urgent=True, reporters=1, reach=0)
    worst_other = case_priority(severity=80, urgent=False, reporters=10**7, reach=10**10)
    assert child > worst_other and worst_other < URGENT_BAND
    base = case_priority(severity=20, urgent=False, reporters=1, reach=0)
    assert case_priority(severity=20, urgent=False, reporters=5, reach=0) > base
    assert case_priority(severity=20, urgent=False, reporters=1, reach=500) > base
    assert case_priority(severity=80, urgent=False, reporters=1, reach=0) > \
        case_priority(severity=20, urgent=False, reporters=1, reach=1000)


def _users(db, *names):
    found = {u.username: u for u in db.scalars(select(User).where(User.username.in_(names)))}
    return [found[n] for n in names]


def test_two_moderators_cannot_both_decide(services, client):
    alice = api_user(client, "alice")
    api_user(client, "bob")
    api_user(client, "mod.a", role="moderator")
    api_user(client, "mod.b", role="moderator")
    video = make_video(services, alice.id)
    with services.session_factory() as db:
        reporter, = _users(db, "bob")
        outcome = cases.file_report(db, reporter=reporter, target_kind="video", target_id=video, reason="spam",
                                    settings=services.settings)
        db.commit()
        case_id = outcome.case.id
        assert outcome.event.kind == "report" and outcome.event.video_id == video
    first, second = services.session_factory(), services.session_factory()
    try:
        mod_b, = _users(second, "mod.b")
        assert cases.get_case(second, services.region, case_id).status == "open"  # B has the case open too
        mod_a, = _users(first, "mod.a")
        decisions.decide(first, region=services.region, case_id=case_id, moderator=mod_a, action="remove",
                         reason_code="spam", note=None)
        first.commit()
        second.rollback()  # B's read transaction ends (as a new request would), its loaded case stays stale
        with pytest.raises(Conflict) as late:
            decisions.decide(second, region=services.region, case_id=case_id, moderator=mod_b,
                             action="dismiss", reason_code=None, note=None)
        assert late.value.code == "case_not_open"
    finally:
        first.close()
        second.close()
    assert services.extras["audit"].count("moderation_decision") == 1


def test_staff_rules(services, client):
    alice = api_user(client, "alice")
    api_user(client, "bob")
    api_user(client, "mod", role="moderator")
    api_user(client, "mod2", role="moderator")
    video = make_video(services, alice.id)
    with services.session_factory() as db:
        reporter, mod, mod2, owner = _users(db, "bob", "mod", "mod2", "alice")
        case_id = cases.file_report(db, reporter=reporter, target_kind="video", target_id=video, reason="hate",
                                    settings=services.settings).case.id
        with pytest.raises(Forbidden) as viewer:
            decisions.decide(db, region=services.region, case_id=case_id, moderator=owner, action="remove",
                             reason_code="hate", note=None)
        assert viewer.value.code == "forbidden_role"
        foreign = User(id=mod.id, region="eu", username="mod.eu", password_hash="-", birth_date=mod.birth_date,
                       role="moderator")
        with pytest.raises(Forbidden) as elsewhere:
            decisions.decide(db, region=services.region, case_id=case_id, moderator=foreign, action="remove",
                             reason_code="hate", note=None)
        assert elsewhere.value.code == "wrong_region"
        decisions.decide(db, region=services.region, case_id=case_id, moderator=mod, action="remove",
                         reason_code="hate", note="slur in caption")
        decisions.file_appeal(db, region=services.region, case_id=case_id, appellant=owner, text="context matters")
        db.commit()
        with pytest.raises(Forbidden) as same:
            decisions.resolve_appeal(db, region=services.region, case_id=case_id, moderator=mod,
                                     outcome="overturn", note=None)
        assert same.value.code == "same_moderator"
        decisions.resolve_appeal(db, region=services.region, case_id=case_id, moderator=mod2, outcome="uphold",
                                 note=None)
        db.commit()
        assert db.get(Video, video).moderation_state == "removed"
        assert db.get(ModerationCase, case_id).status == "closed"


def test_restricting_an_account_keeps_its_videos_up_but_unrecommended(services, client):
    alice = api_user(client, "alice")
    api_user(client, "bob")
    api_user(client, "mod", role="moderator")
    api_user(client, "mod2", role="moderator")
    video = make_video(services, alice.id)
    with services.session_factory() as db:
        reporter, mod, mod2, owner = _users(db, "bob", "mod", "mod2", "alice")
        outcome = cases.file_report(db, reporter=reporter, target_kind="user", target_id=alice.id, reason="spam",
                                    settings=services.settings)
        assert outcome.event.target_user_id == alice.id and outcome.event.video_id is None
        decisions.decide(db, region=services.region, case_id=outcome.case.id, moderator=mod, action="restrict",
                         reason_code="spam", note=None)
        db.commit()
        assert sanctions.active_kinds(db, alice.id) == {"restricted"}
        assert db.scalar(select(Video.id).where(Video.id == video, recommendable_clause())) is None
        assert can_see_video(db, db.get(Video, video), reporter, services.settings)
        sanctions.ensure_may_post(db, owner)  # restricted, not suspended: may still post

        decisions.file_appeal(db, region=services.region, case_id=outcome.case.id, appellant=owner, text="not spam")
        decisions.resolve_appeal(db, region=services.region, case_id=outcome.case.id, moderator=mod2,
                                 outcome="overturn", note=None)
        db.commit()
        assert sanctions.active_kinds(db, alice.id) == set()
        assert db.scalar(select(Video.id).where(Video.id == video, recommendable_clause())) == video


def test_a_second_hold_joins_the_open_case(services, client):
    alice = api_user(client, "alice")
    video = make_video(services, alice.id, "miracle cure inside", moderation_state="held")
    with services.session_factory() as db:
        filters.add_filter(db, region=services.region, pattern="miracle cure", scope="captions", action="hold",
                           created_by=None)
        verdict = filters.check_caption(db, services.region, "miracle cure inside")
        held = cases.hold_for_review(db, region=services.region, target_kind="video", target_id=video,
                                     owner_id=alice.id, verdict=verdict)
        db.commit()
        # A second hold (say, another caption edit) joins the open case instead of opening another.
        again = cases.hold_for_review(db, region=services.region, target_kind="video", target_id=video,
                                      owner_id=alice.id, verdict=verdict)
        assert again.id == held.id
        assert cases.queue(db, services.region)[0].severity == 50
