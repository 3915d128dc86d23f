"""Call-defined final reports: the versions of a call's report form and each SME's draft."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.db import Base, utcnow
from grants.models.applications import Application


class ReportForm(Base):
    """One version of a call's final report form, kept for every report written on it.

    A call without a version uses the default form of its cost basis
    (``grants.services.report_forms.default_definition``); the first report draft saves that
    default as version 1, so every report points at the exact questions it answered.
    """

    __tablename__ = "report_forms"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    version: Mapped[int]
    definition: Mapped[list[Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # None: the default form, saved by the system when the first report draft needed it.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (UniqueConstraint("call_id", "version"),)


class ReportDraft(Base):
    """The final report an SME is writing (or revising after it was returned).

    Its answers are kept valid or not, as an application draft's are; a file field's answer
    is the id of an attachment of kind ``report``. Submitting copies the answers onto a
    ``reports`` row; the draft stays, so a returned report is revised from what was sent.
    """

    __tablename__ = "report_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), unique=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("report_forms.id"), index=True)
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    application: Mapped[Application] = relationship()
    form: Mapped[ReportForm] = relationship()

    __mapper_args__ = {"version_id_col": version}
