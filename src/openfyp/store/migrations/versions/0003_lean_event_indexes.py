"""events: only the indexes its readers need

Every index on ``events`` is maintained on every ingested event; those over random keys cost about one
page write per event each (WAL, then checkpoint). This drops the ones nothing needs and folds the rest:

* dropped: ``region`` (one region per deployment's log: it selects everything), ``request_id`` (never
  looked up), ``user_id`` (``(user_id, server_ts)`` serves the same lookups), ``(kind, server_ts)`` (its
  only user was a creator's follow count, now served by the partial ``target_user_id`` index);
* ``video_id`` becomes ``(video_id, kind)``, which also answers per-video counts by kind on its own;
* new ``target_user_id``, partial: only follow/unfollow events name a user, so ingest barely pays for it.

Keep in step with ``openfyp.store.tables.events``.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

FOLLOW_TARGET = sa.text("target_user_id IS NOT NULL")


def upgrade() -> None:
    for name in ("ix_events_region", "ix_events_request_id", "ix_events_user_id", "ix_events_kind_server_ts",
                 "ix_events_video_id"):
        op.drop_index(name, table_name="events")
    op.create_index("ix_events_video_kind", "events", ["video_id", "kind"])
    op.create_index("ix_events_target_user_id", "events", ["target_user_id"],
                    sqlite_where=FOLLOW_TARGET, postgresql_where=FOLLOW_TARGET)


def downgrade() -> None:
    op.drop_index("ix_events_target_user_id", table_name="events")
    op.drop_index("ix_events_video_kind", table_name="events")
    op.create_index("ix_events_video_id", "events", ["video_id"])
    op.create_index("ix_events_kind_server_ts", "events", ["kind", "server_ts"])
    op.create_index("ix_events_user_id", "events", ["user_id"])
    op.create_index("ix_events_request_id", "events", ["request_id"])
    op.create_index("ix_events_region", "events", ["region"])
