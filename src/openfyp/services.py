"""The composition root: builds every long-lived part of a deployment from its settings, once.

The web app, the CLI and the demo all start from ``build_services``; tests build it on a temporary
data directory with a real database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from openfyp.events import EventLog, SqlEventLog
from openfyp.events.staged import StagedEventLog
from openfyp.governance.wiring import install_governance
from openfyp.settings import Settings
from openfyp.store import make_engine, make_session_factory, migrate

logger = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    events: EventLog
    media: Any = None  # openfyp.media.storage.MediaStore
    jobs: Any = None  # openfyp.platform.jobs.JobRunner
    feed: Any = None  # the For You engine (openfyp.recsys)
    extras: dict[str, Any] = field(default_factory=dict)
    _started: bool = False

    @property
    def region(self) -> str:
        return self.settings.region

    def start(self) -> None:
        """Start background workers (job runner, online learner, feed upkeep). Idempotent."""
        if self._started:
            return
        self._started = True
        self.repair_interaction_state()
        if self.feed is not None:
            self.feed.start_maintenance()  # catalog refresh and model polling, off the request path
        if self.jobs is not None and self.settings.job_workers > 0:
            self.jobs.start(self.settings.job_workers)
        realtime = self.extras.get("realtime")
        if realtime is not None:
            realtime.start()  # the online learner, and the retraining schedule when one is set

    def repair_interaction_state(self) -> None:
        """Likes, saves and follows whose event was logged but whose state a crash interrupted."""
        from openfyp.platform.state_repair import repair_interaction_state

        self.events.settle()  # what a crashed process acknowledged but had not moved into `events` yet
        with self.session_factory() as db:
            report = repair_interaction_state(db, self.region)
        if report.repaired:
            logger.warning("restored %d like/save/follow states from the event log after an interrupted write",
                           len(report.repaired))

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        if self.jobs is not None:
            self.jobs.stop()
        realtime = self.extras.get("realtime")
        if realtime is not None:
            realtime.stop()
        if self.feed is not None:
            self.feed.stop_maintenance()  # no upkeep round runs against a stopped deployment

    def close(self) -> None:
        self.stop()
        from openfyp.platform.feed_log import EXTRAS_KEY as FEED_LOG_KEY

        for log in (self.extras.get(FEED_LOG_KEY), self.events):
            close_log = getattr(log, "close", None)
            if close_log is not None:
                close_log()  # commits what is queued, then stops the group-commit writer
        self.engine.dispose()


def build_services(settings: Settings, *, run_migrations: bool = True) -> Services:
    settings.ensure_dirs()
    engine = make_engine(settings.resolved_database_url)
    if run_migrations:
        migrate(engine)
    session_factory = make_session_factory(engine)
    services = Services(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        events=open_event_log(settings, session_factory),
    )
    install_governance(services)  # region-scopes every session before anything opens one
    _attach_optional_parts(services)
    return services


def open_event_log(settings: Settings, session_factory: sessionmaker[Session]) -> EventLog:
    """The deployment's event log (its owner closes it).

    A Redis stream shared by the servers of a multi-machine deployment; on an SQLite file, the staged log
    (acknowledged in a staging file beside the database, moved into ``events`` in large batches); otherwise
    (PostgreSQL) the group-committed ``events`` table itself.
    """
    if settings.event_stream == "redis":
        from openfyp.realtime.redis_log import RedisEventLog, RedisLogError

        if not settings.redis_url:
            raise RedisLogError("redis_url_missing", "event_stream is redis but redis_url is not set", "redis_url")
        return RedisEventLog(settings.redis_url, settings.region)
    url = session_factory.kw["bind"].url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        database = Path(url.database)
        return StagedEventLog(session_factory, settings.region, database.with_name(f"{database.stem}.events-staging.db"))
    return SqlEventLog(session_factory, settings.region)


def _attach_optional_parts(services: Services) -> None:
    """Parts owned by other packages, attached here so the wiring stays in one place."""
    from openfyp.recsys.engine import build_feed_engine

    services.feed = build_feed_engine(services)
    from openfyp.realtime.wiring import install_realtime

    install_realtime(services)
    from openfyp.media.storage import media_store_from_settings

    services.media = media_store_from_settings(services.settings)

    from openfyp.platform.jobs import build_job_runner
    from openfyp.platform.videos import register_video_jobs

    services.jobs = build_job_runner(services.session_factory, services.region)
    register_video_jobs(services.jobs, services)
    from openfyp.governance.export import register_export_jobs

    register_export_jobs(services.jobs, services)
