"""consortium partners: the clusters running the calls, each call's managing partner

The partners become an editable list (country, registration and VAT numbers, staff e-mail
domain) instead of a flag nobody set on organisations; a call names the partner managing it
(existing calls have none) and, in ``call_partners``, the partners whose staff work on it.
``organisations.is_consortium_partner`` stays, unused.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import grants.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consortium_partners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("short_name", sa.String(length=40), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("registration_number", sa.String(length=60), nullable=False),
        sa.Column("vat_number", sa.String(length=40), nullable=True),
        sa.Column("email_domain", sa.String(length=253), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", grants.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", grants.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consortium_partners")),
        sa.UniqueConstraint("short_name", name=op.f("uq_consortium_partners_short_name")),
    )
    op.create_table(
        "call_partners",
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
            name=op.f("fk_call_partners_call_id_calls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["consortium_partners.id"],
            name=op.f("fk_call_partners_partner_id_consortium_partners"),
        ),
        sa.PrimaryKeyConstraint("call_id", "partner_id", name=op.f("pk_call_partners")),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("managing_partner_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_calls_managing_partner_id_consortium_partners"),
            "consortium_partners",
            ["managing_partner_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_calls_managing_partner_id_consortium_partners"), type_="foreignkey"
        )
        batch_op.drop_column("managing_partner_id")
    op.drop_table("call_partners")
    op.drop_table("consortium_partners")
