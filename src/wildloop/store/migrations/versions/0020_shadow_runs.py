"""shadow runs: the champion's and a challenger's answers on one item, judged

Revision ID: 0020_shadow_runs
Revises: 0019_label_issues
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_shadow_runs"
down_revision = "0019_label_issues"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "shadow_comparisons",
        sa.Column("id", _ID, nullable=False),
        sa.Column("champion_version_id", _ID, nullable=False),
        sa.Column("challenger_version_id", _ID, nullable=False),
        sa.Column("media_id", _ID, nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("champion_class", sa.String(length=120), nullable=True),
        sa.Column("champion_score", sa.Float(), nullable=True),
        sa.Column("challenger_class", sa.String(length=120), nullable=True),
        sa.Column("challenger_score", sa.Float(), nullable=True),
        sa.Column("per_class", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["champion_version_id"],
            ["model_versions.id"],
            name=op.f("fk_shadow_comparisons_champion_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["challenger_version_id"],
            ["model_versions.id"],
            name=op.f("fk_shadow_comparisons_challenger_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.id"],
            name=op.f("fk_shadow_comparisons_media_id_media"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shadow_comparisons")),
        sa.UniqueConstraint(
            "champion_version_id",
            "challenger_version_id",
            "media_id",
            name="uq_shadow_comparisons_pair_media",
        ),
    )
    op.create_index(
        "ix_shadow_comparisons_pair_outcome",
        "shadow_comparisons",
        ["champion_version_id", "challenger_version_id", "outcome", "media_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_shadow_comparisons_pair_outcome", table_name="shadow_comparisons")
    op.drop_table("shadow_comparisons")
