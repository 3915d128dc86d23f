"""Public pages: the calls for proposals, and starting an application."""

from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from grants.db import utcnow
from grants.models import Application, Call
from grants.presenters.call_page import call_page
from grants.runtime import db_session, transaction
from grants.services import access, applications, call_guide
from grants.services.calls import list_calls
from grants.views.common import (
    actor,
    flash_done,
    flash_refused,
    roles_required,
    visible_call,
)
from workflows.call import CallState
from workflows.errors import TransitionRefused
from workflows.roles import Role

bp = Blueprint("public", __name__)


@bp.route("/")
def home() -> str:
    now = utcnow()
    calls = [c for c in list_calls(db_session()) if access.announced(c, now)]
    published = [c for c in calls if c.status == CallState.PUBLISHED]
    open_calls = sorted(
        (c for c in published if c.opens_at <= now < c.deadline), key=lambda c: c.deadline
    )
    upcoming_calls = sorted((c for c in published if now < c.opens_at), key=lambda c: c.opens_at)
    other_calls = [c for c in calls if c not in open_calls and c not in upcoming_calls]
    return render_template(
        "public/home.html",
        open_calls=open_calls,
        upcoming_calls=upcoming_calls,
        other_calls=other_calls,
        now=now,
    )


def _own_application(call: Call) -> Application | None:
    if not current_user.is_authenticated or current_user.role != Role.APPLICANT:
        return None
    return access.own_application_in(db_session(), call.id, current_user.organisation_id)


@bp.route("/calls/<int:call_id>")
def call(call_id: int) -> str:
    call = visible_call(call_id)
    return render_template(
        "public/call.html", **call_page(call, own_application=_own_application(call), now=utcnow())
    )


@bp.route("/calls/<int:call_id>/guide.pdf")
def guide(call_id: int) -> Response:
    call = visible_call(call_id)
    response = make_response(call_guide.guide_pdf(call))
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = (
        f'inline; filename="{call.reference}-guide-for-applicants.pdf"'
    )
    return response


@bp.route("/calls/<int:call_id>/apply", methods=["POST"])
@roles_required(Role.APPLICANT)
def start_application(call_id: int) -> Response:
    return start_draft(call_id)


def start_draft(call_id: int) -> Response:
    """Open the applicant's draft for the call (creating it once), or say why not."""
    call = visible_call(call_id)
    if current_user.organisation_id is None:
        # Vouchers go to organisations: register one (or join a colleague's) first.
        flash(
            _(
                "Before you apply, register your organisation: vouchers go to organisations, "
                "not to people. If a colleague already registered it, ask them to invite you."
            ),
            "info",
        )
        here = url_for("public.call", call_id=call_id)
        return redirect(url_for("organisation.profile", next=here, apply=call_id))
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
    flash_done(
        _(
            "Application %(reference)s started. Fill in the form and save it as you go.",
            reference=reference,
        )
    )
    return redirect(url_for("applications.edit", application_id=application_id))
