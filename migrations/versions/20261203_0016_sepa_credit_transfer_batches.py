"""SEPA credit transfer batches: exported pain.001 files and the instalments in each

Two new tables: ``sepa_batches`` (one exported file: reference, execution date, count,
control sum, sha256 and storage key, status exported/paid/cancelled with the bank's
reference and value date or the reason for cancelling) and ``sepa_batch_items`` (each
instalment as written into the file). A partial unique index over the live items keeps a
payment in at most one batch that is not cancelled. Payments gain ``value_date``, the day
the bank credited the payee (empty for every existing row).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import grants.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("live")


def upgrade() -> None:
    moment = grants.db.UTCDateTime(timezone=True)
    money = sa.Numeric(precision=12, scale=2)
    op.create_table(
        "sepa_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=35), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("execution_date", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("control_sum", money, nullable=False),
        sa.Column("debtor_name", sa.String(length=140), nullable=False),
        sa.Column("debtor_iban", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("bank_reference", sa.String(length=60), nullable=True),
        sa.Column("value_date", sa.Date(), nullable=True),
        sa.Column("paid_by_id", sa.Integer(), nullable=True),
        sa.Column("paid_at", moment, nullable=True),
        sa.Column("cancelled_by_id", sa.Integer(), nullable=True),
        sa.Column("cancelled_at", moment, nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", moment, nullable=False),
        sa.Column("updated_at", moment, nullable=False),
        sa.CheckConstraint("count > 0", name=op.f("ck_sepa_batches_count_positive")),
        sa.CheckConstraint(
            "control_sum > 0", name=op.f("ck_sepa_batches_control_sum_positive")
        ),
        sa.CheckConstraint(
            "status IN ('exported', 'paid', 'cancelled')", name=op.f("ck_sepa_batches_status")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_sepa_batches_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["paid_by_id"], ["users.id"], name=op.f("fk_sepa_batches_paid_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["cancelled_by_id"], ["users.id"], name=op.f("fk_sepa_batches_cancelled_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sepa_batches")),
        sa.UniqueConstraint("reference", name=op.f("uq_sepa_batches_reference")),
    )
    op.create_table(
        "sepa_batch_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.Column("end_to_end_id", sa.String(length=35), nullable=False),
        sa.Column("payee_name", sa.String(length=300), nullable=False),
        sa.Column("iban", sa.String(length=40), nullable=False),
        sa.Column("amount", money, nullable=False),
        sa.Column("remittance", sa.String(length=140), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_sepa_batch_items_amount_positive")),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["sepa_batches.id"], name=op.f("fk_sepa_batch_items_batch_id_sepa_batches")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_sepa_batch_items_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sepa_batch_items")),
    )
    op.create_index(
        op.f("ix_sepa_batch_items_batch_id"), "sepa_batch_items", ["batch_id"], unique=False
    )
    op.create_index(
        op.f("ix_sepa_batch_items_payment_id"), "sepa_batch_items", ["payment_id"], unique=False
    )
    op.create_index(
        "uq_sepa_batch_items_live_payment",
        "sepa_batch_items",
        ["payment_id"],
        unique=True,
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("value_date", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("value_date")
    op.drop_index("uq_sepa_batch_items_live_payment", table_name="sepa_batch_items")
    op.drop_index(op.f("ix_sepa_batch_items_payment_id"), table_name="sepa_batch_items")
    op.drop_index(op.f("ix_sepa_batch_items_batch_id"), table_name="sepa_batch_items")
    op.drop_table("sepa_batch_items")
    op.drop_table("sepa_batches")
