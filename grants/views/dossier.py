"""The grant dossier for auditors: one click on a voucher's page, or a whole call's from the
audit trail page. Built into a temporary file first, then streamed: a slow download holds
no database transaction, and no PDF is kept in memory."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import IO

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response
from werkzeug.wsgi import wrap_file

from grants.runtime import DbSession, db_session, runtime, transaction
from grants.services import dossier
from grants.views.common import actor, roles_required

bp = Blueprint("dossier", __name__)


def _stream(handle: IO[bytes], filename: str) -> Response:
    response = Response(
        wrap_file(request.environ, handle), mimetype="application/zip", direct_passthrough=True
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _issue(build: Callable[[DbSession, IO[bytes]], dossier.DossierResult]) -> Response:
    """Build the dossier with ``build(session, out)``, record it, stream it."""
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (closed by the response)
    try:
        result = build(db_session(), handle)
        zip_sha256 = dossier.file_sha256(handle)
        with transaction() as session:
            dossier.record_issued(session, actor(), result, zip_sha256)
    except BaseException:
        handle.close()
        raise
    return _stream(handle, result.filename)


@bp.route("/applications/<int:application_id>/dossier.zip")
@roles_required(*dossier.DOSSIER_ROLES)
def voucher(application_id: int) -> Response:
    rt = runtime()
    anchor = dossier.latest_anchor(rt.config)
    try:
        return _issue(
            lambda session, out: dossier.write_voucher_dossier(
                session, rt.storage, actor(), application_id, out, anchor=anchor
            )
        )
    except dossier.DossierRefused:
        abort(404)


@bp.route("/audit/call-dossier")
@roles_required(*dossier.DOSSIER_ROLES)
def call() -> Response:
    reference = request.args.get("call", "").strip()
    if not reference:
        flash(_("Enter the reference of the call whose dossier you want."), "error")
        return redirect(url_for("auditor.index"))
    rt = runtime()
    anchor = dossier.latest_anchor(rt.config)
    try:
        return _issue(
            lambda session, out: dossier.write_call_dossier(
                session, rt.storage, actor(), reference, out, anchor=anchor
            )
        )
    except dossier.DossierRefused:
        flash(_("There is no call %(reference)s.", reference=reference), "error")
        return redirect(url_for("auditor.index"))
