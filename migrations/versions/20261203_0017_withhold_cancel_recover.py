"""withhold, cancel, recover: recovery orders; a cancelled instalment can be prepared again

A termination that finds more paid than justified issues a recovery order (amount, due
date, the reference to quote); finance records the repayments against it. New table.

The one-row-per-(application, instalment) constraint on payments becomes a partial unique
index over the live statuses (prepared, authorised, paid): a cancelled or withheld order
stays on record and a new one may be prepared, while two live orders, hence two payments,
of one instalment remain impossible. Existing rows all satisfy the narrower index.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import grants.db

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("status IN ('prepared', 'authorised', 'paid')")


def upgrade() -> None:
    moment = grants.db.UTCDateTime(timezone=True)
    op.create_table(
        "recovery_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=60), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("repaid_amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("repaid_at", sa.Date(), nullable=True),
        sa.Column("repayment_reference", sa.String(length=100), nullable=True),
        sa.Column("issued_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", moment, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", moment, nullable=False),
        sa.Column("updated_at", moment, nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_recovery_orders_amount_positive")),
        sa.CheckConstraint(
            "repaid_amount >= 0 AND repaid_amount <= amount",
            name=op.f("ck_recovery_orders_repaid_within_amount"),
        ),
        sa.CheckConstraint("status IN ('open', 'repaid')", name=op.f("ck_recovery_orders_status")),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_recovery_orders_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["issued_by_id"], ["users.id"], name=op.f("fk_recovery_orders_issued_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_recovery_orders_recorded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_orders")),
        sa.UniqueConstraint("reference", name=op.f("uq_recovery_orders_reference")),
    )
    op.create_index(
        op.f("ix_recovery_orders_application_id"),
        "recovery_orders",
        ["application_id"],
        unique=False,
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_constraint("uq_payments_application_id_instalment", type_="unique")
    op.create_index(
        "uq_payments_live_instalment",
        "payments",
        ["application_id", "instalment"],
        unique=True,
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )


def downgrade() -> None:
    op.drop_index("uq_payments_live_instalment", table_name="payments")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            "uq_payments_application_id_instalment", ["application_id", "instalment"]
        )
    op.drop_index(op.f("ix_recovery_orders_application_id"), table_name="recovery_orders")
    op.drop_table("recovery_orders")
