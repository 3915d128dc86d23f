"""The applicant's side: drafts, submission and withdrawal.

Drafts are never lost: ``save_draft`` keeps every answer, valid or not, and reports what is
wrong. Two browsers editing the same draft are told apart by the application's ``version``:
a save that names the version it started from is refused with ``DraftConflict`` when someone
else saved in between, so the last write is always detected, never silent.

Submission is idempotent: the submit request carries a random token, stored with the
submission; the same token again returns the first result (no second event, receipt or mail).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from forms import display
from forms.schema import Field, FieldType, parse_form_cached
from forms.validation import (
    describe,
    missing_required,
    normalise,
    validate,
)
from grants.db import utcnow
from grants.errors import ValidationFailed, require_role
from grants.formatting import format_eur, local_time, utc_time
from grants.models import (
    Application,
    Attachment,
    AuditEvent,
    Call,
    CallForm,
    Document,
    Organisation,
)
from grants.services import audit, organisations, partners
from grants.services.actor import Actor
from grants.services.workflow import (
    StepResult,
    apply,
    apply_with_reason,
    flush_or_refuse,
    load_call,
    load_own_application,
)
from workflows import numbers
from workflows.call import CallState
from workflows.errors import TransitionRefused
from workflows.i18n import _
from workflows.roles import Role
from workflows.voucher import AppState


class DraftConflict(TransitionRefused):
    """Someone saved the draft after this person loaded it: their save would overwrite it."""

    def __init__(self, application: Application, expected: int) -> None:
        self.expected_version = expected
        self.current_version = application.version
        self.saved_at = application.updated_at
        super().__init__(
            _(
                "this draft was saved from another browser or by a colleague after you opened "
                "it; your changes are not saved yet"
            )
        )


def form_fields(application: Application) -> list[Field]:
    """The form version the application was started on, whatever the call's form is now."""
    definition = application.form.definition if application.form else application.call.form
    return parse_form_cached(definition)


def form_version(application: Application) -> int:
    return application.form.version if application.form else application.call.form_version


def references(application: Application) -> dict[str, Decimal | None]:
    """Values outside the form that a group's total may have to equal (forms.schema)."""
    return {"requested_amount": application.requested_amount}


def current_attachments(application: Application) -> dict[str, Attachment]:
    """The file answering each file field now: the one its answer names, not superseded."""
    answers = application.answers or {}
    current: dict[str, Attachment] = {}
    for attachment in application.attachments:
        if attachment.superseded_at is None and answers.get(attachment.field_name) == attachment.id:
            current[attachment.field_name] = attachment
    return current


def current_form(session: Session, call: Call) -> CallForm:
    form = session.scalar(
        select(CallForm).where(CallForm.call_id == call.id, CallForm.version == call.form_version)
    )
    if form is None:
        raise TransitionRefused(_("this call has no application form yet"))
    return form


def money_field(raw: object, field: str, *, label: str | None = None) -> Decimal:
    """An amount typed into ``field``, read by ``workflows.numbers``; a refusal is that
    field's error (``ValidationFailed``, shown next to it), never a server error."""
    try:
        return numbers.parse_money(raw, field_label=label)
    except numbers.NumberRefused as exc:
        raise ValidationFailed({field: exc.message}) from None


def parse_amount(raw: object) -> Decimal | None:
    """The requested amount, or None when left empty (a draft may lack it)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    value = money_field(raw, "requested_amount", label=_("The requested amount"))
    if value == 0:
        raise ValidationFailed(
            {"requested_amount": _("The requested amount must be more than zero.")}
        )
    return value


def create_draft(
    session: Session,
    actor: Actor,
    call_id: int,
    *,
    title: str = "",
    now: datetime | None = None,
) -> Application:
    require_role(actor, Role.APPLICANT)
    if actor.organisation_id is None:
        raise TransitionRefused(_("your account is not linked to an organisation yet"))
    call = load_call(session, call_id)
    now = now or utcnow()
    if call.status != CallState.PUBLISHED or now >= call.deadline:
        raise TransitionRefused(_("this call is not open for applications"))
    if now < call.opens_at:
        raise TransitionRefused(
            _(
                "this call opens on %(opens)s; applications can be started from then",
                opens=local_time(call.opens_at, call.timezone),
            )
        )
    organisation = session.get(Organisation, actor.organisation_id)
    if organisation is not None:
        # Told now, not weeks later by the eligibility letter.
        partners.refuse_partner_applicant(session, organisation)
    existing = (
        session.query(Application)
        .filter_by(call_id=call.id, organisation_id=actor.organisation_id)
        .first()
    )
    if existing is not None:
        raise TransitionRefused(
            _(
                "your organisation already has application %(reference)s in this call",
                reference=existing.reference,
            )
        )
    application = Application(
        reference=f"{call.reference}-{call.next_number:04d}",
        call=call,
        organisation_id=actor.organisation_id,
        created_by_id=actor.user_id,
        status=AppState.DRAFT,
        title=title.strip(),
        answers={},
        form=current_form(session, call),
    )
    call.next_number += 1
    session.add(application)
    flush_or_refuse(session)
    audit.record(
        session,
        actor,
        "create_draft",
        entity_type="application",
        entity_id=application.reference,
        after={"status": AppState.DRAFT, "title": application.title},
        application_id=application.id,
    )
    return application


@dataclass
class SaveResult:
    application: Application
    errors: dict[str, str] = field(default_factory=dict)
    changed: bool = True


def save_draft(
    session: Session,
    actor: Actor,
    application_id: int,
    *,
    title: str,
    requested_amount: object,
    answers: dict[str, Any],
    declaration_signed: bool,
    expected_version: int | None = None,
) -> SaveResult:
    """Keep every answer, valid or not, and report what is wrong: a draft is never lost.

    ``expected_version`` is the application's ``version`` when the person loaded the form;
    when the draft was saved since (with other content), ``DraftConflict`` is raised and
    nothing is written. File answers are never taken from ``answers``: only the attachment
    service sets them. A save that changes nothing writes nothing (autosave sends the form
    again and again).
    """
    application = load_own_application(session, actor, application_id)
    if application.status != AppState.DRAFT:
        raise TransitionRefused(_("a submitted application can no longer be edited"))
    fields = form_fields(application)
    stored = application.answers or {}
    answers = dict(answers)
    for f in fields:
        if f.type is FieldType.FILE:
            answers.pop(f.name, None)
            if f.name in stored:
                answers[f.name] = stored[f.name]
    errors: dict[str, str] = {}
    try:
        amount = parse_amount(requested_amount)
        if amount is not None and amount > application.call.max_per_voucher:
            errors["requested_amount"] = _(
                "the voucher maximum is %(maximum)s",
                maximum=format_eur(application.call.max_per_voucher),
            )
    except ValidationFailed as exc:
        amount = application.requested_amount
        errors.update(exc.errors)
    errors = {**validate(fields, answers, references={"requested_amount": amount}), **errors}
    clean = normalise(fields, answers)
    new_title = title.strip()
    if (
        application.title == new_title
        and application.requested_amount == amount
        and (application.answers or {}) == clean
        and application.declaration_signed == declaration_signed
    ):
        # Nothing to write; also when the draft moved on meanwhile to exactly this content
        # (an autosave that arrived first): nobody's work is overwritten.
        return SaveResult(application, errors, changed=False)
    if expected_version is not None and expected_version != application.version:
        raise DraftConflict(application, expected_version)
    before = {"title": application.title, "requested_amount": application.requested_amount}
    application.title = new_title
    application.requested_amount = amount
    application.answers = clean
    application.declaration_signed = declaration_signed
    flush_or_refuse(session)
    audit.record(
        session,
        actor,
        "save_draft",
        entity_type="application",
        entity_id=application.reference,
        before=before,
        after={
            "title": application.title,
            "requested_amount": application.requested_amount,
            "content_sha256": content_sha256(application),
            "version": application.version,
        },
        application_id=application.id,
    )
    return SaveResult(application, errors)


def content_sha256(application: Application) -> str:
    """Fingerprint of what was submitted, printed on the receipt.

    It covers the title, the amount, the answers and the sha256 of each attached file, so a
    file swapped behind the answers would change it too.
    """
    content: dict[str, Any] = {
        "reference": application.reference,
        "title": application.title,
        "requested_amount": str(application.requested_amount),
        "answers": application.answers,
    }
    files = current_attachments(application)
    if files:
        content["attachments"] = {name: a.sha256 for name, a in sorted(files.items())}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def missing_for_submission(application: Application) -> list[str]:
    """Everything that stops the saved draft from being submitted, in form order."""
    fields = form_fields(application)
    answers = application.answers or {}
    missing = []
    if not application.title:
        missing.append(_("Project title"))
    if application.requested_amount is None:
        missing.append(_("Requested amount"))
    missing.extend(missing_required(fields, answers))
    errors = validate(fields, answers, references=references(application))
    for path, message in errors.items():
        if ".total." in path:  # the message names the total already
            missing.append(f"{describe(fields, path.split('.')[0])}: {message}")
        else:
            missing.append(f"{describe(fields, path)} ({message})")
    files = current_attachments(application)
    for f in fields:
        if f.type is FieldType.FILE and answers.get(f.name) and f.name not in files:
            missing.append(_("%(field)s (upload the file again)", field=f.label))
    if (
        application.requested_amount is not None
        and application.requested_amount > application.call.max_per_voucher
    ):
        missing.append(_("Requested amount within the voucher maximum"))
    return missing


def submission_errors(application: Application) -> dict[str, str]:
    """What stops the saved draft from being submitted, by field path, so the form can mark
    and link each answer (``missing_for_submission`` lists the same as sentences)."""
    fields = form_fields(application)
    answers = application.answers or {}
    errors: dict[str, str] = {}
    if not application.title:
        errors["title"] = _("Enter the project title.")
    if application.requested_amount is None:
        errors["requested_amount"] = _("Enter the amount you request.")
    elif application.requested_amount > application.call.max_per_voucher:
        errors["requested_amount"] = _(
            "Request at most %(maximum)s, the voucher maximum.",
            maximum=format_eur(application.call.max_per_voucher),
        )
    errors |= validate(fields, answers, complete=True, references=references(application))
    files = current_attachments(application)
    for f in fields:
        if f.type is FieldType.FILE and answers.get(f.name) and f.name not in files:
            errors.setdefault(f.name, _("Upload the file again."))
    if not application.declaration_signed:
        errors["declaration_signed"] = _("Sign the declaration of honour.")
    return errors


def answers_for_display(application: Application) -> list[dict[str, str]]:
    rows = [
        {"label": "Project title", "value": application.title},
        {"label": "Requested amount", "value": format_eur(application.requested_amount)},
    ]
    files = current_attachments(application)
    for f in form_fields(application):
        value = (application.answers or {}).get(f.name)
        if f.type is FieldType.GROUP:
            text = display.group_text(f, value)
        elif f.type is FieldType.FILE:
            text = display.file_summary(files[f.name], full_hash=True) if f.name in files else ""
        else:
            text = display.display_value(f, value)
        rows.append({"label": f.label, "value": text})
    return rows


# Everything a submission reads beside the application (its form, the checks, the receipt and
# the people told), loaded with it: a click-day submit is a handful of round trips.
_SUBMIT_READS = (
    joinedload(Application.call),
    joinedload(Application.form),
    selectinload(Application.attachments),
    joinedload(Application.organisation).selectinload(Organisation.users),
)

TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")


def submit(
    session: Session,
    actor: Actor,
    application_id: int,
    *,
    now: datetime | None = None,
    token: str | None = None,
) -> StepResult:
    """Submit the saved draft before the server-side deadline.

    ``token`` identifies the person's submit request (the edit page carries a random one).
    The same token again, once submitted, returns the first submission's result: no second
    audit event, receipt or e-mail. Without it, or with another one, a submitted application
    is refused as any second submission is.
    """
    if token is not None and not TOKEN_RE.fullmatch(token):
        raise TransitionRefused(_("the submission form is damaged; reload the page and try again"))
    application = load_own_application(session, actor, application_id, also=_SUBMIT_READS)
    if (
        token is not None
        and application.submitted_at is not None
        and application.submission_token == token
    ):
        return _first_submission(session, application)
    now = now or utcnow()
    digest = content_sha256(application)
    call = application.call
    result = apply(
        session,
        actor,
        application,
        "submit",
        now=now,
        facts={
            "call_status": call.status,
            "deadline": call.deadline,
            "missing_fields": missing_for_submission(application),
            "declaration_signed": application.declaration_signed,
        },
        changes={
            "submitted_at": now,
            "content_sha256": digest,
            "submission_token": token,
            # Eligibility reads the profile as it was now, whatever is edited later.
            "organisation_snapshot": organisations.profile_snapshot(application.organisation),
        },
        details={
            "submitted_at": f"{local_time(now, call.timezone)} ({utc_time(now)})",
            "content_sha256": digest,
            "answers": answers_for_display(application),
        },
    )
    return result


def _first_submission(session: Session, application: Application) -> StepResult:
    event = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.application_id == application.id, AuditEvent.action == "submit")
        .order_by(AuditEvent.id)
        .limit(1)
    ).one()
    document = session.scalars(
        select(Document).where(Document.audit_event_id == event.id).order_by(Document.id).limit(1)
    ).first()
    return StepResult(event=event, dest=str(event.after.get("status", "")), document=document)


def withdraw(session: Session, actor: Actor, application_id: int, *, reason: str) -> StepResult:
    application = load_own_application(session, actor, application_id)
    return apply_with_reason(session, actor, application, "withdraw", reason)
