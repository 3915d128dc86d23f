"""What the application page shows: answers as text, the timeline in words, people's names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms import display
from forms.schema import FieldType
from grants import steps
from grants.models import Application, Attachment, AuditEvent, User
from grants.services import applications, attachments
from grants.services.applications import form_fields
from workflows.roles import Role

# Audit actions that are not workflow steps, as a person reads them.
ACTION_LABELS = {
    "create_draft": "Draft started",
    "save_draft": "Draft saved",
    "assign_evaluator": "Evaluator assigned",
    "declare_no_conflict": "Declared no conflict of interest",
    "declare_conflict": "Declared a conflict of interest",
    "submit_scores": "Scores submitted",
    "prepare_prefinancing": "Pre-financing prepared",
    "upload_attachment": "File uploaded",
    "replace_attachment": "File replaced",
    "request_redress": "Redress requested",
}

_WORKFLOW_OF_ENTITY = {"payment": "payment", "call": "call", "redress": "redress"}


def event_label(event: AuditEvent, application: Application | None = None) -> str:
    """What happened, in words: a step's registry label, never an internal trigger name."""
    if event.action in ACTION_LABELS:
        return ACTION_LABELS[event.action]
    workflow = _WORKFLOW_OF_ENTITY.get(event.entity_type)
    if workflow is None:
        workflow = application.workflow.name if application is not None else "voucher"
    label = steps.label_of(workflow, event.action)
    if label is not None:
        return f"Pre-financing: {label.lower()}" if workflow == "payment" else label
    return event.action.replace("_", " ").capitalize()


@dataclass(frozen=True)
class AnswerRow:
    label: str
    value: str  # the answer as text (groups as numbered lines, files as name and sha256)
    long: bool = False
    table: dict[str, Any] | None = None  # a group: headers, rows, totals
    file: Attachment | None = None  # a file field: the current attachment
    earlier: tuple[Attachment, ...] = ()  # a file field: the files it replaced


def answer_rows(application: Application) -> list[AnswerRow]:
    rows = []
    files = applications.current_attachments(application)
    for f in form_fields(application):
        value = (application.answers or {}).get(f.name)
        if f.type is FieldType.GROUP:
            text = display.group_text(f, value)
            table = display.group_table(f, value) if text else None
            rows.append(AnswerRow(f.label, text, True, table=table))
        elif f.type is FieldType.FILE:
            current = files.get(f.name)
            earlier = tuple(a for a in attachments.history(application, f.name) if a is not current)
            text = display.file_summary(current) if current else ""
            rows.append(AnswerRow(f.label, text, file=current, earlier=earlier))
        else:
            text = display.display_value(f, value)
            rows.append(AnswerRow(f.label, text, f.type is FieldType.LONG_TEXT))
    return rows


def timeline(session: Session, application: Application, viewer: Role) -> list[dict[str, Any]]:
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.application_id == application.id)
        .order_by(AuditEvent.id)
    )
    rows: list[dict[str, Any]] = []
    for event in events:
        # The SME follows its own file, not who evaluates it or what each expert wrote.
        if viewer == Role.APPLICANT and event.entity_type not in ("application", "payment"):
            continue
        last = rows[-1] if rows else None
        if (
            last is not None
            and event.action == "save_draft" == last["event"].action
            and event.actor_id == last["event"].actor_id
        ):
            # Autosave writes many saves in a row: one line, with the latest time.
            last["saves"] += 1
            last["event"] = event
            last["label"] = f"Draft saved ({last['saves']} times)"
            continue
        rows.append(
            {
                "event": event,
                "label": event_label(event, application),
                "before": event.before.get("status", ""),
                "after": event.after.get("status", ""),
                "saves": 1,
            }
        )
    return rows


def user_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {u.id: u.full_name for u in session.scalars(select(User).where(User.id.in_(wanted)))}
