"""The audit trail for auditors and programme officers: browse, verify, export."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response
from werkzeug.wsgi import wrap_file

from grants.db import utcnow
from grants.presenters import audit_trail
from grants.runtime import db_session
from grants.services.audit import verify_chain
from grants.views.common import roles_required
from workflows import numbers
from workflows.roles import Role

bp = Blueprint("auditor", __name__)
PAGE_SIZE = 50
SPOOL_IN_MEMORY = 8 * 1024 * 1024


@bp.route("/audit")
@roles_required(Role.AUDITOR, Role.OFFICER)
def index() -> str:
    reference = request.args.get("reference", "").strip()
    try:
        page = numbers.parse_integer(request.args.get("page", "1"), minimum=1)
    except numbers.NumberRefused:
        page = 1
    trail = audit_trail.trail_page(db_session(), reference, page)
    return render_template(
        "audit/index.html",
        events=trail.events,
        references=trail.references,
        reference=reference,
        page=trail.page,
        pages=trail.pages,
        total=trail.total,
    )


@bp.route("/audit/verify", methods=["POST"])
@roles_required(Role.AUDITOR, Role.OFFICER)
def verify() -> Response:
    report = verify_chain(db_session())
    if report.ok:
        flash(_("Audit chain OK: %(count)s events verified.", count=report.checked), "success")
    else:
        flash(
            {
                "text": _("Audit chain BROKEN at event %(event)s.", event=report.first_bad_id),
                "items": [
                    _(
                        "%(problem)s (%(count)s events before it verified)",
                        problem=report.problem,
                        count=report.checked,
                    )
                ],
            },
            "error",
        )
    return redirect(url_for("auditor.index"))


@bp.route("/audit/export.csv")
@roles_required(Role.AUDITOR)
def export_csv() -> Response:
    spool = audit_trail.spooled_csv(db_session())
    filename = f"cascade-audit-{utcnow():%Y%m%d-%H%M}.csv"
    response = Response(
        wrap_file(request.environ, spool), mimetype="text/csv", direct_passthrough=True
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
