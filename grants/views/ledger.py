"""A call's budget ledger: its figures and every movement, on a page and as CSV."""

from __future__ import annotations

from flask import Blueprint, render_template
from werkzeug.wrappers import Response

from grants.presenters import ledger as ledger_presenter
from grants.runtime import db_session
from grants.views.common import roles_required, staff_call
from workflows.roles import Role

bp = Blueprint("ledger", __name__)

# Who reads the money of a call: the programme team, finance and the auditors.
READERS = (Role.OFFICER, Role.FINANCE, Role.AUDITOR)


@bp.route("/calls/<int:call_id>/ledger")
@roles_required(*READERS)
def call_ledger(call_id: int) -> str:
    staff_call(call_id)
    found = ledger_presenter.call_ledger(db_session(), call_id)
    return render_template(
        "ledger/call.html",
        ledger=found,
        figures=found.figures,
        causes=ledger_presenter.CAUSES,
        kinds=ledger_presenter.KIND_LABELS,
    )


@bp.route("/calls/<int:call_id>/ledger.csv")
@roles_required(*READERS)
def call_ledger_csv(call_id: int) -> Response:
    call = staff_call(call_id)
    found = ledger_presenter.call_ledger(db_session(), call_id)
    response = Response(ledger_presenter.csv_text(found), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{call.reference}-budget-ledger.csv"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response
