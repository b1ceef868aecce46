"""repeat decisions: one false-positive or real decision per repeat group of a camera

Revision ID: 0017_repeat_decisions
Revises: 0016_prediction_settings
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_repeat_decisions"
down_revision = "0016_prediction_settings"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "repeat_decisions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("camera", sa.String(length=200), nullable=False),
        sa.Column("group_key", _ID, nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("w", sa.Float(), nullable=False),
        sa.Column("h", sa.Float(), nullable=False),
        sa.Column("iou", sa.Float(), nullable=False),
        sa.Column("labelled", sa.JSON(), nullable=False),
        sa.Column("created_by", _ID, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("undone_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_repeat_decisions_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repeat_decisions")),
    )
    op.create_index("ix_repeat_decisions_camera", "repeat_decisions", ["camera", "decision"])


def downgrade() -> None:
    op.drop_index("ix_repeat_decisions_camera", table_name="repeat_decisions")
    op.drop_table("repeat_decisions")
