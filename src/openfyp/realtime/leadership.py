"""Which of the server processes sharing a data directory does a deployment's one-of-a-kind background work.

Several worker processes may serve one deployment (``openfyp serve --workers N``). Each keeps its own online
state up to date from the shared event log, but the work that must happen once - writing the learner's
checkpoint file, scheduled retraining, copying a Redis stream into SQL - belongs to one of them: whichever
holds an exclusive lock on ``leader.lock`` in the data directory. The kernel releases the lock when its
process ends however it ends, and the others keep trying, so a follower takes over from a leader that stopped.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0


class ProcessLeadership:
    def __init__(self, lock_path: Path, on_elected: Callable[[], None], *, retry_seconds: float = RETRY_SECONDS,
                 name: str = "leadership") -> None:
        self.lock_path = Path(lock_path)
        self.on_elected = on_elected
        self.retry_seconds = retry_seconds
        self.name = name
        self._fd: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def is_leader(self) -> bool:
        return self._fd is not None

    def start(self) -> None:
        """Lead at once if no other process does, else keep trying in the background (idempotent)."""
        self._stop.clear()
        if self._try_to_lead() or (self._thread is not None and self._thread.is_alive()):
            return
        self._thread = threading.Thread(target=self._retry, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop trying, and give up the lead if held (another process may take it)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)  # releases the lock
                self._fd = None

    def _retry(self) -> None:
        while not self._stop.wait(self.retry_seconds):
            if self._try_to_lead():
                return

    def _try_to_lead(self) -> bool:
        with self._lock:
            if self._fd is not None:
                return True
            if self._stop.is_set():  # stopping (``start`` clears it before trying)
                return False
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self._fd = fd
        log.info("process %d leads the deployment's background work (%s)", os.getpid(), self.lock_path)
        self.on_elected()
        return True
