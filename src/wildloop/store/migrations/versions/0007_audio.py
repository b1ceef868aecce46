"""audio: recordings and their windows as media, time-frequency label boxes, embeddings

A window (media.kind = 'window') is a span of a recording (media.parent_id, t_start, t_end),
so labels, predictions, snapshots and splits work per window unchanged. Embeddings are stored
once per (item, embedder).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


_KIND_BEFORE = "kind IN ('image', 'audio')"
_KIND_AFTER = "kind IN ('image', 'audio', 'window')"


def _replace_kind_check(batch_op: Any, kind: str) -> None:
    batch_op.drop_constraint(op.f("ck_media_kind"), type_="check")
    batch_op.create_check_constraint(op.f("ck_media_kind"), kind)


def upgrade() -> None:
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channels", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "parent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.add_column(sa.Column("t_start", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("t_end", sa.Float(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_media_parent_id_media"),
            "media",
            ["parent_id"],
            ["id"],
            ondelete="CASCADE",
        )
        _replace_kind_check(batch_op, _KIND_AFTER)
        batch_op.create_index("ix_media_parent_start", ["parent_id", "t_start"], unique=False)
        batch_op.create_index("ix_media_kind_id", ["kind", "id"], unique=False)
    with op.batch_alter_table("label_boxes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("f_low", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("f_high", sa.Float(), nullable=True))
    op.create_table(
        "embeddings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("media_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("embedder", sa.String(length=80), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.id"],
            name=op.f("fk_embeddings_media_id_media"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_embeddings")),
        sa.UniqueConstraint("media_id", "embedder", name=op.f("uq_embeddings_media_id_embedder")),
    )
    op.create_index("ix_embeddings_embedder_id", "embeddings", ["embedder", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_embeddings_embedder_id", table_name="embeddings")
    op.drop_table("embeddings")
    with op.batch_alter_table("label_boxes", schema=None) as batch_op:
        batch_op.drop_column("f_high")
        batch_op.drop_column("f_low")
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_index("ix_media_kind_id")
        batch_op.drop_index("ix_media_parent_start")
        _replace_kind_check(batch_op, _KIND_BEFORE)
        batch_op.drop_constraint("fk_media_parent_id_media", type_="foreignkey")
        batch_op.drop_column("t_end")
        batch_op.drop_column("t_start")
        batch_op.drop_column("parent_id")
        batch_op.drop_column("channels")
