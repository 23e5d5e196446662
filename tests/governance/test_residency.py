"""The ORM residency guard: every way the code can reach a row of another region fails."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import delete, func, select, text, update

from openfyp.governance.errors import CrossRegionAccessRefused
from openfyp.governance.residency import ALL_REGIONS
from openfyp.governance.wiring import governance_of
from openfyp.platform.accounts import create_user
from openfyp.store.tables import Comment, EventRow, FeedRequest, Impression, User, Video

from .conftest import FOREIGN


@pytest.fixture
def local(any_db_services):
    with any_db_services.session_factory() as db:
        user = create_user(db, region="us", username="ursula", password="correct horse",
                           birth_date=date(1990, 1, 1), minimum_age=13)
        db.add(Video(region="us", creator_id=user.id, caption="us public", status="ready", visibility="public"))
        db.commit()
        return user.id


def _refusals(services) -> list:
    return governance_of(services).audit.entries(action="cross_region_refused")


READ_BY_ID = [(User, "user_id"), (Video, "video_id"), (Video, "private_video_id"), (Comment, "comment_id"),
              (EventRow, "event_seq"), (FeedRequest, "request_id")]


def test_a_read_by_id_is_refused_and_audited(any_db_services, foreign):
    for model, attribute in READ_BY_ID:
        ident = getattr(foreign, attribute)
        with any_db_services.session_factory() as db:
            with pytest.raises(CrossRegionAccessRefused) as refused:
                db.get(model, ident)
        assert refused.value.code == "cross_region_refused" and refused.value.status == 403
        assert refused.value.foreign_region == FOREIGN
    entries = _refusals(any_db_services)
    assert [(e.target_kind, e.target_id, e.details["via"]) for e in entries] == [
        (model.__tablename__, str(getattr(foreign, attribute)), "get") for model, attribute in READ_BY_ID]
    assert governance_of(any_db_services).audit.verify().ok


def test_queries_never_return_foreign_rows(any_db_services, foreign, local):
    with any_db_services.session_factory() as db:
        assert [u.region for u in db.scalars(select(User))] == ["us"]
        assert db.scalar(select(func.count()).select_from(Video)) == 1
        assert db.scalars(select(Video.caption).order_by(Video.id)).all() == ["us public"]
        assert db.scalars(select(Comment)).all() == []
        assert db.scalars(select(EventRow)).all() == []
        assert db.scalars(select(Impression)).all() == []
        assert db.scalar(select(User).where(User.username == f"eve_{FOREIGN}")) is None
        joined = db.execute(select(Video.id, User.username).join(User, User.id == Video.creator_id)).all()
        assert [name for _, name in joined] == ["ursula"]
        nested = select(Video.creator_id).scalar_subquery()
        assert db.scalars(select(User.id).where(User.id.in_(select(Video.creator_id)))).all() == [local]
        assert nested is not None


def test_bulk_updates_and_deletes_leave_foreign_rows_alone(any_db_services, foreign, local):
    with any_db_services.session_factory() as db:
        db.execute(update(Video).values(caption="rewritten"))
        db.execute(delete(EventRow))
        db.commit()
    with any_db_services.session_factory() as db:
        foreign_captions = db.execute(select(Video.caption).where(Video.region == FOREIGN)
                                      .execution_options(**ALL_REGIONS)).scalars().all()
        events = db.scalar(select(func.count(EventRow.seq)).execution_options(**ALL_REGIONS))
    assert sorted(foreign_captions) == [f"{FOREIGN} private", f"{FOREIGN} public"]
    assert events == 1


def test_a_foreign_row_smuggled_in_by_raw_sql_is_refused_as_it_loads(any_db_services, foreign):
    with any_db_services.session_factory() as db:
        with pytest.raises(CrossRegionAccessRefused):
            db.scalars(select(User).from_statement(text("SELECT * FROM users"))).all()
    assert [e.details["via"] for e in _refusals(any_db_services)] == ["load"]


def test_writing_a_row_for_another_region_is_refused(any_db_services, local):
    with any_db_services.session_factory() as db:
        db.add(EventRow(event_id="00000000-0000-0000-0000-000000000001", region=FOREIGN, user_id=local, kind="like",
                        video_id=1))
        with pytest.raises(CrossRegionAccessRefused):
            db.flush()
        db.rollback()
    with any_db_services.session_factory() as db:
        user = db.get(User, local)
        user.region = FOREIGN  # moving an account to another region is an export, never an edit
        with pytest.raises(CrossRegionAccessRefused):
            db.commit()
    assert [e.details["via"] for e in _refusals(any_db_services)] == ["write", "write"]


def test_the_event_log_reads_only_its_region(any_db_services, foreign):
    assert any_db_services.events.read_after(0) == []


def test_a_foreign_session_token_is_refused(any_db_services, foreign):
    """An account of another region cannot act here even with a valid-looking session."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy.orm import Session

    from openfyp.platform.accounts import hash_token, resolve_session
    from openfyp.store.tables import AuthSession

    with Session(any_db_services.engine) as raw:
        raw.add(AuthSession(token_hash=hash_token("stolen"), user_id=foreign.user_id, kind="bearer",
                            expires_at=datetime.now(UTC) + timedelta(days=1)))
        raw.commit()
    with any_db_services.session_factory() as db:
        with pytest.raises(CrossRegionAccessRefused):
            resolve_session(db, "stolen")
