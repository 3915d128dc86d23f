"""initial schema: calls, applications, evaluations, reports, payments, documents, audit trail

Revision ID: 0001
Revises:
Create Date: 2026-11-26 04:36:58.670429
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
import grants.db
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_FUNCTION = """
CREATE FUNCTION audit_events_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql
"""
APPEND_ONLY_TRIGGER = """
CREATE TRIGGER audit_events_append_only
BEFORE UPDATE OR DELETE ON audit_events
FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()
"""


def upgrade() -> None:

    op.create_table('calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('workflow_name', sa.String(length=40), nullable=False),
    sa.Column('workflow_version', sa.Integer(), nullable=False),
    sa.Column('budget', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('max_per_voucher', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('cumulative_cap', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('funding_rate', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('prefinancing_percent', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('opens_at', grants.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deadline', grants.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('timezone', sa.String(length=60), nullable=False),
    sa.Column('evaluators_per_application', sa.Integer(), nullable=False),
    sa.Column('criteria', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('threshold_total', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('eligible_countries', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('form', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('batch_ranking', sa.Boolean(), nullable=False),
    sa.Column('next_number', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', grants.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', grants.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('budget > 0', name=op.f('ck_calls_budget_positive')),
    sa.CheckConstraint('deadline > opens_at', name=op.f('ck_calls_deadline_after_opening')),
    sa.CheckConstraint('funding_rate > 0 AND funding_rate <= 100', name=op.f('ck_calls_funding_rate_range')),
    sa.CheckConstraint('max_per_voucher > 0', name=op.f('ck_calls_max_per_voucher_positive')),
    sa.CheckConstraint('prefinancing_percent >= 0 AND prefinancing_percent <= 100', name=op.f('ck_calls_prefinancing_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calls')),
    sa.UniqueConstraint('reference', name=op.f('uq_calls_reference'))
    )
    op.create_table('organisations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('legal_name', sa.String(length=300), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('registration_number', sa.String(length=60), nullable=False),
    sa.Column('address', sa.Text(), nullable=False),
    sa.Column('registered_on', sa.Date(), nullable=True),
    sa.Column('is_consortium_partner', sa.Boolean(), nullable=False),
    sa.Column('created_at', grants.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', grants.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisations')),
    sa.UniqueConstraint('country', 'registration_number', name=op.f('uq_organisations_country_registration_number'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', grants.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', grants.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('applicant', 'officer', 'evaluator', 'finance', 'auditor', 'admin')", name=op.f('ck_users_role')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_users_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_table('applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=60), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('requested_amount', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('answers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('declaration_signed', sa.Boolean(), nullable=False),
    sa.Column('submitted_at', grants.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('content_sha256', sa.String(length=64), nullable=True),
    sa.Column('eligibility', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('consensus', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('total_score', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('rank', sa.Integer(), nullable=True),
    sa.Column('awarded_amount', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('iban', sa.String(length=40), nullable=True),
    sa.Column('account_holder', sa.String(length=200), nullable=True),
    sa.Column('agreement_signed_at', grants.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closing_note', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', grants.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', grants.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('requested_amount IS NULL OR requested_amount > 0', name=op.f('ck_applications_requested_positive')),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_applications_call_id_calls')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_applications_created_by_id_users')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_applications_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_applications')),
    sa.UniqueConstraint('call_id', 'organisation_id', name=op.f('uq_applications_call_id_organisation_id')),
    sa.UniqueConstraint('reference', name=op.f('uq_applications_reference'))
    )
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_applications_status'), ['status'], unique=False)

    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('occurred_at', grants.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=200), nullable=False),
    sa.Column('actor_role', sa.String(length=20), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('entity_type', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.String(length=60), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=True),
    sa.Column('before', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('after', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_events_actor_id_users')),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_audit_events_application_id_applications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events')),
    sa.UniqueConstraint('hash', name=op.f('uq_audit_events_hash')),
    sa.UniqueConstraint('prev_hash', name=op.f('uq_audit_events_prev_hash'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_application_id'), ['application_id'], unique=False)

    op.create_table('evaluations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('evaluator_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('coi_declared_at', grants.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('coi_statement', sa.Text(), nullable=True),
    sa.Column('scores', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('total', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('submitted_at', grants.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', grants.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', grants.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_evaluations_application_id_applications')),
    sa.ForeignKeyConstraint(['evaluator_id'], ['users.id'], name=op.f('fk_evaluations_evaluator_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluations')),
    sa.UniqueConstraint('application_id', 'evaluator_id', name=op.f('uq_evaluations_application_id_evaluator_id'))
    )
    op.create_table('payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('instalment', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('payee_name', sa.String(length=300), nullable=False),
    sa.Column('iban', sa.String(length=40), nullable=False),
    sa.Column('prepared_by_id', sa.Integer(), nullable=False),
    sa.Column('prepared_at', grants.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('authorised_by_id', sa.Integer(), nullable=True),
    sa.Column('authorised_at', grants.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('paid_by_id', sa.Integer(), nullable=True),
    sa.Column('paid_at', grants.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('payment_reference', sa.String(length=60), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', grants.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', grants.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_payments_amount_not_negative')),
    sa.CheckConstraint('authorised_by_id IS NULL OR authorised_by_id <> prepared_by_id', name=op.f('ck_payments_four_eyes')),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_payments_application_id_applications')),
    sa.ForeignKeyConstraint(['authorised_by_id'], ['users.id'], name=op.f('fk_payments_authorised_by_id_users')),
    sa.ForeignKeyConstraint(['paid_by_id'], ['users.id'], name=op.f('fk_payments_paid_by_id_users')),
    sa.ForeignKeyConstraint(['prepared_by_id'], ['users.id'], name=op.f('fk_payments_prepared_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('application_id', 'instalment', name=op.f('uq_payments_application_id_instalment'))
    )
    op.create_table('reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('claimed_costs', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('subcontracted_costs', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('submitted_at', grants.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('approved_costs', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('review_comments', sa.Text(), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', grants.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', grants.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', grants.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('claimed_costs >= 0', name=op.f('ck_reports_claimed_not_negative')),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_reports_application_id_applications')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_reports_reviewed_by_id_users')),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_reports_submitted_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reports'))
    )
    op.create_table('documents',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('audit_event_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('snapshot', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('storage_key', sa.String(length=200), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', grants.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('rendered_at', grants.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_documents_application_id_applications')),
    sa.ForeignKeyConstraint(['audit_event_id'], ['audit_events.id'], name=op.f('fk_documents_audit_event_id_audit_events')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents'))
    )
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_documents_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_status'), ['status'], unique=False)

    # The audit trail is append-only: on PostgreSQL the database itself refuses changes.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_FUNCTION)
        op.execute(APPEND_ONLY_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_refuse_change()")

    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_documents_status'))
        batch_op.drop_index(batch_op.f('ix_documents_application_id'))

    op.drop_table('documents')
    op.drop_table('reports')
    op.drop_table('payments')
    op.drop_table('evaluations')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_application_id'))

    op.drop_table('audit_events')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_applications_status'))

    op.drop_table('applications')
    op.drop_table('users')
    op.drop_table('organisations')
    op.drop_table('calls')

