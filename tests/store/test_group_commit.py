"""The group-commit writer: waiting writes share a transaction up to the group limit, a bad write fails alone,
close() commits what is queued, and an idle writer ends until the next write."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from openfyp.store.group_commit import GroupCommitConfig, GroupCommitStats, GroupCommitWriter, WriterStopped
from tests.waiting import wait_until


class Notes:
    """What the writer commits to in these tests: an SQLite table whose keys are unique.

    ``write`` stores a group of writes (each a list of keys) in one transaction and answers each write with
    the rowids it got. Clearing ``hold`` makes the next transaction wait, so that writes queue up behind it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.connection.execute("CREATE TABLE notes (key TEXT PRIMARY KEY)")
        self.transactions: list[list[str]] = []  # the keys of every transaction attempted, in order
        self.hold = threading.Event()
        self.hold.set()
        self.waiting = threading.Event()  # set once a transaction waits for ``hold``

    def write(self, group: list[list[str]]) -> list[list[int]]:
        if not self.hold.is_set():
            self.waiting.set()
            self.hold.wait()
        self.transactions.append([key for write in group for key in write])
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            answers = [[self.connection.execute("INSERT INTO notes (key) VALUES (?)", (key,)).lastrowid
                        for key in write] for write in group]
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")
        return answers

    def stored(self) -> list[str]:
        """The committed keys, read through a connection of their own."""
        reader = sqlite3.connect(self.path)
        try:
            return [key for (key,) in reader.execute("SELECT key FROM notes ORDER BY rowid")]
        finally:
            reader.close()


class Caller(threading.Thread):
    def __init__(self, writer: GroupCommitWriter[list[str], list[int]], write: list[str]) -> None:
        super().__init__(daemon=True)
        self.writer, self.write = writer, write
        self.answer: list[int] | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.answer = self.writer.submit(self.write)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            self.error = exc


WRITER_THREAD = "openfyp-test-notes-writer"


@pytest.fixture
def notes(tmp_path) -> Notes:
    return Notes(tmp_path / "notes.db")


@pytest.fixture
def make_writer(notes: Notes):
    """Writers onto ``notes`` (unless told otherwise), closed after the test even when it fails midway."""
    made: list[GroupCommitWriter] = []

    def make(stats: GroupCommitStats, *, write=notes.write, after_commit=None, sync=None, **config):
        config = {"name": "test notes", "max_group_weight": 100, **config}
        writer = GroupCommitWriter(GroupCommitConfig(**config), weight=len, write=write, after_commit=after_commit,
                                   stats=lambda: stats, sync=sync)
        made.append(writer)
        return writer

    yield make
    notes.hold.set()
    for writer in made:
        writer.close()


def _writer_thread_alive() -> bool:
    return any(thread.name == WRITER_THREAD for thread in threading.enumerate())


def _queue_behind_a_held_transaction(notes: Notes, writer, writes: list[list[str]]) -> list[Caller]:
    """A first write whose transaction waits, then ``writes`` queued behind it in this order."""
    notes.hold.clear()
    callers = [Caller(writer, ["first"])]
    callers[0].start()
    assert notes.waiting.wait(20)
    for queued, write in enumerate(writes, start=1):
        caller = Caller(writer, write)
        caller.start()
        # Queued before the next one starts, so the order is known (the queue is the only witness).
        wait_until(lambda queued=queued: writer._queue.qsize() == queued, interval_s=0.005)
        callers.append(caller)
    return callers


def _finish(callers: list[Caller]) -> None:
    for caller in callers:
        caller.join(timeout=30)
        assert not caller.is_alive()


def test_waiting_writes_share_a_transaction_until_the_group_weight_is_reached(notes, make_writer):
    stats = GroupCommitStats()
    writer = make_writer(stats, max_group_weight=3)
    callers = _queue_behind_a_held_transaction(notes, writer, [["b"], ["c", "d"], ["e"], ["f"]])
    notes.hold.set()
    _finish(callers)
    # b weighs 1, c+d bring the group to 3: the limit, so e and f form the next group.
    assert notes.transactions == [["first"], ["b", "c", "d"], ["e", "f"]]
    assert all(caller.error is None for caller in callers)
    rowids = dict(zip(notes.stored(), range(1, 7)))
    assert [caller.answer for caller in callers] == [[rowids["first"]], [rowids["b"]], [rowids["c"], rowids["d"]],
                                                     [rowids["e"]], [rowids["f"]]]
    assert (stats.groups, stats.tickets, stats.weight, stats.largest_group) == (3, 5, 6, 3)


def test_a_bad_write_fails_alone_and_the_others_of_its_group_are_committed(notes, make_writer):
    stats = GroupCommitStats()
    writer = make_writer(stats)
    assert writer.submit(["taken"]) == [1]
    callers = _queue_behind_a_held_transaction(notes, writer, [["y"], ["taken", "x"], ["z"]])
    notes.hold.set()
    _finish(callers)
    first, good, bad, other = callers
    assert first.error is None and good.error is None and other.error is None
    assert isinstance(bad.error, sqlite3.IntegrityError)
    # The shared transaction failed and was rolled back, then each write was tried alone.
    assert notes.transactions[2:] == [["y", "taken", "x", "z"], ["y"], ["taken", "x"], ["z"]]
    assert notes.stored() == ["taken", "first", "y", "z"]
    assert stats.groups == 4 and stats.tickets == 4  # failed transactions are not counted


def test_after_commit_sees_the_group_durable_and_its_failure_does_not_fail_the_callers(notes, make_writer):
    seen: list[tuple[list[list[str]], list[str]]] = []

    def after_commit(writes, answers) -> None:
        seen.append((writes, notes.stored()))
        raise RuntimeError("a listener broke")

    writer = make_writer(GroupCommitStats(), after_commit=after_commit)
    assert writer.submit(["a", "b"]) == [1, 2]
    assert seen == [([["a", "b"]], ["a", "b"])]  # already committed when the hook ran


def test_close_commits_what_is_queued_then_refuses_writes(notes, make_writer):
    writer = make_writer(GroupCommitStats())
    callers = _queue_behind_a_held_transaction(notes, writer, [["b"], ["c"]])
    closing = threading.Thread(target=writer.close)
    closing.start()
    wait_until(lambda: writer._queue.qsize() == 3, interval_s=0.005)  # the stop marker, behind the waiting writes
    notes.hold.set()
    closing.join(timeout=30)
    _finish(callers)
    assert all(caller.error is None for caller in callers)
    assert notes.stored() == ["first", "b", "c"]
    with pytest.raises(WriterStopped):
        writer.submit(["late"])
    assert notes.stored() == ["first", "b", "c"]
    assert not _writer_thread_alive()


def test_an_idle_writer_ends_and_the_next_write_starts_it_again(notes, make_writer):
    stats = GroupCommitStats()
    writer = make_writer(stats, idle_exit_seconds=0.05)
    assert writer.submit(["a"]) == [1]
    wait_until(lambda: not _writer_thread_alive(), interval_s=0.005)
    assert writer.submit(["b"]) == [2]
    assert notes.stored() == ["a", "b"] and stats.groups == 2


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the death is the point
def test_a_writer_that_dies_leaves_no_caller_waiting(notes, make_writer):
    stats = GroupCommitStats()

    def write_then_die(group: list[list[str]]) -> list[list[int]]:
        raise SystemExit  # not an error of the write: it ends the writer thread

    writer = make_writer(stats, write=write_then_die)
    with pytest.raises(WriterStopped):
        writer.submit(["a"])
    assert notes.stored() == [] and stats.groups == 0


def test_with_a_sync_step_callers_hear_back_only_after_a_sync_that_followed_their_commit(notes, make_writer):
    stats = GroupCommitStats()
    committed_before_sync: list[int] = []  # how many transactions had committed when each sync began
    syncing = threading.Event()
    release_sync = threading.Event()
    heard: list[str] = []

    def sync() -> None:
        committed_before_sync.append(len(notes.transactions))
        syncing.set()
        assert release_sync.wait(20)

    writer = make_writer(stats, sync=sync, after_commit=lambda writes, answers: heard.extend(writes[0]))
    first = Caller(writer, ["a"])
    first.start()
    assert syncing.wait(20)
    # While the first group's sync is on its way, the writer commits the next groups without waiting for it.
    later = [Caller(writer, [key]) for key in ("b", "c")]
    for caller in later:
        caller.start()
    wait_until(lambda: len(notes.transactions) >= 2, interval_s=0.005)
    assert first.answer is None and heard == [], "nobody hears back before the sync"
    release_sync.set()
    _finish([first, *later])
    assert notes.stored() == ["a", "b", "c"] and heard[0] == "a"
    assert first.answer == [1] and committed_before_sync[0] == 1
    # The groups committed during the first sync shared later syncs: fewer syncs than groups.
    assert stats.syncs == len(committed_before_sync) and stats.syncs <= stats.groups
    assert all(count >= 2 for count in committed_before_sync[1:])


def test_a_failed_sync_answers_its_callers_with_an_error_not_an_acknowledgement(notes, make_writer):
    def sync() -> None:
        raise OSError("disk gone")

    writer = make_writer(GroupCommitStats(), sync=sync)
    with pytest.raises(WriterStopped, match="durable"):
        writer.submit(["x"])

