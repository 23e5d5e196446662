"""videos and impressions: indexes for the two reads every For You page or catalog refresh makes

* ``videos (region, ready_at)``: the catalog refresh asks for the newest ``ready_at`` and for the videos that
  became ready since its watermark; with this index both cost the new uploads only, not a scan of the
  fresh window (or, for the newest, of the region's catalog).
* ``impressions (user_id, id)``: a viewer's seen set is kept in memory and topped up with the impressions
  committed after the last one read (``id`` above a watermark); this index makes that read cost the new
  rows only, whatever the length of the viewer's history.

Index-only: nothing to backfill. Keep in step with ``openfyp.store.tables.content`` and ``.feed``.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_videos_region_ready", "videos", ["region", "ready_at"])
    op.create_index("ix_impressions_user_id", "impressions", ["user_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_impressions_user_id", table_name="impressions")
    op.drop_index("ix_videos_region_ready", table_name="videos")
