"""a call may pay the service provider directly

Calls say whether the voucher is paid directly to the service provider once the SME
confirms delivery (existing calls: no, the SME is paid). Bank accounts say whose account
they are, the SME's or the service provider's (every existing row is the SME's), and the
one-current-account index becomes one current account per voucher and payee.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT = sa.text("superseded_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "pay_provider_directly", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
    op.drop_index("uq_bank_accounts_current", table_name="bank_accounts")
    with op.batch_alter_table("bank_accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("payee", sa.String(length=20), server_default="sme", nullable=False)
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_bank_accounts_payee"), "payee IN ('sme', 'provider')"
        )
    op.create_index(
        "uq_bank_accounts_current",
        "bank_accounts",
        ["application_id", "payee"],
        unique=True,
        sqlite_where=CURRENT,
        postgresql_where=CURRENT,
    )


def downgrade() -> None:
    op.drop_index("uq_bank_accounts_current", table_name="bank_accounts")
    # The service providers' accounts cannot be kept without the payee column.
    op.execute("DELETE FROM bank_accounts WHERE payee = 'provider'")
    with op.batch_alter_table("bank_accounts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_bank_accounts_payee"), type_="check")
        batch_op.drop_column("payee")
    op.create_index(
        "uq_bank_accounts_current",
        "bank_accounts",
        ["application_id"],
        unique=True,
        sqlite_where=CURRENT,
        postgresql_where=CURRENT,
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("pay_provider_directly")
