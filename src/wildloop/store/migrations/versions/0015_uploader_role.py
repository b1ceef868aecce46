"""uploader role: accounts for field devices that upload media and pull the model, nothing else

Revision ID: 0015_uploader_role
Revises: 0014_class_thresholds
"""

from __future__ import annotations

from alembic import op

revision = "0015_uploader_role"
down_revision = "0014_class_thresholds"
branch_labels = None
depends_on = None

_ROLES_BEFORE = "role IN ('admin', 'reviewer', 'viewer')"
_ROLES_AFTER = "role IN ('admin', 'reviewer', 'viewer', 'uploader')"


def _replace_role_check(condition: str) -> None:
    # SQLite cannot alter a CHECK in place: batch mode copies the table with the new one.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_users_role"), type_="check")
        batch_op.create_check_constraint(op.f("ck_users_role"), condition)


def upgrade() -> None:
    _replace_role_check(_ROLES_AFTER)


def downgrade() -> None:
    # Uploader accounts have no older role to fall back to: demote them to viewers (who can
    # read but not write) rather than refuse the downgrade.
    op.execute("UPDATE users SET role = 'viewer' WHERE role = 'uploader'")
    _replace_role_check(_ROLES_BEFORE)
