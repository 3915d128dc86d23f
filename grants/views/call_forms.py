"""Officers define a call's application form from a JSON or YAML text, preview it, version it."""

from __future__ import annotations

from typing import Any

import yaml
from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from forms.schema import Field, FormDefinitionError, dump_form, parse_form
from forms.validation import group_totals
from grants.models import Call
from grants.runtime import db_session, transaction
from grants.services import calls, report_forms
from grants.views.common import (
    actor,
    flash_done,
    flash_refused,
    fresh_for_update,
    roles_required,
    staff_call,
)
from workflows.errors import TransitionRefused
from workflows.roles import Role

bp = Blueprint("call_forms", __name__)


def as_yaml(definition: list[Any]) -> str:
    """The definition as YAML, keys in their canonical order (PostgreSQL's JSONB does not keep
    the order they were written in)."""
    canonical = dump_form(parse_form(definition)) if definition else []
    return yaml.safe_dump(canonical, sort_keys=False, allow_unicode=True, width=10_000)


# Which form of the call the editor shows: the application form, or the final report form
# (grants/services/report_forms.py), versioned the same way.
APPLICATION, REPORT = "application", report_forms.REPORT


def _current(call: Call, kind: str) -> tuple[int, list[Any]]:
    if kind == REPORT:
        return report_forms.current_definition(db_session(), call)
    return call.form_version, call.form


def _render(
    call: Call,
    text: str,
    *,
    kind: str = APPLICATION,
    preview: list[Field] | None = None,
    problems: list[str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    version, definition = _current(call, kind)
    fields = parse_form(definition) if definition else []
    shown = preview if preview is not None else fields
    return (
        render_template(
            "call_forms/edit.html",
            call=call,
            kind=kind,
            current_version=version,
            text=text,
            fields=shown,
            previewing=preview is not None,
            problems=problems or [],
            problem_links=[("definition", p) for p in problems or []],
            versions=report_forms.report_form_versions(db_session(), call.id)
            if kind == REPORT
            else calls.form_versions(db_session(), call.id),
            editable=call.status
            in (report_forms.REPORT_FORM_EDITABLE if kind == REPORT else calls.FORM_EDITABLE),
            values={},
            errors={},
            totals={f.name: group_totals(f, []) for f in shown if f.type == "group"},
        ),
        status,
    )


@bp.route("/calls/<int:call_id>/form", methods=["GET", "POST"])
@roles_required(Role.OFFICER)
def edit(call_id: int) -> tuple[str, int] | Response:
    return _edit(call_id, APPLICATION)


@bp.route("/calls/<int:call_id>/report-form", methods=["GET", "POST"])
@roles_required(Role.OFFICER)
def edit_report(call_id: int) -> tuple[str, int] | Response:
    """The same editor for the call's final report form (its own versions)."""
    return _edit(call_id, REPORT)


def _edit(call_id: int, kind: str) -> tuple[str, int] | Response:
    call = staff_call(call_id)
    here = url_for(
        "call_forms.edit_report" if kind == REPORT else "call_forms.edit", call_id=call_id
    )
    if request.method == "GET":
        return _render(call, as_yaml(_current(call, kind)[1]), kind=kind)
    text = request.form.get("definition", "")
    if request.form.get("action") != "save":
        try:
            preview = (
                report_forms.preview_report_form(db_session(), call_id, text)
                if kind == REPORT
                else calls.preview_form(text)
            )
        except FormDefinitionError as exc:
            return _render(call, text, kind=kind, problems=exc.problems, status=422)
        return _render(call, text, kind=kind, preview=preview)
    fresh_for_update()
    try:
        with transaction() as session:
            if kind == REPORT:
                version = report_forms.update_report_form(session, actor(), call_id, text).version
            else:
                version = calls.update_form(session, actor(), call_id, text).version
    except FormDefinitionError as exc:
        return _render(staff_call(call_id), text, kind=kind, problems=exc.problems, status=422)
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(here)
    if kind == REPORT:
        flash_done(
            _(
                "Report form saved as version %(version)s. Reports started from now on use it; "
                "those already started keep their version.",
                version=version,
            )
        )
    else:
        flash_done(
            _(
                "Form saved as version %(version)s. Applications started from now on use it; "
                "those already started keep their version.",
                version=version,
            )
        )
    return redirect(here)
