"""Workflow steps posted from the application page, driven by the step registry."""

from __future__ import annotations

from collections.abc import Callable

from flask import (
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from grants import steps
from grants.errors import NotFound
from grants.models import (
    Application,
    Payment,
)
from grants.runtime import DbSession, db_session, transaction
from grants.services import (
    access,
    applications,
    evaluation,
    payments,
)
from grants.services.actor import Actor
from grants.services.applications import ValidationFailed
from grants.steps import Step
from grants.views.applications import bp
from grants.views.applications.page import detail_context
from grants.views.common import (
    actor,
    flash_done,
    flash_refused,
    fresh_for_update,
    role,
    roles_required,
    safe_next,
    visible_application,
)
from workflows import numbers
from workflows.definition import WorkflowDefinition
from workflows.errors import TransitionRefused
from workflows.roles import Role
from workflows.voucher import AppState

# Form fields the page fills in by itself, not a person.
_NOT_TYPED = frozenset({"csrf_token", "submission_token", "next"})


def _roles_for(application: Application, trigger: str) -> set[Role]:
    return {r for t in application.workflow.transitions_for(trigger) for r in t.roles}


def done_message(step: Step, result: object, definition: WorkflowDefinition) -> str:
    dest = getattr(result, "dest", "")
    return step.done.format(state=definition.fact(dest).label.lower() if dest else "")


@bp.route("/applications/<int:application_id>/<trigger>", methods=["POST"])
@roles_required(*Role)
def action(application_id: int, trigger: str) -> tuple[str, int] | Response:
    # Not visible first: a 403 would tell an applicant that another SME's application exists.
    application = visible_application(application_id)
    step = steps.find(application.workflow.name, trigger)
    allowed = _roles_for(application, trigger)
    if step is None or step.perform is None or not step.panel or not allowed:
        abort(404)
    if role() not in allowed:
        abort(403)
    form = request.form.copy()
    back = url_for("applications.detail", application_id=application_id)
    fresh_for_update()
    try:
        with transaction() as session:
            result = step.perform(session, actor(), application_id, form)
            message = done_message(step, result, application.workflow)
    except ValidationFailed as exc:
        flash(_("Please correct the highlighted fields."), "error")
        application = visible_application(application_id)
        ctx = detail_context(application, errors={trigger: exc.errors}, values={trigger: form})
        return render_template("applications/detail.html", **ctx), 422
    except TransitionRefused as exc:
        if trigger == "submit" and _incomplete(application_id):
            # Back to the form, each answer to correct marked and linked from the summary.
            flash(
                _("Not submitted yet: correct the answers listed below, then submit again."),
                "error",
            )
            return redirect(url_for("applications.edit", application_id=application_id, check=1))
        flash_refused(exc)
        if any(v.strip() for k, v in form.items() if k not in _NOT_TYPED):
            # A refused step (agreement box not ticked, report incomplete) keeps what the
            # person typed, as a validation error does.
            application = visible_application(application_id)
            ctx = detail_context(application, values={trigger: form})
            return render_template("applications/detail.html", **ctx), 409
        return redirect(f"{back}#actions")
    flash_done(message)
    return redirect(back)


def _incomplete(application_id: int) -> bool:
    application = visible_application(application_id)
    return application.status == AppState.DRAFT and bool(
        applications.submission_errors(application)
    )


# -- payment instalments and evaluator replacement --------------------------------------------


def _finance_step(
    application_id: int, step: Callable[[DbSession, Actor], object], message: str
) -> Response:
    back = safe_next(url_for("applications.detail", application_id=application_id))
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


@bp.route("/applications/<int:application_id>/prefinancing", methods=["POST"])
@roles_required(Role.FINANCE)
def prepare_prefinancing(application_id: int) -> Response:
    visible_application(application_id)
    return _finance_step(
        application_id,
        lambda s, a: payments.prepare_prefinancing(s, a, application_id),
        _("Pre-financing prepared. Another finance officer must authorise it."),
    )


def _visible_payment(payment_id: int) -> Payment:
    try:
        return access.visible_payment(db_session(), actor(), payment_id)
    except NotFound:
        abort(404)


@bp.route("/payments/<int:payment_id>/authorise", methods=["POST"])
@roles_required(Role.FINANCE)
def authorise_instalment(payment_id: int) -> Response:
    payment = _visible_payment(payment_id)
    return _finance_step(
        payment.application_id,
        lambda s, a: payments.authorise_instalment(s, a, payment_id),
        _("Pre-financing authorised."),
    )


@bp.route("/payments/<int:payment_id>/mark-paid", methods=["POST"])
@roles_required(Role.FINANCE)
def mark_instalment_paid(payment_id: int) -> Response:
    payment = _visible_payment(payment_id)
    reference = request.form.get("payment_reference", "")
    return _finance_step(
        payment.application_id,
        lambda s, a: payments.mark_instalment_paid(s, a, payment_id, payment_reference=reference),
        _("Pre-financing marked as paid. The remittance advice is being generated."),
    )


@bp.route("/applications/<int:application_id>/replace-evaluator", methods=["POST"])
@roles_required(Role.OFFICER)
def replace_evaluator(application_id: int) -> Response:
    visible_application(application_id)
    back = url_for("applications.detail", application_id=application_id)
    try:
        evaluator_id = numbers.parse_id(request.form.get("evaluator_id", ""))
    except numbers.NumberRefused:
        flash(_("Choose the evaluator who replaces the conflicted one."), "error")
        return redirect(f"{back}#actions")
    fresh_for_update()
    try:
        with transaction() as session:
            evaluation.replace_conflicted(session, actor(), application_id, evaluator_id)
    except ValidationFailed as exc:
        flash(
            {"text": _("The evaluator could not be added:"), "items": list(exc.errors.values())},
            "error",
        )
        return redirect(f"{back}#actions")
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(f"{back}#actions")
    flash_done(_("Evaluator added in place of the conflicted one."))
    return redirect(back)
