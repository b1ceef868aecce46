"""location priors: a camera's allowed classes and roll-up parent

Revision ID: 0013_location_priors
Revises: 0012_individuals
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_location_priors"
down_revision = "0012_individuals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("allowed_classes", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("rollup_class", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("rollup_class")
        batch.drop_column("allowed_classes")
