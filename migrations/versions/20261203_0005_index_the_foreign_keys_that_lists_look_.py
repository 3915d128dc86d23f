"""index the foreign keys that lists look up

An organisation's people (every notice), an applicant's applications, an evaluator's
assignments, an application's reports and mails, an event's documents: each was a scan of the
whole table, which grows with every call. Indexes only; no data changes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 09:33:15
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    ("ix_applications_organisation_id", "applications", "organisation_id"),
    ("ix_documents_audit_event_id", "documents", "audit_event_id"),
    ("ix_evaluations_evaluator_id", "evaluations", "evaluator_id"),
    ("ix_mail_outbox_application_id", "mail_outbox", "application_id"),
    ("ix_reports_application_id", "reports", "application_id"),
    ("ix_users_organisation_id", "users", "organisation_id"),
]


def upgrade() -> None:
    for name, table, column in INDEXES:
        op.create_index(name, table, [column])


def downgrade() -> None:
    for name, table, _column in reversed(INDEXES):
        op.drop_index(name, table_name=table)
