"""conflicts detected, assignment proposed, scores locked

Calls say whether experts must come from another country than the applicant's and how
many days experts have to score (existing calls: no such rule, 14 days). Expert profiles
carry their organisation's registration or VAT number and the organisations they declare a
tie with (none for existing profiles). Evaluations carry when their scores are due (none for
existing ones), why the expert declined and why an officer reopened the scores.

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-03 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import grants.db

revision: str = "0011"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "evaluators_from_other_countries",
                sa.Boolean(),
                server_default=sa.false(),
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("evaluation_days", sa.Integer(), server_default="14", nullable=False)
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_calls_evaluation_days_positive"), "evaluation_days > 0"
        )
    with op.batch_alter_table("expert_profiles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "organisation_number", sa.String(length=40), server_default="", nullable=False
            )
        )
        batch_op.add_column(sa.Column("declared_ties", JSON, server_default="[]", nullable=False))
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("due_at", grants.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("decline_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("reopen_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        for column in ("reopen_reason", "decline_reason", "due_at"):
            batch_op.drop_column(column)
    with op.batch_alter_table("expert_profiles", schema=None) as batch_op:
        batch_op.drop_column("declared_ties")
        batch_op.drop_column("organisation_number")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_calls_evaluation_days_positive"), type_="check")
        batch_op.drop_column("evaluation_days")
        batch_op.drop_column("evaluators_from_other_countries")
