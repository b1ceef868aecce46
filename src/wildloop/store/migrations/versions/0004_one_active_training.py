"""one active training job per project

Revision ID: 0004
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None

_ACTIVE_TRAINING = "kind = 'train' AND state IN ('queued', 'running')"


def upgrade() -> None:
    op.create_index(
        "uq_jobs_one_active_training",
        "jobs",
        ["kind"],
        unique=True,
        sqlite_where=sa.text(_ACTIVE_TRAINING),
        postgresql_where=sa.text(_ACTIVE_TRAINING),
    )


def downgrade() -> None:
    op.drop_index("uq_jobs_one_active_training", table_name="jobs")
