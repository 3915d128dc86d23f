"""applicant journey: accounts, organisation profile, form versions, attachments, mail outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 05:10:20.684490
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
import grants.db
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('call_forms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('definition', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', grants.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_call_forms_call_id_calls')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_call_forms_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_forms')),
    sa.UniqueConstraint('call_id', 'version', name=op.f('uq_call_forms_call_id_version'))
    )
    op.create_table('attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('field_name', sa.String(length=63), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=200), nullable=False),
    sa.Column('scan_status', sa.String(length=20), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', grants.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('superseded_at', grants.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('size >= 0', name=op.f('ck_attachments_size_not_negative')),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_attachments_application_id_applications')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_attachments_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attachments'))
    )
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attachments_application_id'), ['application_id'], unique=False)

    op.create_table('mail_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('to_address', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('purpose', sa.String(length=40), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=True),
    sa.Column('document_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', grants.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', grants.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_mail_outbox_application_id_applications')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_mail_outbox_document_id_documents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_outbox'))
    )
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_outbox_to_address'), ['to_address'], unique=False)

    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('form_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('submission_token', sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_applications_form_id_call_forms'), 'call_forms', ['form_id'], ['id'])

    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('form_version', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('eligible_applicants', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('applicant_guide', sa.Text(), nullable=False, server_default=''))

    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('vat_number', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('contact_name', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('contact_email', sa.String(length=254), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('contact_phone', sa.String(length=40), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('headcount', sa.Numeric(precision=12, scale=2), nullable=True))
        batch_op.add_column(sa.Column('turnover', sa.Numeric(precision=15, scale=2), nullable=True))
        batch_op.add_column(sa.Column('balance_sheet', sa.Numeric(precision=15, scale=2), nullable=True))
        batch_op.add_column(sa.Column('enterprise_type', sa.String(length=20), nullable=False, server_default='autonomous'))
        batch_op.add_column(sa.Column('related_enterprises', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('de_minimis_aid', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('sme_category', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('sme_explanation', sa.Text(), nullable=True))
        batch_op.drop_constraint(batch_op.f('uq_organisations_country_registration_number'), type_='unique')
        batch_op.create_index('ix_organisations_country_registration', ['country', 'registration_number'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_confirmed_at', grants.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('session_version', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('is_org_manager', sa.Boolean(), nullable=False, server_default=sa.false()))

    # Accounts made before e-mail confirmation existed were created by an administrator.
    op.execute("UPDATE users SET email_confirmed_at = created_at")
    # Every existing call's form becomes its version 1, pinned by its applications.
    op.execute(
        "INSERT INTO call_forms (call_id, version, definition, created_at) "
        "SELECT id, 1, form, created_at FROM calls"
    )
    op.execute(
        "UPDATE applications SET form_id = "
        "(SELECT call_forms.id FROM call_forms WHERE call_forms.call_id = applications.call_id)"
    )



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('is_org_manager')
        batch_op.drop_column('session_version')
        batch_op.drop_column('email_confirmed_at')

    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_index('ix_organisations_country_registration')
        batch_op.create_unique_constraint(batch_op.f('uq_organisations_country_registration_number'), ['country', 'registration_number'])
        batch_op.drop_column('sme_explanation')
        batch_op.drop_column('sme_category')
        batch_op.drop_column('de_minimis_aid')
        batch_op.drop_column('related_enterprises')
        batch_op.drop_column('enterprise_type')
        batch_op.drop_column('balance_sheet')
        batch_op.drop_column('turnover')
        batch_op.drop_column('headcount')
        batch_op.drop_column('contact_phone')
        batch_op.drop_column('contact_email')
        batch_op.drop_column('contact_name')
        batch_op.drop_column('vat_number')

    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_column('applicant_guide')
        batch_op.drop_column('eligible_applicants')
        batch_op.drop_column('form_version')

    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_applications_form_id_call_forms'), type_='foreignkey')
        batch_op.drop_column('submission_token')
        batch_op.drop_column('form_id')

    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_outbox_to_address'))

    op.drop_table('mail_outbox')
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachments_application_id'))

    op.drop_table('attachments')
    op.drop_table('call_forms')
