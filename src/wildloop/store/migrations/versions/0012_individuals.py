"""individuals: named animals, their sightings, human box crop vectors

Revision ID: 0012_individuals
Revises: 0011_two_stage
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_individuals"
down_revision = "0011_two_stage"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "individuals",
        sa.Column("id", _ID, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("class_id", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("cover_sighting_id", _ID, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("merged_into_id", _ID, nullable=True),
        sa.Column("created_by", _ID, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_individuals_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["individuals.id"],
            name=op.f("fk_individuals_merged_into_id_individuals"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_individuals")),
        sa.UniqueConstraint("name", name=op.f("uq_individuals_name")),
    )
    op.create_table(
        "label_crop_embeddings",
        sa.Column("id", _ID, nullable=False),
        sa.Column("label_box_id", _ID, nullable=False),
        sa.Column("media_id", _ID, nullable=False),
        sa.Column("embedder", sa.String(length=80), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["label_box_id"],
            ["label_boxes.id"],
            name=op.f("fk_label_crop_embeddings_label_box_id_label_boxes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.id"],
            name=op.f("fk_label_crop_embeddings_media_id_media"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_crop_embeddings")),
        sa.UniqueConstraint(
            "label_box_id", "embedder", name=op.f("uq_label_crop_embeddings_label_box_id_embedder")
        ),
    )
    op.create_table(
        "sightings",
        sa.Column("id", _ID, nullable=False),
        sa.Column("individual_id", _ID, nullable=False),
        sa.Column("label_box_id", _ID, nullable=False),
        sa.Column("media_id", _ID, nullable=False),
        sa.Column("class_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("created_by", _ID, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("source IN ('person', 'suggestion')", name=op.f("ck_sightings_source")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_sightings_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["individual_id"],
            ["individuals.id"],
            name=op.f("fk_sightings_individual_id_individuals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["label_box_id"],
            ["label_boxes.id"],
            name=op.f("fk_sightings_label_box_id_label_boxes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_sightings_media_id_media"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sightings")),
        sa.UniqueConstraint("label_box_id", name=op.f("uq_sightings_label_box_id")),
    )
    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.create_index("ix_sightings_individual_id", ["individual_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.drop_index("ix_sightings_individual_id")

    op.drop_table("sightings")
    op.drop_table("label_crop_embeddings")
    op.drop_table("individuals")
