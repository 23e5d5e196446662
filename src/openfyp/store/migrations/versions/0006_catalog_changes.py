"""catalog_changes: videos whose catalog entry may have changed, recorded by triggers so that every server
process's catalog follows changes made by any other

A row is added when a video's status, visibility, moderation state, adult-only flag, sound or deletion
changes, when a ready video's hashtags change, when a video is deleted, and (for each of their videos) when a
creator's account is deleted. Triggers, not application code, because these columns are written from many
places (uploads, moderation, appeals, erasure, the creator's own edits) and by any of the deployment's
processes. Keep in step with ``openfyp.store.tables.events.CatalogChange``.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_VIDEO_COLUMNS = ("status", "visibility", "moderation_state", "adult_only", "sound_id", "deleted_at")
_SQLITE_NOW = "CAST(strftime('%s', 'now') AS REAL)"
_SQLITE_TRIGGERS = (
    f"CREATE TRIGGER videos_catalog_change AFTER UPDATE OF {', '.join(_VIDEO_COLUMNS)} ON videos WHEN "
    + " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in _VIDEO_COLUMNS)
    + f" BEGIN INSERT INTO catalog_changes (region, video_id, changed_ts) VALUES (NEW.region, NEW.id, {_SQLITE_NOW});"
    " END",
    "CREATE TRIGGER videos_catalog_delete AFTER DELETE ON videos BEGIN "
    f"INSERT INTO catalog_changes (region, video_id, changed_ts) VALUES (OLD.region, OLD.id, {_SQLITE_NOW}); END",
    "CREATE TRIGGER users_catalog_change AFTER UPDATE OF deleted_at ON users "
    "WHEN OLD.deleted_at IS NOT NEW.deleted_at BEGIN "
    f"INSERT INTO catalog_changes (region, video_id, changed_ts) SELECT region, id, {_SQLITE_NOW} FROM videos "
    "WHERE creator_id = NEW.id; END",
    # A video's tags are written while it is processing (no row: it is not in any catalog yet) and on edits.
    "CREATE TRIGGER video_hashtags_catalog_insert AFTER INSERT ON video_hashtags BEGIN "
    f"INSERT INTO catalog_changes (region, video_id, changed_ts) SELECT region, id, {_SQLITE_NOW} FROM videos "
    "WHERE id = NEW.video_id AND status = 'ready'; END",
    "CREATE TRIGGER video_hashtags_catalog_delete AFTER DELETE ON video_hashtags BEGIN "
    f"INSERT INTO catalog_changes (region, video_id, changed_ts) SELECT region, id, {_SQLITE_NOW} FROM videos "
    "WHERE id = OLD.video_id AND status = 'ready'; END",
)

_POSTGRES_TRIGGERS = (
    """CREATE FUNCTION catalog_changes_record() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        tagged integer;
    BEGIN
        IF TG_TABLE_NAME = 'users' THEN
            INSERT INTO catalog_changes (region, video_id, changed_ts)
            SELECT region, id, extract(epoch FROM now()) FROM videos WHERE creator_id = NEW.id;
            RETURN NEW;
        END IF;
        IF TG_TABLE_NAME = 'video_hashtags' THEN
            IF TG_OP = 'DELETE' THEN
                tagged := OLD.video_id;
            ELSE
                tagged := NEW.video_id;
            END IF;
            INSERT INTO catalog_changes (region, video_id, changed_ts)
            SELECT region, id, extract(epoch FROM now()) FROM videos WHERE id = tagged AND status = 'ready';
            RETURN NULL;
        END IF;
        IF TG_OP = 'DELETE' THEN
            INSERT INTO catalog_changes (region, video_id, changed_ts)
            VALUES (OLD.region, OLD.id, extract(epoch FROM now()));
            RETURN OLD;
        END IF;
        INSERT INTO catalog_changes (region, video_id, changed_ts)
        VALUES (NEW.region, NEW.id, extract(epoch FROM now()));
        RETURN NEW;
    END $$""",
    "CREATE TRIGGER videos_catalog_change AFTER UPDATE ON videos FOR EACH ROW WHEN ("
    + " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in _VIDEO_COLUMNS)
    + ") EXECUTE FUNCTION catalog_changes_record()",
    "CREATE TRIGGER videos_catalog_delete AFTER DELETE ON videos FOR EACH ROW "
    "EXECUTE FUNCTION catalog_changes_record()",
    "CREATE TRIGGER users_catalog_change AFTER UPDATE ON users FOR EACH ROW "
    "WHEN (OLD.deleted_at IS DISTINCT FROM NEW.deleted_at) EXECUTE FUNCTION catalog_changes_record()",
    "CREATE TRIGGER video_hashtags_catalog_change AFTER INSERT OR DELETE ON video_hashtags FOR EACH ROW "
    "EXECUTE FUNCTION catalog_changes_record()",
)
_TRIGGERS = (("videos_catalog_change", "videos"), ("videos_catalog_delete", "videos"),
             ("users_catalog_change", "users"), ("video_hashtags_catalog_insert", "video_hashtags"),
             ("video_hashtags_catalog_delete", "video_hashtags"), ("video_hashtags_catalog_change", "video_hashtags"))


def upgrade() -> None:
    op.create_table(
        "catalog_changes",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("region", sa.String(length=16), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("changed_ts", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    for statement in _POSTGRES_TRIGGERS if op.get_bind().dialect.name == "postgresql" else _SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for trigger, table in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}" + (f" ON {table}" if postgres else ""))
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS catalog_changes_record()")
    op.drop_table("catalog_changes")
