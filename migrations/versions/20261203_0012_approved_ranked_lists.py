"""approved ranked lists: each call batch's ranking as approved, with its document

Revision ID: 0012
Revises: 0013
Create Date: 2026-12-03 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import grants.db

revision: str = "0012"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ranked_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.Column("batch_closes_at", grants.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("approved_by_id", sa.Integer(), nullable=True),
        sa.Column("approved_by_name", sa.String(length=200), nullable=False),
        sa.Column("approved_at", grants.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("entries", grants.db.JSONType, nullable=False),
        sa.Column("list_sha256", sa.String(length=64), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("snapshot", grants.db.JSONType, nullable=False),
        sa.Column("audit_event_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("batch >= 1", name=op.f("ck_ranked_lists_batch_positive")),
        sa.ForeignKeyConstraint(
            ["approved_by_id"], ["users.id"], name=op.f("fk_ranked_lists_approved_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["audit_event_id"],
            ["audit_events.id"],
            name=op.f("fk_ranked_lists_audit_event_id_audit_events"),
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_ranked_lists_call_id_calls")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ranked_lists")),
        sa.UniqueConstraint(
            "call_id", "list_sha256", name=op.f("uq_ranked_lists_call_id_list_sha256")
        ),
        sa.UniqueConstraint("document_id", name=op.f("uq_ranked_lists_document_id")),
    )
    with op.batch_alter_table("ranked_lists", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ranked_lists_call_id"), ["call_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ranked_lists", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ranked_lists_call_id"))
    op.drop_table("ranked_lists")
