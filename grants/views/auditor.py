"""The audit trail for auditors and programme officers: browse, verify, export."""

from __future__ import annotations

import io
import tempfile
from typing import IO

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from werkzeug.wsgi import wrap_file

from grants.app import db_session
from grants.db import utcnow
from grants.models import Application, AuditEvent
from grants.services.audit import verify_chain, write_csv
from grants.views.common import roles_required
from workflows import numbers
from workflows.roles import Role

bp = Blueprint("auditor", __name__)
PAGE_SIZE = 50
SPOOL_IN_MEMORY = 8 * 1024 * 1024


@bp.route("/audit")
@roles_required(Role.AUDITOR, Role.OFFICER)
def index() -> str:
    session = db_session()
    reference = request.args.get("reference", "").strip()
    try:
        page = numbers.parse_integer(request.args.get("page", "1"), minimum=1)
    except numbers.NumberRefused:
        page = 1
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
            query.order_by(AuditEvent.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        )
    )
    references = dict(
        session.execute(
            select(Application.id, Application.reference).where(
                Application.id.in_({e.application_id for e in events if e.application_id})
            )
        ).all()
    )
    return render_template(
        "audit/index.html",
        events=events,
        references=references,
        reference=reference,
        page=page,
        pages=pages,
        total=total,
    )


@bp.route("/audit/verify", methods=["POST"])
@roles_required(Role.AUDITOR, Role.OFFICER)
def verify() -> Response:
    report = verify_chain(db_session())
    if report.ok:
        flash(f"Audit chain OK: {report.checked} events verified.", "success")
    else:
        flash(
            {
                "text": f"Audit chain BROKEN at event {report.first_bad_id}.",
                "items": [f"{report.problem} ({report.checked} events before it verified)"],
            },
            "error",
        )
    return redirect(url_for("auditor.index"))


def _spool_csv(session: Session) -> IO[bytes]:
    """Write the export to a temporary file first: the database is read at its own pace, and
    a slow download then holds no transaction (on SQLite, that would block every writer)."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 (streamed)
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
    write_csv(session, text)
    text.flush()
    text.detach()
    spool.seek(0)
    return spool


@bp.route("/audit/export.csv")
@roles_required(Role.AUDITOR)
def export_csv() -> Response:
    spool = _spool_csv(db_session())
    filename = f"cascade-audit-{utcnow():%Y%m%d-%H%M}.csv"
    response = Response(
        wrap_file(request.environ, spool), mimetype="text/csv", direct_passthrough=True
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
