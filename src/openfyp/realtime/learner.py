"""The online learner: one thread that applies the event log, in order, to the online state.

It consumes the log strictly in ``seq`` order from its *position* (every event at or below it has been
applied, none above it). Events committed by this process reach it straight from the log's writer (no
read back); when those are not contiguous with the position (another process wrote in between) or
nothing arrives for ``poll_seconds``, it reads the log itself. So it never skips an event and never applies
one twice.

Its position is durable: a checkpoint file holds the consumer's state and the position it corresponds to,
written atomically (temporary file, fsync, rename, fsync of the folder) every ``checkpoint_seconds``. After
a crash the learner loads the last checkpoint and resumes from its position; a checkpoint made for another
base (e.g. another model version) is ignored and the consumer rebuilds from the position it names.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from openfyp.events.log import EventLog
from openfyp.events.schema import Event
from openfyp.realtime.embedding_table import write_npz_atomically

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1


class LearnerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    batch: int = Field(5000, ge=1, description="Events read from the log per query.")
    poll_seconds: float = Field(0.25, gt=0, description="How often the log is checked for other writers' events.")
    checkpoint_seconds: float = Field(30.0, gt=0)
    checkpoint_events: int = Field(500_000, ge=1, description="Checkpoint sooner after this many events.")


class Consumer(Protocol):
    """What the learner feeds: the online state (see :class:`openfyp.realtime.online.OnlineState`)."""

    def base(self) -> tuple[str, int]:
        """(identity, position): what the state is built on, and the log position it starts after."""
        ...

    def apply(self, events: Sequence[Event]) -> None:
        """Apply events in ``seq`` order, each exactly once."""
        ...

    def snapshot(self) -> dict[str, np.ndarray]: ...

    def restore(self, arrays: Mapping[str, np.ndarray]) -> None: ...

    def reset(self) -> None:
        """Start over on a new base (``base()`` changed, e.g. a new model version is serving)."""
        ...


class OnlineLearner:
    def __init__(self, events: EventLog, consumer: Consumer, checkpoint_path: Path | None,
                 config: LearnerConfig | None = None, *, name: str = "online-learner") -> None:
        self.events = events
        self.consumer = consumer
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path is not None else None
        self.config = config or LearnerConfig()
        self.name = name
        self.position = 0
        self.identity: str | None = None
        self.checkpointed_position = 0
        # Off in a process that does not lead its deployment: one process writes the shared checkpoint file.
        self.writes_checkpoints = True
        self.applied = 0
        self.busy_seconds = 0.0  # time spent applying, to tell how close to saturation the learner runs
        self.busy_cpu_seconds = 0.0  # of which on a CPU (the rest: waiting for the GIL or the engine's lock)
        self.errors = 0
        self.last_error: str | None = None
        self._inbox: deque[Sequence[Event]] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.RLock()  # one batch at a time, whichever thread drives it
        self._thread: threading.Thread | None = None
        self._listening = False
        self._last_checkpoint = time.monotonic()
        self._since_checkpoint = 0

    # ---- life cycle ----------------------------------------------------------------------------------------
    def resume(self) -> bool:
        """Position the learner: from its checkpoint when one matches the consumer's base, else from the base.

        Returns whether a checkpoint was used.
        """
        identity, base_position = self.consumer.base()
        with self._lock:
            self.identity = identity
            loaded = self._load_checkpoint(identity)
            if loaded is None:
                self.consumer.reset()
                self.position = base_position
                self.checkpointed_position = base_position
                return False
            position, arrays = loaded
            self.consumer.restore(arrays)
            self.position = self.checkpointed_position = position
            return True

    def start(self) -> None:
        """Resume, then apply the log continuously on a background thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        if self.resume():
            log.info("%s resumed from its checkpoint at log position %d", self.name, self.position)
        else:
            log.info("%s starts from log position %d (no usable checkpoint)", self.name, self.position)
        if not self._listening:
            self.events.add_listener(self._on_append)
            self._listening = True
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, *, checkpoint: bool = True) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if checkpoint:
            self.checkpoint()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _follow_base(self) -> None:
        """When the consumer's base changed (a new model), start it over and replay from the new base."""
        identity, position = self.consumer.base()
        if identity == self.identity:
            return
        log.info("%s rebases on %s: replaying the log after position %d", self.name, identity, position)
        self._inbox.clear()
        self.consumer.reset()
        self.identity = identity
        self.position = position

    # ---- feeding -------------------------------------------------------------------------------------------
    def _on_append(self, events: Sequence[Event]) -> None:
        if events:
            self._inbox.append(events)
            self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.config.poll_seconds)
            self._wake.clear()
            try:
                self.step()
            except Exception as exc:  # keep learning; the failure is counted and logged
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.exception("online learner step failed")
                self._stop.wait(min(5.0, self.config.poll_seconds * 4))
            if self._checkpoint_due():
                try:
                    self.checkpoint()
                except Exception as exc:
                    self.errors += 1
                    self.last_error = f"checkpoint: {type(exc).__name__}: {exc}"[:500]
                    log.exception("online learner checkpoint failed")

    def step(self) -> int:
        """Apply what arrived and whatever else the log holds past the position; returns events applied."""
        with self._lock:
            self._follow_base()
            applied = self._apply_delivered()
            if applied == 0 and not self._inbox:
                # Nothing was delivered: maybe another process wrote, maybe nothing happened. (While this
                # process's own groups keep arriving, reading the log too would mostly race their delivery
                # and read them back; another writer's events show up as a gap in what arrives.)
                applied += self._read_log()
            return applied

    def catch_up(self, timeout: float = 60.0) -> int:
        """Apply everything committed so far (synchronously); returns the position reached."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._follow_base()
            while time.monotonic() < deadline:
                self._apply_delivered()
                if self._read_log() == 0 and not self._inbox:
                    break
            return self.position

    def _apply_delivered(self) -> int:
        applied = 0
        while self._inbox:
            batch = self._inbox.popleft()
            seqs = [event.seq for event in batch]
            if seqs == list(range(self.position + 1, self.position + 1 + len(seqs))):
                self._apply(batch)  # the usual case: the writer's next group, in order
                applied += len(batch)
                continue
            batch = sorted(batch, key=lambda e: e.seq or 0)
            fresh = [e for e in batch if (e.seq or 0) > self.position]
            if not fresh:
                continue
            contiguous = 0
            expected = self.position + 1
            for event in fresh:
                if event.seq != expected:
                    break
                contiguous += 1
                expected += 1
            if contiguous:
                self._apply(fresh[:contiguous])
                applied += contiguous
            if contiguous < len(fresh):
                # A gap: another writer's events (or a hole in the sequence). The log fills it.
                self._inbox.appendleft(fresh[contiguous:])
                read = self._read_log()
                applied += read
                if read == 0:
                    return applied  # not visible yet; try again on the next step
        return applied

    def _read_log(self) -> int:
        applied = 0
        while True:
            events = self.events.read_after(self.position, self.config.batch)
            if not events:
                return applied
            self._apply(events)
            applied += len(events)
            if len(events) < self.config.batch:
                return applied

    def _apply(self, events: Sequence[Event]) -> None:
        started, started_cpu = time.perf_counter(), time.thread_time()
        self.consumer.apply(events)
        self.busy_seconds += time.perf_counter() - started
        self.busy_cpu_seconds += time.thread_time() - started_cpu
        self.position = int(events[-1].seq or self.position)
        self.applied += len(events)
        self._since_checkpoint += len(events)

    # ---- checkpoints ---------------------------------------------------------------------------------------
    def _checkpoint_due(self) -> bool:
        if not self._checkpoints_on or self.position == self.checkpointed_position:
            return False
        return (time.monotonic() - self._last_checkpoint >= self.config.checkpoint_seconds
                or self._since_checkpoint >= self.config.checkpoint_events)

    @property
    def _checkpoints_on(self) -> bool:
        return self.checkpoint_path is not None and self.writes_checkpoints

    def checkpoint(self) -> int | None:
        """Write the consumer's state with the position it corresponds to; returns that position (``None``: this
        learner writes no checkpoints)."""
        if not self._checkpoints_on:
            return None
        with self._lock:
            identity, _ = self.consumer.base()
            arrays = dict(self.consumer.snapshot())
            position = self.position
        arrays["_format"] = np.array(CHECKPOINT_FORMAT)
        arrays["_position"] = np.array(position, dtype=np.int64)
        arrays["_identity"] = np.array(identity)
        write_npz_atomically(self.checkpoint_path, arrays)
        self.checkpointed_position = position
        self._last_checkpoint = time.monotonic()
        self._since_checkpoint = 0
        return position

    def _load_checkpoint(self, identity: str) -> tuple[int, dict[str, np.ndarray]] | None:
        path = self.checkpoint_path
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable learner checkpoint %s: %s", path, exc)
            return None
        if int(arrays.pop("_format", -1)) != CHECKPOINT_FORMAT or str(arrays.pop("_identity", "")) != identity:
            return None
        return int(arrays.pop("_position")), arrays

    # ---- reporting -----------------------------------------------------------------------------------------
    def status(self) -> dict[str, object]:
        head = self.events.head()
        return {"running": self.running, "position": self.position, "head": head,
                "lag": max(0, head - self.position), "checkpointed_position": self.checkpointed_position,
                "applied": self.applied, "busy_seconds": round(self.busy_seconds, 3),
                "busy_cpu_seconds": round(self.busy_cpu_seconds, 3), "errors": self.errors,
                "last_error": self.last_error}


def read_checkpoint_position(path: Path) -> int | None:
    """The position recorded in a checkpoint file, or ``None`` when there is none."""
    if not Path(path).is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        return int(data["_position"])
