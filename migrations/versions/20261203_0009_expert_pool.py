"""expert pool: expertise keywords, expert profiles, each call's pool of experts

The officers keep a list of expertise keywords; each evaluator has one profile (country,
organisation and its e-mail domain, languages, a short bio, keywords), and a call's pool
records the experts invited to it and their answer (accepted with how many applications
they can take, or declined with a reason). New tables only; no existing row changes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import grants.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
POOL_STATUSES = "status IN ('invited', 'accepted', 'declined')"


def upgrade() -> None:
    op.create_table(
        "expertise_keywords",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", grants.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", grants.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expertise_keywords")),
        sa.UniqueConstraint("label", name=op.f("uq_expertise_keywords_label")),
    )
    op.create_table(
        "expert_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("organisation", sa.String(length=300), nullable=False),
        sa.Column("organisation_domain", sa.String(length=253), nullable=True),
        sa.Column("languages", JSON, nullable=False),
        sa.Column("bio", sa.Text(), nullable=False),
        sa.Column("created_at", grants.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", grants.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_expert_profiles_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expert_profiles")),
        sa.UniqueConstraint("user_id", name=op.f("uq_expert_profiles_user_id")),
    )
    op.create_table(
        "expert_profile_keywords",
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("keyword_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["keyword_id"],
            ["expertise_keywords.id"],
            name=op.f("fk_expert_profile_keywords_keyword_id_expertise_keywords"),
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["expert_profiles.id"],
            name=op.f("fk_expert_profile_keywords_profile_id_expert_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("profile_id", "keyword_id", name=op.f("pk_expert_profile_keywords")),
    )
    op.create_index(
        op.f("ix_expert_profile_keywords_keyword_id"), "expert_profile_keywords", ["keyword_id"]
    )
    op.create_table(
        "call_pool_memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("invited_at", grants.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("invited_by_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", grants.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("max_applications", sa.Integer(), nullable=True),
        sa.Column("availability_note", sa.Text(), nullable=False),
        sa.Column("decline_reason", sa.Text(), nullable=False),
        sa.CheckConstraint(POOL_STATUSES, name=op.f("ck_call_pool_memberships_status")),
        sa.CheckConstraint(
            "max_applications IS NULL OR max_applications > 0",
            name=op.f("ck_call_pool_memberships_max_applications_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_pool_memberships_call_id_calls")
        ),
        sa.ForeignKeyConstraint(
            ["invited_by_id"],
            ["users.id"],
            name=op.f("fk_call_pool_memberships_invited_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_call_pool_memberships_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_pool_memberships")),
        sa.UniqueConstraint(
            "call_id", "user_id", name=op.f("uq_call_pool_memberships_call_id_user_id")
        ),
    )
    op.create_index(
        op.f("ix_call_pool_memberships_user_id"), "call_pool_memberships", ["user_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_call_pool_memberships_user_id"), table_name="call_pool_memberships")
    op.drop_table("call_pool_memberships")
    op.drop_index(
        op.f("ix_expert_profile_keywords_keyword_id"), table_name="expert_profile_keywords"
    )
    op.drop_table("expert_profile_keywords")
    op.drop_table("expert_profiles")
    op.drop_table("expertise_keywords")
