"""SEPA credit transfer batches: one exported file, and the instalments it pays."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.db import Base
from grants.models.base import Timestamped
from grants.models.payments import Payment
from grants.models.people import User
from workflows.sepa_batch import SepaBatchState


class SepaBatch(Timestamped, Base):
    """One pain.001.001.03 file: what it holds (count, control sum), where it is stored
    (storage key and sha256), and what became of it (exported, paid or cancelled)."""

    __tablename__ = "sepa_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    # "SEPA-2026-00007": the file's message id, which the bank's reports quote back.
    reference: Mapped[str] = mapped_column(String(35), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=SepaBatchState.EXPORTED)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    execution_date: Mapped[date]
    count: Mapped[int]
    control_sum: Mapped[Decimal]
    debtor_name: Mapped[str] = mapped_column(String(140))
    debtor_iban: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    storage_key: Mapped[str] = mapped_column(String(200))
    # Marked paid: the bank's reference for the whole batch and its value date.
    bank_reference: Mapped[str | None] = mapped_column(String(60))
    value_date: Mapped[date | None]
    paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    paid_at: Mapped[datetime | None]
    # Cancelled: who, when and why; its instalments are free for another file.
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)

    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    items: Mapped[list[SepaBatchItem]] = relationship(
        back_populates="batch", order_by="SepaBatchItem.position"
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("count > 0", name="count_positive"),
        CheckConstraint("control_sum > 0", name="control_sum_positive"),
        CheckConstraint("status IN ('exported', 'paid', 'cancelled')", name="status"),
    )


class SepaBatchItem(Base):
    """One instalment in a batch, as written into the file. ``live`` while its batch is
    exported or paid: a payment is in at most one live batch (a partial unique index), so
    it is never sent twice unless the file that held it was cancelled."""

    __tablename__ = "sepa_batch_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("sepa_batches.id"), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    position: Mapped[int]
    live: Mapped[bool] = mapped_column(default=True)
    end_to_end_id: Mapped[str] = mapped_column(String(35))
    payee_name: Mapped[str] = mapped_column(String(300))
    iban: Mapped[str] = mapped_column(String(40))
    amount: Mapped[Decimal]
    remittance: Mapped[str] = mapped_column(String(140))

    batch: Mapped[SepaBatch] = relationship(back_populates="items")
    payment: Mapped[Payment] = relationship()

    __table_args__ = (
        Index(
            "uq_sepa_batch_items_live_payment",
            "payment_id",
            unique=True,
            sqlite_where=text("live"),
            postgresql_where=text("live"),
        ),
        CheckConstraint("amount > 0", name="amount_positive"),
    )
