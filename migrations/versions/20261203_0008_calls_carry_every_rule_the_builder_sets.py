"""calls carry every rule the call builder sets

The voucher type, lump sum or costs, a scheduled publication, the cut-off dates, a reserve
held back for a later call, the optional eligibility checks with their parameters, the
divergence limit and the redress window. Existing calls take the values they have been run
with until now (up-skilling, costs, no reserve, divergence 2 points, 5 days of redress).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 14:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import grants.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
MONEY = sa.Numeric(12, 2, asdecimal=True)
CHECKS = {
    "reserve_within_budget": "reserve >= 0 AND reserve < budget",
    "divergence_limit_positive": "divergence_limit > 0",
    "redress_days_positive": "redress_days > 0",
    "cost_basis": "cost_basis IN ('lump_sum', 'costs')",
}


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "voucher_type", sa.String(length=30), server_default="upskilling", nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("cost_basis", sa.String(length=20), server_default="costs", nullable=False)
        )
        batch_op.add_column(
            sa.Column("publish_at", grants.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("cutoffs", JSON, server_default="[]", nullable=False))
        batch_op.add_column(sa.Column("reserve", MONEY, server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("eligibility_rules", JSON, server_default="{}", nullable=False)
        )
        batch_op.add_column(
            sa.Column("divergence_limit", MONEY, server_default="2", nullable=False)
        )
        batch_op.add_column(
            sa.Column("redress_days", sa.Integer(), server_default="5", nullable=False)
        )
        for name, condition in CHECKS.items():
            batch_op.create_check_constraint(batch_op.f(f"ck_calls_{name}"), condition)


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        for name in CHECKS:
            batch_op.drop_constraint(batch_op.f(f"ck_calls_{name}"), type_="check")
        for column in (
            "redress_days",
            "divergence_limit",
            "eligibility_rules",
            "reserve",
            "cutoffs",
            "publish_at",
            "cost_basis",
            "voucher_type",
        ):
            batch_op.drop_column(column)
