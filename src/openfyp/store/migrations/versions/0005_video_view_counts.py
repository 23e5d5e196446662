"""video_view_counts: plays per video kept by triggers on ``events``, so a page reads its videos' views
instead of counting them

A play inserted into ``events`` adds one to its video's row (made on the first play), a play deleted (an
erasure) takes one away; the existing plays are counted once here. Triggers, not application code, because
rows reach ``events`` by three paths (the staged log's mover, the group-committed log, the Redis sink) and
leave it by erasure: the database sees them all. Keep in step with ``openfyp.store.tables.events``.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER events_view_count_insert AFTER INSERT ON events "
    "WHEN NEW.kind = 'play' AND NEW.video_id IS NOT NULL BEGIN "
    "INSERT INTO video_view_counts (video_id, region, views) VALUES (NEW.video_id, NEW.region, 1) "
    "ON CONFLICT (video_id) DO UPDATE SET views = views + 1; END",
    "CREATE TRIGGER events_view_count_delete AFTER DELETE ON events "
    "WHEN OLD.kind = 'play' AND OLD.video_id IS NOT NULL BEGIN "
    "UPDATE video_view_counts SET views = views - 1 WHERE video_id = OLD.video_id; END",
)

_POSTGRES_TRIGGERS = (
    """CREATE FUNCTION video_view_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO video_view_counts (video_id, region, views) VALUES (NEW.video_id, NEW.region, 1)
            ON CONFLICT (video_id) DO UPDATE SET views = video_view_counts.views + 1;
            RETURN NEW;
        END IF;
        UPDATE video_view_counts SET views = views - 1 WHERE video_id = OLD.video_id;
        RETURN OLD;
    END $$""",
    "CREATE TRIGGER events_view_count_insert AFTER INSERT ON events FOR EACH ROW "
    "WHEN (NEW.kind = 'play' AND NEW.video_id IS NOT NULL) EXECUTE FUNCTION video_view_counts_apply()",
    "CREATE TRIGGER events_view_count_delete AFTER DELETE ON events FOR EACH ROW "
    "WHEN (OLD.kind = 'play' AND OLD.video_id IS NOT NULL) EXECUTE FUNCTION video_view_counts_apply()",
)


def upgrade() -> None:
    op.create_table(
        "video_view_counts",
        sa.Column("video_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("region", sa.String(length=16), nullable=False),
        sa.Column("views", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("video_id"),
    )
    op.execute("INSERT INTO video_view_counts (video_id, region, views) "
               "SELECT video_id, MIN(region), COUNT(*) FROM events WHERE kind = 'play' AND video_id IS NOT NULL "
               "GROUP BY video_id")
    for statement in _POSTGRES_TRIGGERS if op.get_bind().dialect.name == "postgresql" else _SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for trigger in ("events_view_count_delete", "events_view_count_insert"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}" + (" ON events" if postgres else ""))
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS video_view_counts_apply()")
    op.drop_table("video_view_counts")
