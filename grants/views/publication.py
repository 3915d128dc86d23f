"""Publication of the supported third parties and the FSTP summary for the EU report.

Officers and auditors download the full list (CSV, 360Giving JSON) and read the summary;
anyone may read /public/grants.json, which holds only the vouchers whose agreement is
signed (DOMAIN.md: publication; see grants.services.publication).
"""

from __future__ import annotations

import io

from flask import Blueprint, abort, render_template, request
from werkzeug.wrappers import Response

from grants.db import utcnow
from grants.runtime import db_session
from grants.services import fstp_summary, publication
from grants.views.common import roles_required, staff_call
from workflows import numbers
from workflows.roles import Role

bp = Blueprint("publication", __name__)

# The consortium's report to the EU and its publication: the programme team and auditors.
READERS = (Role.OFFICER, Role.AUDITOR)


def _call_filter() -> int | None:
    raw = request.args.get("call", "").strip()
    if not raw:
        return None
    try:
        return numbers.parse_integer(raw, minimum=1)
    except numbers.NumberRefused:
        abort(404)


def _download(body: str, mimetype: str, filename: str, *, cache: str = "no-store") -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = cache
    return response


def _stamp() -> str:
    return f"{utcnow():%Y%m%d-%H%M}"


@bp.route("/publication/grants.csv")
@roles_required(*READERS)
def grants_csv() -> Response:
    call_id = _call_filter()
    if call_id is not None:
        staff_call(call_id)
    out = io.StringIO(newline="")
    publication.write_csv(publication.supported_third_parties(db_session(), call_id=call_id), out)
    return _download(out.getvalue(), "text/csv", f"supported-third-parties-{_stamp()}.csv")


@bp.route("/publication/grants.json")
@roles_required(*READERS)
def grants_json() -> Response:
    call_id = _call_filter()
    if call_id is not None:
        staff_call(call_id)
    parties = publication.supported_third_parties(db_session(), call_id=call_id)
    out = io.StringIO()
    publication.write_json(publication.threesixtygiving_package(parties), out)
    return _download(out.getvalue(), "application/json", f"grants-360giving-{_stamp()}.json")


@bp.route("/public/grants.json")
def public_grants_json() -> Response:
    """The supported third parties as 360Giving data, for anyone: signed agreements only."""
    parties = publication.supported_third_parties(db_session(), public=True)
    out = io.StringIO()
    publication.write_json(publication.threesixtygiving_package(parties), out)
    response = Response(out.getvalue(), mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.route("/calls/<int:call_id>/fstp-summary")
@roles_required(*READERS)
def call_summary(call_id: int) -> str:
    call = staff_call(call_id)
    summary = fstp_summary.call_summary(db_session(), call_id)
    return render_template(
        "publication/call_summary.html",
        call=call,
        summary=summary,
        no_partner=fstp_summary.NO_PARTNER,
    )


@bp.route("/calls/<int:call_id>/fstp-summary.csv")
@roles_required(*READERS)
def call_summary_csv(call_id: int) -> Response:
    call = staff_call(call_id)
    out = io.StringIO(newline="")
    fstp_summary.write_call_csv(fstp_summary.call_summary(db_session(), call_id), out)
    return _download(out.getvalue(), "text/csv", f"{call.reference}-fstp-summary.csv")


@bp.route("/fstp-summary")
@roles_required(*READERS)
def programme_summary() -> str:
    summary = fstp_summary.programme_summary(db_session())
    return render_template(
        "publication/programme_summary.html",
        summary=summary,
        no_partner=fstp_summary.NO_PARTNER,
    )


@bp.route("/fstp-summary.csv")
@roles_required(*READERS)
def programme_summary_csv() -> Response:
    out = io.StringIO(newline="")
    fstp_summary.write_programme_csv(fstp_summary.programme_summary(db_session()), out)
    return _download(out.getvalue(), "text/csv", f"fstp-summary-{_stamp()}.csv")
