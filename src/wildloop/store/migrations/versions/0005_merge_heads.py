"""merge the review-grid (0003) and one-active-training (0004) branches into one head

Both revised 0001, so the history had two heads. Databases that applied both keep working:
this revision changes no schema, it only joins the two lines so the code has one head.

Revision ID: 0005
Revises: 0003, 0004
"""

from __future__ import annotations

revision = "0005"
down_revision = ("0003", "0004")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: the join itself is the point."""


def downgrade() -> None:
    """Nothing to undo."""
