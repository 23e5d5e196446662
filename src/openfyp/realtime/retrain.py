"""Periodic retraining: a background thread that retrains every ``retrain_interval_minutes`` when enough new
events arrived since the newest model was trained (the served one, or a newer one still awaiting release).

Online learning keeps the served state current between trainings; retraining refits everything (embeddings,
co-watch, the ranker) on the whole log. The new artifact goes through the usual gate
(:func:`openfyp.recsys.artifacts.resolve_servable`): it serves once it is released, and when it does the
online learner starts the learned parts over on it and replays the events since its training range.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

log = logging.getLogger(__name__)


class RetrainScheduler:
    def __init__(self, services: Any, interval_minutes: float, min_new_events: int = 1000) -> None:
        self.services = services
        self.interval_s = interval_minutes * 60.0
        self.min_new_events = min_new_events
        self.runs = 0
        self.last_version: str | None = None
        self.last_error: str | None = None
        self.last_run_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.interval_s > 0

    def start(self) -> None:
        if not self.enabled or (self._thread is not None and self._thread.is_alive()):
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="openfyp-retrain", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.run_if_due()

    def trained_up_to(self) -> int:
        """The last log position a trained model covers: the served one, or a newer one awaiting release."""
        from openfyp.recsys import artifacts
        from openfyp.recsys.contracts import RecsysError

        served = getattr(self.services.feed, "artifact", None)
        covered = int(served.manifest.event_seq_to) if served is not None else 0
        version = artifacts.current_version(self.services.settings)
        if version is not None:
            try:
                manifest = artifacts.read_manifest(artifacts.artifact_dir(self.services.settings, version))
                covered = max(covered, int(manifest.event_seq_to))
            except RecsysError:
                pass  # an unreadable pointer target: the next training replaces it
        return covered

    def new_events(self) -> int:
        return max(0, self.services.events.head() - self.trained_up_to())

    def run_if_due(self) -> str | None:
        """Retrain when at least ``min_new_events`` arrived since the served model; returns the new version."""
        if self.new_events() < self.min_new_events:
            return None
        return self.run()

    def run(self) -> str | None:
        from openfyp.recsys.contracts import RecsysError
        from openfyp.recsys.training import train

        if not self._lock.acquire(blocking=False):
            return None  # a training is already running
        try:
            started = time.monotonic()
            self.services.events.settle()  # training reads the events table: everything acknowledged so far
            report = train(self.services.settings, self.services.session_factory)
            self.runs += 1
            self.last_version = report.version
            self.last_error = None
            self.last_run_at = time.time()
            log.info("retrained %s in %.1fs", report.version, time.monotonic() - started)
            feed = self.services.feed
            if feed is not None and hasattr(feed, "reload"):
                feed.reload()  # serve it now if the release gate allows; otherwise the old model carries on
            return report.version
        except RecsysError as exc:
            self.last_error = f"{exc.code}: {exc.message}"
            log.error("scheduled retraining failed: %s", self.last_error)
            return None
        except Exception as exc:  # a failed training must not stop the schedule
            self.last_error = f"{type(exc).__name__}: {exc}"[:500]
            log.exception("scheduled retraining failed")
            return None
        finally:
            self._lock.release()

    def status(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "interval_minutes": self.interval_s / 60.0, "runs": self.runs,
                "last_version": self.last_version, "last_error": self.last_error,
                "min_new_events": self.min_new_events, "new_events": self.new_events()}
