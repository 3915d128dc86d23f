"""The final report form on the application page: save the draft, upload files, submit."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from forms.schema import Field, FieldType
from grants import steps
from grants.presenters import final_report
from grants.runtime import db_session, runtime, transaction
from grants.services import attachments, report_forms, reporting
from grants.services.applications import ValidationFailed
from grants.views.applications import bp
from grants.views.applications.actions import done_message
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

TRIGGER = "submit_report"


@bp.app_template_global("report_posted_values")
def report_posted_values(fields: list[Field], form: Any) -> dict[str, Any]:
    """A refused step's posted report form, shown back as typed."""
    return final_report.posted_values(fields, form)


def _upload_files(application_id: int, fields: list[Field]) -> dict[str, str]:
    """Store the files chosen in the form, each in its own transaction; their errors."""
    errors: dict[str, str] = {}
    rt = runtime()
    for f in fields:
        if f.type is not FieldType.FILE:
            continue
        upload = request.files.get(f.name)
        if upload is None or not upload.filename:
            continue
        data = upload.read()
        fresh_for_update()
        try:
            with transaction() as session:
                report_forms.upload_report_file(
                    session,
                    actor(),
                    rt.storage,
                    application_id,
                    f.name,
                    filename=upload.filename,
                    data=data,
                    scanner=attachments.scanner_for(rt.config.virus_scan_command),
                )
        except ValidationFailed as exc:
            errors.update(exc.errors)
        except attachments.ScanFailed:
            errors[f.name] = _(
                "The virus check is not available right now, so the file was not kept. "
                "Try again in a few minutes."
            )
        except TransitionRefused as exc:
            errors[f.name] = exc.message[:1].upper() + exc.message[1:] + "."
    return errors


def _render(application_id: int, errors: dict[str, str], values: dict[str, Any], status: int):
    application = visible_application(application_id)
    ctx = detail_context(application, errors={TRIGGER: errors})
    ctx["report_values"] = values  # what the person typed, not what was saved before
    return render_template("applications/detail.html", **ctx), status


@bp.route("/applications/<int:application_id>/final-report", methods=["POST"])
@roles_required(Role.APPLICANT)
def final_report_form(application_id: int) -> tuple[str, int] | Response:
    """Save the report draft (answers kept, valid or not) and its files; with the submit
    button, then submit the saved report. Nothing typed is lost when a step refuses."""
    application = visible_application(application_id)
    step = steps.find(application.workflow.name, TRIGGER)
    if step is None:
        abort(404)
    back = url_for("applications.detail", application_id=application_id)
    fields = report_forms.form_for(db_session(), application)[1]
    values = final_report.posted_values(fields, request.form)
    fresh_for_update()
    try:
        with transaction() as session:
            saved = report_forms.save_report_draft(
                session,
                actor(),
                application_id,
                answers=final_report.answers_of(fields, values),
            )
            errors = dict(saved.errors)
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(back)
    errors.update(_upload_files(application_id, fields))
    if request.form.get("action") == "save":
        if errors:
            flash(
                _(
                    "Your report draft is saved, but some answers need correcting before you can "
                    "submit it."
                ),
                "warning",
            )
            return _render(application_id, errors, values, 422)
        flash_done(_("Report draft saved."))
        return redirect(f"{back}#action-{TRIGGER}")
    if errors:
        flash(_("Not submitted: your draft is saved; correct the highlighted answers."), "error")
        return _render(application_id, errors, values, 422)
    fresh_for_update()
    try:
        with transaction() as session:
            result = reporting.submit_report(session, actor(), application_id)
            message = done_message(step, result, application.workflow)
    except ValidationFailed as exc:
        flash(_("Not submitted: your draft is saved; correct the highlighted answers."), "error")
        return _render(application_id, exc.errors, values, 422)
    except TransitionRefused as exc:
        flash_refused(exc)
        application = visible_application(application_id)
        draft = report_forms.draft_of(db_session(), application)
        answers = draft.answers if draft is not None else {}
        missing = report_forms.submission_errors(
            fields, answers, report_forms.report_files(application, answers)
        )
        return _render(application_id, missing, values, 409)
    flash_done(message)
    return redirect(back)
