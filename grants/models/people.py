"""People and organisations: accounts, their roles, applicant organisations, consortium partners."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
)
from sqlalchemy import event as orm_events
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from grants.db import Base, utcnow
from grants.models.base import Timestamped
from workflows.roles import Role


class User(UserMixin, Timestamped, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    country: Mapped[str | None] = mapped_column(String(2))
    active: Mapped[bool] = mapped_column(default=True)
    email_confirmed_at: Mapped[datetime | None]
    # Part of the login session's identity: raising it logs the user out everywhere.
    session_version: Mapped[int] = mapped_column(default=1)
    # The organisation's manager invites colleagues and keeps the profile.
    is_org_manager: Mapped[bool] = mapped_column(default=False)

    organisation: Mapped[Organisation | None] = relationship(back_populates="users")
    # Every role the person holds; ``role`` above is the one they act in now (one of these).
    role_grants: Mapped[list[RoleGrant]] = relationship(
        foreign_keys="RoleGrant.user_id", cascade="all, delete-orphan", back_populates="user"
    )

    __table_args__ = (
        CheckConstraint(f"role IN ({', '.join(repr(str(r)) for r in Role)})", name="role"),
    )

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(Role(grant.role) for grant in self.role_grants)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


class RoleGrant(Base):
    """One role a person holds, who gave it and when (the audit trail has each change)."""

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id], back_populates="role_grants")

    __table_args__ = (
        CheckConstraint(f"role IN ({', '.join(repr(str(r)) for r in Role)})", name="role"),
    )


@orm_events.listens_for(Session, "before_flush")
def _hold_the_acting_role(session: Session, _context: Any, _instances: Any) -> None:
    # Whoever creates an account (registration, the demo, a test) gives it one role; the
    # person then holds that role, so ``roles`` never misses the one they act in.
    for obj in session.new:
        if isinstance(obj, User) and not obj.role_grants:
            obj.role_grants.append(RoleGrant(role=str(obj.role)))


class Organisation(Timestamped, Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(300))
    country: Mapped[str] = mapped_column(String(2))
    registration_number: Mapped[str] = mapped_column(String(60))
    address: Mapped[str] = mapped_column(Text, default="")
    registered_on: Mapped[date | None]
    is_consortium_partner: Mapped[bool] = mapped_column(default=False)
    vat_number: Mapped[str | None] = mapped_column(String(40))
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    headcount: Mapped[Decimal | None]
    turnover: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    balance_sheet: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    # autonomous / partner / linked (Recommendation 2003/361/EC, Annex art. 3)
    enterprise_type: Mapped[str] = mapped_column(String(20), default="autonomous")
    # The year of the latest closed accounts the figures above come from (None: not said).
    accounts_year: Mapped[int | None]
    # The same figures for the year before: a category changes only after two years (art. 4(2)).
    previous_headcount: Mapped[Decimal | None]
    previous_turnover: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    previous_balance_sheet: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    # The category the enterprise held until now (None: the year before's is taken).
    held_category: Mapped[str | None] = mapped_column(String(10))
    # No closed year yet: the figures are a good-faith estimate for the current year.
    newly_established: Mapped[bool] = mapped_column(default=False)
    # [{name, holder_type, direction: holds_us|held_by_us, relation: partner|linked,
    #   share_percent, headcount, turnover, balance_sheet, invested}] (workflows.sme_status)
    related_enterprises: Mapped[list[Any]] = mapped_column(default=list)
    # [{of, name, headcount, turnover, balance_sheet}]: enterprises linked to a related one
    related_links: Mapped[list[Any]] = mapped_column(default=list)
    # [{granting_authority, amount, granted_on}] over the last three fiscal years
    de_minimis_aid: Mapped[list[Any]] = mapped_column(default=list)
    sme_category: Mapped[str | None] = mapped_column(String(10))
    sme_explanation: Mapped[str | None] = mapped_column(Text)

    users: Mapped[list[User]] = relationship(back_populates="organisation")

    # Not unique: a second account registering the same company must not be blocked from
    # applying by a typo or an impostor; officers see such duplicates flagged instead.
    __table_args__ = (
        Index("ix_organisations_country_registration", "country", "registration_number"),
    )


class ConsortiumPartner(Timestamped, Base):
    """A member of the consortium that runs the calls: its organisation may not apply to them
    (DOMAIN.md: not a consortium partner), and its staff may work on a call."""

    __tablename__ = "consortium_partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    short_name: Mapped[str] = mapped_column(String(40), unique=True)
    country: Mapped[str] = mapped_column(String(2))
    # Compact, as its country's scheme writes it; empty when the partner has none to give.
    registration_number: Mapped[str] = mapped_column(String(60), default="")
    vat_number: Mapped[str | None] = mapped_column(String(40))
    # The partner staff's e-mail domain, to spot evaluators who work for a partner.
    email_domain: Mapped[str | None] = mapped_column(String(253))
    # Deactivated rather than deleted: calls and eligibility decisions keep naming it.
    active: Mapped[bool] = mapped_column(default=True)


# The partners whose staff work on a call (the managing partner is always one of them).
