"""Eligibility recorded for a selection of a call's applications at once (officers)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from grants.errors import NotFound, ValidationFailed
from grants.runtime import db_session, transaction
from grants.services import eligibility_jobs
from grants.views.common import actor, flash_refused, roles_required, staff_call
from workflows import numbers
from workflows.errors import TransitionRefused
from workflows.roles import Role

bp = Blueprint("eligibility_bulk", __name__)
# The filters the selection page offers: which proposals to list.
OUTCOMES = ("all", "eligible", "ineligible")


def _selection_page(
    call_id: int, *, errors: Mapping[str, str] | None = None, status: int = 200
) -> tuple[str, int]:
    call = staff_call(call_id)
    session = db_session()
    outcome = request.values.get("outcome", "all")
    outcome = outcome if outcome in OUTCOMES else "all"
    country = request.values.get("country", "").strip().upper()
    every = eligibility_jobs.candidates(session, actor(), call.id)
    shown = [
        c
        for c in every
        if (outcome == "all" or c.proposed_eligible == (outcome == "eligible"))
        and (not country or c.country == country)
    ]
    chosen = set(request.form.getlist("application_ids")) if request.method == "POST" else None
    return render_template(
        "eligibility/select.html",
        call=call,
        candidates=shown,
        total=len(every),
        countries=sorted({c.country for c in every}),
        outcome=outcome,
        country=country,
        chosen=chosen,
        evidence=request.form.get("evidence", ""),
        token=secrets.token_urlsafe(24),
        waiting=eligibility_jobs.waiting_job(session, call.id),
        errors=errors or {},
    ), status


@bp.route("/calls/<int:call_id>/eligibility")
@roles_required(Role.OFFICER)
def select(call_id: int) -> tuple[str, int]:
    return _selection_page(call_id)


@bp.route("/calls/<int:call_id>/eligibility/jobs", methods=["POST"])
@roles_required(Role.OFFICER)
def start(call_id: int) -> Response | tuple[str, int]:
    try:
        ids = [numbers.parse_id(v) for v in request.form.getlist("application_ids")]
    except numbers.NumberRefused:
        abort(400)
    try:
        with transaction() as session:
            job = eligibility_jobs.start_job(
                session,
                actor(),
                call_id,
                ids,
                evidence=request.form.get("evidence", ""),
                token=request.form.get("token", ""),
            )
            job_id = job.id
    except NotFound:
        abort(404)
    except ValidationFailed as exc:
        return _selection_page(call_id, errors=exc.errors, status=422)
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(url_for("eligibility_bulk.select", call_id=call_id))
    return redirect(url_for("eligibility_bulk.job", call_id=call_id, job_id=job_id))


@bp.route("/calls/<int:call_id>/eligibility/jobs/<int:job_id>")
@roles_required(Role.OFFICER, Role.AUDITOR)
def job(call_id: int, job_id: int) -> str:
    call = staff_call(call_id)
    session = db_session()
    try:
        found = eligibility_jobs.get_job(session, actor(), call.id, job_id)
    except NotFound:
        abort(404)
    return render_template(
        "eligibility/job.html",
        call=call,
        job=found,
        letters_ready=eligibility_jobs.letters_ready(session, found),
        title=_("Eligibility for %(count)d applications", count=found.total),
    )
