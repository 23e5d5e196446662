"""id_floors: how far the event and impression numberings had gone when an erasure deleted the newest rows

Without it SQLite would number the next row after the largest one left, handing out again numbers that
readers (the engine and learners reading the event log, seen sets reading impressions) had already read past.
Keep in step with ``openfyp.store.tables.events.IdFloor``.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "id_floors",
        sa.Column("region", sa.String(length=16), nullable=False),
        sa.Column("counter", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("region", "counter"),
    )


def downgrade() -> None:
    op.drop_table("id_floors")
