"""The auditor's trail page: one page of events, newest first, filtered by reference."""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from typing import IO

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from grants.models import Application, AuditEvent
from grants.services.audit import write_csv

PAGE_SIZE = 50
SPOOL_IN_MEMORY = 8 * 1024 * 1024


@dataclass(frozen=True)
class TrailPage:
    events: list[AuditEvent]
    references: dict[int, str]
    page: int
    pages: int
    total: int


def trail_page(session: Session, reference: str, page: int) -> TrailPage:
    query = select(AuditEvent)
    if reference:
        matching = select(Application.id).where(
            func.lower(Application.reference).startswith(reference.lower(), autoescape=True)
        )
        query = query.where(
            or_(AuditEvent.application_id.in_(matching), AuditEvent.entity_id == reference)
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(page, pages)
    events = list(
        session.scalars(
            query.order_by(AuditEvent.seq.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        )
    )
    rows = session.execute(
        select(Application.id, Application.reference).where(
            Application.id.in_({e.application_id for e in events if e.application_id})
        )
    )
    references = {row.id: row.reference for row in rows}
    return TrailPage(events, references, page, pages, total)


def spooled_csv(session: Session) -> IO[bytes]:
    """Write the export to a temporary file first: the database is read at its own pace, and
    a slow download then holds no transaction (on SQLite, that would block every writer)."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 (streamed)
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
    write_csv(session, text)
    text.flush()
    text.detach()
    spool.seek(0)
    return spool
