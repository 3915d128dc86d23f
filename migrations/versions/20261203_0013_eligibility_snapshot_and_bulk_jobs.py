"""eligibility: the organisation's profile kept at submission, bulk eligibility jobs

Each application keeps the organisation's profile as it was when submitted
(``applications.organisation_snapshot``; NULL for applications submitted before, which
fall back to the live profile). ``eligibility_jobs`` holds an officer's request to record
eligibility for a selection of a call's applications, claimed and run by the worker.

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-03 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import grants.db

revision: str = "0013"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organisation_snapshot", JSON, nullable=True))
    op.create_table(
        "eligibility_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("active_call_id", sa.Integer(), nullable=True),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("started_by_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("application_ids", JSON, nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("eligible", sa.Integer(), nullable=False),
        sa.Column("ineligible", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("results", JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", grants.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", grants.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'done', 'failed')", name=op.f("ck_eligibility_jobs_status")
        ),
        sa.CheckConstraint("total >= 0", name=op.f("ck_eligibility_jobs_total_not_negative")),
        sa.ForeignKeyConstraint(
            ["active_call_id"],
            ["calls.id"],
            name=op.f("fk_eligibility_jobs_active_call_id_calls"),
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_eligibility_jobs_call_id_calls")
        ),
        sa.ForeignKeyConstraint(
            ["started_by_id"], ["users.id"], name=op.f("fk_eligibility_jobs_started_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eligibility_jobs")),
        sa.UniqueConstraint("active_call_id", name=op.f("uq_eligibility_jobs_active_call_id")),
        sa.UniqueConstraint("token", name=op.f("uq_eligibility_jobs_token")),
    )
    with op.batch_alter_table("eligibility_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_eligibility_jobs_call_id"), ["call_id"])
        batch_op.create_index(batch_op.f("ix_eligibility_jobs_started_by_id"), ["started_by_id"])
        batch_op.create_index(batch_op.f("ix_eligibility_jobs_status"), ["status"])


def downgrade() -> None:
    op.drop_table("eligibility_jobs")
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_column("organisation_snapshot")
