"""Statements built once for the feed path carry the residency guard's region criteria themselves."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from openfyp.platform.access import region_scoped
from openfyp.platform.accounts import create_user
from openfyp.platform.analytics import engagement_counts
from openfyp.store.tables import Comment, EventRow, User, Video
from tests.governance.conftest import FOREIGN, plant_region


def _local_video(services) -> tuple[int, int]:
    with services.session_factory() as db:
        user = create_user(db, region="us", username="ursula", password="correct horse",
                           birth_date=date(1990, 1, 1), minimum_age=13)
        video = Video(region="us", creator_id=user.id, caption="us public", status="ready", visibility="public")
        db.add(video)
        db.commit()
        return user.id, video.id


def test_region_scoped_statements_never_return_foreign_rows(any_db_services):
    services = any_db_services
    local_user, _ = _local_video(services)
    foreign = plant_region(services.engine)
    with services.session_factory() as db:
        captions = region_scoped(select(Video.caption).order_by(Video.id), "us")
        assert db.scalars(captions).all() == ["us public"]
        creators = region_scoped(select(User.id).where(User.id.in_(select(Video.creator_id))), "us")
        assert db.scalars(creators).all() == [local_user]
        by_id = region_scoped(select(Video).where(Video.id == foreign.video_id), "us")
        assert db.scalars(by_id).all() == []


def test_page_counters_ignore_foreign_rows_about_a_local_video(any_db_services):
    services = any_db_services
    _, video_id = _local_video(services)
    foreign = plant_region(services.engine)
    now = datetime.now(UTC)
    with Session(services.engine) as raw:  # another region's rows naming our video, written past the guard
        raw.add(EventRow(event_id=str(uuid.uuid4()), region=FOREIGN, user_id=foreign.user_id, video_id=video_id,
                         kind="play", server_ts=now, client_ts=now))
        raw.add(Comment(region=FOREIGN, video_id=video_id, user_id=foreign.user_id, body="from abroad"))
        raw.commit()
    with services.session_factory() as db:
        counts = engagement_counts(db, [video_id, foreign.video_id])
    assert counts[video_id] == {"views": 0, "likes": 0, "comments": 0, "shares": 0, "saves": 0}
    assert counts[foreign.video_id] == {"views": 0, "likes": 0, "comments": 0, "shares": 0, "saves": 0}
