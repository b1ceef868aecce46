"""crop embeddings: one vector per predicted box and crop embedder

Revision ID: 0008_crop_embeddings
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_crop_embeddings"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "crop_embeddings",
        sa.Column("id", _ID, nullable=False),
        sa.Column("prediction_id", _ID, nullable=False),
        sa.Column("media_id", _ID, nullable=False),
        sa.Column("embedder", sa.String(length=80), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.id"],
            name=op.f("fk_crop_embeddings_media_id_media"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["prediction_id"],
            ["predictions.id"],
            name=op.f("fk_crop_embeddings_prediction_id_predictions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crop_embeddings")),
        sa.UniqueConstraint(
            "prediction_id", "embedder", name=op.f("uq_crop_embeddings_prediction_id_embedder")
        ),
    )
    op.create_index(
        "ix_crop_embeddings_embedder_id", "crop_embeddings", ["embedder", "id"], unique=False
    )
    op.create_index(
        "ix_crop_embeddings_media_embedder",
        "crop_embeddings",
        ["media_id", "embedder"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_crop_embeddings_media_embedder", table_name="crop_embeddings")
    op.drop_index("ix_crop_embeddings_embedder_id", table_name="crop_embeddings")
    op.drop_table("crop_embeddings")
