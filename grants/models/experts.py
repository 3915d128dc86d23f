"""Expert profiles, expertise keywords and calls' expert pools."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.db import Base, utcnow
from grants.models.base import Timestamped
from grants.models.calls import Call
from grants.models.people import User


class ExpertiseKeyword(Timestamped, Base):
    """A field of expertise experts tick on their profile; the programme officers keep the
    list, so that experts and applications are compared in the same words."""

    __tablename__ = "expertise_keywords"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(100), unique=True)
    # Deactivated rather than deleted: the profiles that carry it keep naming it.
    active: Mapped[bool] = mapped_column(default=True)


# The keywords of each expert's profile.
expert_profile_keywords = Table(
    "expert_profile_keywords",
    Base.metadata,
    Column("profile_id", ForeignKey("expert_profiles.id", ondelete="CASCADE"), primary_key=True),
    # Indexed: the officer's list of experts is filtered by keyword.
    Column("keyword_id", ForeignKey("expertise_keywords.id"), primary_key=True, index=True),
)


class ExpertProfile(Timestamped, Base):
    """What an evaluator tells about themselves: where they work and in which fields, the
    facts a conflict-of-interest check compares with an applicant's (DOMAIN.md: CoI)."""

    __tablename__ = "expert_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    country: Mapped[str] = mapped_column(String(2))
    organisation: Mapped[str] = mapped_column(String(300))
    # What follows the @ in the organisation's addresses; None for an independent expert.
    organisation_domain: Mapped[str | None] = mapped_column(String(253))
    # ISO 639-1 codes of the languages the expert can evaluate in, sorted.
    languages: Mapped[list[Any]] = mapped_column(default=list)
    bio: Mapped[str] = mapped_column(Text, default="")
    # The organisation's registration or VAT number, compared with applicants' (optional).
    organisation_number: Mapped[str] = mapped_column(String(40), default="", server_default="")
    # Organisations the expert declares a tie with (workflows.conflicts.Tie as JSON):
    # [{name, number, relation}], compared with each applicant.
    declared_ties: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")

    user: Mapped[User] = relationship()
    keywords: Mapped[list[ExpertiseKeyword]] = relationship(
        secondary=expert_profile_keywords, order_by=ExpertiseKeyword.label
    )


class PoolStatus(StrEnum):
    INVITED = "invited"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class CallPoolMembership(Base):
    """An expert invited to evaluate for one call, and their answer: only experts who
    accepted are offered when evaluators are assigned."""

    __tablename__ = "call_pool_memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"))
    # Indexed: an expert's own invitations are listed by it.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=PoolStatus.INVITED)
    invited_at: Mapped[datetime] = mapped_column(default=utcnow)
    # None when an operator invited from the command line.
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime | None]
    # How many applications the expert can take in this call (None: no limit given).
    max_applications: Mapped[int | None]
    availability_note: Mapped[str] = mapped_column(Text, default="")
    decline_reason: Mapped[str] = mapped_column(Text, default="")

    call: Mapped[Call] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id])

    __table_args__ = (
        # Invited once per call: inviting again changes nothing.
        UniqueConstraint("call_id", "user_id"),
        CheckConstraint(
            f"status IN ({', '.join(repr(str(s)) for s in PoolStatus)})", name="status"
        ),
        CheckConstraint(
            "max_applications IS NULL OR max_applications > 0", name="max_applications_positive"
        ),
    )
