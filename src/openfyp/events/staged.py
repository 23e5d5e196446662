"""The embedded event log: acknowledged in a small staging database, moved into ``events`` in large batches.

Why two steps: every index of the ``events`` table over a random key (the viewer, the video, the event id)
dirties about a page per inserted event, and SQLite pays for a dirty page at every commit. Committing each
group of acknowledged events straight into ``events`` therefore costs about as much per event as the group is
small, and a group can only be as large as the events callers have in flight. Here a group is committed to
``events_staging`` - a table in a file of its own that holds only the last moments of the log, so its pages
stay few and hot - and acknowledged once that commit is durable (``synchronous=FULL``). A *mover* thread then
copies everything staged into ``events`` in one transaction (``INSERT ... SELECT``, inside SQLite, without the
GIL): the busier the log, the larger each move, and the cheaper each event. Staging is emptied - at once
when the log is idle, every ``clear_after_events`` under load - by a *clear* that takes staging's write lock
(the writer waits), copies the few groups staged since the last move and deletes every row, which SQLite
does page by page rather than row by row.

Guarantees:

* **Durable acknowledgement.** An append returns once its events are committed to staging and staging's
  WAL is fsynced (by a sync step that overlaps the next group's inserts); a crash at any
  moment leaves each acknowledged event in staging or in ``events`` (copies commit ``events`` before the
  clear deletes from staging), and the next start copies what staging still holds (an id already in
  ``events`` is skipped).
* **Exactly once.** An event id already in staging or in ``events`` is a duplicate. The writer checks both
  while holding staging's write lock, and the mover can only delete from staging under that same lock after
  its copy into ``events`` committed, so an id is always visible in one of the two places it looks.
* **One sequence.** The writer numbers new events after the largest ``seq`` in staging or ``events`` (or
  recorded by an erasure that deleted the newest, :mod:`openfyp.store.id_floors`), read under staging's
  write lock, so ``seq`` order is commit order (the learners' "position in the log"), also
  with several processes appending. A move keeps each event's ``seq``.
* **Reads.** :meth:`read_after` and :meth:`head` see staged events at once. Other readers of ``events``
  (analytics, training, a viewer's history) see an event once it has moved - at rest within milliseconds of
  its acknowledgement, under sustained load within one move. Whoever needs everything acknowledged so far
  (erasure, export, a test) calls :meth:`settle` first: it returns once those events are in ``events`` and
  gone from staging, so an erasure that follows cannot be undone by a later copy.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session, sessionmaker

from openfyp.events.log import ID_PROBE_CHUNK, GroupCommittedLog, _Appended, answer_appends
from openfyp.events.rows import COLUMNS, event_from_sqlite, insert_in_statements, rows_per_statement, sqlite_rows
from openfyp.events.schema import Event
from openfyp.store.id_floors import EVENTS, FLOOR_SQL

log = logging.getLogger(__name__)

STAGED_COLUMNS = ("seq", *COLUMNS)
_STAGING_DDL = """
CREATE TABLE IF NOT EXISTS events_staging (
    seq INTEGER PRIMARY KEY,
    event_id VARCHAR(36) NOT NULL UNIQUE,
    region VARCHAR(16) NOT NULL,
    user_id INTEGER,
    video_id INTEGER,
    target_user_id INTEGER,
    kind VARCHAR(16) NOT NULL,
    watch_seconds FLOAT,
    watch_ratio FLOAT,
    source VARCHAR(16),
    request_id VARCHAR(36),
    position INTEGER,
    client_ts DATETIME,
    server_ts DATETIME NOT NULL,
    extra JSON
)
"""
MOVER_MMAP_BYTES = 1 << 30
# A clear copies the tail under staging's lock once a move copied at most this many events, or after this many
# moves without it (see StagedEventLog._clear).
CLEAR_TAIL_EVENTS = 1000
CLEAR_PRE_MOVES = 4
# With nothing left to move, the mover clears staging once no new group has come for this long.
IDLE_CLEAR_SECONDS = 0.05


class StagingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_group_events: int = Field(20_000, ge=1, description=(
        "An acknowledgement group holds at most this many events; more waiting callers form the next group."))
    max_move_events: int = Field(50_000, ge=1, description=(
        "One move copies at most this many staged events into `events` (bounds how long it holds the main "
        "database's write lock)."))
    clear_after_events: int = Field(100_000, ge=1, description=(
        "Under load, copied events are deleted from staging once this many have piled up (each delete waits "
        "for the writer's lock); an idle mover, or settle(), clears at once."))
    mover_cache_kib: int = Field(131_072, ge=1024, description=(
        "Page cache of the mover's connection: the `events` indexes' pages it dirties stay in memory."))
    probe_cache_kib: int = Field(65_536, ge=1024, description=(
        "Page cache of the writer's look at `events` (which ids it holds already)."))
    checkpoint_seconds: float = Field(0.5, gt=0, description=(
        "The mover checkpoints the main database's WAL at most this often (off the acknowledgement path)."))
    idle_poll_seconds: float = Field(0.5, gt=0, description=(
        "With nothing signalled, the mover still looks at staging this often (events staged by another "
        "process)."))


class StagedEventLog(GroupCommittedLog):
    """The embedded default on SQLite: group-committed into staging, moved into ``events`` behind the writer."""

    def __init__(self, session_factory: sessionmaker[Session], region: str, staging_path: Path, *,
                 config: StagingConfig | None = None) -> None:
        self.config = config or StagingConfig()
        super().__init__(session_factory, region, max_group_events=self.config.max_group_events,
                         sync=self._sync_staging)
        self.staging_path = Path(staging_path)
        self.main_path  # noqa: B018 - refuses an in-memory main database before any thread starts
        self.moves = MoveStats()
        self._staging: sqlite3.Connection | None = None  # the writer's
        self._staging_wal: int | None = None  # a descriptor of staging's WAL file, for the sync step
        self._main: sqlite3.Connection | None = None  # the writer's read-only look at `events`
        self._rows_per_statement = 1024
        self._reader_lock = threading.Lock()
        self._reader: sqlite3.Connection | None = None
        # The mover: woken by every commit. Up to `_copied` staged events are in `events`; up to `_cleared`
        # they have also left staging (what settle() waits for).
        self._acknowledged = 0
        self._copied = 0
        self._cleared = 0
        self._clear_requested = False
        self._progress = threading.Condition()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._mover: threading.Thread | None = None
        self._mover_failed: BaseException | None = None
        self._clearing: sqlite3.Connection | None = None  # the mover's: holds staging's lock while it clears
        self._closed = False
        connection = self._connect_staging()
        try:
            connection.execute(_STAGING_DDL)
            # What a previous process acknowledged but did not move yet is moved first (settle waits for it).
            self._acknowledged = connection.execute(
                "SELECT coalesce(max(seq), 0) FROM events_staging").fetchone()[0]
        finally:
            connection.close()
        self._start_mover()

    # ---- reading ---------------------------------------------------------------------------------------------
    def read_after(self, seq: int, limit: int = 10_000) -> list[Event]:
        """Events after ``seq`` in log order, staged or moved."""
        columns = ", ".join(STAGED_COLUMNS)
        with self._reader_lock:
            reader = self._reading()
            reader.execute("BEGIN")
            try:
                # Staging first: an event missing there has moved, and a move commits `events` before it
                # deletes from staging, so the read of `events` that follows finds it.
                staged = reader.execute(f"SELECT {columns} FROM staging.events_staging WHERE seq > ? AND region = ? "
                                        "ORDER BY seq LIMIT ?", (seq, self.region, limit)).fetchall()
                moved = reader.execute(f"SELECT {columns} FROM main.events WHERE seq > ? AND region = ? "
                                       "ORDER BY seq LIMIT ?", (seq, self.region, limit)).fetchall()
            finally:
                reader.execute("COMMIT")
        by_seq = {row[0]: row for row in moved}
        by_seq.update((row[0], row) for row in staged)
        return [event_from_sqlite(s, by_seq[s][1:]) for s in sorted(by_seq)[:limit]]

    def head(self) -> int:
        with self._reader_lock:
            reader = self._reading()
            return max(reader.execute("SELECT coalesce(max(seq), 0) FROM staging.events_staging").fetchone()[0],
                       reader.execute("SELECT coalesce(max(seq), 0) FROM main.events").fetchone()[0])

    def settle(self, timeout: float = 60.0) -> bool:
        """Wait until every event acknowledged so far is in ``events``; False if that took over ``timeout``."""
        target = self._acknowledged
        deadline = time.monotonic() + timeout
        with self._progress:
            while self._cleared < target:
                if self._mover_failed is not None or self._closed:
                    return self._cleared >= target
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._clear_requested = True
                self._wake.set()
                self._progress.wait(min(remaining, 0.05))
        return True

    def known(self, event_ids: Sequence[str]) -> set[str]:
        ids = list(event_ids)
        with self._reader_lock:
            reader = self._reading()
            # Staging first, then `events`: an id that moved in between is found in the second look.
            return _present(reader, "staging.events_staging", ids) | _present(reader, "main.events", ids)

    def staged_count(self) -> int:
        with self._reader_lock:
            return self._reading().execute("SELECT count(*) FROM staging.events_staging").fetchone()[0]

    def close(self) -> None:
        """Commit what is queued, move everything staged into ``events``, then stop."""
        self._writer.close()
        self.settle()
        self._closed = True
        self._stop.set()
        self._wake.set()
        if self._mover is not None:
            self._mover.join(timeout=60)
            self._mover = None
        for connection in (self._staging, self._main, self._reader, self._clearing):
            if connection is not None:
                connection.close()
        self._staging = self._main = self._reader = self._clearing = None
        if self._staging_wal is not None:
            os.close(self._staging_wal)
            self._staging_wal = None

    # ---- connections ----------------------------------------------------------------------------------------
    @property
    def main_path(self) -> str:
        database = self.engine.url.database
        if not database or database == ":memory:":
            raise ValueError("a staged event log needs the main database in a file")
        return database

    def _connect_staging(self) -> sqlite3.Connection:
        return _connect(self.staging_path)

    def _connect_main(self) -> sqlite3.Connection:
        return _connect(self.main_path)

    def _reading(self) -> sqlite3.Connection:
        if self._reader is None:
            self._reader = self._connect_main()
            self._reader.execute("ATTACH DATABASE ? AS staging", (str(self.staging_path),))
        return self._reader

    # ---- acknowledging: the callers, then the writer thread ----------------------------------------------------
    def _prepare(self, events: list[Event]) -> _EncodedBatch:
        # Encoded by each caller, in parallel with the others, rather than by the one writer all wait for.
        return _EncodedBatch(events, sqlite_rows(events))

    def _write(self, batches: list[_EncodedBatch]) -> list[_Appended]:  # type: ignore[override]
        encode_started = time.perf_counter()
        if self._staging is None:
            self._staging = self._connect_staging()
            # Commits write the WAL without waiting for the disk; the sync step (another thread) fsyncs it
            # before anyone hears back, while this thread goes on with the next group. (NORMAL still syncs
            # around checkpoints, so a checkpoint never loses what it moved.)
            self._staging.execute("PRAGMA synchronous=NORMAL")
            # Staging holds up to `clear_after_events` rows between clears: its pages stay in memory.
            self._staging.execute(f"PRAGMA cache_size=-{self.config.probe_cache_kib}")
            self._main = self._connect_main()
            # The id probes descend the `events` unique index: its upper pages stay cached, the rest is mapped.
            self._main.execute(f"PRAGMA cache_size=-{self.config.probe_cache_kib}")
            self._main.execute(f"PRAGMA mmap_size={MOVER_MMAP_BYTES}")
            self._rows_per_statement = rows_per_statement(self._staging, len(STAGED_COLUMNS))
        first_claims: dict[str, tuple[Event, tuple]] = {}
        for batch in batches:
            for event, row in zip(batch, batch.rows, strict=True):
                if event.event_id not in first_claims:
                    first_claims[event.event_id] = (event, row)
        claims = [event for event, _ in first_claims.values()]
        encoded = [row for _, row in first_claims.values()]
        self.stats.encode_seconds += time.perf_counter() - encode_started
        insert_started = time.perf_counter()
        staging = self._staging
        staging.execute("BEGIN IMMEDIATE")  # may wait for the mover clearing staging
        self.stats.lock_seconds += time.perf_counter() - insert_started
        try:
            ids = list(first_claims)
            staged, staged_top = _present_and_top(staging, "events_staging", ids)
            moved, moved_top = _present_and_top(self._main, "events", ids)
            # Read after ``events``: an erasure that deleted the newest events since has recorded their numbers.
            erased_top = self._main.execute(FLOOR_SQL, (self.region, EVENTS)).fetchone()[0]
            last = max(staged_top, moved_top, erased_top)
            self.stats.probe_seconds += time.perf_counter() - insert_started
            fresh, rows = [], []
            for event, row in zip(claims, encoded, strict=True):
                if event.event_id not in staged and event.event_id not in moved:
                    fresh.append(event)
                    rows.append((last + len(rows) + 1, *row))
            insert_in_statements(staging, "events_staging", STAGED_COLUMNS, rows,
                                 rows_per_statement=self._rows_per_statement)
            self.stats.commit(staging, insert_started)
        except BaseException:
            staging.execute("ROLLBACK")
            raise
        inserted = {event.event_id: last + i for i, event in enumerate(fresh, start=1)}
        head = last + len(fresh)
        if fresh:
            self._acknowledged = head
        return answer_appends(batches, inserted, head)

    def _sync_staging(self) -> None:
        """Make every committed group durable: fsync staging's WAL, which holds their frames."""
        if self._staging_wal is None:
            self._staging_wal = os.open(f"{self.staging_path}-wal", os.O_RDONLY)
        os.fsync(self._staging_wal)

    def _after_commit(self, batches: list[list[Event]], appended: Sequence[_Appended]) -> None:
        self._wake.set()  # the mover
        super()._after_commit(batches, appended)

    # ---- moving: the mover thread ----------------------------------------------------------------------------
    def _start_mover(self) -> None:
        self._mover = threading.Thread(target=self._run_mover, name="openfyp-event-mover", daemon=True)
        self._mover.start()

    def _run_mover(self) -> None:
        connection = self._connect_main()
        connection.execute(f"PRAGMA cache_size=-{self.config.mover_cache_kib}")
        # Index pages the cache misses are read through a memory map instead of a read() call each.
        connection.execute(f"PRAGMA mmap_size={MOVER_MMAP_BYTES}")
        # The mover checkpoints itself, between moves: no commit on the acknowledgement path pays for it.
        connection.execute("PRAGMA wal_autocheckpoint=0")
        connection.execute("ATTACH DATABASE ? AS staging", (str(self.staging_path),))
        last_checkpoint = time.monotonic()
        try:
            while True:
                try:
                    moved = self._move(connection)
                    uncleared = self._copied - self._cleared
                    if uncleared > 0 and (self._clear_requested or uncleared >= self.config.clear_after_events):
                        self._clear(connection)
                    elif uncleared > 0 and not moved and not self._wake.wait(IDLE_CLEAR_SECONDS):
                        # Nothing to move and no group for a moment: the log is idle, not between two groups.
                        self._clear(connection)
                except Exception as exc:  # retried; settle() reports no progress meanwhile
                    log.exception("moving staged events into the events table failed")
                    self._mover_failed = exc
                    if self._stop.wait(1.0):
                        return
                    continue
                self._mover_failed = None
                if time.monotonic() - last_checkpoint >= self.config.checkpoint_seconds:
                    _checkpoint(connection)
                    last_checkpoint = time.monotonic()
                if moved:
                    continue  # more may have been staged meanwhile
                if self._stop.is_set():
                    _checkpoint(connection)
                    return
                self._wake.wait(self.config.idle_poll_seconds)
                self._wake.clear()
        finally:
            connection.close()

    def _move(self, connection: sqlite3.Connection) -> int:
        """Copy the oldest staged events (up to ``max_move_events``) into ``events``; returns how many."""
        started = time.perf_counter()
        acknowledged_before = self._acknowledged  # read before staging: see the empty case below
        window = connection.execute(
            "SELECT min(seq), max(seq), count(*) FROM (SELECT seq FROM staging.events_staging WHERE seq > ? "
            "ORDER BY seq LIMIT ?)", (self._copied, self.config.max_move_events)).fetchone()
        first, last, count = window
        if not count:
            # Nothing staged past the copied position, after everything acknowledged before the look was
            # committed: all of it is copied (or was a duplicate, never staged).
            with self._progress:
                if self._cleared >= self._copied:  # and nothing copied waits to be cleared either
                    self._cleared = max(self._cleared, acknowledged_before)
                    self._progress.notify_all()
                self._copied = max(self._copied, acknowledged_before)
            return 0
        columns = ", ".join(STAGED_COLUMNS)
        connection.execute("BEGIN")
        try:
            stored = connection.execute(
                f"INSERT INTO main.events ({columns}) SELECT {columns} FROM staging.events_staging "
                "WHERE seq BETWEEN ? AND ? ORDER BY seq ON CONFLICT DO NOTHING", (first, last)).rowcount
            if stored < count:
                stored += _rescue_collisions(connection, first, last)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        self.moves.record(count, time.perf_counter() - started)
        self._copied = max(self._copied, last)
        return count

    def _clear(self, connection: sqlite3.Connection) -> None:
        """Empty staging: under staging's write lock, copy what is left into ``events``, then delete it all.

        Deleting every row lets SQLite drop the table's pages wholesale instead of visiting each row and
        its index entries (a ranged DELETE of 100k copied rows held the writer off for about half a
        second). Holding the lock from the copy of the tail - the few groups staged since the last move -
        to the delete is what makes "every row" safe: nothing is staged meanwhile, and ``events`` has
        committed every row before the delete does (see "Exactly once").
        """
        started = time.perf_counter()
        self._clear_requested = False
        # Moves first, without the lock: each copies what was staged during the one before, so under load the
        # tail left to copy while the writers wait shrinks with every round.
        for _ in range(CLEAR_PRE_MOVES):
            if self._move(connection) <= CLEAR_TAIL_EVENTS:
                break
        lock = self._clearing_connection()
        lock.execute("BEGIN IMMEDIATE")  # the writers wait from here
        try:
            while self._move(connection):
                pass
            upto = self._copied
            lock.execute("DELETE FROM events_staging")
            lock.execute("COMMIT")
        except BaseException:
            lock.execute("ROLLBACK")
            raise
        self.moves.cleared(time.perf_counter() - started)
        with self._progress:
            self._cleared = max(self._cleared, upto)
            self._progress.notify_all()

    def _clearing_connection(self) -> sqlite3.Connection:
        if self._clearing is None:
            self._clearing = self._connect_staging()
        return self._clearing


class _EncodedBatch(list):
    """An append's events with their insert parameters (:func:`openfyp.events.rows.sqlite_rows`)."""

    def __init__(self, events: list[Event], rows: list[tuple]) -> None:
        super().__init__(events)
        self.rows = rows


class MoveStats:
    """What the mover did: moves, events, and wall seconds copying into ``events`` and clearing staging."""

    def __init__(self) -> None:
        self.moves = 0
        self.events = 0
        self.largest = 0
        self.clears = 0
        self.copy_seconds = 0.0
        self.clear_seconds = 0.0

    def record(self, events: int, copy_seconds: float) -> None:
        self.moves += 1
        self.events += events
        self.largest = max(self.largest, events)
        self.copy_seconds += copy_seconds

    def cleared(self, seconds: float) -> None:
        self.clears += 1
        self.clear_seconds += seconds

    def summary(self) -> dict[str, Any]:
        per_event = 1e6 / max(self.events, 1)
        return {"moves": self.moves, "events": self.events, "largest_move": self.largest, "clears": self.clears,
                "mean_move": round(self.events / self.moves, 1) if self.moves else 0.0,
                "copy_us_per_event": round(self.copy_seconds * per_event, 1),
                "clear_us_per_event": round(self.clear_seconds * per_event, 1)}


def _connect(path: str | Path) -> sqlite3.Connection:
    """A connection of our own: transactions begun explicitly, WAL, synchronous=FULL, a 30 s busy wait."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    return connection


def _present(connection: sqlite3.Connection, table: str, event_ids: list[str]) -> set[str]:
    """Which of ``event_ids`` are in ``table``."""
    return _present_and_top(connection, table, event_ids)[0]


def _present_and_top(connection: sqlite3.Connection, table: str, event_ids: list[str]) -> tuple[set[str], int]:
    """Which of ``event_ids`` are in ``table``, and its largest ``seq`` (0 when empty).

    Only ids up to the table's largest id are looked up: one sorting after every id it holds is not in it,
    and with time-ordered ids (UUIDv7, what openfyp's clients send) that is nearly every new one, so the
    usual probe is one statement reading two index ends. (Few statements matter: each one lets go of the
    GIL and then waits to win it back from whatever thread computes meanwhile.)
    """
    newest_id, top = connection.execute(
        f"SELECT (SELECT max(event_id) FROM {table}), (SELECT coalesce(max(seq), 0) FROM {table})").fetchone()
    if newest_id is None:
        return set(), top
    # SQLite compares text byte by byte in UTF-8, which orders strings as Python does.
    candidates = [event_id for event_id in event_ids if event_id <= newest_id]
    chunk_size = max(ID_PROBE_CHUNK, connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    found: set[str] = set()
    for start in range(0, len(candidates), chunk_size):
        chunk = candidates[start:start + chunk_size]
        marks = ", ".join("?" for _ in chunk)
        found.update(row[0] for row in connection.execute(
            f"SELECT event_id FROM {table} WHERE event_id IN ({marks})", chunk))
    return found, top


def _rescue_collisions(connection: sqlite3.Connection, first: int, last: int) -> int:
    """Staged events whose ``seq`` a row written around the log (not through it) already took.

    They are kept under a new ``seq`` rather than dropped: an acknowledged event is never lost. (Events
    already in ``events`` by id were moved before a crash interrupted the clean-up; they are skipped.)
    """
    columns = ", ".join(COLUMNS)
    rescued = connection.execute(
        f"INSERT INTO main.events ({columns}) SELECT {columns} FROM staging.events_staging AS s "
        "WHERE s.seq BETWEEN ? AND ? AND NOT EXISTS (SELECT 1 FROM main.events AS e WHERE e.event_id = s.event_id) "
        "ORDER BY s.seq", (first, last)).rowcount
    if rescued:
        log.warning("%d staged events found their seq taken by rows written around the event log; kept under "
                    "new seqs", rescued)
    return rescued


def _checkpoint(connection: sqlite3.Connection) -> None:
    try:
        # PASSIVE: copies what it can without waiting for or blocking the writers and readers.
        connection.execute("PRAGMA main.wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error:  # retried on the next round
        log.debug("WAL checkpoint skipped", exc_info=True)
