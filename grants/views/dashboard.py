"""Each role's starting page, and the officer's call lifecycle buttons."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from grants.app import db_session, transaction
from grants.db import utcnow
from grants.models import Application, Evaluation, Instalment, Payment, User
from grants.services import access, awards, calls, expectations, organisations
from grants.services.actor import Actor
from grants.views.common import (
    actor,
    flash_done,
    flash_refused,
    role,
    roles_required,
    safe_next,
)
from workflows import engine
from workflows.call import CALL_V1, CallState
from workflows.errors import TransitionRefused
from workflows.money import prefinancing_amount
from workflows.payment import PaymentState
from workflows.roles import Role
from workflows.voucher import AppState

bp = Blueprint("dashboard", __name__)


CALL_ACTIONS: dict[str, Callable[[Session, Actor, int], Any]] = {
    "publish": calls.publish,
    "close_call": calls.close_call,
    "start_evaluation": calls.start_evaluation,
    "publish_results": calls.publish_results,
    "archive": calls.archive,
    "rank": awards.rank_call,
}
CALL_ACTION_LABELS = {"rank": "Rank evaluated applications"}


def call_triggers(call: Any) -> list[tuple[str, str]]:
    """The call-level buttons an officer sees: what the call workflow allows, plus ranking."""
    triggers = [
        (t, CALL_V1.label(t)) for t in engine.available_triggers(CALL_V1, call.status, role())
    ]
    if role() == Role.OFFICER and (
        call.status == CallState.EVALUATING
        or (call.batch_ranking and call.status == CallState.PUBLISHED)
    ):
        triggers.append(("rank", CALL_ACTION_LABELS["rank"]))
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


def _visible() -> list[Application]:
    return list(db_session().scalars(access.visible_applications_query(actor())))


def _applicant() -> str:
    own = _visible()
    applied = {a.call_id for a in own}
    open_calls = [
        c
        for c in calls.list_calls(db_session())
        if c.status == CallState.PUBLISHED and c.id not in applied
    ]
    now = utcnow()
    return render_template(
        "dashboard/applicant.html",
        applications=own,
        open_calls=open_calls,
        next_steps={a.id: expectations.next_step(a, now) for a in own},
    )


def _status_filter(applications: list[Application]) -> tuple[list[Application], Counter[str], str]:
    counts = Counter(a.status for a in applications)
    wanted = request.args.get("status", "").strip()
    if wanted and wanted not in {str(s) for s in AppState}:
        wanted = ""
    shown = [a for a in applications if not wanted or a.status == wanted]
    return shown, counts, wanted


def _officer() -> str:
    session = db_session()
    call_rows = []
    for call in calls.list_calls(session):
        call_rows.append(
            {
                "call": call,
                "committed": awards.committed_budget(session, call.id),
                "remaining": awards.budget_remaining(session, call),
                "triggers": call_triggers(call),
            }
        )
    applications, counts, wanted = _status_filter(_visible())
    return render_template(
        "dashboard/officer.html",
        call_rows=call_rows,
        applications=applications,
        counts=counts,
        wanted=wanted,
        states=[str(s) for s in AppState],
        duplicates=organisations.duplicate_registrations(session),
    )


def _evaluator() -> str:
    evaluations = db_session().scalars(
        select(Evaluation).where(Evaluation.evaluator_id == actor().user_id).order_by(Evaluation.id)
    )
    return render_template("dashboard/evaluator.html", evaluations=list(evaluations))


def _finance() -> str:
    session = db_session()
    vouchers = _visible()
    balance_work = [
        a
        for a in vouchers
        if a.status
        in (AppState.REPORT_APPROVED, AppState.PAYMENT_PREPARED, AppState.PAYMENT_AUTHORISED)
    ]
    to_prefinance = [
        (a, prefinancing_amount(a.awarded_amount or Decimal(0), a.call.prefinancing_percent))
        for a in vouchers
        if a.status == AppState.CONTRACTED
        and not any(p.instalment == Instalment.PREFINANCING for p in a.payments)
        and (a.awarded_amount or 0) > 0
        and a.call.prefinancing_percent > 0
    ]
    open_prefinancing = list(
        session.scalars(
            select(Payment)
            .where(
                Payment.instalment == Instalment.PREFINANCING,
                Payment.status.in_([PaymentState.PREPARED, PaymentState.AUTHORISED]),
            )
            .order_by(Payment.id)
        )
    )
    names = {
        u.id: u.full_name for u in session.scalars(select(User).where(User.role == Role.FINANCE))
    }
    return render_template(
        "dashboard/finance.html",
        vouchers=vouchers,
        balance_work=balance_work,
        to_prefinance=to_prefinance,
        open_prefinancing=open_prefinancing,
        names=names,
    )


def _auditor() -> str:
    applications, counts, wanted = _status_filter(_visible())
    return render_template(
        "dashboard/auditor.html",
        applications=applications,
        counts=counts,
        wanted=wanted,
        states=[str(s) for s in AppState],
    )


def _admin() -> str:
    users = db_session().scalars(select(User).order_by(User.role, User.full_name))
    return render_template("dashboard/admin.html", users=list(users))


@bp.route("/calls/<int:call_id>/actions/<trigger>", methods=["POST"])
@roles_required(Role.OFFICER)
def call_action(call_id: int, trigger: str) -> Response:
    service = CALL_ACTIONS.get(trigger)
    if service is None:
        abort(404)
    label = CALL_ACTION_LABELS.get(trigger) or CALL_V1.label(trigger)
    back = safe_next(url_for("dashboard.index"))
    try:
        with transaction() as session:
            outcome = service(session, actor(), call_id)
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(back)
    if trigger == "rank":
        tally = Counter(p.outcome for p in outcome)
        summary = ", ".join(f"{n} {kind}" for kind, n in sorted(tally.items()))
        flash_done(f"Ranking done: {summary}. Result letters are being generated.")
    else:
        flash_done(f"{label}: done. The call is now {outcome.dest.replace('_', ' ')}.")
    return redirect(back)
