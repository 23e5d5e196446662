"""Which of the server processes of a deployment does its one-of-a-kind background work.

Several processes may serve one deployment: ``openfyp serve --workers N`` on one machine, or several machines
sharing one PostgreSQL database and Redis. Each keeps its own online state up to date from the shared event
log, but the work that must happen once - writing the learner's checkpoint file, scheduled retraining (two
trainers would each put a model before the overseer), copying a Redis stream into SQL - belongs to one of them:
the one holding the deployment's leader lock. The others keep trying, so a follower takes over from a leader
that stopped, however it stopped.

- :class:`FileLockLeadership`: an exclusive ``flock`` on ``leader.lock`` in the data directory, which the
  processes of one machine share. The kernel releases it when its process ends.
- :class:`PostgresLeadership`: a session-level advisory lock in the deployment's PostgreSQL database, which
  every machine shares, held on a connection of its own. The server releases it when that connection ends. A
  leader that can no longer reach the database steps down, since it cannot know whether it still holds the lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0


class Leadership:
    """Takes the lead when it can and calls ``on_elected``; if the lock can be lost (``holds`` turns false), calls
    ``on_deposed`` and tries again. Subclasses say how the lock is taken, checked and released."""

    checks_while_leading = False  # whether ``holds`` can ever turn false, i.e. whether to keep checking

    def __init__(self, on_elected: Callable[[], None], on_deposed: Callable[[], None] | None = None, *,
                 retry_seconds: float = RETRY_SECONDS, name: str = "leadership") -> None:
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.retry_seconds = retry_seconds
        self.name = name
        self._leading = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def is_leader(self) -> bool:
        return self._leading

    def start(self) -> None:
        """Lead at once if no other process does, else keep trying in the background (idempotent)."""
        self._stop.clear()
        led = self._try_to_lead()
        if (led and not self.checks_while_leading) or (self._thread is not None and self._thread.is_alive()):
            return
        self._thread = threading.Thread(target=self._watch, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop trying, and give up the lead if held (another process may take it)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        with self._lock:
            if self._leading:
                self._release()
                self._leading = False

    def _watch(self) -> None:
        while not self._stop.wait(self.retry_seconds):
            if not self._leading:
                if self._try_to_lead() and not self.checks_while_leading:
                    return
            else:
                self._check_still_leading()

    def _try_to_lead(self) -> bool:
        with self._lock:
            if self._leading:
                return True
            if self._stop.is_set():  # stopping (``start`` clears it before trying)
                return False
            if not self._acquire():
                return False
            self._leading = True
        log.info("process %d leads the deployment's background work (%s)", os.getpid(), self.describe())
        self.on_elected()
        return True

    def _check_still_leading(self) -> None:
        with self._lock:
            if self._stop.is_set() or self._holds():
                return
            self._release()
            self._leading = False
        log.warning("process %d lost the lead of the deployment's background work (%s)", os.getpid(),
                    self.describe())
        if self.on_deposed is not None:
            self.on_deposed()

    # ---- the lock itself ----------------------------------------------------------------------------------
    def _acquire(self) -> bool:
        raise NotImplementedError

    def _holds(self) -> bool:
        return True

    def _release(self) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class FileLockLeadership(Leadership):
    """The processes of one machine: an exclusive ``flock`` on ``lock_path``, never lost while its process lives."""

    def __init__(self, lock_path: Path, on_elected: Callable[[], None], on_deposed: Callable[[], None] | None = None,
                 **options: Any) -> None:
        super().__init__(on_elected, on_deposed, **options)
        self.lock_path = Path(lock_path)
        self._fd: int | None = None

    def _acquire(self) -> bool:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def _release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None

    def describe(self) -> str:
        return str(self.lock_path)


def advisory_key(region: str) -> int:
    """The deployment's lock id: one 64-bit key per region (a different key space from the feed log's per-viewer
    two-key locks)."""
    digest = hashlib.sha256(f"openfyp-leader:{region}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresLeadership(Leadership):
    """Every machine of a deployment: ``pg_try_advisory_lock`` on a connection kept for it. The leader checks the
    connection every ``retry_seconds`` and steps down when it fails, so a database restart or a killed backend
    leaves at most one leader after at most that long."""

    checks_while_leading = True

    def __init__(self, engine, region: str, on_elected: Callable[[], None],
                 on_deposed: Callable[[], None] | None = None, **options: Any) -> None:
        super().__init__(on_elected, on_deposed, **options)
        self.engine = engine
        self.region = region
        self.key = advisory_key(region)
        self._connection = None

    def _acquire(self) -> bool:
        try:
            connection = self.engine.connect()
        except SQLAlchemyError:
            log.warning("%s: the database is unreachable; trying again later", self.name)
            return False
        try:
            # Autocommit: a session-level lock must not sit in a transaction the pool would roll back.
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            if connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar():
                self._connection = connection
                return True
        except SQLAlchemyError:
            log.warning("%s: could not ask for the leader lock; trying again later", self.name)
        self._discard(connection)
        return False

    def _holds(self) -> bool:
        # A session lock lasts as long as its session: a live connection still holds it.
        try:
            return self._connection.execute(text("SELECT 1")).scalar() == 1
        except SQLAlchemyError:
            return False

    def _release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
        except SQLAlchemyError:
            pass  # the connection is gone, and the lock with it
        self._discard(connection)

    @staticmethod
    def _discard(connection) -> None:
        try:
            connection.invalidate()  # never back into the pool: a session lock must not outlive its owner
            connection.close()
        except SQLAlchemyError:
            pass

    def describe(self) -> str:
        return f"PostgreSQL advisory lock {self.key}"


def leadership_for(engine, region: str, lock_path: Path, on_elected: Callable[[], None],
                   on_deposed: Callable[[], None], **options: Any) -> Leadership:
    """The database's lock when the deployment's processes may span machines (PostgreSQL), else the file's."""
    if engine is not None and engine.dialect.name == "postgresql":
        return PostgresLeadership(engine, region, on_elected, on_deposed, **options)
    return FileLockLeadership(lock_path, on_elected, on_deposed, **options)
