"""event_log_head: how far the event log's numbering has gone, kept when erasure deletes the newest events

Without it SQLite would number the next event after the largest ``seq`` left, handing out again numbers that
readers of the log had already read past. Keep in step with ``openfyp.store.tables.events.EventLogHead``.

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
        "event_log_head",
        sa.Column("region", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("region"),
    )


def downgrade() -> None:
    op.drop_table("event_log_head")
