"""Persistence: SQLAlchemy tables, engines and sessions, Alembic migrations."""

from openfyp.store.base import Base, utcnow
from openfyp.store.db import make_engine, make_session_factory, migrate, session_scope

__all__ = ["Base", "make_engine", "make_session_factory", "migrate", "session_scope", "utcnow"]
