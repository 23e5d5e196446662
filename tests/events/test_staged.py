"""The embedded log: acknowledged into staging, moved into ``events`` in batches, exactly once, in seq order."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from openfyp.events import Event, EventKind
from openfyp.events.rows import COLUMNS, sqlite_rows
from openfyp.events.staged import StagedEventLog, StagingConfig
from openfyp.services import build_services, open_event_log
from openfyp.store.tables import EventRow


def _event(video_id: int = 1, event_id: str | None = None, user_id: int = 7) -> Event:
    now = datetime.now(UTC)
    return Event(event_id=event_id or str(uuid.uuid4()), region="us", user_id=user_id, video_id=video_id,
                 kind=EventKind.watch, watch_ratio=0.5, client_ts=now, server_ts=now, extra={"n": video_id})


def _table(services) -> list[tuple[int, str]]:
    with services.session_factory() as db:
        return [(r.seq, r.event_id) for r in db.scalars(select(EventRow).order_by(EventRow.seq))]


def _staged_rows(log: StagedEventLog) -> list[tuple[int, str]]:
    with sqlite3.connect(log.staging_path) as connection:
        return connection.execute("SELECT seq, event_id FROM events_staging ORDER BY seq").fetchall()


def test_sqlite_deployments_use_the_staged_log(services):
    assert isinstance(services.events, StagedEventLog)
    assert services.events.staging_path.parent == services.settings.data_dir


def test_acknowledged_events_are_read_at_once_and_reach_the_table_in_order(services):
    log = services.events
    batches = [[_event(video_id=b * 10 + i) for i in range(7)] for b in range(5)]
    results = [log.append(batch) for batch in batches]
    everything = [e for batch in batches for e in batch]
    assert [r.accepted for r in results] == [7] * 5 and results[-1].last_seq == 35 == log.head()
    # Readable through the log whether or not moved yet, with every field as appended.
    read = log.read_after(0)
    assert [(e.seq, e.event_id) for e in read] == [(e.seq, e.event_id) for e in everything]
    assert [e.seq for e in read] == list(range(1, 36))
    assert read[3].extra == {"n": 3} and read[3].server_ts == everything[3].server_ts
    assert read[3].server_ts.tzinfo is not None
    assert log.read_after(30, limit=3) == read[30:33]
    assert log.settle(timeout=30)
    assert _table(services) == [(e.seq, e.event_id) for e in everything]
    assert _staged_rows(log) == [], "moved events leave staging"


def test_an_id_seen_before_is_a_duplicate_whether_staged_or_moved(services):
    log = services.events
    moved = _event()
    log.append([moved])
    log.settle()
    twin = str(uuid.uuid4())
    batch = [_event(event_id=moved.event_id), _event(event_id=twin), _event(event_id=twin, video_id=2)]
    result = log.append(batch)
    assert (result.accepted, result.duplicates) == (1, 2), "first claim wins inside a batch too"
    assert log.known([moved.event_id, twin, "never-sent"]) == {moved.event_id, twin}
    again = log.append([_event(event_id=twin)])
    assert (again.accepted, again.duplicates) == (0, 1)
    log.settle()
    stored = _table(services)
    assert [event_id for _, event_id in stored] == [moved.event_id, twin]
    assert [e.video_id for e in log.read_after(0)] == [1, 1]


def test_two_logs_on_the_same_files_number_events_once_and_in_commit_order(services):
    # A second log object stands for a second server process on the same data directory.
    other = open_event_log(services.settings, services.session_factory)
    logs = [services.events, other]
    shared = [_event(video_id=999) for _ in range(20)]
    gate = threading.Barrier(8)
    answers: list = []

    def work(worker: int) -> None:
        gate.wait()
        log = logs[worker % 2]
        for n in range(10):
            answers.append(log.append([_event(video_id=worker * 100 + n) for _ in range(5)] + shared[n * 2:n * 2 + 2]))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.close()
    services.events.settle()
    stored = _table(services)
    assert len(stored) == 8 * 10 * 5 + 20, "each shared id stored once"
    assert [seq for seq, _ in stored] == list(range(1, len(stored) + 1))
    assert sum(a.accepted for a in answers) == len(stored)
    assert len({event_id for _, event_id in stored}) == len(stored)


def test_a_restart_moves_what_a_crash_left_in_staging_exactly_once(settings):
    first = build_services(settings)
    log = first.events
    kept = [_event(video_id=i) for i in range(3)]
    log.append(kept)
    log.settle()
    staging_path, database = log.staging_path, settings.data_dir / "openfyp.db"
    first.close()
    # What a kill -9 leaves behind: acknowledged events still staged, one of them already copied into
    # `events` by a move whose clean-up of staging never happened.
    orphans = [_event(video_id=10 + i) for i in range(4)]
    rows = [(4 + i, *row) for i, row in enumerate(sqlite_rows(orphans))]
    columns = ", ".join(("seq", *COLUMNS))
    marks = ", ".join("?" for _ in range(len(COLUMNS) + 1))
    with sqlite3.connect(staging_path) as connection:
        connection.executemany(f"INSERT INTO events_staging ({columns}) VALUES ({marks})", rows)
    with sqlite3.connect(database) as connection:
        connection.execute(f"INSERT INTO events ({columns}) VALUES ({marks})", rows[0])

    second = build_services(settings)
    try:
        assert second.events.head() == 7
        assert second.events.settle(timeout=30)
        stored = _table(second)
        assert stored == [(e.seq, e.event_id) for e in kept] + [(4 + i, e.event_id) for i, e in enumerate(orphans)]
        assert _staged_rows(second.events) == []
        after = second.events.append([_event(video_id=50)])
        assert after.last_seq == 8, "numbering continues after what the crash left"
    finally:
        second.close()


def test_a_staged_event_whose_seq_was_taken_around_the_log_is_kept_under_a_new_one(services):
    log = services.events
    log.append([_event()])
    log.settle()
    # Hold the mover off so the next event stays staged, then write a row straight into `events` (as a
    # tool or an old process writing around the log would) that takes the staged event's seq.
    with sqlite3.connect(services.settings.data_dir / "openfyp.db", timeout=30) as main:
        main.execute("BEGIN IMMEDIATE")
        staged = _event(video_id=2)
        log.append([staged])
        assert staged.seq == 2
        intruder = _event(video_id=3)
        columns = ", ".join(("seq", *COLUMNS))
        marks = ", ".join("?" for _ in range(len(COLUMNS) + 1))
        main.execute(f"INSERT INTO events ({columns}) VALUES ({marks})", (2, *sqlite_rows([intruder])[0]))
        main.execute("COMMIT")
    assert log.settle(timeout=30)
    stored = dict((event_id, seq) for seq, event_id in _table(services))
    assert stored[intruder.event_id] == 2 and stored[staged.event_id] > 2, "no acknowledged event is dropped"


def test_settle_waits_for_the_move_and_close_moves_everything(settings):
    services = build_services(settings)
    log = services.events
    with sqlite3.connect(settings.data_dir / "openfyp.db", timeout=30) as main:
        main.execute("BEGIN IMMEDIATE")  # the mover cannot write `events` meanwhile
        log.append([_event(video_id=i) for i in range(5)])
        assert not log.settle(timeout=0.3)
        main.execute("COMMIT")
    assert log.settle(timeout=30)
    log.append([_event(video_id=9)])
    services.close()
    with sqlite3.connect(settings.data_dir / "openfyp.db") as connection:
        assert connection.execute("SELECT count(*) FROM events").fetchone()[0] == 6


@pytest.mark.parametrize("bad", [":memory:"])
def test_a_staged_log_needs_its_database_in_a_file(bad, settings):
    from openfyp.store import make_engine, make_session_factory

    engine = make_engine(f"sqlite:///{bad}")
    with pytest.raises(ValueError, match="in a file"):
        StagedEventLog(make_session_factory(engine), "us", settings.data_dir / "x.db")


def test_clears_under_sustained_appends_lose_nothing_and_keep_every_id_unique(services):
    # A clear every few groups: it copies the tail and empties staging while writers keep appending, some of
    # them repeating ids that are staged, moved or cleared by then.
    log = StagedEventLog(services.session_factory, "us", services.settings.data_dir / "busy.events-staging.db",
                         config=StagingConfig(clear_after_events=40))
    repeated = [_event(video_id=5000 + i) for i in range(30)]
    answers: list = []

    def work(worker: int) -> None:
        for n in range(25):
            answers.append(log.append([_event(video_id=worker * 1000 + n) for _ in range(6)]
                                      + repeated[(worker + n) % 30:(worker + n) % 30 + 1]))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert log.settle(timeout=30)
    assert log.moves.clears >= 3
    stored = _table(services)
    assert len(stored) == sum(a.accepted for a in answers) == 6 * 25 * 6 + len({(w + n) % 30 for w in range(6)
                                                                                  for n in range(25)})
    assert [seq for seq, _ in stored] == list(range(1, len(stored) + 1))
    assert len({event_id for _, event_id in stored}) == len(stored)
    assert _staged_rows(log) == []
    # Every id is still known once staging is empty: sent again, all are duplicates.
    again = log.append([_event(event_id=event_id) for _, event_id in stored[:50]])
    assert (again.accepted, again.duplicates) == (0, 50)
    log.close()


def test_the_id_probe_finds_stored_ids_on_either_side_of_the_newest_one(tmp_path):
    from openfyp.events.staged import _STAGING_DDL, _present_and_top

    connection = sqlite3.connect(tmp_path / "probe.db")
    connection.execute(_STAGING_DDL)
    assert _present_and_top(connection, "events_staging", ["a", "b"]) == (set(), 0)
    stored = ["0190aaaa", "0190cccc", "zzzz-legacy", "0190bbbb"]
    connection.executemany("INSERT INTO events_staging (seq, event_id, region, kind, server_ts) "
                           "VALUES (?, ?, 'us', 'play', '2026-01-01 00:00:00.000000')",
                           list(enumerate(stored, start=1)))
    asked = ["0190bbbb", "0190bbbc", "zzzz-legacy", "zzzz-newer", "0190", "0190aaaa"]
    assert _present_and_top(connection, "events_staging", asked) == ({"0190bbbb", "zzzz-legacy", "0190aaaa"}, 4)
