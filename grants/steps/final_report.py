"""The final report posted with the submit_report step's form: answers and files at once."""

from __future__ import annotations

from flask import has_request_context, request
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from forms.schema import FieldType
from grants.errors import ValidationFailed
from grants.presenters import final_report
from grants.runtime import runtime
from grants.services import attachments, report_forms, reporting
from grants.services.actor import Actor
from grants.services.workflow import StepResult, load_own_application


def save_and_submit(
    session: Session, actor: Actor, application_id: int, form: MultiDict[str, str]
) -> StepResult:
    """Save the posted answers and files into the report draft, then submit it (one
    transaction: a refusal keeps nothing, and says what to correct)."""
    application = load_own_application(session, actor, application_id)
    fields = report_forms.form_for(session, application)[1]
    values = final_report.posted_values(fields, form)
    saved = report_forms.save_report_draft(
        session, actor, application_id, answers=final_report.answers_of(fields, values)
    )
    if saved.errors:
        raise ValidationFailed(saved.errors)
    if has_request_context():
        rt = runtime()
        for f in fields:
            upload = request.files.get(f.name) if f.type is FieldType.FILE else None
            if upload is None or not upload.filename:
                continue
            report_forms.upload_report_file(
                session,
                actor,
                rt.storage,
                application_id,
                f.name,
                filename=upload.filename,
                data=upload.read(),
                scanner=attachments.scanner_for(rt.config.virus_scan_command),
            )
    return reporting.submit_report(session, actor, application_id)
