"""The database schema: typed SQLAlchemy 2 models."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy import event as orm_events
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from grants.db import Base, utcnow
from workflows.call import CallState
from workflows.definition import WorkflowDefinition
from workflows.payment import PaymentState
from workflows.registry import get_workflow
from workflows.roles import Role
from workflows.voucher import AppState


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


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
    # [{name, relation: partner|linked, share_percent, headcount, turnover, balance_sheet}]
    related_enterprises: Mapped[list[Any]] = mapped_column(default=list)
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
call_partners = Table(
    "call_partners",
    Base.metadata,
    Column("call_id", ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True),
    Column("partner_id", ForeignKey("consortium_partners.id"), primary_key=True),
)


class Call(Timestamped, Base):
    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(30), default=CallState.DRAFT)
    workflow_name: Mapped[str] = mapped_column(String(40))
    workflow_version: Mapped[int]
    budget: Mapped[Decimal]
    max_per_voucher: Mapped[Decimal]
    cumulative_cap: Mapped[Decimal] = mapped_column(default=Decimal("60000.00"))
    funding_rate: Mapped[Decimal] = mapped_column(default=Decimal("100.00"))
    prefinancing_percent: Mapped[Decimal] = mapped_column(default=Decimal("50.00"))
    opens_at: Mapped[datetime]
    deadline: Mapped[datetime]
    timezone: Mapped[str] = mapped_column(String(60), default="Europe/Brussels")
    evaluators_per_application: Mapped[int] = mapped_column(default=2)
    criteria: Mapped[list[Any]]
    threshold_total: Mapped[Decimal] = mapped_column(default=Decimal("10.00"))
    eligible_countries: Mapped[list[Any]]
    form: Mapped[list[Any]]
    # The version of ``form`` (a call_forms row); new drafts pin it, later edits add one.
    form_version: Mapped[int] = mapped_column(default=1)
    eligible_applicants: Mapped[str] = mapped_column(Text, default="")
    applicant_guide: Mapped[str] = mapped_column(Text, default="")
    # A cut-off call ranks each batch of evaluated applications while it stays open
    # (DOMAIN.md: several cut-off dates per call); otherwise ranking waits for the deadline.
    batch_ranking: Mapped[bool] = mapped_column(default=False)
    # Days an applicant has to accept an offer, and to report after the planned end date.
    offer_acceptance_days: Mapped[int] = mapped_column(default=14, server_default="14")
    report_window_days: Mapped[int] = mapped_column(default=30, server_default="30")
    next_number: Mapped[int] = mapped_column(default=1)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # What the voucher is for (workflows.call_rules.VoucherType); how it is paid: a lump sum
    # or eligible costs at the funding rate (CostBasis).
    voucher_type: Mapped[str] = mapped_column(
        String(30), default="upskilling", server_default="upskilling"
    )
    cost_basis: Mapped[str] = mapped_column(String(20), default="costs", server_default="costs")
    # Announced from this instant (None: when an officer publishes it).
    publish_at: Mapped[datetime | None]
    # A cut-off call's batch dates before the deadline, as ISO instants (UTC).
    cutoffs: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    # Held back from this call for a later one: ranking funds budget - reserve.
    reserve: Mapped[Decimal] = mapped_column(default=Decimal("0.00"), server_default="0")
    # The optional eligibility checks and their parameters (call_rules.EligibilityRules).
    eligibility_rules: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    # Experts' scores this far apart on a criterion are flagged for the moderator.
    divergence_limit: Mapped[Decimal] = mapped_column(default=Decimal("2.00"), server_default="2")
    # Calendar days an ineligible or rejected applicant has to ask for redress.
    redress_days: Mapped[int] = mapped_column(default=5, server_default="5")
    # The partner accountable for the call; calls made before partners were kept have none.
    managing_partner_id: Mapped[int | None] = mapped_column(ForeignKey("consortium_partners.id"))

    applications: Mapped[list[Application]] = relationship(back_populates="call")
    managing_partner: Mapped[ConsortiumPartner | None] = relationship()
    partners: Mapped[list[ConsortiumPartner]] = relationship(
        secondary=call_partners, order_by=ConsortiumPartner.short_name
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("budget > 0", name="budget_positive"),
        CheckConstraint("max_per_voucher > 0", name="max_per_voucher_positive"),
        CheckConstraint("funding_rate > 0 AND funding_rate <= 100", name="funding_rate_range"),
        CheckConstraint(
            "prefinancing_percent >= 0 AND prefinancing_percent <= 100", name="prefinancing_range"
        ),
        CheckConstraint("deadline > opens_at", name="deadline_after_opening"),
        CheckConstraint("offer_acceptance_days > 0", name="offer_acceptance_days_positive"),
        CheckConstraint("report_window_days > 0", name="report_window_days_positive"),
        CheckConstraint("reserve >= 0 AND reserve < budget", name="reserve_within_budget"),
        CheckConstraint("divergence_limit > 0", name="divergence_limit_positive"),
        CheckConstraint("redress_days > 0", name="redress_days_positive"),
        CheckConstraint("cost_basis IN ('lump_sum', 'costs')", name="cost_basis"),
    )


class Application(Timestamped, Base):
    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(60), unique=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(30), default=AppState.DRAFT, index=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    requested_amount: Mapped[Decimal | None]
    answers: Mapped[dict[str, Any]]
    # The form version this application was started on: later form changes never alter it.
    form_id: Mapped[int | None] = mapped_column(ForeignKey("call_forms.id"))
    # Set by the submit request: a retried or double-clicked submit is recognised as the same.
    submission_token: Mapped[str | None] = mapped_column(String(64))
    declaration_signed: Mapped[bool] = mapped_column(default=False)
    submitted_at: Mapped[datetime | None]
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    eligibility: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    consensus: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    total_score: Mapped[Decimal | None]
    rank: Mapped[int | None]
    awarded_amount: Mapped[Decimal | None]
    iban: Mapped[str | None] = mapped_column(String(40))
    account_holder: Mapped[str | None] = mapped_column(String(200))
    agreement_signed_at: Mapped[datetime | None]
    # Set by the offer: the applicant accepts or declines by then (reminders count from it).
    offer_deadline: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)

    call: Mapped[Call] = relationship(back_populates="applications")
    organisation: Mapped[Organisation] = relationship()
    form: Mapped[CallForm | None] = relationship()
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="application", order_by="Attachment.id"
    )
    evaluations: Mapped[list[Evaluation]] = relationship(
        back_populates="application", order_by="Evaluation.id"
    )
    reports: Mapped[list[Report]] = relationship(back_populates="application", order_by="Report.id")
    payments: Mapped[list[Payment]] = relationship(
        back_populates="application", order_by="Payment.id"
    )
    documents: Mapped[list[Document]] = relationship(
        back_populates="application", order_by="Document.created_at"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def workflow(self) -> WorkflowDefinition:
        # The call pins the version it opened with, so a newer workflow never changes it.
        return get_workflow(self.call.workflow_name, self.call.workflow_version)

    # One application per SME per call (DOMAIN.md: other eligibility).
    __table_args__ = (
        UniqueConstraint("call_id", "organisation_id"),
        CheckConstraint(
            "requested_amount IS NULL OR requested_amount > 0", name="requested_positive"
        ),
    )


class EvaluationStatus(StrEnum):
    ASSIGNED = "assigned"
    CONFLICT = "conflict"
    ACCEPTED = "accepted"
    SUBMITTED = "submitted"


class Evaluation(Timestamped, Base):
    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    evaluator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=EvaluationStatus.ASSIGNED)
    coi_declared_at: Mapped[datetime | None]
    coi_statement: Mapped[str | None] = mapped_column(Text)
    scores: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    total: Mapped[Decimal | None]
    submitted_at: Mapped[datetime | None]

    application: Mapped[Application] = relationship(back_populates="evaluations")
    evaluator: Mapped[User] = relationship()

    __table_args__ = (UniqueConstraint("application_id", "evaluator_id"),)


class Report(Timestamped, Base):
    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    summary: Mapped[str] = mapped_column(Text)
    claimed_costs: Mapped[Decimal]
    subcontracted_costs: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    submitted_at: Mapped[datetime]
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(String(20))
    approved_costs: Mapped[Decimal | None]
    review_comments: Mapped[str | None] = mapped_column(Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]

    application: Mapped[Application] = relationship(back_populates="reports")

    __table_args__ = (CheckConstraint("claimed_costs >= 0", name="claimed_not_negative"),)


class Instalment(StrEnum):
    PREFINANCING = "prefinancing"
    BALANCE = "balance"


class Payment(Timestamped, Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    instalment: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=PaymentState.PREPARED)
    amount: Mapped[Decimal]
    payee_name: Mapped[str] = mapped_column(String(300))
    iban: Mapped[str] = mapped_column(String(40))
    prepared_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    prepared_at: Mapped[datetime]
    authorised_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    authorised_at: Mapped[datetime | None]
    paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    paid_at: Mapped[datetime | None]
    payment_reference: Mapped[str | None] = mapped_column(String(60))
    version: Mapped[int] = mapped_column(Integer, default=1)

    application: Mapped[Application] = relationship(back_populates="payments")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # One instalment of each kind per voucher: a payment is released at most once.
        UniqueConstraint("application_id", "instalment"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        # Four-eyes, held by the database too.
        CheckConstraint(
            "authorised_by_id IS NULL OR authorised_by_id <> prepared_by_id", name="four_eyes"
        ),
    )


class DocumentStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


def _new_uuid() -> str:
    return str(uuid.uuid4())


class Document(Base):
    """A PDF produced by a step; its row is the outbox job until it is rendered."""

    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_new_uuid)
    kind: Mapped[str] = mapped_column(String(40))
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    audit_event_id: Mapped[int] = mapped_column(ForeignKey("audit_events.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=DocumentStatus.PENDING, index=True)
    snapshot: Mapped[dict[str, Any]]
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None]
    storage_key: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rendered_at: Mapped[datetime | None]

    application: Mapped[Application] = relationship(back_populates="documents")


class AuditEvent(Base):
    """Append-only, hash-chained record of every audited change.

    An event is inserted unlinked (``seq``, ``prev_hash`` and ``hash`` empty) and linked in
    one step right before its transaction commits: ``seq`` is the chain position, head + 1,
    so a removed row shows as a gap, and the unique ``seq`` and ``prev_hash`` keep two
    writers from taking the same place. ``id`` is only the row's name (documents point at
    it); for events written before linking at commit, it equals ``seq``.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int | None] = mapped_column(unique=True)
    occurred_at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(60))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(60))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), index=True)
    before: Mapped[dict[str, Any]]
    after: Mapped[dict[str, Any]]
    request_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    hash: Mapped[str | None] = mapped_column(String(64), unique=True)


class CallForm(Base):
    """One version of a call's application form, kept for every application started on it."""

    __tablename__ = "call_forms"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"))
    version: Mapped[int]
    definition: Mapped[list[Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (UniqueConstraint("call_id", "version"),)


class Attachment(Base):
    """A file answering a form's file field; replaced ones are kept, marked superseded."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    field_name: Mapped[str] = mapped_column(String(63))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    # clean / infected / unscanned: the virus-scan hook's verdict
    scan_status: Mapped[str] = mapped_column(String(20), default="unscanned")
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    superseded_at: Mapped[datetime | None]

    application: Mapped[Application] = relationship(back_populates="attachments")

    __table_args__ = (CheckConstraint("size >= 0", name="size_not_negative"),)


class MailMessage(Base):
    """Outgoing e-mail: sent through SMTP when configured, otherwise kept for the admin."""

    __tablename__ = "mail_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    # Kind of message (confirm_email, reset_password, submission_receipt, ...), for filtering.
    purpose: Mapped[str] = mapped_column(String(40))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), index=True)
    document_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # A message that must go out once (a step's notice, a reminder) carries a key; the
    # unique constraint refuses a second copy even from two racing processes.
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)


# -- the expert pool -------------------------------------------------------------------------
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
