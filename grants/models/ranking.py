"""Approved ranked lists: what an officer approved for a call's batch, kept as evidence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.db import Base, utcnow
from grants.models.calls import Call


class RankedList(Base):
    """One approved ranking of a call's batch: the list as approved, who approved it and
    when, its hash (also in the approval's audit event) and the ranked list document's
    snapshot, from which its PDF is rendered the same way every time.

    A batch normally has one list; an application of an approved batch that comes back
    later (redress) is ranked in a further list of that batch, against the budget left.
    The same list (same hash) cannot be approved twice for a call.
    """

    __tablename__ = "ranked_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    batch: Mapped[int]
    batch_closes_at: Mapped[datetime]
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by_name: Mapped[str] = mapped_column(String(200))
    approved_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The placements in rank order (application, reference, outcome, rank, reserve slot,
    # scores, amount) and the budget figures at approval.
    entries: Mapped[list[Any]]
    list_sha256: Mapped[str] = mapped_column(String(64))
    document_id: Mapped[str] = mapped_column(String(36), unique=True)
    snapshot: Mapped[dict[str, Any]]
    audit_event_id: Mapped[int] = mapped_column(ForeignKey("audit_events.id"))

    call: Mapped[Call] = relationship()

    __table_args__ = (
        UniqueConstraint("call_id", "list_sha256"),
        CheckConstraint("batch >= 1", name="batch_positive"),
    )
