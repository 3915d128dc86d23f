"""Data exports (audit events, applications, scores, awards, payments), streamed."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from werkzeug.wrappers import Response

from grants.errors import NotFound, TransitionRefused
from grants.runtime import db_session, runtime, transaction
from grants.services import exports
from grants.services.export_formats import FORMATS
from grants.views.common import actor, role, roles_required
from workflows.roles import Role

bp = Blueprint("exports", __name__)
# Whoever may export at least one dataset (each dataset's roles are checked by the service).
EXPORTERS = (Role.AUDITOR, Role.OFFICER, Role.FINANCE)


@bp.route("/exports")
@roles_required(*EXPORTERS)
def index() -> str:
    chosen = request.args.get("call", "").strip()
    calls = exports.calls_to_filter(db_session())
    if chosen and chosen not in {reference for reference, _title in calls}:
        chosen = ""
    return render_template(
        "exports/index.html",
        datasets=exports.datasets_for(role()),
        formats=list(FORMATS.values()),
        calls=calls,
        chosen=chosen,
    )


@bp.route("/exports/<dataset>.<fmt>")
@roles_required(*EXPORTERS)
def download(dataset: str, fmt: str) -> Response:
    call_reference = request.args.get("call", "").strip() or None
    if dataset not in exports.DATASETS or fmt not in FORMATS:
        abort(404)
    try:
        # Recorded and committed before the first byte: the request's transaction is over
        # before streaming, which reads in its own short transactions.
        with transaction() as session:
            started = exports.start(session, actor(), dataset, fmt, call_reference=call_reference)
    except TransitionRefused:
        abort(403)
    except NotFound as exc:
        flash(str(exc), "error")
        return redirect(url_for("exports.index"))
    sessions = runtime().sessions
    response = Response(
        stream_with_context(exports.stream(sessions, started)),
        mimetype=started.format.mimetype,
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{started.filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
