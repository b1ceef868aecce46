"""analytics events: detections per class, independent events, daily and diel sums kept on save

The report read every labelled photo and grouped it into events on each request (5 s at
500k labelled photos). These tables hold the same figures kept up to date as labels are
saved (analytics.maintained). A project with labels starts with them not built: the report
computes from the labels, exactly, until `wildloop analytics rebuild` fills them.

Revision ID: 0021_analytics_events
Revises: 0020_shadow_runs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_analytics_events"
down_revision = "0020_shadow_runs"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "analytics_detections",
        sa.Column("media_id", _ID, nullable=False),
        sa.Column("class_id", sa.Integer(), nullable=False),
        sa.Column("camera_id", _ID, nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("boxes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.id"],
            name=op.f("fk_analytics_detections_media_id_media"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("media_id", "class_id", name=op.f("pk_analytics_detections")),
    )
    op.create_index(
        "ix_analytics_detections_series", "analytics_detections", ["camera_id", "class_id", "at"]
    )
    op.create_table(
        "analytics_events",
        sa.Column("id", _ID, nullable=False),
        sa.Column("camera_id", _ID, nullable=False),
        sa.Column("class_id", sa.Integer(), nullable=False),
        sa.Column("started", sa.BigInteger(), nullable=False),
        sa.Column("ended", sa.BigInteger(), nullable=False),
        sa.Column("media", sa.Integer(), nullable=False),
        sa.Column("animals", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_events")),
    )
    op.create_index(
        "ix_analytics_events_series", "analytics_events", ["camera_id", "class_id", "started"]
    )
    op.create_table(
        "analytics_days",
        sa.Column("camera_id", _ID, nullable=False),
        sa.Column("class_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("media", sa.Integer(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("animals", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", "class_id", "day", name=op.f("pk_analytics_days")),
    )
    op.create_table(
        "analytics_diel",
        sa.Column("camera_id", _ID, nullable=False),
        sa.Column("class_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", "class_id", "hour", name=op.f("pk_analytics_diel")),
    )
    op.create_table(
        "analytics_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("built", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_state")),
    )
    # Built (and empty) where nothing is labelled yet; otherwise built by the rebuild.
    op.execute(
        "INSERT INTO analytics_state (id, built) SELECT 1, NOT EXISTS "
        "(SELECT 1 FROM media WHERE label_class_id IS NOT NULL)"
    )


def downgrade() -> None:
    op.drop_table("analytics_state")
    op.drop_table("analytics_diel")
    op.drop_table("analytics_days")
    op.drop_index("ix_analytics_events_series", table_name="analytics_events")
    op.drop_table("analytics_events")
    op.drop_index("ix_analytics_detections_series", table_name="analytics_detections")
    op.drop_table("analytics_detections")
