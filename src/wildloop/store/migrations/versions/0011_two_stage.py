"""two-stage models: pipelines pair a detector and a crop classifier; boxes keep the
detector's score

Revision ID: 0011_two_stage
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_two_stage"
down_revision = "0010"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("detector_id", _ID, nullable=True))
        batch.add_column(sa.Column("classifier_id", _ID, nullable=True))
        batch.create_foreign_key(
            op.f("fk_model_versions_detector_id_model_versions"),
            "model_versions",
            ["detector_id"],
            ["id"],
        )
        batch.create_foreign_key(
            op.f("fk_model_versions_classifier_id_model_versions"),
            "model_versions",
            ["classifier_id"],
            ["id"],
        )
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("det_score", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("det_score")
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_constraint(
            op.f("fk_model_versions_classifier_id_model_versions"), type_="foreignkey"
        )
        batch.drop_constraint(
            op.f("fk_model_versions_detector_id_model_versions"), type_="foreignkey"
        )
        batch.drop_column("classifier_id")
        batch.drop_column("detector_id")
