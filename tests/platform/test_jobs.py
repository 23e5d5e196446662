"""The durable job queue and runner, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from sqlalchemy import update

from openfyp.platform.jobs import JobQueue, JobRunner, PermanentJobError, backoff_delay
from openfyp.store.base import utcnow
from openfyp.store.tables import Job, JobStatus


@pytest.fixture
def queue(any_db_services) -> JobQueue:
    return JobQueue(any_db_services.session_factory, any_db_services.region)


def _job(services, job_id: int) -> Job:
    with services.session_factory() as db:
        return db.get(Job, job_id)


def test_enqueue_claim_complete(any_db_services, queue):
    job = queue.enqueue("echo", {"text": "hi"})
    claimed = queue.claim("worker-a", ["echo"])
    assert claimed is not None and claimed.id == job.id
    assert claimed.payload == {"text": "hi"} and claimed.attempts == 1
    assert queue.claim("worker-b", ["echo"]) is None  # nothing else is due
    stored = _job(any_db_services, job.id)
    assert stored.status == JobStatus.running and stored.locked_by == "worker-a"
    assert queue.complete(claimed, "worker-a")
    stored = _job(any_db_services, job.id)
    assert stored.status == JobStatus.done and stored.finished_at is not None and stored.locked_by is None


def test_claim_respects_kind_and_run_after(queue):
    queue.enqueue("later", {}, run_after=utcnow() + timedelta(hours=1))
    other = queue.enqueue("other", {})
    assert queue.claim("w", ["later"]) is None
    assert queue.claim("w", ["echo"]) is None
    assert queue.claim("w", ["other"]).id == other.id
    assert queue.claim("w", ["later"], now=utcnow() + timedelta(hours=2)) is not None


def test_enqueue_joins_the_callers_transaction(any_db_services, queue):
    with any_db_services.session_factory() as db:
        queue.enqueue("echo", {"n": 1}, db=db)
        db.rollback()
    assert queue.claim("w") is None  # rolled back with the work that needed it


def test_concurrent_claimers_take_each_job_exactly_once(any_db_services, queue):
    total = 24
    for n in range(total):
        queue.enqueue("count", {"n": n})
    taken: list[int] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        while (job := queue.claim(name, ["count"])) is not None:
            with lock:
                taken.append(job.payload["n"])
            queue.complete(job, name)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(taken) == list(range(total))
    assert queue.counts() == {JobStatus.done.value: total}


def test_failure_retries_with_backoff_then_gives_up(any_db_services, queue):
    runner = JobRunner(queue)
    attempts: list[int] = []
    given_up: list[str] = []

    def flaky(job):
        attempts.append(job.attempts)
        raise RuntimeError(f"boom {job.attempts}")

    runner.register("flaky", flaky, on_give_up=lambda job, error: given_up.append(str(error)))
    job = runner.enqueue("flaky", {}, max_attempts=3)

    assert runner.run_pending() == 1
    stored = _job(any_db_services, job.id)
    assert stored.status == JobStatus.pending and "boom 1" in stored.error
    assert stored.run_after > utcnow() + backoff_delay(1) - timedelta(seconds=2)
    assert runner.run_pending() == 0  # not due yet: backing off

    for _ in range(2):  # make the retries due now
        with any_db_services.session_factory() as db:
            db.execute(update(Job).where(Job.id == job.id).values(run_after=utcnow() - timedelta(seconds=1)))
            db.commit()
        runner.run_pending()
    stored = _job(any_db_services, job.id)
    assert attempts == [1, 2, 3]
    assert stored.status == JobStatus.failed and "boom 3" in stored.error and stored.finished_at is not None
    assert given_up == ["boom 3"]


def test_permanent_error_fails_at_once(any_db_services, queue):
    runner = JobRunner(queue)
    runner.register("bad", lambda job: (_ for _ in ()).throw(PermanentJobError("input is unusable")))
    job = runner.enqueue("bad", {}, max_attempts=5)
    runner.run_pending()
    stored = _job(any_db_services, job.id)
    assert stored.status == JobStatus.failed and stored.attempts == 1 and "unusable" in stored.error


def test_backoff_grows_and_is_capped():
    delays = [backoff_delay(n).total_seconds() for n in range(1, 12)]
    assert delays == sorted(delays) and delays[1] == 2 * delays[0]
    assert delays[-1] == backoff_delay(100).total_seconds()


CRASHING_WORKER = """
import os, sys
from openfyp.platform.jobs import JobQueue, worker_identity
from openfyp.store import make_engine, make_session_factory
queue = JobQueue(make_session_factory(make_engine(sys.argv[1])), sys.argv[2])
job = queue.claim(worker_identity(), ["resumable"])
print(job.id, flush=True)
os._exit(9)  # dies mid-job: no completion, no failure recorded
"""


def test_a_job_left_running_by_a_crashed_process_is_resumed(any_db_services, queue):
    job = queue.enqueue("resumable", {"value": 7})
    crashed = subprocess.run([sys.executable, "-c", CRASHING_WORKER,
                              any_db_services.settings.resolved_database_url, any_db_services.region],
                             capture_output=True, text=True, timeout=120)
    assert crashed.returncode == 9, crashed.stderr
    assert int(crashed.stdout.strip()) == job.id
    assert _job(any_db_services, job.id).status == JobStatus.running

    done: list[int] = []
    runner = JobRunner(queue)
    runner.register("resumable", lambda claimed: done.append(claimed.payload["value"]))
    assert runner.run_pending() == 0  # still looks taken until someone notices the worker is gone
    assert queue.requeue_orphans() == 1
    assert runner.run_pending() == 1
    stored = _job(any_db_services, job.id)
    assert done == [7] and stored.status == JobStatus.done and stored.attempts == 2


def test_expired_lease_is_requeued_but_a_live_one_is_not(any_db_services, queue):
    stale, live = queue.enqueue("lease", {}), queue.enqueue("lease", {})
    first, second = queue.claim("elsewhere/1/a", ["lease"]), queue.claim("elsewhere/1/b", ["lease"])
    assert {first.id, second.id} == {stale.id, live.id}
    with any_db_services.session_factory() as db:
        db.execute(update(Job).where(Job.id == stale.id).values(locked_at=utcnow() - queue.lease * 2))
        db.commit()
    assert queue.requeue_orphans() == 1
    assert _job(any_db_services, stale.id).status == JobStatus.pending
    assert _job(any_db_services, live.id).status == JobStatus.running
    # The worker that lost its lease cannot complete the job any more.
    lost = first if first.id == stale.id else second
    assert not queue.complete(lost, "elsewhere/1/a" if lost is first else "elsewhere/1/b")


def test_worker_threads_drain_the_queue_and_stop_gracefully(any_db_services, queue):
    runner = JobRunner(queue, poll_interval_s=0.05)
    finished = threading.Event()
    seen: list[int] = []

    def handler(job):
        seen.append(job.payload["n"])
        if len(seen) == 5:
            finished.set()

    runner.register("work", handler)
    runner.start(2)
    try:
        assert runner.running
        for n in range(5):
            runner.enqueue("work", {"n": n})
        runner.notify()
        assert finished.wait(60), "workers did not drain the queue"
    finally:
        runner.stop()
    assert not runner.running
    assert sorted(seen) == list(range(5))
    assert queue.counts() == {JobStatus.done.value: 5}


def test_start_requeues_orphans_from_a_previous_process(any_db_services, queue):
    job = queue.enqueue("resume", {})
    queue.claim("thishost-gone/1/x", ["resume"])
    with any_db_services.session_factory() as db:  # the old process stopped heart-beating long ago
        db.execute(update(Job).where(Job.id == job.id).values(locked_at=utcnow() - timedelta(days=1)))
        db.commit()
    ran = threading.Event()
    runner = JobRunner(queue, poll_interval_s=0.05)
    runner.register("resume", lambda claimed: ran.set())
    runner.start(1)
    try:
        assert ran.wait(60)
    finally:
        runner.stop()
    assert _job(any_db_services, job.id).status == JobStatus.done


def test_a_job_of_an_earlier_process_with_the_same_pid_is_an_orphan(any_db_services, queue):
    """Containers restart their main process with the same pid; the random part of the identity tells them apart."""
    job = queue.enqueue("same-pid", {})
    earlier = f"{socket.gethostname()[:30]}/{os.getpid()}/deadbeef"
    queue.claim(earlier, ["same-pid"])
    live = JobRunner(queue)
    other = queue.enqueue("same-pid", {})
    queue.claim(live.identity, ["same-pid"])
    assert queue.requeue_orphans() == 1
    assert _job(any_db_services, job.id).status == JobStatus.pending
    assert _job(any_db_services, other.id).status == JobStatus.running
