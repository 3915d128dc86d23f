"""What the system keeps as evidence: documents, the audit trail, attachments, mail."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.db import Base, utcnow
from grants.models.applications import Application


class DocumentStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


def _new_uuid() -> str:
    return str(uuid.uuid4())


class Document(Base):
    """A PDF produced by a step; its row is the outbox job until it is rendered."""

    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_new_uuid)
    kind: Mapped[str] = mapped_column(String(40))
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    audit_event_id: Mapped[int] = mapped_column(ForeignKey("audit_events.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=DocumentStatus.PENDING, index=True)
    snapshot: Mapped[dict[str, Any]]
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None]
    storage_key: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rendered_at: Mapped[datetime | None]

    application: Mapped[Application] = relationship(back_populates="documents")


class AuditEvent(Base):
    """Append-only, hash-chained record of every audited change.

    An event is inserted unlinked (``seq``, ``prev_hash`` and ``hash`` empty) and linked in
    one step right before its transaction commits: ``seq`` is the chain position, head + 1,
    so a removed row shows as a gap, and the unique ``seq`` and ``prev_hash`` keep two
    writers from taking the same place. ``id`` is only the row's name (documents point at
    it); for events written before linking at commit, it equals ``seq``.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int | None] = mapped_column(unique=True)
    occurred_at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(60))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(60))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), index=True)
    before: Mapped[dict[str, Any]]
    after: Mapped[dict[str, Any]]
    request_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    hash: Mapped[str | None] = mapped_column(String(64), unique=True)


class Attachment(Base):
    """A file answering a form's file field; replaced ones are kept, marked superseded."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    field_name: Mapped[str] = mapped_column(String(63))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    # clean / infected / unscanned: the virus-scan hook's verdict
    scan_status: Mapped[str] = mapped_column(String(20), default="unscanned")
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    superseded_at: Mapped[datetime | None]
    # Which form the file answers: "application" (the call's application form) or "report"
    # (the final report form); a field name is only unique within its form.
    form_kind: Mapped[str] = mapped_column(
        String(20), default="application", server_default="application"
    )

    application: Mapped[Application] = relationship(back_populates="attachments")

    __table_args__ = (
        CheckConstraint("size >= 0", name="size_not_negative"),
        CheckConstraint("form_kind IN ('application', 'report')", name="form_kind"),
    )


class MailMessage(Base):
    """Outgoing e-mail: sent through SMTP when configured, otherwise kept for the admin."""

    __tablename__ = "mail_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    # Kind of message (confirm_email, reset_password, submission_receipt, ...), for filtering.
    purpose: Mapped[str] = mapped_column(String(40))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), index=True)
    document_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # A message that must go out once (a step's notice, a reminder) carries a key; the
    # unique constraint refuses a second copy even from two racing processes.
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)


# -- the expert pool -------------------------------------------------------------------------
