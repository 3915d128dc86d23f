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
from grants.services import calls
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


def _render(
    call: Call,
    text: str,
    *,
    preview: list[Field] | None = None,
    problems: list[str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    fields = parse_form(call.form) if call.form else []
    shown = preview if preview is not None else fields
    return (
        render_template(
            "call_forms/edit.html",
            call=call,
            text=text,
            fields=shown,
            previewing=preview is not None,
            problems=problems or [],
            problem_links=[("definition", p) for p in problems or []],
            versions=calls.form_versions(db_session(), call.id),
            editable=call.status in calls.FORM_EDITABLE,
            values={},
            errors={},
            totals={f.name: group_totals(f, []) for f in shown if f.type == "group"},
        ),
        status,
    )


@bp.route("/calls/<int:call_id>/form", methods=["GET", "POST"])
@roles_required(Role.OFFICER)
def edit(call_id: int) -> tuple[str, int] | Response:
    call = staff_call(call_id)
    if request.method == "GET":
        return _render(call, as_yaml(call.form))
    text = request.form.get("definition", "")
    if request.form.get("action") != "save":
        try:
            preview = calls.preview_form(text)
        except FormDefinitionError as exc:
            return _render(call, text, problems=exc.problems, status=422)
        return _render(call, text, preview=preview)
    fresh_for_update()
    try:
        with transaction() as session:
            form = calls.update_form(session, actor(), call_id, text)
            version = form.version
    except FormDefinitionError as exc:
        return _render(staff_call(call_id), text, problems=exc.problems, status=422)
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(url_for("call_forms.edit", call_id=call_id))
    flash_done(
        _(
            "Form saved as version %(version)s. Applications started from now on use it; "
            "those already started keep their version.",
            version=version,
        )
    )
    return redirect(url_for("call_forms.edit", call_id=call_id))
