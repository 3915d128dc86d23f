"""A call's ranking: the preview an officer approves, and the approved lists' PDFs."""

from __future__ import annotations

from collections import Counter

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from grants.db import utcnow
from grants.runtime import db_session, transaction
from grants.services import ranking_lists
from grants.views.common import (
    actor,
    flash_done,
    flash_refused,
    roles_required,
    staff_call,
    status_label,
)
from workflows.errors import TransitionRefused
from workflows.roles import Role

bp = Blueprint("ranking", __name__)


@bp.route("/calls/<int:call_id>/ranking")
@roles_required(Role.OFFICER, Role.AUDITOR)
def preview(call_id: int) -> str:
    staff_call(call_id)
    data = ranking_lists.preview(db_session(), actor(), call_id, now=utcnow())
    return render_template("ranking/preview.html", preview=data, call=data.call)


@bp.route("/calls/<int:call_id>/ranking/approve", methods=["POST"])
@roles_required(Role.OFFICER)
def approve(call_id: int) -> Response:
    staff_call(call_id)
    back = url_for("ranking.preview", call_id=call_id)
    try:
        with transaction() as session:
            approved = ranking_lists.approve(
                session, actor(), call_id, fingerprint=request.form.get("fingerprint", "")
            )
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(back)
    tally = Counter(p.outcome for p in approved.placements)
    summary = ", ".join(f"{n} {status_label(kind).lower()}" for kind, n in sorted(tally.items()))
    flash_done(
        _(
            "Ranked list approved: %(summary)s. The result letters are being generated and mailed.",
            summary=summary,
        )
    )
    return redirect(back)


@bp.route("/calls/<int:call_id>/ranking/<int:list_id>.pdf")
@roles_required(Role.OFFICER, Role.AUDITOR)
def ranked_list_pdf(call_id: int, list_id: int) -> Response:
    call = staff_call(call_id)
    found = ranking_lists.ranked_list(db_session(), call_id, list_id)
    response = make_response(ranking_lists.ranked_list_pdf(found))
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = (
        f'inline; filename="{call.reference}-ranked-list-{found.batch}-{found.id}.pdf"'
    )
    return response
