"""Document jobs: written in the step's transaction, rendered after commit.

The ``documents`` row is the outbox: it is created pending, in the same transaction as the
state change and its audit event, with the snapshot to render. ``drain`` renders pending
rows outside any transaction and marks them ready; a rolled-back step leaves no job, a
crash mid-render leaves the job pending, and rendering again is harmless.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from documents.kinds import TITLES, DocumentKind
from documents.render import render_pdf
from documents.storage import DocumentStorage, sha256_hex
from grants.db import utcnow
from grants.models import Application, AuditEvent, Document, DocumentStatus
from grants.services.snapshots import build_snapshot

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


def enqueue(
    session: Session,
    *,
    application: Application,
    event: AuditEvent,
    kind: str,
    step: str,
    details: dict[str, Any],
) -> Document:
    doc_kind = DocumentKind(kind)
    document_id = str(uuid.uuid4())  # the snapshot carries it, so it is known before insert
    document = Document(
        id=document_id,
        kind=str(doc_kind),
        application_id=application.id,
        audit_event_id=event.id,
    )
    document.snapshot = build_snapshot(
        document_id=document_id,
        kind=str(doc_kind),
        title=TITLES[doc_kind],
        application=application,
        event=event,
        step=step,
        details=details,
    )
    session.add(document)
    session.flush()
    return document


def storage_key(document: Document) -> str:
    return f"{document.id[:2]}/{document.id}.pdf"


@dataclass(frozen=True)
class DrainResult:
    rendered: int
    failed: int


def _claim(session: Session, skip: set[str]) -> Document | None:
    query = (
        select(Document)
        .where(Document.status == DocumentStatus.PENDING, Document.id.not_in(skip))
        .order_by(Document.created_at, Document.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Several `cascade worker` processes may drain together: each takes a different row.
        query = query.with_for_update(skip_locked=True)
    return session.scalars(query).first()


def render_one(
    factory: sessionmaker[Session], storage: DocumentStorage, skip: set[str] | None = None
) -> tuple[str, bool] | None:
    """Render the oldest pending document not in ``skip``: (its id, success), or None."""
    with factory() as session, session.begin():
        document = _claim(session, skip or set())
        if document is None:
            return None
        document.attempts += 1
        doc_id, kind, snapshot = document.id, document.kind, document.snapshot
        key = storage_key(document)
    try:
        pdf = render_pdf(kind, snapshot)
        digest = storage.put(key, pdf)
    except Exception:
        error = traceback.format_exc(limit=5)
        log.exception("rendering document %s failed", doc_id)
        with factory() as session, session.begin():
            document = session.get(Document, doc_id)
            assert document is not None
            document.last_error = error
            if document.attempts >= MAX_ATTEMPTS:
                document.status = DocumentStatus.FAILED
        return doc_id, False
    with factory() as session, session.begin():
        document = session.get(Document, doc_id)
        assert document is not None
        if document.status == DocumentStatus.READY:  # another worker finished it first
            return doc_id, True
        document.sha256 = digest
        document.size = len(pdf)
        document.storage_key = key
        document.status = DocumentStatus.READY
        document.rendered_at = utcnow()
        document.last_error = None
    return doc_id, True


def drain(
    factory: sessionmaker[Session], storage: DocumentStorage, *, limit: int | None = None
) -> DrainResult:
    """Render pending documents until none is left (or ``limit`` were tried)."""
    rendered = failed = 0
    tried: set[str] = set()  # a failing job stays pending for a later pass, not this one
    while limit is None or len(tried) < limit:
        outcome = render_one(factory, storage, tried)
        if outcome is None:
            break
        doc_id, ok = outcome
        tried.add(doc_id)
        if ok:
            rendered += 1
        else:
            failed += 1
    return DrainResult(rendered, failed)


def read_pdf(storage: DocumentStorage, document: Document) -> bytes:
    if document.status != DocumentStatus.READY or not document.storage_key:
        raise LookupError("this document is still being generated")
    data = storage.read(document.storage_key)
    if sha256_hex(data) != document.sha256:
        raise LookupError("the stored file does not match its recorded sha256")
    return data
