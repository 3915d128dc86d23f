"""Each role's starting page, and the officer's call lifecycle buttons."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from grants import steps
from grants.db import utcnow
from grants.presenters import dashboards
from grants.runtime import db_session, transaction
from grants.views.common import (
    PAGE_SIZE,
    actor,
    flash_done,
    flash_refused,
    page_number,
    pager_for,
    role,
    roles_required,
    safe_next,
)
from workflows import engine
from workflows.call import CALL_V1, CallState
from workflows.errors import TransitionRefused
from workflows.roles import Role

bp = Blueprint("dashboard", __name__)


# Ranking is previewed and approved on the call's ranking page (grants/views/ranking.py).
RANKING_STATES = frozenset({CallState.EVALUATING, CallState.RESULTS, CallState.ARCHIVED})


def ranking_link(call: Any) -> bool:
    """Whether the call has a ranking to preview or approved lists to read."""
    return call.status in RANKING_STATES or (call.batch_ranking and call.status != CallState.DRAFT)


def call_triggers(call: Any) -> list[tuple[str, str, str]]:
    """The call-level buttons an officer sees (trigger, label, the question an irreversible
    one asks first): what the call workflow allows."""
    # A draft is published from the call builder's review, which shows what still stops it.
    triggers = []
    for trigger in engine.available_triggers(CALL_V1, call.status, role()):
        step = steps.find("call", trigger)
        if trigger != "publish":
            confirm = str(step.confirm) if step and step.confirm else ""
            triggers.append((trigger, CALL_V1.label(trigger), confirm))
    return triggers


@bp.route("/dashboard")
@roles_required(*Role)
def index() -> str:
    match role():
        case Role.APPLICANT:
            return _applicant()
        case Role.OFFICER:
            return _officer()
        case Role.EVALUATOR:
            return _evaluator()
        case Role.FINANCE:
            return _finance()
        case Role.AUDITOR:
            return _auditor()
        case _:
            return _admin()


def _applicant() -> str:
    data = dashboards.applicant(db_session(), actor(), utcnow())
    return render_template("dashboard/applicant.html", **data)


def _wanted_status() -> str:
    return request.args.get("status", "").strip()


def _listed(data: dict[str, Any], **kept: str) -> dict[str, Any]:
    """The status list's pager, and the filter it keeps from page to page (with ``kept``)."""
    wanted = data["wanted"]
    return {
        **data,
        "pager": pager_for(data["page"], data["total"]),
        "pager_args": {**kept, "status": wanted} if wanted else kept,
    }


def _officer() -> str:
    data = dashboards.officer(db_session(), actor(), _wanted_status(), page_number(), PAGE_SIZE)
    for row in data["call_rows"]:
        row["triggers"] = call_triggers(row["call"])
        row["ranking"] = ranking_link(row["call"])
    return render_template("dashboard/officer.html", now=utcnow(), **_listed(data))


def _evaluator() -> str:
    return render_template(
        "dashboard/evaluator.html", **dashboards.evaluator(db_session(), actor())
    )


def _finance() -> str:
    chosen = request.args.get("list", "").strip()
    data = dashboards.finance(
        db_session(), actor(), chosen, _wanted_status(), page_number(), PAGE_SIZE
    )
    return render_template("dashboard/finance.html", **_listed(data, list=data["chosen"]))


def _auditor() -> str:
    data = dashboards.by_status(db_session(), actor(), _wanted_status(), page_number(), PAGE_SIZE)
    return render_template("dashboard/auditor.html", **_listed(data))


def _admin() -> str:
    return render_template("dashboard/admin.html", **dashboards.users(db_session()))


@bp.route("/calls/<int:call_id>/actions/<trigger>", methods=["POST"])
@roles_required(Role.OFFICER)
def call_action(call_id: int, trigger: str) -> Response:
    step = steps.find("call", trigger)
    if step is None or step.perform is None:
        abort(404)
    back = safe_next(url_for("dashboard.index"))
    try:
        with transaction() as session:
            result = step.perform(session, actor(), call_id, request.form)
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(back)
    flash_done(step.done.format(state=_(CALL_V1.fact(getattr(result, "dest", "")).label).lower()))
    return redirect(back)
