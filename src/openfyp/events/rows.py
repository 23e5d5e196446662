"""Events as rows of the ``events`` table (and of the staging table shaped like it), on any SQL backend.

SQLite writers bypass the ORM: they bind plain tuples in :data:`COLUMNS` order, encoded exactly as
SQLAlchemy would store them, so rows written either way read back the same.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from itertools import chain
from typing import Any

from openfyp.events.schema import Event, EventKind
from openfyp.store.tables import EventRow

COLUMNS = ("event_id", "region", "user_id", "video_id", "target_user_id", "kind", "watch_seconds",
           "watch_ratio", "source", "request_id", "position", "client_ts", "server_ts", "extra")
# A multi-row INSERT's last statement is padded with empty rows to a power of two no smaller than this, so a
# handful of prepared statements serve every group size.
MIN_ROWS_PER_STATEMENT = 16


@cache
def multi_row_insert(table: str, columns: tuple[str, ...], rows: int, *, on_conflict: str = "") -> str:
    """An INSERT of ``rows`` rows, in order; rows whose first column is NULL are padding and skipped.

    (The ``WHERE`` also tells SQLite's parser that an ``ON CONFLICT`` clause belongs to the INSERT.)
    """
    row = f"({', '.join('?' for _ in columns)})"
    return (f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM (VALUES {', '.join([row] * rows)}) "
            f"WHERE column1 IS NOT NULL {on_conflict}").rstrip()


def insert_in_statements(cursor: Any, table: str, columns: tuple[str, ...], rows: Sequence[tuple], *,
                         rows_per_statement: int, on_conflict: str = "") -> int:
    """Insert ``rows`` in order, a statement per ``rows_per_statement`` of them; returns how many were stored.

    A statement per thousand rows rather than ``executemany``: the sqlite3 module lets go of the GIL around
    every statement step and then has to win it back, which takes up to the interpreter's switch interval
    while another thread computes; one step per row pays that wait row by row.
    """
    stored = 0
    for start in range(0, len(rows), rows_per_statement):
        chunk = rows[start:start + rows_per_statement]
        size = max(MIN_ROWS_PER_STATEMENT, 1 << (len(chunk) - 1).bit_length())
        parameters = list(chain.from_iterable(chunk))
        parameters.extend([None] * ((size - len(chunk)) * len(columns)))
        stored += cursor.execute(multi_row_insert(table, columns, size, on_conflict=on_conflict),
                                 parameters).rowcount
    return stored


def rows_per_statement(connection: Any, columns: int, ceiling: int = 1024) -> int:
    """The largest power of two (at most ``ceiling``) whose rows fit in one statement's parameters."""
    fitting = max(1, connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // columns)
    return min(ceiling, 1 << (fitting.bit_length() - 1))


def sqlite_time(value: datetime | None, memo: dict[datetime, str]) -> str | None:
    """A timestamp exactly as SQLAlchemy stores ``UTCDateTime`` on SQLite: naive UTC, microseconds always.

    ``memo`` holds the strings of one write: the events of a request share their server time.
    """
    if value is None:
        return None
    text = memo.get(value)
    if text is None:
        utc = value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
        text = memo[value] = utc.isoformat(" ", "microseconds")
    return text


def sqlite_rows(events: Sequence[Event]) -> list[tuple]:
    """Insert parameters in ``COLUMNS`` order (JSON ``null`` for no extra, as the ORM stores it)."""
    memo: dict[datetime, str] = {}
    rows = []
    for event in events:
        kind = event.kind
        rows.append((event.event_id, event.region, event.user_id, event.video_id, event.target_user_id,
                     kind.value if isinstance(kind, EventKind) else str(kind), event.watch_seconds,
                     event.watch_ratio, event.source, event.request_id, event.position,
                     sqlite_time(event.client_ts, memo), sqlite_time(event.server_ts, memo),
                     "null" if event.extra is None else json.dumps(event.extra)))
    return rows


def _parse_sqlite_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).replace(tzinfo=UTC)


def event_from_sqlite(seq: int, row: Sequence[Any]) -> Event:
    """The inverse of :func:`sqlite_rows`, for a row read back in ``COLUMNS`` order."""
    values = dict(zip(COLUMNS, row, strict=True))
    values["client_ts"] = _parse_sqlite_time(values["client_ts"])
    values["server_ts"] = _parse_sqlite_time(values["server_ts"])
    values["extra"] = None if values["extra"] is None else json.loads(values["extra"])
    return Event(seq=seq, **values)


def to_row(event: Event) -> dict:
    row = {name: getattr(event, name) for name in COLUMNS}
    row["kind"] = event.kind.value
    return row


def from_row(row: EventRow) -> Event:
    return Event(seq=row.seq, **{name: getattr(row, name) for name in COLUMNS})


def set_seq(event: Event, seq: int) -> None:
    """Straight into the model's fields: pydantic's ``__setattr__`` costs more than the insert."""
    event.__dict__["seq"] = seq
    event.__pydantic_fields_set__.add("seq")
