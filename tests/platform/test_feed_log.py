"""The group-committed feed log: pages wait for durability, share commits, and count as seen meanwhile."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from openfyp.platform import feeds
from openfyp.platform.feed_log import SeenSets, ServedPage, feed_log_of
from openfyp.store.base import utcnow
from openfyp.store.tables import FeedRequest, Impression


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


def _wait_for(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_pages_awaiting_their_commit_are_seen_and_share_one(services):
    log = feed_log_of(services)
    blocker = _hold_write_lock(services)
    try:
        recorders = [_Recorder(log, _page(services, 7, [101, 102])), _Recorder(log, _page(services, 7, [103])),
                     _Recorder(log, _page(services, 8, [104])), _Recorder(log, _page(services, None, [105]))]
        for recorder in recorders:
            recorder.start()
        _wait_for(lambda: log.pending_video_ids(7) == {101, 102, 103} and log.pending_video_ids(8) == {104})
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
        _wait_for(lambda: log.pending_video_ids(9) == {202, 203})
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


def test_a_page_stays_seen_when_its_rows_reuse_ids_freed_by_an_erasure(services):
    """SQLite gives a new row the id after the highest one left: when an erasure deletes the newest rows, the
    next page's impressions get ids at or below what the viewer's seen set was read up to."""
    log = feed_log_of(services)
    log.record(_page(services, 7, [501, 502]))
    with services.session_factory() as db:
        assert feeds.seen_video_ids(db, 7, services) == {501, 502}
        newest = db.scalar(select(func.max(Impression.id)))
    with services.engine.begin() as connection:  # the creator of 502 is erased with their videos
        connection.execute(delete(Impression).where(Impression.video_id == 502))
    log.record(_page(services, 7, [503]))
    with services.session_factory() as db:
        assert db.scalar(select(Impression.id).where(Impression.video_id == 503)) <= newest
        assert feeds.seen_video_ids(db, 7, services) >= {501, 503}
