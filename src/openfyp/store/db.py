"""Engines and sessions. SQLite (WAL, foreign keys, busy timeout) by default; PostgreSQL for scale."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        # A file: twelve connections kept open (SQLAlchemy keeps five by default), or a busy server's request
        # threads, log writers and upkeep open and close overflow connections - and run their PRAGMAs - all the time.
        pool = {"pool_size": 12, "max_overflow": 3} if url.startswith("sqlite:///") and ":memory:" not in url else {}
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}, **pool)
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _configure_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the single writer; synchronous=FULL makes a commit durable on return,
    # which is what "acknowledged only when durable" needs.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic filter: search indexes (SQLite FTS5 tables, PostgreSQL GIN and prefix indexes) are hand-written
    in migration 0002, not declared on the models."""
    if not (reflected and compare_to is None):
        return True
    name = name or ""
    if type_ == "table":
        return "_fts" not in name
    if type_ == "index":
        return not (name.endswith("_fts") or name.endswith("_prefix"))
    return True


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` with the project's Alembic migrations."""
    command.upgrade(alembic_config(engine), revision)
    refresh_planner_statistics(engine)


def refresh_planner_statistics(engine: Engine) -> None:
    """SQLite only: sample the indexes (``ANALYZE``, bounded so it takes milliseconds on any size).

    Without statistics SQLite's planner guesses every index equally selective and picks the ``region``
    index - one value in a single-region deployment - over ``video_id``, so a 10-video count scans the
    whole events table (70 ms at 40k events, growing with the log).
    """
    if engine.dialect.name != "sqlite":
        return
    with engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA analysis_limit=1000")
        connection.exec_driver_sql("ANALYZE")


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
