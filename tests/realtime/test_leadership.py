"""One process of a deployment leads its one-of-a-kind background work; another takes over when it stops."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from openfyp.realtime.leadership import ProcessLeadership


def _wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_one_leads_and_the_other_takes_over_when_it_stops(tmp_path):
    elected: list[str] = []
    lock = tmp_path / "leader.lock"
    first = ProcessLeadership(lock, lambda: elected.append("first"), retry_seconds=0.05)
    second = ProcessLeadership(lock, lambda: elected.append("second"), retry_seconds=0.05)
    first.start()
    second.start()
    try:
        time.sleep(0.3)  # several retries of the second
        assert (first.is_leader, second.is_leader, elected) == (True, False, ["first"])
        first.stop()
        _wait_for(lambda: second.is_leader)
        assert elected == ["first", "second"]
    finally:
        first.stop()
        second.stop()


def test_the_lead_passes_on_when_the_leading_process_dies(tmp_path):
    lock = tmp_path / "leader.lock"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from openfyp.realtime.leadership import ProcessLeadership; "
        f"ProcessLeadership({str(lock)!r}, lambda: print('led', flush=True)).start(); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "led"
        elected = threading.Event()
        follower = ProcessLeadership(lock, elected.set, retry_seconds=0.05)
        follower.start()
        assert not elected.wait(0.3)
        holder.kill()  # no clean-up runs: the kernel releases the lock with the process
        holder.wait(10)
        assert elected.wait(10)
        follower.stop()
        assert not follower.is_leader
    finally:
        holder.kill()
        holder.wait(10)
