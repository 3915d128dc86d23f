"""What the application page shows of the final report: the form, the reports sent, due dates."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from forms import display
from forms.schema import LIST_TYPES, Field, FieldType, parse_form_cached
from forms.validation import group_rows, group_totals
from grants.db import utcnow
from grants.models import Application, Attachment, Report, ReportForm
from grants.services import report_forms
from grants.services.actor import Actor
from workflows.registry import application_states_where
from workflows.states import DeadlineRule


def form_values(fields: list[Field], answers: Mapping[str, Any]) -> dict[str, Any]:
    """Saved answers as the form's inputs show them (``applications/_fields.html``)."""
    values: dict[str, Any] = {}
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


def posted_values(fields: list[Field], form: Any) -> dict[str, Any]:
    """What the person typed (a posted form), in the shape of ``form_values``."""
    items: dict[str, dict[int, dict[str, str]]] = {}
    for key in form:
        match = _ITEM_KEY.fullmatch(key)
        if match:
            rows = items.setdefault(match["name"], {})
            rows.setdefault(int(match["index"]), {})[match["sub"]] = form.get(key, "")
    values: dict[str, Any] = {}
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


def answers_of(fields: list[Field], values: Mapping[str, Any]) -> dict[str, Any]:
    """The answers the draft service takes (files are uploaded, never typed)."""
    return {f.name: values.get(f.name) for f in fields if f.type is not FieldType.FILE}


def panel(session: Session, application: Application, _actor: Actor) -> dict[str, Any]:
    """The submit_report panel: the call-defined report form with the saved draft."""
    version, fields = report_forms.form_for(session, application)
    draft = report_forms.draft_of(session, application)
    answers = draft.answers if draft is not None else {}
    values = form_values(fields, answers)
    return {
        "report_fields": fields,
        "report_form_version": version,
        "report_values": values,
        "report_files": report_forms.report_files(application, answers),
        "report_saved_at": draft.updated_at if draft is not None and draft.answers else None,
        "report_totals": {
            f.name: group_totals(f, values.get(f.name)) for f in fields if f.type is FieldType.GROUP
        },
    }


@dataclass(frozen=True)
class ReportAnswer:
    label: str
    value: str
    long: bool = False
    file: Attachment | None = None
    earlier: tuple[Attachment, ...] = ()


def report_answers(
    session: Session, application: Application, report: Report
) -> list[ReportAnswer]:
    """A submitted report's answers to its form version, files linked (with replaced ones)."""
    if report.form_id is None:
        return []
    form = session.get(ReportForm, report.form_id)
    if form is None:  # pragma: no cover - a foreign key
        return []
    answers = report.answers or {}
    by_id = {a.id: a for a in application.attachments if a.form_kind == report_forms.REPORT}
    rows = []
    for f in parse_form_cached(form.definition):
        value = answers.get(f.name)
        if f.type is FieldType.FILE:
            current = by_id.get(value) if isinstance(value, int) else None
            earlier = tuple(
                a
                for a in report_forms.report_history(application, f.name)
                if a is not current and (current is None or a.id < current.id)
            )
            rows.append(ReportAnswer(f.label, "", file=current, earlier=earlier))
        elif f.type is FieldType.GROUP:
            rows.append(ReportAnswer(f.label, display.group_text(f, value), True))
        else:
            text = display.display_value(f, value)
            rows.append(ReportAnswer(f.label, text, f.type is FieldType.LONG_TEXT))
    return rows


def report_context(
    session: Session, application: Application, now: datetime | None = None
) -> dict[str, Any]:
    """For the page: each report's answers, and when the report is due (or overdue)."""
    return {
        "report_rows": {r.id: report_answers(session, application, r) for r in application.reports},
        "report_deadline": report_forms.report_deadline(application, now or utcnow()),
    }


def reports_due(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Vouchers whose final report is expected (due or overdue), the earliest due first."""
    states = application_states_where("deadline", equals=DeadlineRule.REPORT_DUE)
    rows = []
    for application in session.scalars(
        select(Application)
        .where(Application.status.in_(states))
        .options(
            selectinload(Application.call),
            selectinload(Application.organisation),
            selectinload(Application.reports),
        )
        .order_by(Application.id)
    ):
        deadline = report_forms.report_deadline(application, now)
        if deadline is not None:
            rows.append({"application": application, "deadline": deadline})
    return sorted(rows, key=lambda r: (r["deadline"].due, r["application"].reference))


def report_deadlines(applications: list[Application], now: datetime) -> dict[int, Any]:
    """Each application's report deadline, where one is expected (the applicant's list)."""
    found = {a.id: report_forms.report_deadline(a, now) for a in applications}
    return {k: v for k, v in found.items() if v is not None}
