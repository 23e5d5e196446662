"""Numbers readers keep positions by are never handed out twice, even after an erasure deletes the newest rows.

Two numberings are positions: an event's ``seq`` (the engine, the online learner and the Redis sink read the
log past the last one they read) and an impression's ``id`` (a viewer's seen set is read past its highest,
and a page's commit looks for what was served after it). SQLite numbers a new row after the largest number
present, so deleting the newest rows would hand their numbers out again, to rows those readers would skip:
events never counted, a video served to a viewer twice. Erasure therefore records how far each numbering had
gone (:func:`keep_floors`, in the transaction of its deletes) and SQLite's writers number after that too
(:data:`FLOOR_SQL`). PostgreSQL's sequences never go back; recording the floors there is harmless.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

EVENTS = "events.seq"
IMPRESSIONS = "impressions.id"
_COUNTED = {EVENTS: ("events", "seq"), IMPRESSIONS: ("impressions", "id")}

# For the writers' own statements: the floor of one numbering in one region (0 when none was recorded).
FLOOR_SQL = "SELECT coalesce(max(value), 0) FROM id_floors WHERE region = ? AND counter = ?"


def last_handed_out_sql(counter: str) -> str:
    """SQLite: the largest number of ``counter`` handed out in ``:region`` - present in its table, or recorded
    by an erasure that deleted it. A writer numbers its rows after it, under the write lock."""
    table, column = _COUNTED[counter]
    return (f"SELECT max((SELECT coalesce(max({column}), 0) FROM {table}), (SELECT coalesce(max(value), 0) "
            f"FROM id_floors WHERE region = :region AND counter = '{counter}'))")

_GREATEST = {"sqlite": "max", "postgresql": "greatest"}


def keep_floors(db: Session, region: str) -> None:
    """Record the largest event seq and impression id handed out so far in ``region``. Call it before deleting
    events or impressions, in the same transaction (a write: on SQLite it takes the write lock, so nothing is
    numbered between it and the deletes)."""
    greatest = _GREATEST[db.get_bind().dialect.name]
    for counter, (table, column) in _COUNTED.items():
        # (``AND true``: SQLite's parser needs a WHERE between an INSERT's SELECT and its ON CONFLICT.)
        db.execute(text(
            f"INSERT INTO id_floors (region, counter, value) SELECT CAST(:region AS VARCHAR(16)), "
            f"CAST(:counter AS VARCHAR(32)), coalesce(max({column}), 0) FROM {table} WHERE region = :region "
            f"AND true ON CONFLICT (region, counter) DO UPDATE SET value = {greatest}(id_floors.value, "
            "excluded.value)"), {"region": region, "counter": counter})
