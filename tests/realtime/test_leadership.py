"""One process of a deployment leads its one-of-a-kind background work; another takes over when it stops."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import create_engine, text

from openfyp.realtime.leadership import FileLockLeadership, PostgresLeadership
from openfyp.realtime.wiring import install_realtime
from openfyp.services import build_services
from tests.conftest import make_settings
from tests.waiting import wait_until


def test_one_leads_and_the_other_takes_over_when_it_stops(tmp_path):
    elected: list[str] = []
    lock = tmp_path / "leader.lock"
    first = FileLockLeadership(lock, lambda: elected.append("first"), retry_seconds=0.05)
    second = FileLockLeadership(lock, lambda: elected.append("second"), retry_seconds=0.05)
    first.start()
    second.start()
    try:
        time.sleep(0.3)  # several retries of the second
        assert (first.is_leader, second.is_leader, elected) == (True, False, ["first"])
        first.stop()
        wait_until(lambda: second.is_leader, timeout_s=10.0, interval_s=0.01)
        assert elected == ["first", "second"]
    finally:
        first.stop()
        second.stop()


def _follower_takes_over_from_a_killed_leader(holder_source: str, follower_for) -> None:
    """``holder_source`` leads in a process of its own and prints "led"; once that process is killed (no clean-up
    runs: the kernel or the database server releases its lock), the follower leads."""
    holder = subprocess.Popen([sys.executable, "-c", holder_source], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "led"
        elected = threading.Event()
        follower = follower_for(elected.set)
        follower.start()
        assert not elected.wait(0.3)
        holder.kill()
        holder.wait(10)
        assert elected.wait(10)
        follower.stop()
        assert not follower.is_leader
    finally:
        holder.kill()
        holder.wait(10)


def test_the_lead_passes_on_when_the_leading_process_dies(tmp_path):
    lock = tmp_path / "leader.lock"
    _follower_takes_over_from_a_killed_leader(
        "import time; from openfyp.realtime.leadership import FileLockLeadership; "
        f"FileLockLeadership({str(lock)!r}, lambda: print('led', flush=True)).start(); time.sleep(60)",
        lambda elected: FileLockLeadership(lock, elected, retry_seconds=0.05))


# ---- across machines: PostgreSQL's advisory lock ---------------------------------------------------------------


@pytest.fixture()
def postgres_engine(postgres_url):
    engine = create_engine(postgres_url)
    yield engine
    engine.dispose()


def test_on_postgresql_one_process_leads_whichever_machine_it_is_on(postgres_engine):
    elected: list[str] = []
    first = PostgresLeadership(postgres_engine, "us", lambda: elected.append("first"), retry_seconds=0.05)
    second = PostgresLeadership(postgres_engine, "us", lambda: elected.append("second"), retry_seconds=0.05)
    other_region = PostgresLeadership(postgres_engine, "eu", lambda: elected.append("eu"), retry_seconds=0.05)
    first.start()
    second.start()
    other_region.start()
    try:
        time.sleep(0.3)
        assert (first.is_leader, second.is_leader, other_region.is_leader) == (True, False, True)
        assert sorted(elected) == ["eu", "first"]
        first.stop()
        wait_until(lambda: second.is_leader, timeout_s=10.0, interval_s=0.01)
        assert elected.count("second") == 1
    finally:
        for leadership in (first, second, other_region):
            leadership.stop()


def test_a_leader_whose_database_session_ends_steps_down_and_another_takes_over(postgres_engine):
    events: list[str] = []
    first = PostgresLeadership(postgres_engine, "us", lambda: events.append("first elected"),
                               lambda: events.append("first deposed"), retry_seconds=0.05)
    second = PostgresLeadership(postgres_engine, "us", lambda: events.append("second elected"),
                                lambda: events.append("second deposed"), retry_seconds=0.05)
    first.start()
    second.start()
    try:
        assert first.is_leader
        backend = first._connection.execute(text("SELECT pg_backend_pid()")).scalar()
        with postgres_engine.connect() as admin:  # what a database restart or an operator's kill does to it
            assert admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend}).scalar()
        wait_until(lambda: second.is_leader and not first.is_leader, timeout_s=10.0, interval_s=0.01)
        assert events[:3] == ["first elected", "first deposed", "second elected"] or \
            events[:3] == ["first elected", "second elected", "first deposed"]
        assert events.count("second elected") == 1
    finally:
        first.stop()
        second.stop()


def test_on_postgresql_the_lead_passes_on_when_the_leading_process_dies(postgres_url, postgres_engine):
    _follower_takes_over_from_a_killed_leader(
        "import time; from sqlalchemy import create_engine; "
        "from openfyp.realtime.leadership import PostgresLeadership; "
        f"PostgresLeadership(create_engine({postgres_url!r}), 'us', lambda: print('led', flush=True)).start(); "
        "time.sleep(60)",
        lambda elected: PostgresLeadership(postgres_engine, "us", elected, retry_seconds=0.05))


def test_a_deployment_on_postgresql_takes_the_lead_in_the_database(any_db_services):
    realtime = install_realtime(any_db_services)
    expected = PostgresLeadership if any_db_services.engine.dialect.name == "postgresql" else FileLockLeadership
    assert type(realtime.leadership) is expected


def test_a_deployment_that_loses_the_lead_stops_its_leader_work_until_it_leads_again(postgres_url, tmp_path):
    services = build_services(make_settings(tmp_path, database_url=postgres_url), run_migrations=True)
    realtime = install_realtime(services)
    realtime.leadership.retry_seconds = 0.05
    services.start()
    try:
        assert realtime.status()["leads_background_work"] and realtime.learner.writes_checkpoints
        backend = realtime.leadership._connection.execute(text("SELECT pg_backend_pid()")).scalar()
        deposed = threading.Event()
        on_deposed = realtime.leadership.on_deposed
        realtime.leadership.on_deposed = lambda: (on_deposed(), deposed.set())
        with services.engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        assert deposed.wait(10)
        # Nobody else holds the lock, so the same process leads again and resumes the work.
        wait_until(lambda: realtime.leadership.is_leader and realtime.learner.writes_checkpoints,
                   timeout_s=10.0, interval_s=0.01)
    finally:
        services.close()
