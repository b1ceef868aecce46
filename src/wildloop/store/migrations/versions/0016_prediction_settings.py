"""prediction settings: the priors, smoothing and thresholds each prediction set was made with

Revision ID: 0016_prediction_settings
Revises: 0015_uploader_role
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_prediction_settings"
down_revision = "0015_uploader_role"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "prediction_settings",
        sa.Column("id", _ID, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prediction_settings")),
        sa.UniqueConstraint("digest", name=op.f("uq_prediction_settings_digest")),
    )
    # A plain column (no foreign key): SQLite adds it in place instead of copying the table.
    with op.batch_alter_table("prediction_sets") as batch:
        batch.add_column(sa.Column("settings_id", _ID, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("prediction_sets") as batch:
        batch.drop_column("settings_id")
    op.drop_table("prediction_settings")
