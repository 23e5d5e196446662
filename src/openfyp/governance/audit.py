"""The tamper-evident audit log: append-only, hash-chained, one chain per region.

Each entry's ``entry_hash`` is the SHA-256 of the canonical JSON of all its fields, including the previous
entry's hash, so editing, deleting, inserting or reordering an entry breaks the chain at that point. Anyone
can check the chain; a ``seal`` (HMAC of the hash under a key derived from the deployment's secret) also
lets the deployment pin an insertion or a rewritten tail to the exact forged entry. An outside party holding
an exported head (``openfyp audit head``) detects even a truncated or wholly recomputed log.

Appends are serialised: PostgreSQL takes a transaction-scoped advisory lock, SQLite takes the database's
write lock before reading the head; a uniqueness constraint on ``(region, prev_hash)`` makes a fork
impossible even if a writer skipped the lock.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, event, func, insert, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from openfyp.governance.canonical import canonical_json, sha256_hex
from openfyp.governance.errors import InvalidInput
from openfyp.store.tables import AuditEntryRow

GENESIS_HASH = "0" * 64
AUDIT_INFO_KEY = "openfyp.audit"
_PENDING_KEY = "openfyp.audit.pending"
_LISTENING_KEY = "openfyp.audit.listening"
_TABLE = AuditEntryRow.__table__


class AuditAction(StrEnum):
    admin_action = "admin_action"
    role_change = "role_change"
    staff_data_access = "staff_data_access"
    data_export = "data_export"
    account_deletion = "account_deletion"
    content_deletion = "content_deletion"
    release_proposed = "release_proposed"  # the operator signed a model or ranking config for release
    overseer_approval = "overseer_approval"
    overseer_rejection = "overseer_rejection"
    moderation_decision = "moderation_decision"
    appeal_decision = "appeal_decision"
    cross_region_refused = "cross_region_refused"
    key_registered = "key_registered"
    model_refused = "model_refused"


@dataclass(frozen=True)
class AuditRecord:
    """What a caller asks to record. ``details`` must hold ids and facts, never personal data."""

    action: str
    actor_id: int | None = None
    actor_role: str | None = None
    target_kind: str | None = None
    target_id: str | None = None
    justification: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditEntry:
    region: str
    seq: int
    at: datetime
    actor_id: int | None
    actor_role: str | None
    action: str
    target_kind: str | None
    target_id: str | None
    justification: str | None
    details: dict[str, Any]
    prev_hash: str
    entry_hash: str
    seal: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"region": self.region, "seq": self.seq, "at": _iso(self.at), "actor_id": self.actor_id,
                "actor_role": self.actor_role, "action": self.action, "target_kind": self.target_kind,
                "target_id": self.target_id, "justification": self.justification, "details": self.details,
                "prev_hash": self.prev_hash, "entry_hash": self.entry_hash}


@dataclass(frozen=True)
class ChainHead:
    """The latest entry of a chain: what an outside party keeps to check the log later."""

    region: str
    seq: int
    entry_hash: str

    def to_dict(self) -> dict[str, Any]:
        return {"region": self.region, "seq": self.seq, "entry_hash": self.entry_hash}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChainHead:
        try:
            return cls(region=str(data["region"]), seq=int(data["seq"]), entry_hash=str(data["entry_hash"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput("bad_head", f"a held head needs region, seq and entry_hash ({exc})", "head") from None


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    region: str
    entries_checked: int
    head: ChainHead | None
    first_bad_seq: int | None = None
    problem: str | None = None  # entry_altered, entry_missing, entry_forged, broken_link, head_mismatch ...
    message: str = "the audit log is intact"

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "region": self.region, "entries_checked": self.entries_checked,
                "head": self.head.to_dict() if self.head else None, "first_bad_seq": self.first_bad_seq,
                "problem": self.problem, "message": self.message}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _payload(region: str, seq: int, at: datetime, record: AuditRecord | Any, prev_hash: str) -> dict[str, Any]:
    return {
        "region": region, "seq": seq, "at": _iso(at), "actor_id": record.actor_id, "actor_role": record.actor_role,
        "action": record.action, "target_kind": record.target_kind, "target_id": record.target_id,
        "justification": record.justification, "details": record.details or {}, "prev_hash": prev_hash,
    }


def entry_hash_of(payload: dict[str, Any]) -> str:
    return sha256_hex(canonical_json(payload))


def _lock_key(region: str) -> int:
    return struct.unpack(">q", hashlib.sha256(f"openfyp-audit:{region}".encode()).digest()[:8])[0]


class AuditLog:
    """The audit chain of one region, in the deployment's database."""

    def __init__(self, engine: Engine, region: str, secret: str | None = None) -> None:
        self.engine = engine
        self.region = region
        # The seal key is derived, so the deployment secret itself is never used for two purposes.
        self._seal_key = (hmac.new(secret.encode(), b"openfyp audit seal v1", hashlib.sha256).digest()
                          if secret else None)

    # -- writing ----------------------------------------------------------------------------------------
    def seal_of(self, entry_hash: str) -> str | None:
        if self._seal_key is None:
            return None
        return hmac.new(self._seal_key, entry_hash.encode(), hashlib.sha256).hexdigest()

    def record(self, db: Session, record: AuditRecord) -> AuditEntry:
        """Append inside ``db``'s transaction, so the entry commits (or rolls back) with the action it records."""
        self._take_append_lock(db)
        return self._insert(db, record)

    def append(self, record: AuditRecord, *, attempts: int = 8) -> AuditEntry:
        """Append in a transaction of its own, committed before returning."""
        for attempt in range(attempts):
            with Session(self.engine) as db:
                try:
                    entry = self.record(db, record)
                    db.commit()
                    return entry
                except (IntegrityError, OperationalError):
                    db.rollback()
                    if attempt == attempts - 1:
                        raise
                    time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    def append_beside(self, db: Session | None, record: AuditRecord) -> AuditEntry | None:
        """Append a record that must survive ``db``'s transaction being rolled back (e.g. a refusal).

        When ``db`` holds SQLite's write lock, a second connection could not write until it ends, so the
        entry is appended the moment ``db``'s transaction finishes, whether it commits or rolls back.
        """
        if db is not None and _holds_sqlite_write_lock(db):
            if not db.info.get(_LISTENING_KEY):
                db.info[_LISTENING_KEY] = True

                def flush(session: Session, transaction) -> None:
                    if transaction.parent is not None:
                        return
                    waiting, session.info[_PENDING_KEY] = session.info.get(_PENDING_KEY, []), []
                    for item in waiting:
                        self.append(item)

                event.listen(db, "after_transaction_end", flush)
            db.info.setdefault(_PENDING_KEY, []).append(record)
            return None
        return self.append(record)

    def _take_append_lock(self, db: Session) -> None:
        connection = db.connection()
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(self.region)})
        elif connection.dialect.name == "sqlite":
            # A write that changes nothing still takes SQLite's write lock, so no one appends between our
            # reading the head and inserting after it.
            connection.execute(text("UPDATE audit_log SET seq = seq WHERE 0"))

    def _insert(self, db: Session, record: AuditRecord) -> AuditEntry:
        head = self._head(db)
        seq = head.seq + 1 if head else 1
        prev_hash = head.entry_hash if head else GENESIS_HASH
        at = datetime.now(UTC)
        payload = _payload(self.region, seq, at, record, prev_hash)
        entry_hash = entry_hash_of(payload)
        seal = self.seal_of(entry_hash)
        db.execute(insert(_TABLE).values(
            region=self.region, seq=seq, at=at, actor_id=record.actor_id, actor_role=record.actor_role,
            action=record.action, target_kind=record.target_kind, target_id=record.target_id,
            justification=record.justification, details=record.details or {}, prev_hash=prev_hash,
            entry_hash=entry_hash, seal=seal,
        ))
        return AuditEntry(region=self.region, seq=seq, at=at, actor_id=record.actor_id, actor_role=record.actor_role,
                          action=record.action, target_kind=record.target_kind, target_id=record.target_id,
                          justification=record.justification, details=record.details or {}, prev_hash=prev_hash,
                          entry_hash=entry_hash, seal=seal)

    # -- reading ----------------------------------------------------------------------------------------
    def _head(self, db: Session) -> ChainHead | None:
        row = db.execute(select(_TABLE.c.seq, _TABLE.c.entry_hash).where(_TABLE.c.region == self.region)
                         .order_by(_TABLE.c.seq.desc()).limit(1)).first()
        return ChainHead(self.region, row.seq, row.entry_hash) if row else None

    def head(self) -> ChainHead | None:
        with Session(self.engine) as db:
            return self._head(db)

    def count(self, action: str | None = None) -> int:
        with Session(self.engine) as db:
            query = select(func.count()).select_from(_TABLE).where(_TABLE.c.region == self.region)
            if action:
                query = query.where(_TABLE.c.action == action)
            return db.scalar(query) or 0

    def entries(self, *, after: int = 0, limit: int = 100, action: str | None = None) -> list[AuditEntry]:
        with Session(self.engine) as db:
            query = select(_TABLE).where(_TABLE.c.region == self.region, _TABLE.c.seq > after)
            if action:
                query = query.where(_TABLE.c.action == action)
            rows = db.execute(query.order_by(_TABLE.c.seq).limit(limit)).all()
            return [_entry(row) for row in rows]

    def _walk(self, batch: int = 1000) -> Iterator[AuditEntry]:
        after = None
        with Session(self.engine) as db:
            while True:
                query = select(_TABLE).where(_TABLE.c.region == self.region)
                if after is not None:
                    query = query.where(_TABLE.c.seq > after)
                rows = db.execute(query.order_by(_TABLE.c.seq).limit(batch)).all()
                if not rows:
                    return
                for row in rows:
                    yield _entry(row)
                after = rows[-1].seq

    # -- checking ---------------------------------------------------------------------------------------
    def verify(self, held: ChainHead | None = None, *, check_seals: bool = True) -> ChainReport:
        """Walk the chain from the first entry and name the first one that does not hold up."""
        if held is not None and held.region != self.region:
            return ChainReport(False, self.region, 0, None, None, "head_mismatch",
                               f"the held head is for region {held.region!r}, this log is {self.region!r}")
        expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
        last: AuditEntry | None = None
        held_seen = False
        seals = check_seals and self._seal_key is not None

        def bad(seq: int, problem: str, message: str) -> ChainReport:
            head = ChainHead(self.region, last.seq, last.entry_hash) if last else None
            return ChainReport(False, self.region, checked, head, seq, problem, message)

        for entry in self._walk():
            if entry.seq < expected_seq:
                return bad(entry.seq, "entry_duplicated", f"entry {entry.seq} appears out of order")
            if entry.seq > expected_seq:
                return bad(expected_seq, "entry_missing",
                           f"entry {expected_seq} is missing (the log jumps from {expected_seq - 1} to {entry.seq})")
            if entry.prev_hash != prev_hash:
                return bad(entry.seq, "broken_link",
                           f"entry {entry.seq} does not follow entry {entry.seq - 1}: entries were removed, "
                           "inserted or reordered here")
            recomputed = entry_hash_of(_payload(self.region, entry.seq, entry.at, entry, entry.prev_hash))
            if recomputed != entry.entry_hash:
                return bad(entry.seq, "entry_altered",
                           f"entry {entry.seq} was altered: its contents no longer match its hash")
            if seals and entry.seal != self.seal_of(entry.entry_hash):
                return bad(entry.seq, "entry_forged",
                           f"entry {entry.seq} was not written by this deployment (its seal is wrong): it was "
                           "inserted, or edited and re-hashed")
            if held is not None and entry.seq == held.seq:
                if entry.entry_hash != held.entry_hash:
                    return bad(entry.seq, "head_mismatch",
                               f"entry {entry.seq} differs from the held head: the log was rewritten up to it")
                held_seen = True
            prev_hash, expected_seq, last, checked = entry.entry_hash, entry.seq + 1, entry, checked + 1
        head = ChainHead(self.region, last.seq, last.entry_hash) if last else None
        if held is not None and not held_seen and held.seq > 0:
            return ChainReport(False, self.region, checked, head, (last.seq + 1) if last else 1, "head_mismatch",
                               f"the log ends at entry {last.seq if last else 0} but the held head is entry "
                               f"{held.seq}: entries were removed from its end")
        return ChainReport(True, self.region, checked, head,
                           message=f"the audit log is intact: {checked} entries, head {head.seq if head else 0}")


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(region=row.region, seq=row.seq, at=row.at, actor_id=row.actor_id, actor_role=row.actor_role,
                      action=row.action, target_kind=row.target_kind, target_id=row.target_id,
                      justification=row.justification, details=row.details or {}, prev_hash=row.prev_hash,
                      entry_hash=row.entry_hash, seal=row.seal)


def _holds_sqlite_write_lock(db: Session) -> bool:
    bind = db.get_bind()
    if bind.dialect.name != "sqlite" or not db.in_transaction():
        return False
    connection = db.connection()
    driver = connection.connection.dbapi_connection
    return bool(getattr(driver, "in_transaction", False))


# -- the one-line API other packages use ----------------------------------------------------------------
def audit_log_of(db: Session) -> AuditLog:
    log = db.info.get(AUDIT_INFO_KEY)
    if log is None:
        raise RuntimeError("this session has no audit log; build it from Services (install_governance)")
    return log


def actor_fields(actor: Any) -> tuple[int | None, str | None]:
    """``(id, role)`` of a ``User``, a ``Viewer`` (``.user``) or ``None``."""
    if actor is None:
        return None, None
    user = getattr(actor, "user", actor)
    return getattr(user, "id", None), getattr(user, "role", None)


def record(db: Session, action: str, *, actor: Any = None, target_kind: str | None = None,
           target_id: object | None = None, justification: str | None = None,
           details: dict[str, Any] | None = None) -> AuditEntry:
    """Audit ``action`` inside ``db``'s transaction. The entry commits with the caller's work.

    ``actor`` is a ``User`` (or anything with ``.user``); ``details`` holds ids and facts, no personal data.
    """
    actor_id, actor_role = actor_fields(actor)
    return audit_log_of(db).record(db, AuditRecord(
        action=str(action), actor_id=actor_id, actor_role=actor_role, target_kind=target_kind,
        target_id=None if target_id is None else str(target_id), justification=justification,
        details=dict(details or {})))
