"""Redress requests against an application's eligibility or evaluation decision."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.db import Base
from grants.models.applications import Application
from grants.models.base import Timestamped
from grants.models.people import User
from workflows.redress import RedressKind, RedressState


class RedressRequest(Timestamped, Base):
    """One request for review; its status runs through ``workflows.redress.REDRESS_V1``."""

    __tablename__ = "redress_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=RedressState.REQUESTED)
    # The decision challenged (its instant), and until when it could be challenged: kept as
    # evidence that the request came in time.
    decision_at: Mapped[datetime]
    window_closes_at: Mapped[datetime]
    grounds: Mapped[str] = mapped_column(Text)
    filed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filed_at: Mapped[datetime]
    reasons: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)

    application: Mapped[Application] = relationship()
    filed_by: Mapped[User] = relationship(foreign_keys=[filed_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # One request per decision: a double click or a second tab files it once.
        UniqueConstraint("application_id", "decision_at"),
        CheckConstraint(f"kind IN ({', '.join(repr(str(k)) for k in RedressKind)})", name="kind"),
        CheckConstraint(
            f"status IN ({', '.join(repr(str(s)) for s in RedressState)})", name="status"
        ),
    )
