"""Eligibility recorded for many applications of a call at once, by the worker."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.db import Base, utcnow
from grants.models.calls import Call
from grants.models.people import User


class JobStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class EligibilityJob(Base):
    """One officer's request to record eligibility for a selection of a call's applications.

    The row is the job: the worker claims a pending one and decides its whole selection in
    the transaction that marks it done, so a crash leaves it pending and nothing decided.
    ``active_call_id`` holds the call while the job waits: being unique, it lets one job at a
    time wait per call, even from two racing requests; ``token`` is the start form's, so a
    double click finds the job it started.
    """

    __tablename__ = "eligibility_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    active_call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), unique=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.PENDING, index=True)
    application_ids: Mapped[list[Any]]
    # The officer's evidence for the manual "no double funding" check, the same for all.
    evidence: Mapped[str] = mapped_column(Text)
    total: Mapped[int]
    eligible: Mapped[int] = mapped_column(default=0)
    ineligible: Mapped[int] = mapped_column(default=0)
    # Selected applications decided or withdrawn by someone else before the job ran.
    skipped: Mapped[int] = mapped_column(default=0)
    # One row per application: id, reference, outcome, the letter's document id.
    results: Mapped[list[Any]] = mapped_column(default=list)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    call: Mapped[Call] = relationship(foreign_keys=[call_id])
    started_by: Mapped[User] = relationship()

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'done', 'failed')", name="status"),
        CheckConstraint("total >= 0", name="total_not_negative"),
    )
