"""people hold several roles

An officer who also authorises payments, an evaluator who is also the consortium's auditor:
``user_roles`` lists every role a person holds, ``users.role`` stays the one they act in now.
Every existing account holds the role it had.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 13:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import grants.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = "'applicant', 'officer', 'evaluator', 'finance', 'auditor', 'admin'"


def upgrade() -> None:
    op.create_table(
        "user_roles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("granted_at", grants.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("granted_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(f"role IN ({ROLES})", name=op.f("ck_user_roles_role")),
        sa.ForeignKeyConstraint(
            ["granted_by_id"], ["users.id"], name=op.f("fk_user_roles_granted_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_roles_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "role", name=op.f("pk_user_roles")),
    )
    op.execute(
        "INSERT INTO user_roles (user_id, role, granted_at) SELECT id, role, created_at FROM users"
    )


def downgrade() -> None:
    op.drop_table("user_roles")
