"""The database schema: typed SQLAlchemy 2 models."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.db import Base, utcnow
from workflows.call import CallState
from workflows.payment import PaymentState
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
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    country: Mapped[str | None] = mapped_column(String(2))
    active: Mapped[bool] = mapped_column(default=True)

    organisation: Mapped[Organisation | None] = relationship(back_populates="users")

    __table_args__ = (
        CheckConstraint(f"role IN ({', '.join(repr(str(r)) for r in Role)})", name="role"),
    )

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    @property
    def role_enum(self) -> Role:
        return Role(self.role)


class Organisation(Timestamped, Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(300))
    country: Mapped[str] = mapped_column(String(2))
    registration_number: Mapped[str] = mapped_column(String(60))
    address: Mapped[str] = mapped_column(Text, default="")
    registered_on: Mapped[date | None]
    is_consortium_partner: Mapped[bool] = mapped_column(default=False)

    users: Mapped[list[User]] = relationship(back_populates="organisation")

    __table_args__ = (UniqueConstraint("country", "registration_number"),)


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
    # A cut-off call ranks each batch of evaluated applications while it stays open
    # (DOMAIN.md: several cut-off dates per call); otherwise ranking waits for the deadline.
    batch_ranking: Mapped[bool] = mapped_column(default=False)
    next_number: Mapped[int] = mapped_column(default=1)
    version: Mapped[int] = mapped_column(Integer, default=1)

    applications: Mapped[list[Application]] = relationship(back_populates="call")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("budget > 0", name="budget_positive"),
        CheckConstraint("max_per_voucher > 0", name="max_per_voucher_positive"),
        CheckConstraint("funding_rate > 0 AND funding_rate <= 100", name="funding_rate_range"),
        CheckConstraint(
            "prefinancing_percent >= 0 AND prefinancing_percent <= 100", name="prefinancing_range"
        ),
        CheckConstraint("deadline > opens_at", name="deadline_after_opening"),
    )


class Application(Timestamped, Base):
    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(60), unique=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(30), default=AppState.DRAFT, index=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    requested_amount: Mapped[Decimal | None]
    answers: Mapped[dict[str, Any]]
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
    closing_note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)

    call: Mapped[Call] = relationship(back_populates="applications")
    organisation: Mapped[Organisation] = relationship()
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
    evaluator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
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
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
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
    audit_event_id: Mapped[int] = mapped_column(ForeignKey("audit_events.id"))
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

    ``id`` is the chain position, assigned by the writer as head + 1 (never autoincrement),
    so a removed row shows as a gap and two writers cannot both take the same place.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
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
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
