"""SME status: two years of figures, the category held, holder types and chained enterprises

Organisations get the year of their latest closed accounts, the figures of the year before,
the category held until now, a "newly established" flag and the enterprises linked to their
partner or linked enterprises. Each existing related enterprise becomes an "enterprise"
holder that holds a share in the organisation: an enterprise's figures count the same in
either direction, so every existing row keeps its meaning (and its SME category).

Revision ID: 0010
Revises: 0012
Create Date: 2026-12-03 19:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ORGANISATIONS = sa.table(
    "organisations", sa.column("id", sa.Integer), sa.column("related_enterprises", JSON)
)
NEW_KEYS = {"holder_type": "enterprise", "direction": "holds_us", "invested": ""}


def _rewrite(change: Any) -> None:
    bind = op.get_bind()
    for org_id, rows in bind.execute(
        sa.select(ORGANISATIONS.c.id, ORGANISATIONS.c.related_enterprises)
    ).all():
        if rows:
            bind.execute(
                ORGANISATIONS.update()
                .where(ORGANISATIONS.c.id == org_id)
                .values(related_enterprises=[change(dict(row)) for row in rows])
            )


def upgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("accounts_year", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("previous_headcount", sa.Numeric(precision=12, scale=2), nullable=True)
        )
        batch_op.add_column(
            sa.Column("previous_turnover", sa.Numeric(precision=15, scale=2), nullable=True)
        )
        batch_op.add_column(
            sa.Column("previous_balance_sheet", sa.Numeric(precision=15, scale=2), nullable=True)
        )
        batch_op.add_column(sa.Column("held_category", sa.String(length=10), nullable=True))
        batch_op.add_column(
            sa.Column("newly_established", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("related_links", JSON, nullable=False, server_default="[]"))
    _rewrite(lambda row: {**NEW_KEYS, **row})


def downgrade() -> None:
    _rewrite(lambda row: {k: v for k, v in row.items() if k not in NEW_KEYS})
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_column("related_links")
        batch_op.drop_column("newly_established")
        batch_op.drop_column("held_category")
        batch_op.drop_column("previous_balance_sheet")
        batch_op.drop_column("previous_turnover")
        batch_op.drop_column("previous_headcount")
        batch_op.drop_column("accounts_year")
