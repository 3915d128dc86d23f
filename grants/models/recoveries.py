"""Recovery orders: money an SME must pay back after its voucher was terminated."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.db import Base
from grants.models.applications import Application
from grants.models.base import Timestamped
from grants.models.people import User


class RecoveryStatus(StrEnum):
    OPEN = "open"
    REPAID = "repaid"


class RecoveryOrder(Timestamped, Base):
    """One order to repay ``amount``; repayments add up in ``repaid_amount``.

    ``repaid_amount`` is what came back to the call's budget (the ledger reads it); the
    order is ``repaid`` once it reaches ``amount``.
    """

    __tablename__ = "recovery_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The reference the SME quotes on its transfer, e.g. "CASC-2026-0007-REC-1".
    reference: Mapped[str] = mapped_column(String(60), unique=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    amount: Mapped[Decimal]
    due_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(20), default=RecoveryStatus.OPEN)
    reason: Mapped[str] = mapped_column(String(2000), default="")
    repaid_amount: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    # The last repayment received (date and the bank's reference); each one is audited.
    repaid_at: Mapped[date | None]
    repayment_reference: Mapped[str | None] = mapped_column(String(100))
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)

    application: Mapped[Application] = relationship()
    issued_by: Mapped[User] = relationship(foreign_keys=[issued_by_id])
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "repaid_amount >= 0 AND repaid_amount <= amount", name="repaid_within_amount"
        ),
        CheckConstraint(
            f"status IN ({', '.join(repr(str(s)) for s in RecoveryStatus)})", name="status"
        ),
    )

    @property
    def outstanding(self) -> Decimal:
        return self.amount - self.repaid_amount
