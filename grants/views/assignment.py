"""The officer's assignment of a call's experts: the proposal, its confirmation, the
replacements to confirm, overdue evaluations; and reopening an expert's submitted scores."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from grants.errors import NotFound, ValidationFailed
from grants.models import STEPPED_ASIDE, Evaluation, EvaluationStatus
from grants.runtime import db_session, transaction
from grants.services import assignment, evaluation
from grants.views.common import (
    actor,
    flash_done,
    flash_refused,
    fresh_for_update,
    roles_required,
    staff_call,
)
from workflows import numbers
from workflows.errors import TransitionRefused
from workflows.roles import Role
from workflows.voucher import AppState

bp = Blueprint("assignment", __name__)


def _page(
    call_id: int,
    *,
    errors: Mapping[str, str] | None = None,
    chosen: Mapping[str, str] | None = None,
) -> tuple[str, int]:
    staff_call(call_id)
    plan = assignment.call_assignment(db_session(), actor(), call_id)
    return (
        render_template(
            "assignment/call.html",
            plan=plan,
            call=plan.call,
            errors=errors or {},
            chosen=chosen or {},
        ),
        422 if errors else 200,
    )


@bp.route("/calls/<int:call_id>/assignment")
@roles_required(Role.OFFICER)
def page(call_id: int) -> tuple[str, int]:
    return _page(call_id)


def _posted_choice() -> tuple[dict[int, list[int]], dict[str, str]]:
    """The experts chosen per application (``expert-<application>-<place>``)."""
    chosen: dict[int, list[int]] = {}
    for raw in request.form.getlist("application_ids"):
        try:
            chosen[numbers.parse_id(raw)] = []
        except numbers.NumberRefused:
            abort(400)
    for key, value in request.form.items():
        parts = key.split("-")
        if len(parts) != 3 or parts[0] != "expert":
            continue
        try:
            application_id, expert_id = numbers.parse_id(parts[1]), numbers.parse_id(value)
        except numbers.NumberRefused:
            abort(400)
        if application_id in chosen:
            chosen[application_id].append(expert_id)
    return chosen, dict(request.form.items())


@bp.route("/calls/<int:call_id>/assignment", methods=["POST"])
@roles_required(Role.OFFICER)
def confirm(call_id: int) -> tuple[str, int] | Response:
    staff_call(call_id)
    chosen, typed = _posted_choice()
    fresh_for_update()
    try:
        with transaction() as session:
            done = assignment.confirm_assignment(session, actor(), call_id, chosen)
    except ValidationFailed as exc:
        return _page(call_id, errors=exc.errors, chosen=typed)
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(url_for("assignment.page", call_id=call_id))
    except NotFound:
        abort(404)
    flash_done(
        _(
            "%(count)s applications assigned. Each expert is asked to declare any conflict "
            "of interest, then to score.",
            count=len(done),
        )
    )
    return redirect(url_for("assignment.page", call_id=call_id))


@bp.route("/calls/<int:call_id>/assignment/replace", methods=["POST"])
@roles_required(Role.OFFICER)
def replace(call_id: int) -> Response:
    staff_call(call_id)
    back = url_for("assignment.page", call_id=call_id) + "#replacements"
    try:
        stepped_id = numbers.parse_id(request.form.get("evaluation_id", ""))
        expert_id = numbers.parse_id(request.form.get("evaluator_id", ""))
    except numbers.NumberRefused:
        abort(400)
    try:
        stepped = evaluation.evaluation_of_call(db_session(), stepped_id, call_id)
    except NotFound:
        abort(404)
    # An expert still on the application (a conflict detected since) steps aside now.
    replaces = None if stepped.status in STEPPED_ASIDE else stepped_id
    fresh_for_update()
    try:
        with transaction() as session:
            evaluation.replace_conflicted(
                session, actor(), stepped.application_id, expert_id, replaces=replaces
            )
    except ValidationFailed as exc:
        flash(
            {"text": _("The expert could not be added:"), "items": list(exc.errors.values())},
            "error",
        )
        return redirect(back)
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(back)
    flash_done(_("Replacement confirmed: the new expert is asked to declare, then to score."))
    return redirect(back)


# -- reopening submitted scores --------------------------------------------------------------
def _submitted(evaluation_id: int) -> Evaluation:
    try:
        return evaluation.evaluation_of_call(db_session(), evaluation_id)
    except NotFound:
        abort(404)


def _reopen_page(
    found: Evaluation, *, errors: Mapping[str, str] | None = None, reason: str = ""
) -> tuple[str, int]:
    return (
        render_template(
            "assignment/reopen.html",
            evaluation=found,
            application=found.application,
            criteria=evaluation.criteria_of(found.application),
            can_reopen=found.status == EvaluationStatus.SUBMITTED
            and found.application.status == AppState.IN_EVALUATION,
            errors=errors or {},
            reason=reason,
        ),
        422 if errors else 200,
    )


@bp.route("/evaluations/<int:evaluation_id>/reopen", methods=["GET", "POST"])
@roles_required(Role.OFFICER)
def reopen(evaluation_id: int) -> tuple[str, int] | Response:
    found = _submitted(evaluation_id)
    if request.method == "GET":
        return _reopen_page(found)
    reason = request.form.get("reason", "")
    link = url_for("evaluator.detail", evaluation_id=evaluation_id, _external=True)
    fresh_for_update()
    try:
        with transaction() as session:
            evaluation.reopen_scores(session, actor(), evaluation_id, reason=reason, link=link)
    except ValidationFailed as exc:
        return _reopen_page(_submitted(evaluation_id), errors=exc.errors, reason=reason)
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(request.path)
    except NotFound:
        abort(404)
    flash_done(_("Scores reopened. The expert is told why by e-mail and submits them again."))
    return redirect(url_for("applications.detail", application_id=found.application_id))
