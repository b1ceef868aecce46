"""analytics: a partial covering index over labelled media in camera-time order

Activity, rates and occupancy read (camera, capture time, class) of every labelled item in
camera-time order; this index holds exactly those columns for exactly those rows, so the read
walks one index and never the media table.

Revision ID: 0010
Revises: 0008_crop_embeddings
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008_crop_embeddings"
branch_labels = None
depends_on = None

_LABELLED = "label_class_id IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_media_labelled_camera_time",
        "media",
        ["camera_id", "captured_at", "label_class_id", "status"],
        sqlite_where=sa.text(_LABELLED),
        postgresql_where=sa.text(_LABELLED),
    )


def downgrade() -> None:
    op.drop_index("ix_media_labelled_camera_time", table_name="media")
