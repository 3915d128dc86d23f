"""The bank account a voucher is paid to, and its verification by finance.

Each entry or change is a row of its own: a change marks the previous row superseded (kept
for the trail) and starts unverified. Payments go only to the current, verified row.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.db import Base
from grants.models.applications import Application
from grants.models.base import Timestamped
from grants.models.people import User


class BankStatus(StrEnum):
    ENTERED = "entered"
    VERIFIED = "verified"
    REJECTED = "rejected"


class PayeeKind(StrEnum):
    """Whose account it is: the SME's own, or the service provider's, which a call paying the
    provider directly pays the balance to (entered by the SME, verified by finance alike)."""

    SME = "sme"
    PROVIDER = "provider"


class BankSource(StrEnum):
    """How the row came to be: given with the acceptance, changed afterwards, or carried
    over from the IBAN kept on the application before bank details were verified."""

    ACCEPTANCE = "acceptance"
    CHANGE = "change"
    MIGRATED = "migrated"


class BankAccount(Timestamped, Base):
    __tablename__ = "bank_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    payee: Mapped[str] = mapped_column(String(20), default=PayeeKind.SME, server_default="sme")
    iban: Mapped[str] = mapped_column(String(40))
    # None only for accounts carried over from before BICs were asked (not verifiable).
    bic: Mapped[str | None] = mapped_column(String(11))
    holder: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20), default=BankSource.ACCEPTANCE)
    # The previous row differed in IBAN, BIC or holder: flagged to finance.
    changed: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), default=BankStatus.ENTERED)
    # The bank's confirmation (a letter or a statement header), stored like attachments.
    confirmation_filename: Mapped[str | None] = mapped_column(String(255))
    confirmation_content_type: Mapped[str | None] = mapped_column(String(100))
    confirmation_size: Mapped[int | None]
    confirmation_sha256: Mapped[str | None] = mapped_column(String(64))
    confirmation_key: Mapped[str | None] = mapped_column(String(200))
    confirmation_scan: Mapped[str | None] = mapped_column(String(20))
    # None for rows carried over by the migration (nobody entered them in Cascade).
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entered_role: Mapped[str] = mapped_column(String(20), default="applicant")
    entered_at: Mapped[datetime]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    superseded_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)

    application: Mapped[Application] = relationship()
    entered_by: Mapped[User | None] = relationship(foreign_keys=[entered_by_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint(
            f"status IN ({', '.join(repr(str(s)) for s in BankStatus)})", name="status"
        ),
        CheckConstraint(f"payee IN ({', '.join(repr(str(p)) for p in PayeeKind)})", name="payee"),
        CheckConstraint(
            f"source IN ({', '.join(repr(str(s)) for s in BankSource)})", name="source"
        ),
        # Four-eyes: whoever entered the details never verifies (or rejects) them.
        CheckConstraint(
            "reviewed_by_id IS NULL OR entered_by_id IS NULL OR reviewed_by_id <> entered_by_id",
            name="four_eyes",
        ),
        # One current account per voucher and payee, even under two racing changes.
        Index(
            "uq_bank_accounts_current",
            "application_id",
            "payee",
            unique=True,
            sqlite_where=text("superseded_at IS NULL"),
            postgresql_where=text("superseded_at IS NULL"),
        ),
    )
