"""Redress from the application page: the applicant files a request, an officer decides it."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from grants.errors import NotFound
from grants.models import RedressRequest
from grants.runtime import db_session, transaction
from grants.services import redress
from grants.services.applications import ValidationFailed
from grants.views.applications import bp
from grants.views.applications.page import detail_context
from grants.views.common import (
    actor,
    flash_done,
    flash_refused,
    fresh_for_update,
    roles_required,
    visible_application,
)
from workflows.errors import TransitionRefused
from workflows.roles import Role

Page = tuple[str, int]


def _back(application_id: int) -> str:
    return url_for("applications.detail", application_id=application_id, _anchor="redress")


def _page_with_errors(application_id: int, form: str, errors: dict[str, str]) -> Page:
    """The application page again, with what was typed and what to correct."""
    application = visible_application(application_id)
    context = detail_context(application)
    context["redress_errors"] = {form: errors}
    context["redress_values"] = {form: MultiDict(request.form)}
    return render_template("applications/detail.html", **context), 422


@bp.route("/applications/<int:application_id>/redress-request", methods=["POST"])
@roles_required(Role.APPLICANT)
def request_redress(application_id: int) -> Response | Page:
    visible_application(application_id)
    fresh_for_update()
    try:
        with transaction() as session:
            redress.file_request(
                session, actor(), application_id, grounds=request.form.get("grounds", "")
            )
    except ValidationFailed as exc:
        return _page_with_errors(application_id, "file", dict(exc.errors))
    except TransitionRefused as exc:
        flash_refused(exc)
    else:
        flash_done(
            _(
                "Your request for redress is filed. A programme officer reviews it; the "
                "acknowledgement is in Documents and you will get the decision in writing."
            )
        )
    return redirect(
        url_for("applications.detail", application_id=application_id, _anchor="redress")
    )


@bp.route("/redress/<int:redress_id>/decide", methods=["POST"])
@roles_required(Role.OFFICER)
def decide_redress(redress_id: int) -> Response | Page:
    found = db_session().get(RedressRequest, redress_id)
    if found is None:
        raise NotFound(f"no redress request {redress_id}")
    application_id = found.application_id
    outcome = request.form.get("outcome", "")
    if outcome not in ("uphold", "reject"):
        return _page_with_errors(
            application_id,
            f"decide-{redress_id}",
            {"outcome": _("choose whether the request is upheld or rejected")},
        )
    fresh_for_update()
    try:
        with transaction() as session:
            redress.decide(
                session,
                actor(),
                redress_id,
                upheld=outcome == "uphold",
                reasons=request.form.get("reasons", ""),
            )
    except ValidationFailed as exc:
        return _page_with_errors(application_id, f"decide-{redress_id}", dict(exc.errors))
    except TransitionRefused as exc:
        flash_refused(exc)
    else:
        flash(
            _("Redress request upheld: the applicant receives the decision letter.")
            if outcome == "uphold"
            else _("Redress request rejected: the applicant receives the decision letter."),
            "success",
        )
    return redirect(
        url_for("applications.detail", application_id=application_id, _anchor="redress")
    )
