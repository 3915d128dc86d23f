"""redress requests: an applicant's request for the review of a decision, and its outcome

Each request names the decision it challenges (its instant) and until when it could be
challenged; an officer upholds or rejects it with reasons. One request per decision. New
table only; no existing row changes.

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-03 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import grants.db

revision: str = "0014"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    moment = grants.db.UTCDateTime(timezone=True)
    op.create_table(
        "redress_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decision_at", moment, nullable=False),
        sa.Column("window_closes_at", moment, nullable=False),
        sa.Column("grounds", sa.Text(), nullable=False),
        sa.Column("filed_by_id", sa.Integer(), nullable=False),
        sa.Column("filed_at", moment, nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", moment, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", moment, nullable=False),
        sa.Column("updated_at", moment, nullable=False),
        sa.CheckConstraint(
            "kind IN ('eligibility', 'evaluation')", name=op.f("ck_redress_requests_kind")
        ),
        sa.CheckConstraint(
            "status IN ('requested', 'upheld', 'rejected')",
            name=op.f("ck_redress_requests_status"),
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_redress_requests_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["filed_by_id"], ["users.id"], name=op.f("fk_redress_requests_filed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_redress_requests_decided_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redress_requests")),
        sa.UniqueConstraint(
            "application_id",
            "decision_at",
            name=op.f("uq_redress_requests_application_id_decision_at"),
        ),
    )
    op.create_index(
        op.f("ix_redress_requests_application_id"),
        "redress_requests",
        ["application_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_redress_requests_application_id"), table_name="redress_requests")
    op.drop_table("redress_requests")
