"""The append-only event log. An append returns only after the events are durable."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from openfyp.events.schema import Event
from openfyp.store.tables import EventRow

Listener = Callable[[Sequence[Event]], None]


class ForeignRegionEvent(ValueError):
    """An event for another region reached this region's log; it is refused, never stored."""


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


class SqlEventLog:
    """The embedded default: the ``events`` table in the deployment's own database.

    On SQLite the connection runs with ``synchronous=FULL`` so a committed batch survives a power cut.
    """

    def __init__(self, session_factory: sessionmaker[Session], region: str) -> None:
        self.session_factory = session_factory
        self.region = region
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def append(self, events: Sequence[Event]) -> AppendResult:
        for event in events:
            if event.region != self.region:
                raise ForeignRegionEvent(f"event {event.event_id} belongs to region {event.region!r}, "
                                         f"this log to {self.region!r}")
        if not events:
            return AppendResult(0, 0, self.head())
        rows = [_to_row(e) for e in events]
        with self.session_factory() as session:
            dialect = session.get_bind().dialect.name
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            statement = insert(EventRow).on_conflict_do_nothing(index_elements=["event_id"]).returning(
                EventRow.seq, EventRow.event_id)
            # Serialising appends inside one process keeps seq order equal to commit order, which the
            # learners' "position in the log" relies on.
            with self._lock:
                inserted = session.execute(statement, rows).all()
                session.commit()
        by_id = {event_id: seq for seq, event_id in inserted}
        stored = [e.model_copy(update={"seq": by_id[e.event_id]}) for e in events if e.event_id in by_id]
        for listener in self._listeners:
            listener(stored)
        last = max(by_id.values()) if by_id else self.head()
        return AppendResult(accepted=len(stored), duplicates=len(events) - len(stored), last_seq=last)

    def read_after(self, seq: int, limit: int = 10_000) -> list[Event]:
        with self.session_factory() as session:
            rows = session.scalars(
                select(EventRow).where(EventRow.seq > seq, EventRow.region == self.region)
                .order_by(EventRow.seq).limit(limit)
            ).all()
            return [_from_row(r) for r in rows]

    def head(self) -> int:
        with self.session_factory() as session:
            return session.scalar(select(func.coalesce(func.max(EventRow.seq), 0))) or 0


_COLUMNS = ("event_id", "region", "user_id", "video_id", "target_user_id", "kind", "watch_seconds",
            "watch_ratio", "source", "request_id", "position", "client_ts", "server_ts", "extra")


def _to_row(event: Event) -> dict:
    row = {name: getattr(event, name) for name in _COLUMNS}
    row["kind"] = event.kind.value
    return row


def _from_row(row: EventRow) -> Event:
    return Event(seq=row.seq, **{name: getattr(row, name) for name in _COLUMNS})
