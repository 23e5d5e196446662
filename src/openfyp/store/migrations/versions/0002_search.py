"""search: full-text indexes over video captions and account names

SQLite gets FTS5 tables with external content (the rows stay in ``videos`` and ``users``), kept in step
by triggers. PostgreSQL gets GIN indexes over ``to_tsvector('simple', ...)``, the exact expressions
``openfyp.platform.search`` queries, plus pattern indexes for prefix matches.

Note for later migrations on SQLite: a batch ``ALTER`` of ``videos`` or ``users`` recreates the table and
drops these triggers with it; such a migration must recreate them (``create_sqlite_search``).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SQLITE_UP = [
    # unicode61 folds case and (with remove_diacritics 2) accents, so "Café" is found by "cafe".
    ("CREATE VIRTUAL TABLE videos_fts USING fts5(caption, content='videos', content_rowid='id', "
     "tokenize='unicode61 remove_diacritics 2')"),
    ("CREATE TRIGGER videos_fts_insert AFTER INSERT ON videos BEGIN "
     "INSERT INTO videos_fts(rowid, caption) VALUES (new.id, new.caption); END"),
    ("CREATE TRIGGER videos_fts_delete AFTER DELETE ON videos BEGIN "
     "INSERT INTO videos_fts(videos_fts, rowid, caption) VALUES ('delete', old.id, old.caption); END"),
    ("CREATE TRIGGER videos_fts_update AFTER UPDATE OF caption ON videos BEGIN "
     "INSERT INTO videos_fts(videos_fts, rowid, caption) VALUES ('delete', old.id, old.caption); "
     "INSERT INTO videos_fts(rowid, caption) VALUES (new.id, new.caption); END"),
    "INSERT INTO videos_fts(videos_fts) VALUES ('rebuild')",

    ("CREATE VIRTUAL TABLE users_fts USING fts5(username, display_name, content='users', content_rowid='id', "
     "tokenize='unicode61 remove_diacritics 2')"),
    ("CREATE TRIGGER users_fts_insert AFTER INSERT ON users BEGIN "
     "INSERT INTO users_fts(rowid, username, display_name) VALUES (new.id, new.username, new.display_name); END"),
    ("CREATE TRIGGER users_fts_delete AFTER DELETE ON users BEGIN "
     "INSERT INTO users_fts(users_fts, rowid, username, display_name) "
     "VALUES ('delete', old.id, old.username, old.display_name); END"),
    ("CREATE TRIGGER users_fts_update AFTER UPDATE OF username, display_name ON users BEGIN "
     "INSERT INTO users_fts(users_fts, rowid, username, display_name) "
     "VALUES ('delete', old.id, old.username, old.display_name); "
     "INSERT INTO users_fts(rowid, username, display_name) VALUES (new.id, new.username, new.display_name); END"),
    "INSERT INTO users_fts(users_fts) VALUES ('rebuild')",
]

SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS users_fts_update",
    "DROP TRIGGER IF EXISTS users_fts_delete",
    "DROP TRIGGER IF EXISTS users_fts_insert",
    "DROP TABLE IF EXISTS users_fts",
    "DROP TRIGGER IF EXISTS videos_fts_update",
    "DROP TRIGGER IF EXISTS videos_fts_delete",
    "DROP TRIGGER IF EXISTS videos_fts_insert",
    "DROP TABLE IF EXISTS videos_fts",
]

# Keep these expressions byte-for-byte equal to openfyp.platform.search, or the planner skips the index.
POSTGRES_UP = [
    "CREATE INDEX ix_videos_caption_fts ON videos USING gin (to_tsvector('simple', caption))",
    "CREATE INDEX ix_users_names_fts ON users USING gin (to_tsvector('simple', username || ' ' || display_name))",
    "CREATE INDEX ix_users_username_prefix ON users (username text_pattern_ops)",
    "CREATE INDEX ix_users_display_name_prefix ON users (lower(display_name) text_pattern_ops)",
    "CREATE INDEX ix_hashtags_name_prefix ON hashtags (region, name text_pattern_ops)",
]

POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS ix_hashtags_name_prefix",
    "DROP INDEX IF EXISTS ix_users_display_name_prefix",
    "DROP INDEX IF EXISTS ix_users_username_prefix",
    "DROP INDEX IF EXISTS ix_users_names_fts",
    "DROP INDEX IF EXISTS ix_videos_caption_fts",
]


def _statements(up: bool) -> list[str]:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        return SQLITE_UP if up else SQLITE_DOWN
    if dialect == "postgresql":
        return POSTGRES_UP if up else POSTGRES_DOWN
    raise NotImplementedError(f"no search indexes for the {dialect} dialect")


def create_sqlite_search() -> None:
    """Re-create the SQLite search tables and triggers (for migrations that rebuild videos or users)."""
    for statement in SQLITE_DOWN + SQLITE_UP:
        op.execute(statement)


def upgrade() -> None:
    for statement in _statements(up=True):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(up=False):
        op.execute(statement)
