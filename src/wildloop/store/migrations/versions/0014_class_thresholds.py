"""class thresholds: per-class thresholds and PR curves of a model version from reviews

Revision ID: 0014_class_thresholds
Revises: 0013_location_priors
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_class_thresholds"
down_revision = "0013_location_priors"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "class_threshold_sets",
        sa.Column("id", _ID, nullable=False),
        sa.Column("model_version_id", _ID, nullable=False),
        sa.Column("job_id", _ID, nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("target_precision", sa.Float(), nullable=True),
        sa.Column("iou", sa.Float(), nullable=False),
        sa.Column("splits", sa.JSON(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("classes", sa.JSON(), nullable=False),
        sa.Column("created_by", _ID, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_class_threshold_sets_job_id_jobs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_class_threshold_sets_model_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_class_threshold_sets_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_class_threshold_sets")),
    )
    op.create_index(
        "ix_class_threshold_sets_version",
        "class_threshold_sets",
        ["model_version_id", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_class_threshold_sets_version", table_name="class_threshold_sets")
    op.drop_table("class_threshold_sets")
