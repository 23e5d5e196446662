"""The append-only event log. An append returns only after the events are durable.

Appends are *group-committed* (``store.group_commit``): concurrent appends share one transaction and its
fsync, and each caller returns once its own events are durable. A lone append is committed at once.

On SQLite the writer uses its own DBAPI connection (``synchronous=FULL``, a larger page cache) and inserts
a group with a few multi-row statements rather than ``executemany``: the sqlite3 module lets go of the GIL
around every statement step and then has to win it back, which takes up to the interpreter's switch
interval (5 ms) while another thread (the online learner) is computing. ``executemany`` steps once per
row, so a busy learner slowed the writer row by row (about twice the wall time per event beside a
CPU-bound thread, measured); a step per thousand rows leaves it a handful of such waits per group. With one
writer per database file, ``seq`` order is commit order, which the learners' "position in the log" relies on.

Durability: ``synchronous=FULL`` fsyncs the WAL at every commit, so an acknowledged event survives a
process kill *and* a power loss. (``NORMAL`` would skip that fsync, surviving ``kill -9`` but not power
loss; it is not used.)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, sessionmaker

from openfyp.events.rows import (
    COLUMNS,
    from_row,
    insert_in_statements,
    rows_per_statement,
    set_seq,
    sqlite_rows,
    to_row,
)
from openfyp.events.schema import Event
from openfyp.store.group_commit import (
    GroupCommitConfig,
    GroupCommitStats,
    GroupCommitWriter,
)
from openfyp.store.id_floors import EVENTS, last_handed_out_sql
from openfyp.store.tables import EventRow

log = logging.getLogger(__name__)

Listener = Callable[[Sequence[Event]], None]
# A group holds at most this many events; more waiting callers form the next group.
MAX_GROUP_EVENTS = 20_000
# SQLite's writer connection gets this much page cache (KiB): index pages stay hot under random event ids.
WRITER_CACHE_KIB = 65_536
WRITER_MMAP_BYTES = 1 << 30
# One INSERT statement carries at most this many events (and SQLite at most 32,766 parameters, or 999 before
# 3.32: the connection's own limit is respected).
MAX_ROWS_PER_STATEMENT = 1024
_LAST_SEQ = last_handed_out_sql(EVENTS)
# The writer never checkpoints the WAL itself (that would add a database fsync to some commits); a helper
# thread does, this often.
CHECKPOINT_SECONDS = 0.5
# Ids looked up per IN list (SQLite binds at most 999 values per statement before 3.32).
ID_PROBE_CHUNK = 900


class ForeignRegionEvent(ValueError):
    """An event for another region reached this region's log; it is refused, never stored."""


def refuse_foreign_events(events: Sequence[Event], region: str) -> None:
    """Every log implementation's first step: a batch with one event of another region is refused whole."""
    for event in events:
        if event.region != region:
            raise ForeignRegionEvent(f"event {event.event_id} belongs to region {event.region!r}, "
                                     f"this log to {region!r}")


@dataclass(frozen=True)
class AppendResult:
    accepted: int
    duplicates: int
    last_seq: int


class EventLog(Protocol):
    region: str

    def append(self, events: Sequence[Event]) -> AppendResult: ...

    def read_after(self, seq: int, limit: int = 10_000) -> list[Event]: ...

    def head(self) -> int: ...

    def add_listener(self, listener: Listener) -> None: ...

    def settle(self, timeout: float = 60.0) -> bool:
        """Wait until every event acknowledged so far is readable in the ``events`` table."""
        ...

    def known(self, event_ids: Sequence[str]) -> set[str]:
        """Which of ``event_ids`` the log already holds (acknowledged, whether or not in the table yet)."""
        ...


@runtime_checkable
class LogWithOwnCopy(Protocol):
    """A log that keeps events in a store of its own beside the ``events`` table (the Redis stream): erasing a
    person's events must remove them there too, before the table's rows."""

    def copied_position(self) -> int:
        """Every entry at or below this seq is in the ``events`` table."""
        ...

    def entries_after(self, seq: int, batch: int = 5000) -> Iterator[Event]: ...

    def erase_entries(self, entries: Mapping[int, str]) -> int:
        """Remove the entries ``seq -> event_id`` for good; returns how many there were."""
        ...


@dataclass(frozen=True)
class _Appended:
    """One append's outcome as the writer hands it back: its answer, and the events it stored (for listeners)."""

    stored: list[Event]
    result: AppendResult


@dataclass
class GroupStats(GroupCommitStats):
    """The writer's groups (weighed in events), and where its time went (wall seconds, summed over groups)."""

    encode_seconds: float = 0.0  # events to insert parameters
    lock_seconds: float = 0.0  # waiting for the staging file's write lock (the staged log; part of insert)
    probe_seconds: float = 0.0  # then looking up which ids the log already holds (the staged log; part of insert)
    insert_seconds: float = 0.0  # the INSERT itself: rows, unique check, index maintenance
    commit_seconds: float = 0.0  # COMMIT: the WAL write and its fsync

    def commit(self, cursor: Any, insert_started: float) -> None:
        """COMMIT the group's transaction, timing it apart from the inserting that began at ``insert_started``."""
        commit_started = time.perf_counter()
        self.insert_seconds += commit_started - insert_started
        cursor.execute("COMMIT")
        self.commit_seconds += time.perf_counter() - commit_started

    def microseconds_per_event(self) -> dict[str, float]:
        per_event = 1e6 / max(self.weight, 1)
        return {"encode": round(self.encode_seconds * per_event, 1),
                "insert": round(self.insert_seconds * per_event, 1),
                "of_which_lock_wait": round(self.lock_seconds * per_event, 1),
                "of_which_probe": round((self.probe_seconds - self.lock_seconds) * per_event, 1),
                "commit": round(self.commit_seconds * per_event, 1),
                # the separate sync step, when there is one: it overlaps the next group's writing
                "sync": round(self.sync_seconds * per_event, 1),
                # listeners and answering the callers
                "notify": round(self.answer_seconds * per_event, 1)}


class GroupCommittedLog:
    """What the SQL logs share: appends group-committed by one writer thread, listeners told after each commit.

    Subclasses store a group in ``_write`` (one transaction; per batch its :class:`_Appended`) and read.
    """

    def __init__(self, session_factory: sessionmaker[Session], region: str, *, max_group_events: int,
                 sync: Callable[[], None] | None = None) -> None:
        self.session_factory = session_factory
        self.region = region
        self.stats = GroupStats()  # a benchmark swaps in a fresh one to time a run of its own
        self._listeners: list[Listener] = []
        self._writer: GroupCommitWriter[list[Event], _Appended] = GroupCommitWriter(
            GroupCommitConfig(name="event log", max_group_weight=max_group_events),
            weight=len, write=self._write, after_commit=self._after_commit, stats=lambda: self.stats, sync=sync)

    @property
    def engine(self):
        return self.session_factory.kw["bind"]

    def add_listener(self, listener: Listener) -> None:
        """``listener(stored_events)`` runs on the writer after each durable commit, before callers hear back.

        Keep it short (hand the events to another thread): the next group waits for it.
        """
        self._listeners.append(listener)

    def append(self, events: Sequence[Event]) -> AppendResult:
        refuse_foreign_events(events, self.region)
        if not events:
            return AppendResult(0, 0, self.head())
        return self._writer.submit(self._prepare(list(events))).result

    def _prepare(self, events: list[Event]) -> list[Event]:
        """Runs in the caller's thread before the batch is queued: work that need not wait for the writer."""
        return events

    def head(self) -> int:
        raise NotImplementedError

    def _write(self, batches: list[list[Event]]) -> list[_Appended]:
        raise NotImplementedError

    def _after_commit(self, batches: list[list[Event]], appended: Sequence[_Appended]) -> None:
        everything = [event for append in appended for event in append.stored]
        for listener in self._listeners:
            try:
                listener(everything)
            except Exception:  # a listener's failure must not un-acknowledge durable events
                log.exception("event log listener failed")


class SqlEventLog(GroupCommittedLog):
    """The ``events`` table itself, group-committed: the log on PostgreSQL (and the baseline on SQLite)."""

    def __init__(self, session_factory: sessionmaker[Session], region: str, *,
                 max_group_events: int = MAX_GROUP_EVENTS, group_commit: bool = True) -> None:
        # Every append holds at least one event, so a limit of one event commits each append alone.
        super().__init__(session_factory, region, max_group_events=max_group_events if group_commit else 1)
        self._sqlite: Any = None  # the writer's own DBAPI connection on SQLite
        self._sqlite_raw: Any = None
        self._rows_per_statement = MAX_ROWS_PER_STATEMENT
        self._checkpointer: threading.Thread | None = None
        self._checkpointer_stop = threading.Event()

    # ---- appending ------------------------------------------------------------------------------------------
    def close(self) -> None:
        """Commit what is queued, then stop the writer (a later append raises ``WriterStopped``)."""
        self._writer.close()
        self._checkpointer_stop.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=30)
            self._checkpointer = None
        if self._sqlite_raw is not None:
            self._sqlite_raw.close()  # detached, so this closes the DBAPI connection itself
            self._sqlite_raw = self._sqlite = None

    def _write(self, batches: list[list[Event]]) -> list[_Appended]:
        """Insert every batch in one transaction; per batch, the events it stored and its answer."""
        encode_started = time.perf_counter()
        if self.engine.dialect.name == "sqlite":
            rows = sqlite_rows([e for batch in batches for e in batch])
            self.stats.encode_seconds += time.perf_counter() - encode_started
            inserted, head = self._write_sqlite(rows)
        else:
            rows = [to_row(e) for batch in batches for e in batch]
            self.stats.encode_seconds += time.perf_counter() - encode_started
            inserted, head = self._write_with_returning(rows)
        return answer_appends(batches, inserted, head)

    def _write_sqlite(self, rows: list[tuple]) -> tuple[dict[str, int], int]:
        connection = self._sqlite_connection()
        cursor = connection.cursor()
        try:
            insert_started = time.perf_counter()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                # Numbered here, after the largest seq present or once handed out (an erasure may have deleted
                # the newest events: their numbers are not handed out again), under the write lock.
                before = cursor.execute(_LAST_SEQ, {"region": self.region}).fetchone()[0]
                numbered = [(before + i, *row) for i, row in enumerate(rows, start=1)]
                stored = insert_in_statements(cursor, "events", ("seq", *COLUMNS), numbered,
                                              rows_per_statement=self._rows_per_statement,
                                              on_conflict="ON CONFLICT (event_id) DO NOTHING")
                if stored == len(rows):  # nothing was a duplicate: the seqs are the ones given
                    inserted = {row[0]: before + i for i, row in enumerate(rows, start=1)}
                else:
                    inserted = {event_id: seq for seq, event_id in cursor.execute(
                        "SELECT seq, event_id FROM events WHERE seq > ? ORDER BY seq", (before,))}
                self.stats.commit(cursor, insert_started)
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
        finally:
            cursor.close()
        head = max(inserted.values()) if inserted else before
        return inserted, head

    def _sqlite_connection(self):
        if self._sqlite is None:
            self._sqlite_raw, self._sqlite = self._detached_sqlite()
            self._rows_per_statement = rows_per_statement(self._sqlite, len(COLUMNS) + 1, MAX_ROWS_PER_STATEMENT)
            self._sqlite.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
            # Index pages the cache misses are read through a memory map instead of a read() call each.
            self._sqlite.execute(f"PRAGMA mmap_size={WRITER_MMAP_BYTES}")
            self._sqlite.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpointer = threading.Thread(target=self._checkpoint_wal, name="openfyp-wal-checkpoint",
                                                  daemon=True)
            self._checkpointer.start()
        return self._sqlite

    def _detached_sqlite(self):
        """A DBAPI connection of our own (configured by store.db: WAL, synchronous=FULL, busy timeout)."""
        raw = self.engine.raw_connection()
        connection = raw.driver_connection
        # Detached: with its own transaction handling it must never go back to the pool for sessions.
        raw.detach()
        connection.isolation_level = None  # transactions are begun and committed explicitly
        return raw, connection

    def _checkpoint_wal(self) -> None:
        raw, connection = self._detached_sqlite()
        try:
            while not self._checkpointer_stop.wait(CHECKPOINT_SECONDS):
                try:
                    # PASSIVE: copies what it can without waiting for or blocking the writer and readers.
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except Exception:  # a missed checkpoint is retried on the next tick
                    log.debug("WAL checkpoint skipped", exc_info=True)
        finally:
            raw.close()

    def _write_with_returning(self, rows: list[dict]) -> tuple[dict[str, int], int]:
        statement = pg_insert(EventRow).on_conflict_do_nothing(index_elements=["event_id"]).returning(
            EventRow.seq, EventRow.event_id)
        insert_started = time.perf_counter()
        with self.engine.begin() as connection:
            inserted = {event_id: seq for seq, event_id in connection.execute(statement, rows).all()}
            commit_started = time.perf_counter()
            self.stats.insert_seconds += commit_started - insert_started
        self.stats.commit_seconds += time.perf_counter() - commit_started
        head = max(inserted.values()) if inserted else self.head()
        return inserted, head

    # ---- reading --------------------------------------------------------------------------------------------
    def read_after(self, seq: int, limit: int = 10_000) -> list[Event]:
        with self.session_factory() as session:
            rows = session.scalars(
                select(EventRow).where(EventRow.seq > seq, EventRow.region == self.region)
                .order_by(EventRow.seq).limit(limit)
            ).all()
            return [from_row(r) for r in rows]

    def settle(self, timeout: float = 60.0) -> bool:
        return True  # every acknowledged event is in the table already

    def known(self, event_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with self.session_factory() as session:
            for start in range(0, len(event_ids), ID_PROBE_CHUNK):
                chunk = list(event_ids[start:start + ID_PROBE_CHUNK])
                found.update(session.scalars(select(EventRow.event_id).where(EventRow.event_id.in_(chunk))))
        return found

    def head(self) -> int:
        with self.session_factory() as session:
            return session.scalar(select(func.coalesce(func.max(EventRow.seq), 0))) or 0


def answer_appends(batches: list[list[Event]], inserted: dict[str, int], head: int) -> list[_Appended]:
    """Per batch, the events it stored (first claim wins) and its answer; ``inserted`` maps new ids to seqs.

    Each stored event gets its ``seq`` set in place: copying tens of thousands of models per second would
    cost more than writing them.
    """
    appended = []
    for batch in batches:
        mine = []
        for event in batch:
            seq = inserted.pop(event.event_id, None)
            if seq is not None:
                set_seq(event, seq)
                mine.append(event)
        last_seq = max((event.seq for event in mine if event.seq is not None), default=head)
        appended.append(_Appended(mine, AppendResult(len(mine), len(batch) - len(mine), last_seq)))
    return appended
