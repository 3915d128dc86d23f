"""Public pages: the calls for proposals, and starting an application."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from grants.app import db_session, transaction
from grants.db import utcnow
from grants.models import Application, Call
from grants.services import applications
from grants.services.calls import list_calls
from grants.views.common import (
    actor,
    flash_done,
    flash_refused,
    roles_required,
    visible_call,
)
from workflows import scoring
from workflows.call import CallState
from workflows.diagram import workflow_svg
from workflows.errors import TransitionRefused
from workflows.registry import get_workflow
from workflows.roles import Role

bp = Blueprint("public", __name__)


@bp.route("/")
def home() -> str:
    calls = [c for c in list_calls(db_session()) if c.status != CallState.DRAFT]
    open_calls = sorted(
        (c for c in calls if c.status == CallState.PUBLISHED), key=lambda c: c.deadline
    )
    other_calls = [c for c in calls if c.status != CallState.PUBLISHED]
    return render_template(
        "public/home.html", open_calls=open_calls, other_calls=other_calls, now=utcnow()
    )


def _own_application(call: Call) -> Application | None:
    if not current_user.is_authenticated or current_user.role != Role.APPLICANT:
        return None
    if current_user.organisation_id is None:
        return None
    return db_session().scalar(
        select(Application).where(
            Application.call_id == call.id,
            Application.organisation_id == current_user.organisation_id,
        )
    )


@bp.route("/calls/<int:call_id>")
def call(call_id: int) -> str:
    call = visible_call(call_id)
    definition = get_workflow(call.workflow_name, call.workflow_version)
    return render_template(
        "public/call.html",
        call=call,
        criteria=scoring.criteria_from_config(call.criteria),
        diagram=workflow_svg(definition),
        own_application=_own_application(call),
        deadline_passed=utcnow() >= call.deadline,
    )


@bp.route("/calls/<int:call_id>/apply", methods=["POST"])
@roles_required(Role.APPLICANT)
def start_application(call_id: int) -> Response:
    call = visible_call(call_id)
    existing = _own_application(call)
    if existing is not None:
        return redirect(url_for("applications.detail", application_id=existing.id))
    try:
        with transaction() as session:
            application = applications.create_draft(session, actor(), call.id)
            application_id = application.id
            reference = application.reference
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(url_for("public.call", call_id=call_id))
    flash_done(f"Application {reference} started. Fill in the form and save it as you go.")
    return redirect(url_for("applications.edit", application_id=application_id))
