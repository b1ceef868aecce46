"""model_versions.class_ids: the project class id each model output class is read as

Fixed at registration (after ``--map``/``--add-classes``), so processing, evaluation and
MegaDetector export read a model's classes the same way. NULL for versions registered
before this revision and for external ones: their classes are read by name.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("class_ids", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("class_ids")
