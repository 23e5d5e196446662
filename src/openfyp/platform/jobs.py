"""Durable background jobs: a queue over the ``jobs`` table and a pool of worker threads that drains it.

A job is enqueued in the same transaction as the work that needs it (an upload commits its video and
its transcode job together), so neither exists without the other. Claiming is atomic on both databases:
PostgreSQL skips rows other workers hold (``FOR UPDATE SKIP LOCKED``); SQLite, which has one writer at a
time, relies on an UPDATE that only succeeds while the row is still ``pending``.

A running job's lease (``locked_at``) is renewed by a heartbeat. A job whose worker died — its lease
ran out, or its process is gone from this host — goes back to ``pending``, so a restart resumes work.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from openfyp.store.base import utcnow
from openfyp.store.tables import Job, JobStatus

log = logging.getLogger("openfyp.jobs")

ERROR_TEXT_LIMIT = 4000
CLAIM_CANDIDATES = 8


class PermanentJobError(Exception):
    """Raised by a handler when retrying cannot help (bad input, vanished object): fail at once."""


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int  # including this one
    max_attempts: int

    @property
    def is_last_attempt(self) -> bool:
        return self.attempts >= self.max_attempts


def backoff_delay(attempts: int, base_s: float = 5.0, cap_s: float = 900.0) -> timedelta:
    """Exponential: 5 s, 10 s, 20 s ... capped, so a flapping dependency is not hammered."""
    return timedelta(seconds=min(cap_s, base_s * 2 ** max(0, attempts - 1)))


def worker_identity() -> str:
    """``host/pid/random``: lets a restarted process on the same host recognise its dead predecessor's jobs."""
    return f"{socket.gethostname()[:30]}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class JobQueue:
    """The ``jobs`` table of one region, as a queue."""

    def __init__(self, session_factory: sessionmaker[Session], region: str, *,
                 lease: timedelta = timedelta(minutes=5)) -> None:
        self.session_factory = session_factory
        self.region = region
        self.lease = lease

    def enqueue(self, kind: str, payload: dict[str, Any] | None = None, *, db: Session | None = None,
                max_attempts: int = 3, run_after: datetime | None = None) -> Job:
        """Add a job. With ``db`` it joins the caller's transaction (committed with it); else it commits now."""
        job = Job(region=self.region, kind=kind, payload=payload or {}, max_attempts=max_attempts,
                  run_after=run_after or utcnow(), status=JobStatus.pending.value)
        if db is not None:
            db.add(job)
            db.flush()
            return job
        with self.session_factory() as session:
            session.add(job)
            session.commit()
        return job

    def claim(self, worker: str, kinds: Collection[str] | None = None, *,
              now: datetime | None = None) -> ClaimedJob | None:
        """Take the oldest due pending job for ``worker``, or None. Safe against concurrent claimers."""
        now = now or utcnow()
        with self.session_factory() as session:
            due = select(Job.id).where(
                Job.region == self.region, Job.status == JobStatus.pending.value, Job.run_after <= now,
            ).order_by(Job.run_after, Job.id).limit(1)
            if kinds is not None:
                due = due.where(Job.kind.in_(list(kinds)))
            if session.get_bind().dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            # One statement: SQLite takes its write lock before the sub-select reads, PostgreSQL skips rows
            # other claimers hold; the status condition makes a lost race update nothing either way.
            row = session.execute(
                update(Job).where(Job.id == due.scalar_subquery(), Job.status == JobStatus.pending.value)
                .values(status=JobStatus.running.value, locked_by=worker, locked_at=now, attempts=Job.attempts + 1)
                .returning(Job.id, Job.kind, Job.payload, Job.attempts, Job.max_attempts)
            ).first()
            session.commit()
        if row is None:
            return None
        return ClaimedJob(id=row.id, kind=row.kind, payload=dict(row.payload or {}), attempts=row.attempts,
                          max_attempts=row.max_attempts)

    def complete(self, job: ClaimedJob, worker: str) -> bool:
        """Mark done; False when the job was no longer this worker's (its lease was taken over)."""
        return self._finish(job, worker, status=JobStatus.done.value, finished_at=utcnow(), error=None)

    def fail(self, job: ClaimedJob, worker: str, error: str, *, permanent: bool = False) -> str:
        """Record a failed attempt; retry later with backoff unless attempts are used up. Returns the new status."""
        values: dict[str, Any] = {"error": error[-ERROR_TEXT_LIMIT:]}
        if permanent or job.is_last_attempt:
            values.update(status=JobStatus.failed.value, finished_at=utcnow())
        else:
            values.update(status=JobStatus.pending.value, run_after=utcnow() + backoff_delay(job.attempts))
        return values["status"] if self._finish(job, worker, **values) else "lost"

    def _finish(self, job: ClaimedJob, worker: str, **values: Any) -> bool:
        with self.session_factory() as session:
            result = session.execute(
                update(Job).where(Job.id == job.id, Job.locked_by == worker, Job.status == JobStatus.running.value)
                .values(locked_by=None, locked_at=None, **values)
            )
            session.commit()
            return bool(result.rowcount)

    def heartbeat(self, job_ids: Collection[int], worker: str) -> None:
        if not job_ids:
            return
        with self.session_factory() as session:
            session.execute(update(Job).where(Job.id.in_(list(job_ids)), Job.locked_by == worker,
                                              Job.status == JobStatus.running.value).values(locked_at=utcnow()))
            session.commit()

    def requeue_orphans(self, *, now: datetime | None = None) -> int:
        """Put back ``running`` jobs whose worker is gone: lease expired, or a dead process on this host.

        Attempts stay counted, so a job that kills its worker every time still ends up failed.
        """
        now = now or utcnow()
        host = socket.gethostname()[:30]
        back_to_pending = {"status": JobStatus.pending.value, "locked_by": None, "locked_at": None,
                           "run_after": now}
        running = Job.status == JobStatus.running.value
        with self.session_factory() as session:
            lockers = set(session.scalars(select(Job.locked_by).distinct()
                                          .where(Job.region == self.region, running)))
            session.rollback()
            dead = [locker for locker in lockers if locker and _dead_local_worker(locker, host)]
            # Conditions are re-checked inside each UPDATE, so a job re-claimed meanwhile is left alone.
            expired = session.execute(update(Job).where(
                Job.region == self.region, running,
                or_(Job.locked_at.is_(None), Job.locked_at < now - self.lease, Job.locked_by.is_(None)),
            ).values(**back_to_pending)).rowcount or 0
            crashed = 0
            if dead:
                crashed = session.execute(update(Job).where(
                    Job.region == self.region, running, Job.locked_by.in_(dead),
                ).values(**back_to_pending)).rowcount or 0
            session.commit()
        return expired + crashed

    def get(self, job_id: int) -> Job | None:
        with self.session_factory() as session:
            return session.get(Job, job_id)

    def counts(self) -> dict[str, int]:
        with self.session_factory() as session:
            rows = session.execute(select(Job.status, func.count()).where(Job.region == self.region)
                                   .group_by(Job.status)).all()
        return {status: count for status, count in rows}


# Identities of the runners of this process: a job locked under this pid by any other identity belongs to an
# earlier process that had the same pid (containers restart as pid 1), so it is an orphan too.
_LIVE_IDENTITIES: set[str] = set()


def _dead_local_worker(locked_by: str | None, host: str) -> bool:
    if not locked_by:
        return True
    parts = locked_by.split("/")
    if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return locked_by not in _LIVE_IDENTITIES
    return not _process_alive(pid)


JobHandler = Callable[[ClaimedJob], None]
GiveUpHandler = Callable[[ClaimedJob, BaseException], None]


@dataclass
class _Registration:
    handler: JobHandler
    on_give_up: GiveUpHandler | None = None


@dataclass
class JobRunner:
    """Worker threads running registered handlers by job kind.

    ``run_pending()`` drains due jobs synchronously in the caller's thread (CLI, tests, demo seeding).
    """

    queue: JobQueue
    poll_interval_s: float = 1.0
    identity: str = field(default_factory=worker_identity)
    _handlers: dict[str, _Registration] = field(default_factory=dict, repr=False)
    _threads: list[threading.Thread] = field(default_factory=list, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _wake: threading.Event = field(default_factory=threading.Event, repr=False)
    _in_flight: set[int] = field(default_factory=set, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        _LIVE_IDENTITIES.add(self.identity)

    def register(self, kind: str, handler: JobHandler, *, on_give_up: GiveUpHandler | None = None) -> None:
        """``on_give_up`` runs once when a job of this kind fails for good (to mark what it was for as failed)."""
        self._handlers[kind] = _Registration(handler, on_give_up)

    @property
    def kinds(self) -> list[str]:
        return list(self._handlers)

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def enqueue(self, kind: str, payload: dict[str, Any] | None = None, *, db: Session | None = None,
                max_attempts: int = 3) -> Job:
        return self.queue.enqueue(kind, payload, db=db, max_attempts=max_attempts)

    def notify(self) -> None:
        """Wake idle workers now (call after committing a new job) instead of at the next poll."""
        self._wake.set()

    def start(self, workers: int) -> None:
        if self.running or workers <= 0:
            return
        self._stop.clear()
        recovered = self.queue.requeue_orphans()
        if recovered:
            log.info("re-queued %d job(s) left running by a stopped worker", recovered)
        self._threads = [threading.Thread(target=self._work, name=f"openfyp-job-{i}", daemon=True)
                         for i in range(workers)]
        self._threads.append(threading.Thread(target=self._keep_leases, name="openfyp-job-heartbeat", daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self, timeout_s: float = 60.0) -> None:
        """Let running jobs finish, then stop; a job still running after ``timeout_s`` resumes on next start."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads = []

    def run_pending(self, *, max_jobs: int | None = None) -> int:
        """Run due jobs in this thread until none is left; returns how many ran."""
        ran = 0
        while max_jobs is None or ran < max_jobs:
            if not self.run_one():
                break
            ran += 1
        return ran

    def run_one(self) -> bool:
        job = self.queue.claim(self.identity, self.kinds)
        if job is None:
            return False
        with self._lock:
            self._in_flight.add(job.id)
        try:
            self._execute(job)
        finally:
            with self._lock:
                self._in_flight.discard(job.id)
        return True

    def _execute(self, job: ClaimedJob) -> None:
        registration = self._handlers[job.kind]
        try:
            registration.handler(job)
        except Exception as exc:  # a handler's failure is recorded on its job, never kills the worker
            permanent = isinstance(exc, PermanentJobError)
            error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"
            status = self.queue.fail(job, self.identity, error, permanent=permanent)
            log.warning("job %s (%s) attempt %d failed -> %s: %s", job.id, job.kind, job.attempts, status, exc)
            if status == JobStatus.failed.value and registration.on_give_up is not None:
                try:
                    registration.on_give_up(job, exc)
                except Exception:
                    log.exception("give-up handler of job %s (%s) failed", job.id, job.kind)
            return
        if not self.queue.complete(job, self.identity):
            log.warning("job %s (%s) finished after its lease was taken over", job.id, job.kind)

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                did_work = self.run_one()
            except Exception:  # the database may be briefly unavailable; keep the worker alive
                log.exception("job worker error")
                did_work = False
            if not did_work:
                self._wake.wait(self.poll_interval_s)
                self._wake.clear()

    def _keep_leases(self) -> None:
        interval = max(0.5, self.queue.lease.total_seconds() / 3)
        while not self._stop.wait(interval):
            try:
                with self._lock:
                    in_flight = set(self._in_flight)
                self.queue.heartbeat(in_flight, self.identity)
                self.queue.requeue_orphans()
            except Exception:
                log.exception("job heartbeat error")


def build_job_runner(session_factory: sessionmaker[Session], region: str) -> JobRunner:
    return JobRunner(JobQueue(session_factory, region))


__all__ = ["ClaimedJob", "JobQueue", "JobRunner", "PermanentJobError", "backoff_delay", "build_job_runner"]
