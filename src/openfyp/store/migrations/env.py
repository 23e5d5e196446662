"""Alembic environment: runs against the engine handed over by ``openfyp.store.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import openfyp.store.tables  # noqa: F401  (registers every table on Base.metadata)
from openfyp.store.base import Base
from openfyp.store.db import include_object

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
