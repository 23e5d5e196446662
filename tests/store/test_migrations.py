from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import openfyp.store.tables  # noqa: F401
from alembic import command

from openfyp.store import Base, make_engine, migrate
from openfyp.store.db import alembic_config, include_object


def _diff(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": include_object})
        return compare_metadata(context, Base.metadata)


def test_migrations_build_exactly_the_models_schema(blank_database_url):
    engine = make_engine(blank_database_url)
    migrate(engine)
    assert _diff(engine) == []
    tables = set(inspect(engine).get_table_names())
    assert {"users", "videos", "events", "jobs", "feed_requests", "impressions"} <= tables
    engine.dispose()


def test_migrations_downgrade_to_nothing_and_back(blank_database_url):
    engine = make_engine(blank_database_url)
    migrate(engine)
    command.downgrade(alembic_config(engine), "base")
    assert "videos" not in inspect(engine).get_table_names()
    migrate(engine)
    assert "videos" in inspect(engine).get_table_names()
    engine.dispose()
