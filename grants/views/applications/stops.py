"""Stopping a pre-financing order (withhold, cancel) and recording repayments of recovery
orders; the balance is stopped from the application page (its steps are in the registry)."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from grants.errors import NotFound
from grants.runtime import DbSession, db_session, transaction
from grants.services import access, payment_stops, recoveries
from grants.services.actor import Actor
from grants.services.applications import ValidationFailed
from grants.views.applications import bp
from grants.views.common import (
    actor,
    flash_done,
    flash_refused,
    fresh_for_update,
    roles_required,
    safe_next,
)
from workflows.errors import TransitionRefused
from workflows.roles import Role


def _run(back: str, step: Callable[[DbSession, Actor], object], message: str) -> Response:
    fresh_for_update()
    try:
        with transaction() as session:
            step(session, actor())
    except ValidationFailed as exc:
        flash({"text": _("Please correct:"), "items": list(exc.errors.values())}, "error")
        return redirect(back)
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(back)
    flash_done(message)
    return redirect(back)


def _payment_back(payment_id: int) -> str:
    try:
        payment = access.visible_payment(db_session(), actor(), payment_id)
    except NotFound:
        abort(404)
    return safe_next(url_for("applications.detail", application_id=payment.application_id))


@bp.route("/payments/<int:payment_id>/withhold", methods=["POST"])
@roles_required(Role.FINANCE, Role.OFFICER)
def withhold_instalment(payment_id: int) -> Response:
    back = _payment_back(payment_id)
    reason = request.form.get("reason", "")
    return _run(
        back,
        lambda s, a: payment_stops.withhold_instalment(s, a, payment_id, reason=reason),
        _("Pre-financing withheld. The SME is sent the notice with your reason."),
    )


@bp.route("/payments/<int:payment_id>/cancel", methods=["POST"])
@roles_required(Role.FINANCE)
def cancel_instalment(payment_id: int) -> Response:
    back = _payment_back(payment_id)
    reason = request.form.get("reason", "")
    return _run(
        back,
        lambda s, a: payment_stops.cancel_instalment(s, a, payment_id, reason=reason),
        _("Pre-financing order cancelled. It can be prepared again."),
    )


@bp.route("/recoveries/<int:order_id>/repayment", methods=["POST"])
@roles_required(Role.FINANCE)
def record_repayment(order_id: int) -> Response:
    try:
        recoveries.visible_order(db_session(), actor(), order_id)
    except NotFound:
        abort(404)
    back = safe_next(url_for("dashboard.index"))
    form = request.form
    return _run(
        back,
        lambda s, a: recoveries.record_repayment(
            s,
            a,
            order_id,
            amount=form.get("amount", ""),
            received_on=form.get("received_on", ""),
            bank_reference=form.get("bank_reference", ""),
        ),
        _("Repayment recorded. The SME is sent a receipt."),
    )
