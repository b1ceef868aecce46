"""repeat decision frames: the frames a decision labelled, one row each, and its jobs

Revision ID: 0018_hidden_regions
Revises: 0017_repeat_decisions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_hidden_regions"
down_revision = "0017_repeat_decisions"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "repeat_decision_frames",
        sa.Column("decision_id", _ID, nullable=False),
        sa.Column("media_id", _ID, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("undo_outcome", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["repeat_decisions.id"],
            name=op.f("fk_repeat_decision_frames_decision_id_repeat_decisions"),
        ),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_repeat_decision_frames_media_id_media")
        ),
        sa.PrimaryKeyConstraint("decision_id", "media_id", name=op.f("pk_repeat_decision_frames")),
    )
    with op.batch_alter_table("repeat_decisions") as batch:
        batch.add_column(sa.Column("job_id", _ID, nullable=True))
        batch.add_column(sa.Column("undo_job_id", _ID, nullable=True))
        batch.create_foreign_key(
            op.f("fk_repeat_decisions_job_id_jobs"), "jobs", ["job_id"], ["id"]
        )
        batch.create_foreign_key(
            op.f("fk_repeat_decisions_undo_job_id_jobs"), "jobs", ["undo_job_id"], ["id"]
        )
    # The frames earlier decisions kept in their JSON list become rows; an undone decision's
    # frames were already restored or kept (which one is not recorded: "restored").
    bind = op.get_bind()
    decisions = sa.table(
        "repeat_decisions",
        sa.column("id", _ID),
        sa.column("labelled", sa.JSON()),
        sa.column("undone_at", sa.DateTime()),
    )
    frames = sa.table(
        "repeat_decision_frames",
        sa.column("decision_id", _ID),
        sa.column("media_id", _ID),
        sa.column("revision", sa.Integer()),
        sa.column("undo_outcome", sa.String()),
    )
    rows = [
        {
            "decision_id": d.id,
            "media_id": int(media_id),
            "revision": int(rev),
            "undo_outcome": "restored" if d.undone_at is not None else None,
        }
        for d in bind.execute(sa.select(decisions)).all()
        for media_id, rev in (d.labelled or [])
    ]
    if rows:
        bind.execute(sa.insert(frames), rows)
        bind.execute(sa.update(decisions).values(labelled=[]))


def downgrade() -> None:
    with op.batch_alter_table("repeat_decisions") as batch:
        batch.drop_constraint(op.f("fk_repeat_decisions_undo_job_id_jobs"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_repeat_decisions_job_id_jobs"), type_="foreignkey")
        batch.drop_column("undo_job_id")
        batch.drop_column("job_id")
    op.drop_table("repeat_decision_frames")
