"""The audit log: a clean chain verifies, and each kind of tampering is caught at the right entry."""

from __future__ import annotations

import itertools
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from openfyp.governance.audit import (
    GENESIS_HASH,
    AuditAction,
    AuditLog,
    AuditRecord,
    ChainHead,
    _payload,
    entry_hash_of,
    record,
)
from openfyp.governance.wiring import governance_of


def _fill(audit: AuditLog, count: int) -> None:
    for number in range(count):
        audit.append(AuditRecord(action=AuditAction.admin_action.value, actor_id=1, actor_role="admin",
                                 target_kind="user", target_id=str(number), details={"n": number}))


@pytest.fixture
def audit(any_db_services) -> AuditLog:
    log = governance_of(any_db_services).audit
    _fill(log, 6)
    return log


def _sql(audit: AuditLog, statement: str, **params) -> None:
    with audit.engine.begin() as connection:
        connection.execute(text(statement), params)


def test_a_clean_log_verifies(audit):
    report = audit.verify()
    assert report.ok, report.message
    assert report.entries_checked == 6
    assert report.head.seq == 6
    entries = audit.entries()
    assert entries[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.entry_hash for earlier, later in itertools.pairwise(entries))


def test_an_edited_entry_is_named(audit):
    _sql(audit, "UPDATE audit_log SET target_id = 'someone-else' WHERE seq = 3")
    report = audit.verify()
    assert not report.ok
    assert (report.first_bad_seq, report.problem) == (3, "entry_altered")


def test_an_edited_and_rehashed_entry_is_named(audit):
    victim = audit.entries()[3]  # seq 4
    forged = AuditRecord(action=victim.action, actor_id=99, actor_role="admin", target_kind=victim.target_kind,
                         target_id=victim.target_id, details=victim.details)
    new_hash = entry_hash_of(_payload(audit.region, 4, victim.at, forged, victim.prev_hash))
    _sql(audit, "UPDATE audit_log SET actor_id = 99, entry_hash = :h WHERE seq = 4", h=new_hash)
    report = audit.verify()
    assert (report.ok, report.first_bad_seq, report.problem) == (False, 4, "entry_forged")
    # Without the deployment's seal key an outside checker still sees the chain break right after it.
    outside = AuditLog(audit.engine, audit.region).verify()
    assert (outside.first_bad_seq, outside.problem) == (5, "broken_link")


def test_a_deleted_entry_is_named(audit):
    _sql(audit, "DELETE FROM audit_log WHERE seq = 2")
    report = audit.verify()
    assert (report.ok, report.first_bad_seq, report.problem) == (False, 2, "entry_missing")


def test_a_deleted_and_renumbered_entry_is_named(audit):
    _sql(audit, "DELETE FROM audit_log WHERE seq = 2")
    for seq in range(3, 7):
        _sql(audit, "UPDATE audit_log SET seq = :new WHERE seq = :old", new=seq - 1, old=seq)
    report = audit.verify()
    assert (report.ok, report.first_bad_seq, report.problem) == (False, 2, "broken_link")


def test_an_inserted_entry_is_named(audit):
    entries = audit.entries()
    for seq in range(6, 2, -1):  # make room at 3, last first so the primary key never collides
        _sql(audit, "UPDATE audit_log SET seq = :new WHERE seq = :old", new=seq + 1, old=seq)
    fake = AuditRecord(action="admin_action", actor_id=7, actor_role="admin", details={"cover": "up"})
    at = entries[1].at
    prev = entries[1].entry_hash
    forged_hash = entry_hash_of(_payload(audit.region, 3, at, fake, prev))
    # Relink the entry after it too, as a careful forger would (and as the one-successor rule demands).
    _sql(audit, "UPDATE audit_log SET prev_hash = :h WHERE seq = 4", h=forged_hash)
    _sql(audit, "INSERT INTO audit_log (region, seq, at, actor_id, actor_role, action, details, prev_hash, "
                "entry_hash) VALUES (:r, 3, :at, 7, 'admin', 'admin_action', :d, :p, :h)",
         r=audit.region, at=at, d='{"cover": "up"}', p=prev, h=forged_hash)
    report = audit.verify()
    assert (report.ok, report.first_bad_seq, report.problem) == (False, 3, "entry_forged")


def test_reordered_entries_are_named(audit):
    _sql(audit, "UPDATE audit_log SET seq = 100 WHERE seq = 3")
    _sql(audit, "UPDATE audit_log SET seq = 3 WHERE seq = 4")
    _sql(audit, "UPDATE audit_log SET seq = 4 WHERE seq = 100")
    report = audit.verify()
    assert (report.ok, report.first_bad_seq, report.problem) == (False, 3, "broken_link")


def test_a_truncated_tail_is_caught_by_the_held_head(audit):
    held = audit.head()
    _sql(audit, "DELETE FROM audit_log WHERE seq >= 5")
    assert audit.verify().ok  # the chain that is left is consistent...
    report = audit.verify(held)  # ...but shorter than what the outside party holds
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "head_mismatch", 5)


def test_a_recomputed_log_is_caught_by_the_held_head(audit):
    held = ChainHead.from_dict(audit.head().to_dict())
    entries = audit.entries()
    _sql(audit, "DELETE FROM audit_log")
    prev = GENESIS_HASH
    kept = [e for e in entries if e.target_id != "2"]  # rewrite history consistently, leaving out target 2
    for seq, entry in enumerate(kept, start=1):
        entry_hash = entry_hash_of(_payload(audit.region, seq, entry.at, entry, prev))
        _sql(audit, "INSERT INTO audit_log (region, seq, at, actor_id, actor_role, action, target_kind, target_id, "
                    "details, prev_hash, entry_hash) VALUES (:r, :s, :at, :a, :ar, :ac, :tk, :ti, :d, :p, :h)",
             r=audit.region, s=seq, at=entry.at, a=entry.actor_id, ar=entry.actor_role, ac=entry.action,
             tk=entry.target_kind, ti=entry.target_id, d=f'{{"n": {entry.details["n"]}}}', p=prev, h=entry_hash)
        prev = entry_hash
    outside = AuditLog(audit.engine, audit.region)  # a checker without the seal key
    assert outside.verify().ok
    report = outside.verify(held)
    assert not report.ok and report.problem == "head_mismatch"


def test_concurrent_writers_do_not_fork_the_chain(any_db_services):
    audit = governance_of(any_db_services).audit
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for number in range(15):
                audit.append(AuditRecord(action="admin_action", details={"worker": worker, "n": number}))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    report = audit.verify()
    assert report.ok, report.message
    assert report.entries_checked == 45


def test_concurrent_in_transaction_writers_do_not_fork_the_chain(any_db_services):
    factory = any_db_services.session_factory
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for number in range(10):
                with factory() as db:
                    record(db, "moderation_decision", details={"worker": worker, "n": number})
                    db.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    report = governance_of(any_db_services).audit.verify()
    assert report.ok and report.entries_checked == 20


def test_an_entry_recorded_in_a_transaction_rolls_back_with_it(any_db_services):
    audit = governance_of(any_db_services).audit
    with any_db_services.session_factory() as db:
        record(db, "account_deletion", target_kind="user", target_id=1)
        db.rollback()
    assert audit.head() is None
    with any_db_services.session_factory() as db:
        entry = record(db, "account_deletion", target_kind="user", target_id=1)
        db.commit()
    assert audit.head().entry_hash == entry.entry_hash


def test_a_refusal_survives_a_rolled_back_writer_on_sqlite(services):
    """A session holding SQLite's write lock cannot wait for a second writer; the entry follows its end."""
    audit = governance_of(services).audit
    with services.session_factory() as db:
        record(db, "admin_action")  # this session now holds the write lock
        assert audit.append_beside(db, AuditRecord(action="cross_region_refused")) is None
        db.rollback()
    entries = audit.entries()
    assert [e.action for e in entries] == ["cross_region_refused"]
    assert audit.verify().ok


def test_a_foreign_head_is_refused(audit):
    report = audit.verify(ChainHead(region="eu", seq=1, entry_hash="0" * 64))
    assert not report.ok and report.problem == "head_mismatch"


def test_the_unguarded_engine_sees_the_same_chain(audit):
    with Session(audit.engine) as db:
        count = db.execute(text("SELECT count(*) FROM audit_log")).scalar()
    assert count == 6
