"""The event log's numbering never goes back, even when erasure deletes its newest events.

``seq`` is every reader's position in the log. SQLite's writers number a new event after the largest ``seq``
present, so deleting the newest events would hand their numbers out again, to events the readers would then
skip. Erasure therefore records how far numbering had gone (:func:`keep_log_head`, in the transaction of its
delete) and the writers number after that too (:data:`LOG_HEAD_SQL`). PostgreSQL's sequence never goes back
anyway; recording the head there costs one statement per erasure.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

# For the SQLite writers' own connections (one parameter: the region).
LOG_HEAD_SQL = "SELECT coalesce(max(seq), 0) FROM event_log_head WHERE region = ?"

_KEEP = {
    # (``WHERE true``: SQLite's parser needs it between an INSERT's SELECT and its ON CONFLICT.)
    "sqlite": "INSERT INTO event_log_head (region, seq) SELECT :region, coalesce(max(seq), 0) FROM events "
              "WHERE region = :region AND true ON CONFLICT (region) DO UPDATE SET seq = max(seq, excluded.seq)",
    "postgresql": "INSERT INTO event_log_head (region, seq) SELECT CAST(:region AS varchar), "
                  "coalesce(max(seq), 0) FROM events WHERE region = :region ON CONFLICT (region) DO UPDATE "
                  "SET seq = greatest(event_log_head.seq, excluded.seq)",
}


def keep_log_head(db: Session, region: str) -> None:
    """Record the largest ``seq`` handed out so far in ``region``; call it before deleting events, in the same
    transaction (a write: on SQLite it takes the write lock, so no event commits between it and the delete)."""
    db.execute(text(_KEEP[db.get_bind().dialect.name]), {"region": region})
