"""The audit trail for auditors and programme officers: browse, verify, export."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response
from werkzeug.wsgi import wrap_file

from grants import programme
from grants.db import utcnow
from grants.presenters import audit_trail
from grants.runtime import db_session, runtime
from grants.services import anchors
from grants.services.audit import verify_chain
from grants.views.audit_reading import audited_view
from grants.views.common import actor, page_number, roles_required
from workflows.roles import Role

bp = Blueprint("auditor", __name__)


@bp.route("/audit")
@roles_required(Role.AUDITOR, Role.OFFICER)
def index() -> str:
    filters = audit_trail.parse_filters(request.args)
    page = page_number()
    audited_view("auditor.index", filters.active(), page_number=page)
    session = db_session()
    trail = audit_trail.trail_page(session, actor(), filters, page)
    return render_template(
        "audit/index.html",
        trail=trail,
        filters=filters,
        values=filters.values,
        errors=filters.errors,
        active=filters.active(),
        choices=audit_trail.choices(session),
        timezone=programme.PROGRAMME_TIMEZONE,
        # The old name of the reference filter, kept for links that use it.
        reference=filters.values["reference"],
    )


@bp.route("/audit/events/<int:event_id>")
@roles_required(Role.AUDITOR, Role.OFFICER)
def event(event_id: int) -> str:
    audited_view("auditor.event", {}, target=str(event_id))
    detail = audit_trail.event_detail(db_session(), actor(), event_id)
    if detail is None:
        abort(404)
    return render_template(
        "audit/event.html",
        detail=detail,
        row=detail.row,
        e=detail.row.event,
        timezone=programme.PROGRAMME_TIMEZONE,
    )


@bp.route("/audit/verify", methods=["POST"])
@roles_required(Role.AUDITOR, Role.OFFICER)
def verify() -> str | Response:
    """The chain, every anchor against it and the reconciliation of the business rows: the
    same checks as `cascade audit verify`, each problem named."""
    session = db_session()
    config = runtime().config
    try:
        result = anchors.verify_everything(session, config, chain=verify_chain(session))
    except anchors.AnchorError as exc:
        flash(str(exc), "error")
        return redirect(url_for("auditor.index"))
    return render_template(
        "audit/verify.html",
        result=result,
        chain=result.chain,
        check=result.anchors,
        reconciliation=result.reconciliation,
        last_anchor=anchors.latest(config),
    )


@bp.app_template_global("last_anchor")
def last_anchor() -> anchors.Anchor | None:
    """The last anchor of the chain head (dashboard/_last_anchor.html)."""
    return anchors.latest(runtime().config)


@bp.route("/audit/export.csv")
@roles_required(Role.AUDITOR)
def export_csv() -> Response:
    audited_view("auditor.export_csv", {})
    spool = audit_trail.spooled_csv(db_session())
    filename = f"cascade-audit-{utcnow():%Y%m%d-%H%M}.csv"
    response = Response(
        wrap_file(request.environ, spool), mimetype="text/csv", direct_passthrough=True
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
