"""The expert's side: conflict-of-interest declaration, then the proposal and the scores."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from grants.errors import NotFound
from grants.models import Evaluation, EvaluationStatus
from grants.presenters.application_page import answer_rows
from grants.runtime import db_session, transaction
from grants.services import access
from grants.services import evaluation as evaluation_service
from grants.services.applications import ValidationFailed
from grants.views.common import (
    actor,
    flash_done,
    flash_refused,
    fresh_for_update,
    roles_required,
)
from workflows import scoring
from workflows.errors import TransitionRefused
from workflows.roles import Role
from workflows.voucher import AppState

bp = Blueprint("evaluator", __name__)


def own_evaluation(evaluation_id: int) -> Evaluation:
    """Only the expert it is assigned to may open it; anyone else learns nothing (404)."""
    try:
        return access.own_evaluation(db_session(), actor(), evaluation_id)
    except NotFound:
        abort(404)


def _render(
    found: Evaluation,
    *,
    errors: Mapping[str, str] | None = None,
    values: MultiDict[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    application = found.application
    criteria = evaluation_service.criteria_of(application)
    opened = found.status in (EvaluationStatus.ACCEPTED, EvaluationStatus.SUBMITTED)
    if values is None and found.status == EvaluationStatus.ACCEPTED and found.scores:
        # Reopened scores: the form starts from what the expert submitted before.
        values = MultiDict(
            [(f"score_{k}", v.get("score", "")) for k, v in found.scores.items()]
            + [(f"comment_{k}", v.get("comment", "")) for k, v in found.scores.items()]
        )
    return (
        render_template(
            "evaluations/detail.html",
            evaluation=found,
            application=application,
            criteria=criteria,
            # The proposal opens only after the expert declared no conflict of interest.
            answers=answer_rows(application) if opened else [],
            opened=opened,
            can_score=found.status == EvaluationStatus.ACCEPTED
            and application.status == AppState.IN_EVALUATION,
            can_declare=found.status == EvaluationStatus.ASSIGNED
            and application.status == AppState.IN_EVALUATION,
            score_options={c.key: scoring.score_options(c) for c in criteria},
            criterion_names={c.key: c.name for c in criteria},
            errors=errors or {},
            values=values or MultiDict(),
        ),
        status,
    )


@bp.route("/evaluations/<int:evaluation_id>")
@roles_required(Role.EVALUATOR)
def detail(evaluation_id: int) -> tuple[str, int]:
    return _render(own_evaluation(evaluation_id))


@bp.route("/evaluations/<int:evaluation_id>/declare", methods=["POST"])
@roles_required(Role.EVALUATOR)
def declare(evaluation_id: int) -> tuple[str, int] | Response:
    own_evaluation(evaluation_id)
    form = request.form.copy()
    choice = form.get("conflict")
    back = url_for("evaluator.detail", evaluation_id=evaluation_id)
    if choice not in ("no", "yes"):
        return _render(
            own_evaluation(evaluation_id),
            errors={"conflict": "choose whether you have a conflict of interest"},
            values=form,
            status=422,
        )
    fresh_for_update()
    try:
        with transaction() as session:
            evaluation_service.declare_interest(
                session,
                actor(),
                evaluation_id,
                conflict=choice == "yes",
                statement=form.get("statement", ""),
            )
    except ValidationFailed as exc:
        return _render(own_evaluation(evaluation_id), errors=exc.errors, values=form, status=422)
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(back)
    if choice == "yes":
        flash_done(_("Conflict of interest declared: you step aside from this proposal."))
        return redirect(url_for("dashboard.index"))
    flash_done(_("Declaration recorded. The proposal is now open for your evaluation."))
    return redirect(back)


@bp.route("/evaluations/<int:evaluation_id>/decline", methods=["POST"])
@roles_required(Role.EVALUATOR)
def decline(evaluation_id: int) -> tuple[str, int] | Response:
    own_evaluation(evaluation_id)
    form = request.form.copy()
    fresh_for_update()
    try:
        with transaction() as session:
            evaluation_service.decline_assignment(
                session, actor(), evaluation_id, reason=form.get("reason", "")
            )
    except ValidationFailed as exc:
        errors = {"decline_reason": exc.errors.get("reason", "")}
        return _render(own_evaluation(evaluation_id), errors=errors, values=form, status=422)
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(url_for("evaluator.detail", evaluation_id=evaluation_id))
    flash_done(_("Assignment declined. The programme team will ask another expert."))
    return redirect(url_for("dashboard.index"))


@bp.route("/evaluations/<int:evaluation_id>/scores", methods=["POST"])
@roles_required(Role.EVALUATOR)
def scores(evaluation_id: int) -> tuple[str, int] | Response:
    found = own_evaluation(evaluation_id)
    criteria = evaluation_service.criteria_of(found.application)
    form = request.form.copy()
    back = url_for("evaluator.detail", evaluation_id=evaluation_id)
    fresh_for_update()
    try:
        with transaction() as session:
            evaluation_service.submit_scores(
                session,
                actor(),
                evaluation_id,
                scores={c.key: form.get(f"score_{c.key}", "") for c in criteria},
                comments={c.key: form.get(f"comment_{c.key}", "") for c in criteria},
            )
    except ValidationFailed as exc:
        return _render(own_evaluation(evaluation_id), errors=exc.errors, values=form, status=422)
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(back)
    flash_done(_("Scores submitted. Thank you."))
    return redirect(back)
