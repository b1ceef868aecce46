"""label issues: reviewed boxes the out-of-fold crop classifier doubts, for a second reviewer

Revision ID: 0019_label_issues
Revises: 0018_hidden_regions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_label_issues"
down_revision = "0018_hidden_regions"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "label_issues",
        sa.Column("id", _ID, nullable=False),
        sa.Column("job_id", _ID, nullable=True),
        sa.Column("media_id", _ID, nullable=False),
        sa.Column("label_box_id", _ID, nullable=True),
        sa.Column("prediction_id", _ID, nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("box_index", sa.Integer(), nullable=False),
        sa.Column("labelled_by", _ID, nullable=True),
        sa.Column("split", sa.String(length=8), nullable=True),
        sa.Column("given_class_id", sa.Integer(), nullable=True),
        sa.Column("suggested_class_id", sa.Integer(), nullable=False),
        sa.Column("given_probability", sa.Float(), nullable=False),
        sa.Column("suggested_probability", sa.Float(), nullable=False),
        sa.Column("quality", sa.Float(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("decided_by", _ID, nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'kept', 'changed')", name=op.f("ck_label_issues_status")
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_label_issues_job_id_jobs"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.id"],
            name=op.f("fk_label_issues_media_id_media"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["label_box_id"],
            ["label_boxes.id"],
            name=op.f("fk_label_issues_label_box_id_label_boxes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["prediction_id"],
            ["predictions.id"],
            name=op.f("fk_label_issues_prediction_id_predictions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["labelled_by"], ["users.id"], name=op.f("fk_label_issues_labelled_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_label_issues_decided_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_issues")),
    )
    op.create_index("ix_label_issues_status_rank", "label_issues", ["status", "rank"])
    op.create_index("ix_label_issues_label_box", "label_issues", ["label_box_id"])


def downgrade() -> None:
    op.drop_index("ix_label_issues_label_box", table_name="label_issues")
    op.drop_index("ix_label_issues_status_rank", table_name="label_issues")
    op.drop_table("label_issues")
