"""Calls for proposals and the versions of their application forms."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.db import Base, utcnow
from grants.models.base import Timestamped
from grants.models.people import ConsortiumPartner
from workflows.call import CallState

if TYPE_CHECKING:
    from grants.models.applications import Application


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
    # Experts must work in another country than the applicant's (a conflict otherwise).
    evaluators_from_other_countries: Mapped[bool] = mapped_column(
        default=False, server_default=false()
    )
    # Calendar days an expert has to submit scores, counted from the assignment.
    evaluation_days: Mapped[int] = mapped_column(default=14, server_default="14")
    # The voucher is paid once, to the service provider's verified account, when the SME
    # confirms delivery and the final report is approved (no pre-financing then).
    pay_provider_directly: Mapped[bool] = mapped_column(default=False, server_default=false())
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
        CheckConstraint("evaluation_days > 0", name="evaluation_days_positive"),
        CheckConstraint("cost_basis IN ('lump_sum', 'costs')", name="cost_basis"),
    )


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
