"""audit chain linked at commit: a surrogate id, the chain position in seq

Events used to take their chain position (``id``) and hash when written, under a lock held
until commit: one long transaction (a ranking) held every other writer. Now an event is
inserted with its own id and no link, and the transaction links its events in one step right
before commit (``seq``, ``prev_hash``, ``hash``). Existing events keep their hashes: their
chain position is their id.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 07:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Linking is the one change an event ever takes: an unlinked row gets its position and
# hashes once, nothing else moves; a linked row never changes and no row is deleted.
LINK_ONCE_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_events_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND OLD.hash IS NULL AND OLD.seq IS NULL AND OLD.prev_hash IS NULL
       AND NEW.hash IS NOT NULL AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL
       AND NEW.id = OLD.id
       AND NEW.occurred_at IS NOT DISTINCT FROM OLD.occurred_at
       AND NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id
       AND NEW.actor_name IS NOT DISTINCT FROM OLD.actor_name
       AND NEW.actor_role IS NOT DISTINCT FROM OLD.actor_role
       AND NEW.action IS NOT DISTINCT FROM OLD.action
       AND NEW.entity_type IS NOT DISTINCT FROM OLD.entity_type
       AND NEW.entity_id IS NOT DISTINCT FROM OLD.entity_id
       AND NEW.application_id IS NOT DISTINCT FROM OLD.application_id
       AND NEW.before::text IS NOT DISTINCT FROM OLD.before::text
       AND NEW.after::text IS NOT DISTINCT FROM OLD.after::text
       AND NEW.request_id IS NOT DISTINCT FROM OLD.request_id
       AND NEW.ip IS NOT DISTINCT FROM OLD.ip
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql
"""
REFUSE_ALL_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_events_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
    if postgres:
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
    op.execute("UPDATE audit_events SET seq = id")
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_audit_events_seq'), ['seq'])
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=True)
    if postgres:
        # The id is now the database's to give: no lock is needed to take one.
        op.execute("CREATE SEQUENCE audit_events_id_seq OWNED BY audit_events.id")
        op.execute(
            "SELECT setval('audit_events_id_seq', COALESCE((SELECT max(id) FROM audit_events), 0) + 1, false)"
        )
        op.execute("ALTER TABLE audit_events ALTER COLUMN id SET DEFAULT nextval('audit_events_id_seq')")
        op.execute(LINK_ONCE_FUNCTION)
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(REFUSE_ALL_FUNCTION)
        op.execute("ALTER TABLE audit_events ALTER COLUMN id DROP DEFAULT")
        op.execute("DROP SEQUENCE IF EXISTS audit_events_id_seq")
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_constraint(batch_op.f('uq_audit_events_seq'), type_='unique')
        batch_op.drop_column('seq')
