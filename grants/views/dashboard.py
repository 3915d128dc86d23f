"""Each role's starting page, and the officer's call lifecycle buttons."""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from grants import steps
from grants.db import utcnow
from grants.presenters import dashboards
from grants.runtime import db_session, transaction
from grants.services import awards
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


# Ranking is the voucher's "rank" step, done for every evaluated application of a call.
RANK_LABEL = "Rank evaluated applications"


def call_triggers(call: Any) -> list[tuple[str, str]]:
    """The call-level buttons an officer sees: what the call workflow allows, plus ranking."""
    # A draft is published from the call builder's review, which shows what still stops it.
    triggers = [
        (t, CALL_V1.label(t))
        for t in engine.available_triggers(CALL_V1, call.status, role())
        if t != "publish"
    ]
    if role() == Role.OFFICER and (
        call.status == CallState.EVALUATING
        or (call.batch_ranking and call.status == CallState.PUBLISHED)
    ):
        triggers.append(("rank", RANK_LABEL))
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
    if trigger != "rank" and (step is None or step.perform is None):
        abort(404)
    back = safe_next(url_for("dashboard.index"))
    try:
        with transaction() as session:
            if trigger == "rank":
                placements = awards.rank_call(session, actor(), call_id)
            else:
                assert step is not None and step.perform is not None
                result = step.perform(session, actor(), call_id, request.form)
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(back)
    if trigger == "rank":
        tally = Counter(p.outcome for p in placements)
        summary = ", ".join(f"{n} {kind}" for kind, n in sorted(tally.items()))
        flash_done(
            _("Ranking done: %(summary)s. Result letters are being generated.", summary=summary)
        )
    else:
        assert step is not None
        flash_done(
            step.done.format(state=_(CALL_V1.fact(getattr(result, "dest", "")).label).lower())
        )
    return redirect(back)
