"""review grid: media.label_class_id and the indexes behind grid filters and sorts

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-26 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.add_column(sa.Column("label_class_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_media_label_class_id", ["label_class_id", "id"], unique=False)
        batch_op.create_index("ix_media_captured_id", ["captured_at", "id"], unique=False)
        batch_op.create_index("ix_media_camera_id", ["camera_id", "id"], unique=False)
        batch_op.create_index(
            "ix_media_marked_at",
            ["marked_at", "id"],
            unique=False,
            sqlite_where=sa.text("marked IS NOT NULL"),
            postgresql_where=sa.text("marked IS NOT NULL"),
        )
    with op.batch_alter_table("prediction_sets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_prediction_sets_version_score",
            ["model_version_id", "top_score", "media_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_prediction_sets_version_class_score",
            ["model_version_id", "top_class_id", "top_score", "media_id"],
            unique=False,
        )
    # Existing reviewed items get their main class from their current label revision.
    op.execute(
        """
        UPDATE media SET label_class_id = (
            SELECT lb.class_id FROM label_revisions lr
            JOIN label_boxes lb ON lb.revision_id = lr.id
            WHERE lr.media_id = media.id AND lr.revision = media.label_revision
              AND lb.class_id IS NOT NULL AND lb.invalid_reason IS NULL
              AND NOT lb.false_positive
            GROUP BY lb.class_id ORDER BY count(*) DESC, lb.class_id LIMIT 1
        )
        WHERE media.reviewed
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("prediction_sets", schema=None) as batch_op:
        batch_op.drop_index("ix_prediction_sets_version_class_score")
        batch_op.drop_index("ix_prediction_sets_version_score")
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_index("ix_media_marked_at")
        batch_op.drop_index("ix_media_camera_id")
        batch_op.drop_index("ix_media_captured_id")
        batch_op.drop_index("ix_media_label_class_id")
        batch_op.drop_column("label_class_id")
