"""Applications, their evaluations and their reports."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.db import Base
from grants.models.base import Timestamped
from grants.models.calls import Call, CallForm
from grants.models.people import Organisation, User
from workflows.definition import WorkflowDefinition
from workflows.registry import get_workflow
from workflows.voucher import AppState

if TYPE_CHECKING:
    from grants.models.payments import Payment
    from grants.models.records import Attachment, Document


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
    # The organisation's profile as it was at submission: eligibility reads it, never the
    # live profile, so a later edit cannot change the evidence. None: submitted before.
    organisation_snapshot: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
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
    # The expert turned the assignment down (busy, outside their field): another takes it.
    DECLINED = "declined"
    # Set aside by an upheld evaluation redress: the application is evaluated again by others.
    SUPERSEDED = "superseded"


# Evaluations whose expert no longer works on the application.
STEPPED_ASIDE = frozenset(
    {EvaluationStatus.CONFLICT, EvaluationStatus.DECLINED, EvaluationStatus.SUPERSEDED}
)


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
    # When the scores are due (the call's evaluation days from the assignment); None for
    # evaluations assigned before deadlines were kept.
    due_at: Mapped[datetime | None]
    decline_reason: Mapped[str | None] = mapped_column(Text)
    # Why an officer reopened submitted scores (the last time); the trail keeps every one.
    reopen_reason: Mapped[str | None] = mapped_column(Text)

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
    # Every answer of the call-defined report form as submitted (files: attachment ids), and
    # the form version it answered (None: reports from before report forms were kept).
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    form_id: Mapped[int | None] = mapped_column(ForeignKey("report_forms.id"))

    application: Mapped[Application] = relationship(back_populates="reports")

    __table_args__ = (CheckConstraint("claimed_costs >= 0", name="claimed_not_negative"),)
