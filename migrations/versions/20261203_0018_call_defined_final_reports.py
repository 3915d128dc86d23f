"""call-defined final reports: report form versions, report drafts, report answers

A call's final report form is versioned like its application form (``report_forms``); a
call without one uses the default of its cost basis, saved as version 1 by the first report
draft. Each SME's report in progress is a ``report_drafts`` row; a submitted report keeps
its answers and form version (``reports.answers``, ``reports.form_id``; existing reports
keep ``{}`` and no version). Attachments say which form they answer (``form_kind``):
every existing one answers the application form.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import grants.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    moment = grants.db.UTCDateTime(timezone=True)
    op.create_table(
        "report_forms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("created_at", moment, nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_report_forms_call_id_calls")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_report_forms_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_forms")),
        sa.UniqueConstraint("call_id", "version", name=op.f("uq_report_forms_call_id_version")),
    )
    op.create_index(op.f("ix_report_forms_call_id"), "report_forms", ["call_id"])
    op.create_table(
        "report_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("answers", JSON, nullable=False),
        sa.Column("updated_at", moment, nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_report_drafts_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["form_id"], ["report_forms.id"], name=op.f("fk_report_drafts_form_id_report_forms")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_report_drafts_updated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_drafts")),
        sa.UniqueConstraint("application_id", name=op.f("uq_report_drafts_application_id")),
    )
    op.create_index(op.f("ix_report_drafts_form_id"), "report_drafts", ["form_id"])
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answers", JSON, server_default="{}", nullable=False))
        batch_op.add_column(sa.Column("form_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_reports_form_id_report_forms"), "report_forms", ["form_id"], ["id"]
        )
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "form_kind", sa.String(length=20), server_default="application", nullable=False
            )
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_attachments_form_kind"), "form_kind IN ('application', 'report')"
        )


def downgrade() -> None:
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_attachments_form_kind"), type_="check")
        batch_op.drop_column("form_kind")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_reports_form_id_report_forms"), type_="foreignkey")
        batch_op.drop_column("form_id")
        batch_op.drop_column("answers")
    op.drop_index(op.f("ix_report_drafts_form_id"), table_name="report_drafts")
    op.drop_table("report_drafts")
    op.drop_index(op.f("ix_report_forms_call_id"), table_name="report_forms")
    op.drop_table("report_forms")
