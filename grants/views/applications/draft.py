"""The applicant's draft: the form, saving, autosave, attachments."""

from __future__ import annotations

import io
import re
import secrets
from collections.abc import Mapping
from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from forms import display
from forms.schema import (
    EXTERNAL_REFERENCES,
    FILE_KINDS,
    LIST_TYPES,
    Field,
    FieldType,
    country_choices,
)
from forms.validation import describe, group_rows, group_totals, normalise
from grants.formatting import format_eur, local_time
from grants.models import (
    Application,
)
from grants.runtime import DbSession, db_session, runtime, transaction
from grants.services import (
    applications,
    attachments,
)
from grants.services.applications import ValidationFailed, form_fields
from grants.views.applications import bp
from grants.views.common import (
    actor,
    flash_done,
    flash_refused,
    fresh_for_update,
    roles_required,
    visible_application,
)
from workflows import numbers
from workflows.errors import TransitionRefused
from workflows.roles import Role
from workflows.voucher import AppState


@bp.app_template_filter("field_id")
def field_id(path: str) -> str:
    """An HTML id for an answer path: ``budget_lines[0].cost`` -> ``budget_lines-0-cost``."""
    return path.replace("[", "-").replace("]", "").replace(".", "-")


@bp.app_template_filter("filesize")
def filesize(size: int) -> str:
    return display.human_size(size)


@bp.app_template_filter("extension_of")
def extension_of(kind: str) -> str:
    """What a file input's ``accept`` lists for a kind: extension and MIME type."""
    return f".{attachments.EXTENSIONS[kind]},{FILE_KINDS[kind][0]}" + (
        ",.jpeg" if kind == "jpeg" else ""
    )


@bp.app_template_global("country_choices")
def template_country_choices(f: Field) -> list[tuple[str, str]]:
    return country_choices(f)


@bp.app_template_global("must_equal_label")
def must_equal_label(f: Field, fields: list[Field]) -> str:
    if f.must_equal in EXTERNAL_REFERENCES:
        return EXTERNAL_REFERENCES[f.must_equal]
    return next((g.label for g in fields if g.name == f.must_equal), f.must_equal or "")


def _draft_values(application: Application, fields: list[Field]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": application.title,
        "requested_amount": ""
        if application.requested_amount is None
        else str(application.requested_amount),
        "declaration_signed": application.declaration_signed,
    }
    answers = application.answers or {}
    for f in fields:
        value = answers.get(f.name)
        if f.type is FieldType.YES_NO:
            values[f.name] = value is True
        elif f.type in LIST_TYPES:
            values[f.name] = [str(v) for v in value] if isinstance(value, list) else []
        elif f.type is FieldType.GROUP:
            values[f.name] = [
                {k: "" if v is None else str(v) for k, v in row.items()}
                for row in group_rows(value)
                if isinstance(row, dict)
            ]
        elif f.type is FieldType.FILE:
            values[f.name] = None
        else:
            values[f.name] = "" if value is None else str(value)
    return values


_ITEM_KEY = re.compile(r"(?P<name>[a-z][a-z0-9_]*)\[(?P<index>\d{1,3})\]\.(?P<sub>[a-z][a-z0-9_]*)")


def _posted_values(fields: list[Field]) -> dict[str, Any]:
    """What the person typed, as the service takes it: groups from ``name[i].sub`` keys."""
    form = request.form
    values: dict[str, Any] = {
        "title": form.get("title", ""),
        "requested_amount": form.get("requested_amount", ""),
        "declaration_signed": "declaration_signed" in form,
    }
    items: dict[str, dict[int, dict[str, str]]] = {}
    for key in form:
        match = _ITEM_KEY.fullmatch(key)
        if match:
            rows = items.setdefault(match["name"], {})
            rows.setdefault(int(match["index"]), {})[match["sub"]] = form.get(key, "")
    for f in fields:
        if f.type is FieldType.YES_NO:
            values[f.name] = f.name in form
        elif f.type in LIST_TYPES:
            values[f.name] = form.getlist(f.name)
        elif f.type is FieldType.GROUP:
            rows = items.get(f.name, {})
            values[f.name] = group_rows(
                [{sub.name: rows[i].get(sub.name, "") for sub in f.fields} for i in sorted(rows)]
            )
        elif f.type is FieldType.FILE:
            values[f.name] = None
        else:
            values[f.name] = form.get(f.name, "")
    return values


def _answers(fields: list[Field], values: Mapping[str, Any]) -> dict[str, Any]:
    return {f.name: values[f.name] for f in fields if f.type is not FieldType.FILE}


def _posted_version() -> int | None:
    raw = request.form.get("version")
    if raw is None:
        return None  # a client that does not say what it started from (the API, old pages)
    try:
        return numbers.parse_id(raw)
    except numbers.NumberRefused:
        return -1  # not a version this server wrote: it conflicts with every saved one


def _labels(fields: list[Field], errors: Mapping[str, str]) -> dict[str, str]:
    labels = {
        "title": "Project title",
        "requested_amount": "Requested amount",
        "declaration_signed": "Declaration of honour",
    }
    return {path: labels.get(path) or describe(fields, path) for path in errors}


def _conflict_rows(
    application: Application, fields: list[Field], values: Mapping[str, Any]
) -> list[dict[str, str]]:
    """Each answer where the newer saved draft and this person's unsaved input differ."""
    rows = []
    saved_amount = application.requested_amount
    if application.title != values["title"].strip():
        rows.append(
            {"label": "Project title", "saved": application.title, "yours": values["title"]}
        )
    try:
        yours_amount = applications.parse_amount(values["requested_amount"])
    except ValidationFailed:
        yours_amount = None
    if saved_amount != yours_amount:
        rows.append(
            {
                "label": "Requested amount",
                "saved": format_eur(saved_amount),
                "yours": values["requested_amount"],
            }
        )
    saved = application.answers or {}
    yours = normalise(fields, _answers(fields, values))
    for f in fields:
        if f.type is FieldType.FILE or saved.get(f.name) == yours.get(f.name):
            continue
        if f.type is FieldType.GROUP:
            shown = (display.group_text(f, saved.get(f.name)),)
            shown += (display.group_text(f, yours.get(f.name)),)
        else:
            shown = (
                display.display_value(f, saved.get(f.name)),
                display.display_value(f, yours.get(f.name)),
            )
        rows.append({"label": f.label, "saved": shown[0], "yours": shown[1]})
    if application.declaration_signed != values["declaration_signed"]:
        rows.append(
            {
                "label": "Declaration of honour",
                "saved": "Signed" if application.declaration_signed else "Not signed",
                "yours": "Signed" if values["declaration_signed"] else "Not signed",
            }
        )
    return rows


def _render_edit(
    application: Application,
    values: dict[str, Any],
    errors: Mapping[str, str],
    status: int,
    *,
    conflict: dict[str, Any] | None = None,
) -> tuple[str, int]:
    fields = form_fields(application)
    return (
        render_template(
            "applications/edit.html",
            application=application,
            call=application.call,
            fields=fields,
            form_version=applications.form_version(application),
            values=values,
            errors=errors,
            labels=_labels(fields, errors),
            missing=applications.missing_for_submission(application),
            files=applications.current_attachments(application),
            totals={
                f.name: group_totals(f, values.get(f.name))
                for f in fields
                if f.type is FieldType.GROUP
            },
            conflict=conflict,
            submission_token=secrets.token_urlsafe(24),
        ),
        status,
    )


def _upload_files(application_id: int, fields: list[Field], version: int) -> dict[str, str]:
    """Store the files chosen in the draft form, each in its own transaction; their errors."""
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
                attachment = attachments.upload(
                    session,
                    actor(),
                    rt.storage,
                    application_id,
                    f.name,
                    filename=upload.filename,
                    data=data,
                    scanner=attachments.scanner_for(rt.config.virus_scan_command),
                    expected_version=version,
                )
                version = attachment.application.version
        except ValidationFailed as exc:
            errors.update(exc.errors)
        except attachments.ScanFailed:
            errors[f.name] = (
                "The virus check is not available right now, so the file was not kept. "
                "Try again in a few minutes."
            )
        except TransitionRefused as exc:
            errors[f.name] = exc.message[:1].upper() + exc.message[1:] + "."
    return errors


def _save_posted(
    session: DbSession, application_id: int, fields: list[Field], values: dict[str, Any]
) -> applications.SaveResult:
    """The draft as posted by the Save button or by autosave: one service call, one check."""
    return applications.save_draft(
        session,
        actor(),
        application_id,
        title=values["title"],
        requested_amount=values["requested_amount"],
        answers=_answers(fields, values),
        declaration_signed=values["declaration_signed"],
        expected_version=_posted_version(),
    )


@bp.route("/applications/<int:application_id>/edit", methods=["GET", "POST"])
@roles_required(Role.APPLICANT)
def edit(application_id: int) -> tuple[str, int] | Response:
    application = visible_application(application_id)
    if application.status != AppState.DRAFT:
        flash(_("This application is submitted and can no longer be edited."), "info")
        return redirect(url_for("applications.detail", application_id=application_id))
    fields = form_fields(application)
    if request.method == "GET":
        # ?check=1: a submit was refused; mark every answer that stops it.
        errors = applications.submission_errors(application) if request.args.get("check") else {}
        return _render_edit(application, _draft_values(application, fields), errors, 200)
    values = _posted_values(fields)
    fresh_for_update()
    try:
        with transaction() as session:
            result = _save_posted(session, application_id, fields, values)
            errors = dict(result.errors)
            version = result.application.version
    except applications.DraftConflict as exc:
        return _conflict(application_id, fields, values, exc)
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(url_for("applications.detail", application_id=application_id))
    errors.update(_upload_files(application_id, fields, version))
    if errors:
        flash(
            _("Your draft is saved, but some answers need correcting before you can submit."),
            "warning",
        )
        return _render_edit(visible_application(application_id), values, errors, 422)
    flash_done(_("Draft saved."))
    return redirect(url_for("applications.edit", application_id=application_id))


def _conflict(
    application_id: int,
    fields: list[Field],
    values: dict[str, Any],
    exc: applications.DraftConflict,
) -> tuple[str, int]:
    fresh_for_update()
    application = visible_application(application_id)
    chose_files = any(
        (upload := request.files.get(f.name)) is not None and upload.filename
        for f in fields
        if f.type is FieldType.FILE
    )
    flash(
        {
            "text": _(
                "Not saved: this draft was saved from another browser or by a colleague "
                "after you opened it."
            ),
            "items": [
                _("Your input is kept below, and what was saved meanwhile is shown next to it."),
                _(
                    "Save again to keep your version (it replaces the other one), or reload the "
                    "page to continue from the saved one."
                ),
            ]
            + (
                [_("Choose your file again: files are not kept by the browser.")]
                if chose_files
                else []
            ),
        },
        "error",
    )
    conflict = {
        "version": exc.current_version,
        "saved_at": local_time(application.updated_at, application.call.timezone),
        "rows": _conflict_rows(application, fields, values),
    }
    return _render_edit(application, values, {}, 409, conflict=conflict)


@bp.route("/applications/<int:application_id>/autosave", methods=["POST"])
@roles_required(Role.APPLICANT)
def autosave(application_id: int) -> tuple[Response, int]:
    """The draft form sent by the browser's autosave: the same service and version check."""
    application = visible_application(application_id)
    if application.status != AppState.DRAFT:
        return jsonify(ok=False, reason="this application is submitted; it cannot change"), 409
    fields = form_fields(application)
    values = _posted_values(fields)
    fresh_for_update()
    try:
        with transaction() as session:
            result = _save_posted(session, application_id, fields, values)
            saved = result.application
            body = {
                "ok": True,
                "version": saved.version,
                "changed": result.changed,
                "saved_at": saved.updated_at.isoformat(),
                "errors": len(result.errors),
                # Which answers to correct (paths such as ``budget_lines[1].cost``).
                "fields": sorted(result.errors),
            }
    except applications.DraftConflict as exc:
        return jsonify(
            ok=False,
            conflict=True,
            version=exc.current_version,
            reason="saved meanwhile from another browser; use Save draft to compare",
        ), 409
    except TransitionRefused as exc:
        return jsonify(ok=False, reason=exc.message), 409
    # Saved either way (a draft never loses what was typed); 422 says some answers, named in
    # "fields", cannot be read as they are.
    return jsonify(body), 422 if result.errors else 200


@bp.route("/attachments/<int:attachment_id>")
@roles_required(*Role)
def attachment(attachment_id: int) -> Response | tuple[str, int]:
    """A file of an application, for whoever may see the application."""
    try:
        found, data = attachments.for_download(
            db_session(), actor(), runtime().storage, attachment_id
        )
    except (LookupError, OSError):
        abort(404)
    response = send_file(
        io.BytesIO(data),
        mimetype=found.content_type,
        as_attachment=True,
        download_name=found.filename,
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.app_errorhandler(413)
def too_large(_exc: Exception) -> tuple[str, int]:
    limit = display.human_size(current_app.config["MAX_CONTENT_LENGTH"] or 0)
    return render_template(
        "errors/error.html",
        code=413,
        title="The file is too large",
        message=f"The form with its files may be at most {limit}. Nothing was saved: go "
        "back, choose a smaller file and save again.",
    ), 413
