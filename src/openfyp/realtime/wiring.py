"""Switches real time on for a deployment: the online state and learner, and the retraining schedule.

Reachable as ``services.extras["realtime"]``; ``Services.start()``/``stop()`` start and stop its threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openfyp.realtime.leadership import leadership_for
from openfyp.realtime.learner import LearnerConfig, OnlineLearner
from openfyp.realtime.online import OnlineState
from openfyp.realtime.redis_log import RedisEventLog, StreamToSqlSink
from openfyp.realtime.retrain import RetrainScheduler

EXTRAS_KEY = "realtime"
CHECKPOINT_FILE = "online-learner.npz"
LEADER_LOCK_FILE = "leader.lock"


@dataclass
class Realtime:
    """Every server process runs the learner on its own online state; only the process that leads (see
    :mod:`openfyp.realtime.leadership`) writes its checkpoint, retrains on schedule and runs the sink.

    ``database``: the deployment's SQL engine; on PostgreSQL the lead is taken there, across machines, rather
    than with ``leader_lock`` (a file in the data directory, shared by one machine's processes)."""

    state: OnlineState
    learner: OnlineLearner
    retrainer: RetrainScheduler
    leader_lock: Path
    sink: StreamToSqlSink | None = None  # with a Redis event stream: its copy into the SQL events table
    database: Any = None
    region: str = ""

    def __post_init__(self) -> None:
        self.leadership = leadership_for(self.database, self.region, self.leader_lock, self._lead, self._step_down,
                                         name="realtime-leadership")

    def start(self) -> None:
        self.learner.writes_checkpoints = False  # until elected
        self.learner.start()
        self.leadership.start()

    def _lead(self) -> None:
        self.learner.writes_checkpoints = True
        if self.sink is not None:
            self.sink.start()
        self.retrainer.start()

    def _step_down(self) -> None:
        """Another process may lead now: its work stops here (this process keeps learning for itself)."""
        self.learner.writes_checkpoints = False
        self.retrainer.stop()
        if self.sink is not None:
            self.sink.stop()

    def stop(self) -> None:
        self.retrainer.stop()
        self.learner.stop()  # (its last checkpoint only if this process leads)
        if self.sink is not None:
            self.sink.stop()
        self.leadership.stop()  # the lead passes on once its work is done

    def status(self) -> dict[str, Any]:
        return {"learner": self.learner.status(), "online": self.state.status(),
                "retraining": self.retrainer.status(), "leads_background_work": self.leadership.is_leader}


def checkpoint_path(settings: Any) -> Path:
    return settings.data_dir / "realtime" / CHECKPOINT_FILE


def install_realtime(services: Any) -> Realtime | None:
    """Idempotent; needs the For You engine (``services.feed``)."""
    existing = services.extras.get(EXTRAS_KEY)
    if existing is not None:
        return existing
    if services.feed is None:
        return None
    settings = services.settings
    state = OnlineState(services.feed)
    services.feed.online = state  # the sources read pools and online co-watch through it
    learner = OnlineLearner(services.events, state, checkpoint_path(settings), LearnerConfig(
        checkpoint_seconds=getattr(settings, "realtime_checkpoint_seconds", 30.0)))
    retrainer = RetrainScheduler(services, getattr(settings, "retrain_interval_minutes", 0.0),
                                 getattr(settings, "retrain_min_new_events", 1000))
    sink = StreamToSqlSink(services.events, services.engine) if isinstance(services.events, RedisEventLog) else None
    realtime = Realtime(state, learner, retrainer, settings.data_dir / "realtime" / LEADER_LOCK_FILE, sink,
                        database=services.engine, region=settings.region)
    services.extras[EXTRAS_KEY] = realtime
    return realtime


def realtime_of(services: Any) -> Realtime | None:
    return services.extras.get(EXTRAS_KEY)


def pool_status(services: Any, video_id: int) -> dict[str, Any] | None:
    """The traffic pool a video is in, for its creator (``None`` when pools are off or it is not in one)."""
    realtime = realtime_of(services)
    if realtime is None:
        return None
    return realtime.state.pool_status(video_id)
