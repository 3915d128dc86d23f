"""step registry: offer and report deadlines, once-only mail keys, drop the unused closing note

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import grants.db

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offer_acceptance_days', sa.Integer(), nullable=False, server_default='14'))
        batch_op.add_column(sa.Column('report_window_days', sa.Integer(), nullable=False, server_default='30'))
        batch_op.create_check_constraint('offer_acceptance_days_positive', 'offer_acceptance_days > 0')
        batch_op.create_check_constraint('report_window_days_positive', 'report_window_days > 0')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offer_deadline', grants.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.drop_column('closing_note')
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dedupe_key', sa.String(length=120), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_mail_outbox_dedupe_key'), ['dedupe_key'])


def downgrade() -> None:
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_mail_outbox_dedupe_key'), type_='unique')
        batch_op.drop_column('dedupe_key')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closing_note', sa.Text(), nullable=True))
        batch_op.drop_column('offer_deadline')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_constraint('ck_calls_report_window_days_positive', type_='check')
        batch_op.drop_constraint('ck_calls_offer_acceptance_days_positive', type_='check')
        batch_op.drop_column('report_window_days')
        batch_op.drop_column('offer_acceptance_days')
