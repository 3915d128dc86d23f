"""bank accounts: IBAN, BIC, holder and the bank's confirmation, verified by finance

A new table keeps every entry and change of a voucher's bank details (a change supersedes
the previous row, which stays for the trail). The IBAN and account holder already kept on
applications are carried over as rows of source "migrated" and status "entered": nobody
verified them, so finance must verify them (with a bank confirmation the SME uploads)
before the next payment. Their BIC is derived from the IBAN where the bank registry knows
it, else left empty for the SME to give. The applications' own iban/account_holder columns
stay, kept in sync with the current row.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 19:30:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import grants.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _bic_of(iban: str) -> str | None:
    try:
        from schwifty import IBAN

        bic = IBAN(iban).bic
    except Exception:  # an invalid or unknown IBAN: the SME gives the BIC
        return None
    return str(bic) if bic else None


def upgrade() -> None:
    moment = grants.db.UTCDateTime(timezone=True)
    table = op.create_table(
        "bank_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("iban", sa.String(length=40), nullable=False),
        sa.Column("bic", sa.String(length=11), nullable=True),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("changed", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("confirmation_filename", sa.String(length=255), nullable=True),
        sa.Column("confirmation_content_type", sa.String(length=100), nullable=True),
        sa.Column("confirmation_size", sa.Integer(), nullable=True),
        sa.Column("confirmation_sha256", sa.String(length=64), nullable=True),
        sa.Column("confirmation_key", sa.String(length=200), nullable=True),
        sa.Column("confirmation_scan", sa.String(length=20), nullable=True),
        sa.Column("entered_by_id", sa.Integer(), nullable=True),
        sa.Column("entered_role", sa.String(length=20), nullable=False),
        sa.Column("entered_at", moment, nullable=False),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", moment, nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("superseded_at", moment, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", moment, nullable=False),
        sa.Column("updated_at", moment, nullable=False),
        sa.CheckConstraint(
            "status IN ('entered', 'verified', 'rejected')", name=op.f("ck_bank_accounts_status")
        ),
        sa.CheckConstraint(
            "source IN ('acceptance', 'change', 'migrated')", name=op.f("ck_bank_accounts_source")
        ),
        sa.CheckConstraint(
            "reviewed_by_id IS NULL OR entered_by_id IS NULL OR reviewed_by_id <> entered_by_id",
            name=op.f("ck_bank_accounts_four_eyes"),
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_bank_accounts_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["entered_by_id"], ["users.id"], name=op.f("fk_bank_accounts_entered_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"], ["users.id"], name=op.f("fk_bank_accounts_reviewed_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_accounts")),
    )
    op.create_index(
        op.f("ix_bank_accounts_application_id"), "bank_accounts", ["application_id"], unique=False
    )
    op.create_index(
        "uq_bank_accounts_current",
        "bank_accounts",
        ["application_id"],
        unique=True,
        sqlite_where=sa.text("superseded_at IS NULL"),
        postgresql_where=sa.text("superseded_at IS NULL"),
    )

    # Carry the IBANs already kept over, unverified.
    applications = sa.table(
        "applications",
        sa.column("id", sa.Integer()),
        sa.column("iban", sa.String()),
        sa.column("account_holder", sa.String()),
        sa.column("agreement_signed_at", moment),
    )
    bind = op.get_bind()
    found = bind.execute(
        sa.select(
            applications.c.id,
            applications.c.iban,
            applications.c.account_holder,
            applications.c.agreement_signed_at,
        )
        .where(applications.c.iban.is_not(None), applications.c.iban != "")
        .order_by(applications.c.id)
    ).all()
    now = datetime.now(UTC)
    rows = [
        {
            "application_id": row.id,
            "iban": row.iban,
            "bic": _bic_of(row.iban),
            "holder": row.account_holder or "",
            "source": "migrated",
            "changed": False,
            "status": "entered",
            "entered_by_id": None,
            "entered_role": "applicant",
            "entered_at": row.agreement_signed_at or now,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for row in found
    ]
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_index("uq_bank_accounts_current", table_name="bank_accounts")
    op.drop_index(op.f("ix_bank_accounts_application_id"), table_name="bank_accounts")
    op.drop_table("bank_accounts")
