"""Document downloads, served only after an authorisation check."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from werkzeug.wrappers import Response

from grants.errors import NotFound
from grants.models import DocumentStatus
from grants.runtime import db_session, runtime
from grants.services import access
from grants.services.documents import read_pdf
from grants.views.common import actor, roles_required
from workflows.roles import Role

bp = Blueprint("documents", __name__)


@bp.route("/documents/<document_id>")
@roles_required(*Role)
def download(document_id: str) -> Response | tuple[str, int]:
    try:
        document = access.visible_document(db_session(), actor(), document_id)
    except NotFound:
        abort(404)
    application = document.application
    if document.status != DocumentStatus.READY:
        failed = document.status == DocumentStatus.FAILED
        return render_template(
            "documents/unavailable.html", document=document, application=application, failed=failed
        ), 409
    try:
        data = read_pdf(runtime().storage, document)
    except (LookupError, OSError, ValueError):
        return render_template(
            "documents/unavailable.html",
            document=document,
            application=application,
            failed=True,
        ), 409
    filename = f"{application.reference}-{document.kind}.pdf"
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
