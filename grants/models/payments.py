"""Payment instalments of a voucher."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.db import Base
from grants.models.applications import Application
from grants.models.base import Timestamped
from workflows.payment import PaymentState


class Instalment(StrEnum):
    PREFINANCING = "prefinancing"
    BALANCE = "balance"


LIVE_STATUSES = text("status IN ('prepared', 'authorised', 'paid')")


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
    # The day the bank credited the payee (recorded when a SEPA batch is marked paid).
    value_date: Mapped[date | None]
    version: Mapped[int] = mapped_column(Integer, default=1)

    application: Mapped[Application] = relationship(back_populates="payments")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # One live order of each instalment per voucher: a payment is released at most once.
        # A cancelled or withheld order stays on record and a new one may be prepared.
        Index(
            "uq_payments_live_instalment",
            "application_id",
            "instalment",
            unique=True,
            sqlite_where=LIVE_STATUSES,
            postgresql_where=LIVE_STATUSES,
        ),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        # Four-eyes, held by the database too.
        CheckConstraint(
            "authorised_by_id IS NULL OR authorised_by_id <> prepared_by_id", name="four_eyes"
        ),
    )
