"""The group-committed feed log: pages wait for durability, share commits, and count as seen meanwhile."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import time
import uuid

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from openfyp.platform import feeds
from openfyp.platform.feed_log import FeedLog, SeenSets, ServedPage, feed_log_of
from openfyp.store.base import utcnow
from openfyp.store.id_floors import keep_floors
from openfyp.store.tables import FeedRequest, Impression
from tests.waiting import wait_until


def _page(services, user_id: int | None, video_ids: list[int], request_id: str | None = None) -> ServedPage:
    return ServedPage(request_id=request_id or str(uuid.uuid4()), region=services.region, user_id=user_id,
                      surface="foryou", personalised=True, model_version="m1", config_version="c1",
                      inputs={"candidates": {"video_ids": video_ids}}, created_at=utcnow(),
                      items=[{"video_id": v, "position": i, "score": 0.5, "reason": {"sources": ["fresh"]}}
                             for i, v in enumerate(video_ids)])


class _Recorder(threading.Thread):
    def __init__(self, log, page: ServedPage) -> None:
        super().__init__(daemon=True)
        self.log, self.page, self.error = log, page, None

    def run(self) -> None:
        try:
            self.log.record(self.page)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            self.error = exc


def _hold_write_lock(services) -> sqlite3.Connection:
    """Another process's write transaction on the same SQLite file: the log's commit has to wait for it."""
    path = services.settings.resolved_database_url.removeprefix("sqlite:///")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    return blocker


def test_pages_awaiting_their_commit_are_seen_and_share_one(services):
    log = feed_log_of(services)
    blocker = _hold_write_lock(services)
    try:
        recorders = [_Recorder(log, _page(services, 7, [101, 102])), _Recorder(log, _page(services, 7, [103])),
                     _Recorder(log, _page(services, 8, [104])), _Recorder(log, _page(services, None, [105]))]
        for recorder in recorders:
            recorder.start()
        wait_until(lambda: log.pending_video_ids(7) == {101, 102, 103} and log.pending_video_ids(8) == {104},
                   interval_s=0.01)
        time.sleep(0.2)
        # Not durable yet, so not acknowledged - but already part of the viewer's seen set.
        assert all(recorder.is_alive() for recorder in recorders)
        with services.session_factory() as db:
            assert db.scalar(select(func.count()).select_from(Impression)) == 0
            assert feeds.seen_video_ids(db, 7, services) == {101, 102, 103}
            assert feeds.seen_video_ids(db, 8, services) == {104}
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    for recorder in recorders:
        recorder.join(timeout=30)
        assert not recorder.is_alive() and recorder.error is None
    assert log.pending_video_ids(7) == frozenset() and log.pending_video_ids(8) == frozenset()
    with services.session_factory() as db:
        assert feeds.seen_video_ids(db, 7, services) == {101, 102, 103}
        assert db.scalar(select(func.count()).select_from(FeedRequest)) == 4
        stored = db.get(FeedRequest, recorders[0].page.request_id)
        assert stored.items[1]["video_id"] == 102 and stored.inputs == {"candidates": {"video_ids": [101, 102]}}
    assert log.stats.tickets == 4 and log.stats.groups < 4  # the pages that queued behind the held commit shared one


def test_a_failing_page_fails_alone(services):
    log = feed_log_of(services)
    taken = _page(services, 7, [201])
    log.record(taken)
    blocker = _hold_write_lock(services)
    try:
        duplicate = _Recorder(log, _page(services, 9, [202], request_id=taken.request_id))
        fine = _Recorder(log, _page(services, 9, [203]))
        duplicate.start()
        fine.start()
        wait_until(lambda: log.pending_video_ids(9) == {202, 203}, interval_s=0.01)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    duplicate.join(timeout=30)
    fine.join(timeout=30)
    assert isinstance(duplicate.error, IntegrityError) and fine.error is None
    # The refused page was never served, so it is not remembered as seen either.
    assert log.pending_video_ids(9) == frozenset()
    with services.session_factory() as db:
        assert feeds.seen_video_ids(db, 9, services) == {203}


def test_a_closed_log_refuses_pages(services):
    log = feed_log_of(services)
    log.record(_page(services, 1, [1]))
    log.close()
    with pytest.raises(RuntimeError):
        log.record(_page(services, 1, [2]))
    assert log.pending_video_ids(1) == frozenset()


def test_logged_inputs_are_stored_as_plain_json_whatever_their_python_types(any_db_services):
    """Engine inputs hold numpy arrays and numbers, sets, datetimes and integer keys; the stored JSON is what
    replay reads back, so each must come out as ``json`` would write it."""
    import numpy as np

    services = any_db_services
    when = utcnow()
    inputs = {"features": np.array([[0.25, 1.0]], dtype=np.float64), "count": np.int64(7), "ratio": np.float32(0.5),
              "flag": np.bool_(True), "seen": {5, 3}, "at": when, "by_id": {11: "eleven"}, "pair": (1, 2)}
    page = _page(services, None, [1])
    page = ServedPage(**{**page.__dict__, "inputs": inputs})
    feed_log_of(services).record(page)
    with services.session_factory() as db:
        stored = db.scalar(select(FeedRequest.inputs).where(FeedRequest.id == page.request_id))
    assert stored == {"features": [[0.25, 1.0]], "count": 7, "ratio": 0.5, "flag": True, "seen": [3, 5],
                      "at": str(when), "by_id": {"11": "eleven"}, "pair": [1, 2]}


def test_the_seen_set_kept_in_memory_takes_in_impressions_written_by_anyone(any_db_services):
    """The first read loads the viewer's history, later ones only what was committed since - by this log or
    by another writer (another process's feed log): every one of them is in the seen set from then on."""
    services = any_db_services
    log = feed_log_of(services)
    log.record(_page(services, 7, [301, 302]))
    with services.session_factory() as db:
        assert feeds.seen_video_ids(db, 7, services) == {301, 302}
    log.record(_page(services, 7, [303]))
    other = _page(services, 7, [304, 305])
    with services.engine.begin() as connection:  # rows the log never saw pass by
        connection.execute(insert(FeedRequest), [{"id": other.request_id, "region": services.region, "user_id": 7,
                                                  "surface": "foryou", "created_at": other.created_at}])
        connection.execute(insert(Impression), [{"region": services.region, "request_id": other.request_id,
                                                 "user_id": 7, "video_id": v, "position": i,
                                                 "created_at": other.created_at} for i, v in enumerate([304, 305])])
    log.record(_page(services, 8, [306]))
    with services.session_factory() as db:
        assert feeds.seen_video_ids(db, 7, services) == {301, 302, 303, 304, 305}
        assert feeds.seen_video_ids(db, 8, services) == {306}
        assert feeds.seen_video_ids(db, 7) == {301, 302, 303, 304, 305}  # what the table says, read in full


def test_a_viewer_dropped_from_memory_is_read_in_full_again(services):
    log = feed_log_of(services)
    log.seen = SeenSets(max_videos=3)
    log.record(_page(services, 7, [401, 402]))
    log.record(_page(services, 8, [403, 404]))
    with services.session_factory() as db:
        assert feeds.seen_video_ids(db, 7, services) == {401, 402}
        assert feeds.seen_video_ids(db, 8, services) == {403, 404}
        assert log.seen.viewers == 1  # over the bound: the viewer served least recently is dropped
        log.record(_page(services, 7, [405]))
        assert feeds.seen_video_ids(db, 7, services) == {401, 402, 405}
        assert feeds.seen_video_ids(db, 8, services) == {403, 404}


def test_ids_freed_by_an_erasure_are_not_handed_out_again(services):
    """An erasure deletes the newest impressions (of an erased creator's videos) and records how far ids had
    gone: the next page's rows are numbered after that, so a seen set read up to the old newest id - this
    process's, while another process serves the viewer's next page - still finds them."""
    ours, theirs = feed_log_of(services), FeedLog(services.engine)
    ours.record(_page(services, 7, [501, 502]))
    with services.session_factory() as db:
        assert feeds.seen_video_ids(db, 7, services) == {501, 502}
        newest = db.scalar(select(func.max(Impression.id)))
    with services.session_factory() as db:  # as erase_account does for the creator of 502
        keep_floors(db, services.region)
        db.execute(delete(Impression).where(Impression.video_id == 502))
        db.commit()
    theirs.record(_page(services, 7, [503]))
    with services.session_factory() as db:
        assert db.scalar(select(Impression.id).where(Impression.video_id == 503)) > newest
        # (502 stays in memory: its video is gone for every viewer anyway)
        assert feeds.seen_video_ids(db, 7, services) == {501, 502, 503}
    theirs.close()


# ---- the commit has the last word: a video is never served twice, whoever served it first ----------------


def _watermarked(page: ServedPage, watermark: int) -> ServedPage:
    return dataclasses.replace(page, seen_watermark=watermark)


def _stored(services, request_id: str) -> tuple[list[tuple[int, int]], list[dict], dict]:
    with services.session_factory() as db:
        impressions = db.execute(select(Impression.video_id, Impression.position)
                                 .where(Impression.request_id == request_id).order_by(Impression.position)).all()
        request = db.get(FeedRequest, request_id)
        return [tuple(row) for row in impressions], request.items, request.inputs


def test_a_page_chosen_before_another_process_served_its_videos_commits_without_them(any_db_services):
    services = any_db_services
    ours, theirs = FeedLog(services.engine), FeedLog(services.engine)  # two server processes, one database
    try:
        with services.session_factory() as db:
            seen, watermark = ours.seen.read_with_watermark(db, 7, feeds._seen_since_query(services.region))
        assert seen == set()
        # Another process serves viewer 7 a page after ours read the seen set but before ours commits.
        assert theirs.record(_watermarked(_page(services, 7, [11, 12, 13]), 0)) == frozenset()
        page = _watermarked(_page(services, 7, [12, 14, 13, 15]), watermark)
        page.inputs["platform_dropped"] = 1
        assert ours.record(page) == {12, 13}

        impressions, items, inputs = _stored(services, page.request_id)
        assert impressions == [(14, 0), (15, 1)]  # the rest moved up
        assert [(item["video_id"], item["position"]) for item in items] == [(14, 0), (15, 1)]
        assert inputs["platform_dropped"] == 3  # so a replay accounts for the engine's two other videos
        with services.session_factory() as db:
            assert feeds.seen_video_ids(db, 7) == {11, 12, 13, 14, 15}
            # Each process's in-memory seen set holds what it served and reads the rest from the table.
            assert ours.seen.read(db, 7, feeds._seen_since_query(services.region)) == {11, 12, 13, 14, 15}
        # A page chosen against the up-to-date seen set loses nothing.
        assert ours.record(_watermarked(_page(services, 7, [16]), _max_impression_id(services))) == frozenset()
    finally:
        ours.close()
        theirs.close()


def test_overlapping_requests_of_one_viewer_never_share_a_video(services):
    log = feed_log_of(services)
    blocker = _hold_write_lock(services)  # both pages wait for the same commit: one group
    try:
        first = _Recorder(log, _watermarked(_page(services, 9, [21, 22]), 0))
        second = _Recorder(log, _watermarked(_page(services, 9, [22, 23]), 0))  # chosen before the first was pending
        other_viewer = _Recorder(log, _watermarked(_page(services, 10, [22]), 0))
        for recorder in (first, second, other_viewer):
            recorder.start()
        wait_until(lambda: len(log.pending_video_ids(9)) == 3 and log.pending_video_ids(10), interval_s=0.01)
    finally:
        blocker.rollback()
        blocker.close()
    for recorder in (first, second, other_viewer):
        recorder.join(20)
        assert recorder.error is None
    with services.session_factory() as db:
        rows = db.execute(select(Impression.video_id).where(Impression.user_id == 9)).scalars().all()
    assert sorted(rows) == [21, 22, 23]  # 22 went to whichever page committed first, and only to it
    assert _stored(services, other_viewer.page.request_id)[0] == [(22, 0)]


def test_pages_without_a_watermark_are_stored_as_given(services):
    log = feed_log_of(services)
    log.record(_watermarked(_page(services, 7, [31]), 0))
    following = _page(services, 7, [31, 32])  # the Following feed shows what is new, seen or not
    assert log.record(following) == frozenset()
    assert _stored(services, following.request_id)[0] == [(31, 0), (32, 1)]


def _max_impression_id(services) -> int:
    with services.session_factory() as db:
        return db.scalar(select(func.max(Impression.id))) or 0
