"""Group commit: callers share transactions, and each returns only once its own write is durable.

Every caller hands its write (a *ticket*) to one writer thread and waits. The writer takes the first ticket
and then everything that queued up meanwhile - while the previous commit was on its way to disk - up to a
group limit, and commits the whole group in one transaction. Under load many callers share a commit (and its
fsync); a lone caller is committed at once, so an idle server adds no latency.

If a group's transaction fails, each of its tickets is written again alone: one bad write fails by itself
instead of taking down the callers that happened to share its commit. (The failed transaction was rolled
back, so the retries start from a clean slate.)

With one writer per store, commit order is the order in which groups were taken from the queue.

A writer may also be given a separate ``sync`` step (an fsync its store leaves to it): then a group's
callers are answered only after a ``sync`` that began after their commit returned, and that step runs on a
thread of its own while the writer goes on with the next group - the next group's inserts overlap this
group's trip to the disk, and one ``sync`` covers every group committed before it began.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)

Write = TypeVar("Write")  # what a caller hands in
Answer = TypeVar("Answer")  # what that caller gets back once its write is committed

# A waiting caller checks this often that the writer is still alive (it may have died mid-group).
LIVENESS_CHECK_SECONDS = 1.0
# close() waits this long for the writer to commit what is queued.
CLOSE_TIMEOUT_SECONDS = 30.0


class GroupCommitConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="What the writer stores (\"event log\"): names its thread and its errors.")
    max_group_weight: int = Field(ge=1, description=(
        "A group takes more waiting tickets while its weight is below this; with 1, and every ticket "
        "weighing at least 1, each ticket is committed alone."))
    idle_exit_seconds: float | None = Field(None, gt=0, description=(
        "The writer thread ends after this long without work (the next ticket starts it again), so an owner "
        "dropped without close() leaves no thread behind for good. None: it waits for close()."))


class WriterStopped(RuntimeError):
    """The writer was closed, or died, before it committed this write; nothing was acknowledged."""


@dataclass
class GroupCommitStats:
    """What the writer committed, and the wall time from each commit to its callers being answered."""

    groups: int = 0
    tickets: int = 0
    weight: int = 0
    largest_group: int = 0  # by weight
    answer_seconds: float = 0.0  # the after-commit hook and waking the callers
    sync_seconds: float = 0.0  # the separate sync step, when there is one (wall time, overlapping the writes)
    syncs: int = 0

    @property
    def mean_group(self) -> float:
        return self.weight / self.groups if self.groups else 0.0


@dataclass
class _Ticket(Generic[Write, Answer]):
    write: Write
    weight: int
    done: threading.Event = field(default_factory=threading.Event)
    answer: Answer | None = None
    error: BaseException | None = None


_STOP = object()


class GroupCommitWriter(Generic[Write, Answer]):
    """One writer thread that commits queued writes in groups; :meth:`submit` waits for its own.

    ``write(group)`` stores the whole group in one transaction and returns one answer per write, in order;
    if it raises, nothing of the group may have been committed. ``after_commit(group, answers)`` runs on the
    writer after each durable commit, before the group's callers are answered (keep it short: the next
    group waits for it). ``stats()`` is asked at every group for the object to count it in, so its owner
    may swap in a fresh one.
    """

    def __init__(self, config: GroupCommitConfig, *, weight: Callable[[Write], int],
                 write: Callable[[list[Write]], Sequence[Answer]],
                 after_commit: Callable[[list[Write], Sequence[Answer]], None] | None = None,
                 stats: Callable[[], GroupCommitStats], sync: Callable[[], None] | None = None) -> None:
        self.config = config
        self._weight = weight
        self._write = write
        self._after_commit = after_commit
        self._stats = stats
        self._sync = sync
        self._sync_queue: queue.SimpleQueue[Any] = queue.SimpleQueue()  # the current writer thread's
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        # Guards the thread's lifecycle. Tickets are queued under it too, and an idle writer decides to end
        # under it, so a ticket is never queued to a writer that is on its way out.
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, write: Write) -> Answer:
        """Commit ``write`` (sharing a transaction with whatever else is waiting) and return its answer.

        Raises what ``write`` raised for it alone, or :class:`WriterStopped`.
        """
        ticket: _Ticket[Write, Answer] = _Ticket(write, self._weight(write))
        with self._lock:
            if self._closed:
                raise WriterStopped(f"the {self.config.name} is closed")
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name=f"openfyp-{self.config.name.replace(' ', '-')}-writer")
                self._thread.start()
            self._queue.put(ticket)
        while not ticket.done.wait(LIVENESS_CHECK_SECONDS):
            thread = self._thread
            if (thread is None or not thread.is_alive()) and not ticket.done.is_set():
                raise WriterStopped(f"the {self.config.name} writer stopped before committing this write")
        if ticket.error is not None:
            raise ticket.error
        return cast(Answer, ticket.answer)

    def close(self) -> None:
        """Commit what is queued, then stop the writer; every later :meth:`submit` raises WriterStopped."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(_STOP)
            thread.join(timeout=CLOSE_TIMEOUT_SECONDS)

    def _run(self) -> None:
        syncer = None
        if self._sync is not None:
            # A queue per writer thread: an idle writer's syncer may still be finishing when the next starts.
            sync_queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
            self._sync_queue = sync_queue
            syncer = threading.Thread(target=self._run_syncer, args=(sync_queue,), daemon=True,
                                      name=f"openfyp-{self.config.name.replace(' ', '-')}-sync")
            syncer.start()
        try:
            self._take_groups()
        finally:
            if syncer is not None:  # groups committed before the stop still get their sync and answers
                sync_queue.put(_STOP)
                syncer.join()

    def _take_groups(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self.config.idle_exit_seconds)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            if first is _STOP:
                return
            group = [first]
            weight = first.weight
            stop_after = False
            while weight < self.config.max_group_weight:
                try:
                    waiting = self._queue.get_nowait()
                except queue.Empty:
                    break
                if waiting is _STOP:
                    stop_after = True
                    break
                group.append(waiting)
                weight += waiting.weight
            self._commit(group)
            if stop_after:
                return

    def _commit(self, group: list[_Ticket[Write, Answer]]) -> None:
        writes = [ticket.write for ticket in group]
        try:
            answers = self._write(writes)
        except Exception as exc:
            if len(group) == 1:
                log.exception("%s: a write failed", self.config.name)
                group[0].error = exc
                group[0].done.set()
                return
            for ticket in group:  # one bad write must not fail the others that shared its transaction
                self._commit([ticket])
            return
        if self._sync is not None:
            self._sync_queue.put((group, writes, answers))
            return
        self._answer(group, writes, answers)

    def _run_syncer(self, sync_queue: queue.SimpleQueue[Any]) -> None:
        while True:
            pending = [sync_queue.get()]
            while True:
                try:
                    pending.append(sync_queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is _STOP for item in pending)
            committed = [item for item in pending if item is not _STOP]
            if committed:
                self._sync_and_answer(committed)
            if stop:
                return

    def _sync_and_answer(self, committed: list[Any]) -> None:
        started = time.perf_counter()
        try:
            self._sync()  # type: ignore[misc]
        except Exception as exc:  # committed, but not known to be durable: nobody is told it is
            log.exception("%s: sync failed", self.config.name)
            for group, _writes, _answers in committed:
                for ticket in group:
                    ticket.error = WriterStopped(f"the {self.config.name} could not make this write durable: "
                                                 f"{exc}")
                    ticket.done.set()
            return
        stats = self._stats()
        stats.syncs += 1
        stats.sync_seconds += time.perf_counter() - started
        for group, writes, answers in committed:
            self._answer(group, writes, answers)

    def _answer(self, group: list[_Ticket[Write, Answer]], writes: list[Write], answers: Sequence[Answer]) -> None:
        answer_started = time.perf_counter()
        stats = self._stats()
        weight = sum(ticket.weight for ticket in group)
        stats.groups += 1
        stats.tickets += len(group)
        stats.weight += weight
        stats.largest_group = max(stats.largest_group, weight)
        if self._after_commit is not None:
            try:
                self._after_commit(writes, answers)
            except Exception:  # the group is durable: a failing hook must not un-acknowledge it
                log.exception("%s: after-commit hook failed", self.config.name)
        for ticket, answer in zip(group, answers, strict=True):
            ticket.answer = answer
            ticket.done.set()
        stats.answer_seconds += time.perf_counter() - answer_started
