"""Final reports defined by the call: the report form's versions, the SME's draft, its files.

A call's report form is a form-engine definition (``forms.schema``), versioned like the
application form. Until an officer saves one, the call uses the default of its cost basis
(``default_definition``): a summary, the costs incurred and subcontracted, and the provider's
invoices and proof of payment for a cost-based call; a summary and a proof of delivery for a
lump sum. The first report draft of a call saves that default as version 1, so each report
names the exact questions it answered; a draft keeps its version when the form changes later.

Some field names carry meaning beyond the form, read by ``reporting.submit_report``:
``summary`` (the report's summary), ``claimed_costs`` (the eligible costs claimed: a
cost-based call's form must have it, as a money field) and ``subcontracted_costs`` (checked
against the 25% subcontracting limit), ``provider_delivery_confirmed`` (on a call paying the
service provider directly: the SME's confirmation of delivery and request that the voucher
be paid to the provider, a required yes/no field such a call's report form must have).

Report files are attachments of kind ``report`` (``Attachment.form_kind``), checked and stored
as the application's are (``attachments.check_upload``, the virus-scan hook, sha256); they
may be uploaded while the voucher is contracted (the report being written or revised).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from documents.storage import DocumentStorage, sha256_hex
from forms import display
from forms.schema import FILE_KINDS, Field, FieldType, FormDefinitionError, parse_form_cached
from forms.validation import normalise, validate
from grants.db import utcnow
from grants.errors import ValidationFailed, require_role
from grants.models import Application, Attachment, Call, ReportDraft, ReportForm
from grants.services import attachments, audit
from grants.services.actor import Actor
from grants.services.calls import definition_sha256, parse_form_text
from grants.services.expectations import due_moment, report_due
from grants.services.workflow import (
    NotFound,
    flush_or_refuse,
    load_call,
    load_own_application,
)
from workflows.call import CallState
from workflows.call_rules import CostBasis
from workflows.errors import TransitionRefused
from workflows.i18n import _
from workflows.roles import Role
from workflows.states import DeadlineRule
from workflows.voucher import AppState

log = logging.getLogger(__name__)

REPORT = "report"
# Field names whose answers the report row keeps in its own columns.
SUMMARY, CLAIMED, SUBCONTRACTED = "summary", "claimed_costs", "subcontracted_costs"
DELIVERY = "provider_delivery_confirmed"

# The report form may change until the call is archived: reports already started keep theirs.
REPORT_FORM_EDITABLE = tuple(s for s in CallState if s != CallState.ARCHIVED)

_SUMMARY_FIELD: dict[str, Any] = {
    "name": SUMMARY,
    "label": "Summary of activities and results",
    "type": "long_text",
    "required": True,
    "max_words": 1000,
    "help": "What was done, by whom and when, and what it achieved against the plan.",
}


DELIVERY_FIELD: dict[str, Any] = {
    "name": DELIVERY,
    "label": "The service provider delivered the service as agreed; I ask that the voucher "
    "be paid to it directly",
    "type": "yes_no",
    "required": True,
    "help": "This call pays the voucher to the service provider, once, when you confirm "
    "delivery and the report is approved. Tick the box to confirm.",
}


def default_definition(
    cost_basis: str, *, pay_provider_directly: bool = False
) -> list[dict[str, Any]]:
    """Today's final report as a form: what a call asks when no officer changed it. On a
    call paying the service provider directly the SME confirms delivery (a required box),
    and shows no proof of having paid the provider: the voucher pays it."""
    fields = _default_fields(cost_basis)
    if pay_provider_directly:
        fields = [f for f in fields if f["name"] != "proof_of_payment"] + [dict(DELIVERY_FIELD)]
    return fields


def _default_fields(cost_basis: str) -> list[dict[str, Any]]:
    if cost_basis == CostBasis.LUMP_SUM:
        return [
            dict(_SUMMARY_FIELD),
            {
                "name": "proof_of_delivery",
                "label": "Proof of delivery",
                "type": "file",
                "required": True,
                "accept": ["pdf", "png", "jpeg"],
                "help": "The deliverable, or the acceptance certificate signed by the service "
                "provider and your organisation.",
            },
        ]
    return [
        dict(_SUMMARY_FIELD),
        {
            "name": CLAIMED,
            "label": "Eligible costs incurred (EUR)",
            "type": "money",
            "required": True,
            "help": "For example 7500.00",
        },
        {
            "name": SUBCONTRACTED,
            "label": "Of which subcontracted (EUR)",
            "type": "money",
            "help": "At most 25% of the voucher budget.",
        },
        {
            "name": "invoices",
            "label": "Invoices from the voucher service provider",
            "type": "file",
            "required": True,
            "accept": ["pdf"],
            "help": "The provider's invoices for the activity, in one PDF.",
        },
        {
            "name": "proof_of_payment",
            "label": "Proof of payment",
            "type": "file",
            "required": True,
            "accept": ["pdf", "png", "jpeg"],
            "help": "Bank statement or transfer confirmation showing the invoices paid.",
        },
    ]


# -- the call's report form and its versions --------------------------------------------------


def report_form_versions(session: Session, call_id: int) -> list[ReportForm]:
    return list(
        session.scalars(
            select(ReportForm)
            .where(ReportForm.call_id == call_id)
            .order_by(ReportForm.version.desc())
        )
    )


def latest_report_form(session: Session, call_id: int) -> ReportForm | None:
    return session.scalars(
        select(ReportForm)
        .where(ReportForm.call_id == call_id)
        .order_by(ReportForm.version.desc())
        .limit(1)
    ).first()


def current_definition(session: Session, call: Call) -> tuple[int, list[dict[str, Any]]]:
    """The call's report form now: (its version, its definition); version 0 is the default
    of the cost basis, not saved yet."""
    form = latest_report_form(session, call.id)
    if form is None:
        return 0, _call_default(call)
    return form.version, form.definition


def _call_default(call: Call) -> list[dict[str, Any]]:
    return default_definition(call.cost_basis, pay_provider_directly=call.pay_provider_directly)


def asks_delivery(fields: list[Field]) -> bool:
    """The form asks the SME to confirm delivery, as a call paying the provider needs."""
    found = next((f for f in fields if f.name == DELIVERY), None)
    return found is not None and found.type is FieldType.YES_NO and found.required


def definition_problems(fields: list[Field], call: Call) -> list[str]:
    """What a report form needs beyond being a valid form, for the report's rules."""
    by_name = {f.name: f for f in fields}
    problems = []
    claimed = by_name.get(CLAIMED)
    if call.cost_basis != CostBasis.LUMP_SUM and claimed is None:
        problems.append(
            _(
                "a call paid on costs needs a money field named %(name)s (the eligible costs "
                "claimed)",
                name=CLAIMED,
            )
        )
    for name in (CLAIMED, SUBCONTRACTED):
        found = by_name.get(name)
        if found is not None and found.type is not FieldType.MONEY:
            problems.append(_("field %(name)s must be of type money", name=repr(name)))
    summary = by_name.get(SUMMARY)
    if summary is not None and summary.type not in (FieldType.TEXT, FieldType.LONG_TEXT):
        problems.append(_("field %(name)s must be of type text or long_text", name=repr(SUMMARY)))
    if call.pay_provider_directly and not asks_delivery(fields):
        problems.append(
            _(
                "a call paying the service provider directly needs a required yes_no field "
                "named %(name)s (the SME confirms delivery and asks that the provider be paid)",
                name=DELIVERY,
            )
        )
    return problems


def preview_report_form(session: Session, call_id: int, raw_text: str) -> list[Field]:
    """The report form as the SME will see it; nothing is saved."""
    call = session.get(Call, call_id)
    if call is None:
        raise NotFound(f"no call {call_id}")
    fields = parse_form_cached(parse_form_text(raw_text))
    problems = definition_problems(fields, call)
    if problems:
        raise FormDefinitionError(problems)
    return fields


def update_report_form(session: Session, actor: Actor, call_id: int, raw_text: str) -> ReportForm:
    """Save a pasted definition as the call's next report form version.

    Reports already started keep the version they pinned; report drafts started from now on
    get this one. Raises ``FormDefinitionError`` for a definition that cannot be used (or is
    unchanged), ``TransitionRefused`` once the call is archived.
    """
    require_role(actor, Role.OFFICER)
    call = load_call(session, call_id)
    if call.status not in REPORT_FORM_EDITABLE:
        raise TransitionRefused(_("the report form of an archived call cannot change"))
    definition = parse_form_text(raw_text)
    problems = definition_problems(parse_form_cached(definition), call)
    if problems:
        raise FormDefinitionError(problems)
    version, current = current_definition(session, call)
    if version and definition == current:
        raise FormDefinitionError(
            [_("this is the same form as version %(version)s: nothing to save", version=version)]
        )
    form = _add_version(session, call, definition, actor.user_id)
    audit.record(
        session,
        actor,
        "update_report_form",
        entity_type="call",
        entity_id=call.reference,
        before={"report_form_version": version, "sha256": definition_sha256(current)},
        after={
            "report_form_version": form.version,
            "sha256": definition_sha256(definition),
            "fields": [f["name"] for f in definition],
        },
    )
    return form


def _add_version(
    session: Session, call: Call, definition: list[dict[str, Any]], user_id: int | None
) -> ReportForm:
    latest = session.scalar(
        select(func.max(ReportForm.version)).where(ReportForm.call_id == call.id)
    )
    form = ReportForm(
        call_id=call.id, version=(latest or 0) + 1, definition=definition, created_by_id=user_id
    )
    session.add(form)
    flush_or_refuse(session)  # two first drafts at once: one wins the unique version
    return form


# -- the SME's draft --------------------------------------------------------------------------


def draft_of(session: Session, application: Application) -> ReportDraft | None:
    return session.scalars(
        select(ReportDraft).where(ReportDraft.application_id == application.id)
    ).first()


def form_for(session: Session, application: Application) -> tuple[int, list[Field]]:
    """The report form this application answers: its draft's version, else the call's now
    (version 0: the default, not saved yet)."""
    draft = draft_of(session, application)
    if draft is not None:
        return draft.form.version, parse_form_cached(draft.form.definition)
    version, definition = current_definition(session, application.call)
    return version, parse_form_cached(definition)


def ensure_draft(session: Session, actor: Actor, application: Application) -> ReportDraft:
    """The application's report draft, started on the call's current report form (saving
    the default as version 1 when the call has none)."""
    draft = draft_of(session, application)
    if draft is not None:
        return draft
    call = application.call
    form = latest_report_form(session, call.id)
    if form is None:
        form = _add_version(session, call, _call_default(call), None)
    elif call.pay_provider_directly and not asks_delivery(parse_form_cached(form.definition)):
        # A form saved before the call was set to pay the provider: the confirmation is added.
        others = [f for f in form.definition if f.get("name") != DELIVERY]
        form = _add_version(session, call, [*others, dict(DELIVERY_FIELD)], None)
    draft = ReportDraft(
        application_id=application.id, form=form, answers={}, updated_by_id=actor.user_id
    )
    session.add(draft)
    flush_or_refuse(session)
    return draft


def _writable(session: Session, actor: Actor, application_id: int) -> Application:
    application = load_own_application(session, actor, application_id)
    if application.status != AppState.CONTRACTED:
        raise TransitionRefused(
            _("the final report is written once the agreement is signed, until it is submitted")
        )
    return application


def report_files(application: Application, answers: Mapping[str, object]) -> dict[str, Attachment]:
    """The file answering each report file field now: the one the answers name."""
    current: dict[str, Attachment] = {}
    for attachment in application.attachments:
        if (
            attachment.form_kind == REPORT
            and attachment.superseded_at is None
            and answers.get(attachment.field_name) == attachment.id
        ):
            current[attachment.field_name] = attachment
    return current


def report_history(application: Application, field_name: str) -> list[Attachment]:
    """Every file uploaded for a report field, newest first."""
    return sorted(
        (
            a
            for a in application.attachments
            if a.form_kind == REPORT and a.field_name == field_name
        ),
        key=lambda a: a.id,
        reverse=True,
    )


@dataclass
class DraftSaved:
    draft: ReportDraft
    errors: dict[str, str] = field(default_factory=dict)
    changed: bool = True


def save_report_draft(
    session: Session, actor: Actor, application_id: int, *, answers: Mapping[str, Any]
) -> DraftSaved:
    """Keep every answer of the report, valid or not, and say what is wrong (as an
    application draft does). File answers are set only by ``upload_report_file``."""
    application = _writable(session, actor, application_id)
    draft = ensure_draft(session, actor, application)
    fields = parse_form_cached(draft.form.definition)
    stored = draft.answers or {}
    given = {k: v for k, v in answers.items()}
    for f in fields:
        if f.type is FieldType.FILE:
            given.pop(f.name, None)
            if f.name in stored:
                given[f.name] = stored[f.name]
    errors = validate(fields, given)
    clean = normalise(fields, given)
    if clean == stored:
        return DraftSaved(draft, errors, changed=False)
    draft.answers = clean
    draft.updated_at = utcnow()
    draft.updated_by_id = actor.user_id
    flush_or_refuse(session)
    audit.record(
        session,
        actor,
        "save_report_draft",
        entity_type="application",
        entity_id=application.reference,
        after={"report_form_version": draft.form.version, "fields": sorted(clean)},
        application_id=application.id,
    )
    return DraftSaved(draft, errors)


def upload_report_file(
    session: Session,
    actor: Actor,
    storage: DocumentStorage,
    application_id: int,
    field_name: str,
    *,
    filename: str,
    data: bytes,
    scanner: attachments.Scanner | None = None,
    now: datetime | None = None,
) -> Attachment:
    """Attach ``data`` as the answer to the report's file field ``field_name``; a file
    already answering it is superseded (kept)."""
    application = _writable(session, actor, application_id)
    draft = ensure_draft(session, actor, application)
    f = next(
        (
            g
            for g in parse_form_cached(draft.form.definition)
            if g.name == field_name and g.type is FieldType.FILE
        ),
        None,
    )
    if f is None:
        raise NotFound(f"the report form has no file question {field_name!r}")
    kind = attachments.check_upload(f, data)
    verdict = (scanner or attachments.NoScanner()).scan(data, filename)
    if verdict.status == "infected":
        log.warning(
            "infected report upload refused: application %s, field %s, %s",
            application.reference,
            field_name,
            verdict.detail,
        )
        raise ValidationFailed(
            {f.name: _("The virus check found a threat in this file; it was not kept.")}
        )
    digest = sha256_hex(data)
    key = attachments.storage_key(digest)
    if not storage.exists(key) and storage.put(key, data) != digest:  # pragma: no cover
        raise TransitionRefused(_("the file could not be stored; try again"))
    now = now or utcnow()
    previous = report_files(application, draft.answers or {}).get(field_name)
    if previous is not None:
        previous.superseded_at = now
    attachment = Attachment(
        application=application,
        field_name=field_name,
        form_kind=REPORT,
        filename=attachments.safe_filename(filename, kind),
        content_type=FILE_KINDS[kind][0],
        size=len(data),
        sha256=digest,
        storage_key=key,
        scan_status=verdict.status,
        uploaded_by_id=actor.user_id,
        uploaded_at=now,
    )
    session.add(attachment)
    flush_or_refuse(session)
    draft.answers = {**(draft.answers or {}), field_name: attachment.id}
    draft.updated_at = now
    draft.updated_by_id = actor.user_id
    flush_or_refuse(session)
    facts = {
        "attachment_id": attachment.id,
        "form": REPORT,
        "field": field_name,
        "filename": attachment.filename,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "scan_status": attachment.scan_status,
    }
    audit.record(
        session,
        actor,
        "replace_report_file" if previous is not None else "upload_report_file",
        entity_type="application",
        entity_id=application.reference,
        before={"attachment_id": previous.id, "sha256": previous.sha256} if previous else {},
        after=facts,
        application_id=application.id,
    )
    return attachment


def submission_errors(
    fields: list[Field], answers: Mapping[str, object], files: Mapping[str, Attachment]
) -> dict[str, str]:
    """Everything that stops the report from being submitted, by field: answers that do not
    fit, required answers left empty, and files named but no longer there."""
    errors = validate(fields, answers, complete=True)
    for f in fields:
        if f.type is not FieldType.FILE:
            continue
        if answers.get(f.name) and f.name not in files:
            errors.setdefault(f.name, _("Upload the file again."))
        elif f.required and f.name not in files:
            errors.setdefault(f.name, _("Upload this file."))
    return errors


def answer_rows_for_letter(
    fields: list[Field], answers: Mapping[str, object], files: Mapping[str, Attachment]
) -> list[dict[str, str]]:
    """The report's answers as text, for its acknowledgement (files with their sha256)."""
    rows = []
    for f in fields:
        if f.name == SUMMARY:
            continue  # the letter quotes it in full on its own
        value = answers.get(f.name)
        if f.type is FieldType.GROUP:
            text = display.group_text(f, value)
        elif f.type is FieldType.FILE:
            text = display.file_summary(files[f.name], full_hash=True) if f.name in files else ""
        else:
            text = display.display_value(f, value)
        rows.append({"label": f.label, "value": text})
    return rows


# -- when the report is due -------------------------------------------------------------------


@dataclass(frozen=True)
class ReportDeadline:
    due: date
    overdue: bool


def report_deadline(application: Application, now: datetime) -> ReportDeadline | None:
    """When the final report is due (the rule the reminders use) and whether that has
    passed; None when no report is expected now or the date is unknown."""
    facts = application.workflow.fact(application.status)
    if facts.deadline is not DeadlineRule.REPORT_DUE:
        return None
    due = report_due(application)
    if due is None:
        return None
    return ReportDeadline(due, now >= due_moment(application, due))
