"""The applicant's side: drafts, submission and withdrawal."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.schema import Field, parse_form
from forms.validation import missing_required, normalise, validate
from grants.db import utcnow
from grants.formatting import format_eur, local_time, utc_time
from grants.models import Application, Call, CallForm
from grants.services import audit
from grants.services.actor import Actor
from grants.services.workflow import StepResult, apply, flush_or_refuse, load_application, load_call
from workflows.call import CallState
from workflows.errors import TransitionRefused
from workflows.roles import Role
from workflows.voucher import AppState


class ValidationFailed(ValueError):
    """Input a person must correct; ``errors`` maps a field name to what is wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def require_role(actor: Actor, *roles: Role) -> None:
    if actor.role not in roles:
        raise TransitionRefused(f"a {actor.role.label.lower()} may not do this")


def require_own(actor: Actor, application: Application) -> None:
    if actor.role != Role.APPLICANT or actor.organisation_id != application.organisation_id:
        raise TransitionRefused("only the applicant organisation's staff may do this")


def form_fields(application: Application) -> list[Field]:
    """The form version the application was started on, whatever the call's form is now."""
    definition = application.form.definition if application.form else application.call.form
    return parse_form(definition)


def current_form(session: Session, call: Call) -> CallForm:
    form = session.scalar(
        select(CallForm).where(CallForm.call_id == call.id, CallForm.version == call.form_version)
    )
    if form is None:
        raise TransitionRefused("this call has no application form yet")
    return form


def parse_amount(raw: object) -> Decimal | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = Decimal(str(raw).strip().replace(",", "."))
    except InvalidOperation:
        raise ValidationFailed({"requested_amount": "enter an amount such as 8000.00"}) from None
    if not value.is_finite() or value <= 0:
        raise ValidationFailed({"requested_amount": "the amount must be more than zero"})
    return value.quantize(Decimal("0.01"))


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
        raise TransitionRefused("your account is not linked to an organisation yet")
    call = load_call(session, call_id)
    if call.status != CallState.PUBLISHED or (now or utcnow()) >= call.deadline:
        raise TransitionRefused("this call is not open for applications")
    existing = (
        session.query(Application)
        .filter_by(call_id=call.id, organisation_id=actor.organisation_id)
        .first()
    )
    if existing is not None:
        raise TransitionRefused(
            f"your organisation already has application {existing.reference} in this call"
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


def save_draft(
    session: Session,
    actor: Actor,
    application_id: int,
    *,
    title: str,
    requested_amount: object,
    answers: dict[str, Any],
    declaration_signed: bool,
) -> SaveResult:
    """Keep every answer, valid or not, and report what is wrong: a draft is never lost."""
    application = load_application(session, application_id)
    require_own(actor, application)
    if application.status != AppState.DRAFT:
        raise TransitionRefused("a submitted application can no longer be edited")
    fields = form_fields(application)
    errors = validate(fields, answers)
    try:
        amount = parse_amount(requested_amount)
        if amount is not None and amount > application.call.max_per_voucher:
            errors["requested_amount"] = (
                f"the voucher maximum is {application.call.max_per_voucher} EUR"
            )
    except ValidationFailed as exc:
        amount = application.requested_amount
        errors.update(exc.errors)
    before = {"title": application.title, "requested_amount": application.requested_amount}
    application.title = title.strip()
    application.requested_amount = amount
    application.answers = normalise(fields, answers)
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
        },
        application_id=application.id,
    )
    return SaveResult(application, errors)


def content_sha256(application: Application) -> str:
    """Fingerprint of what was submitted, printed on the receipt."""
    content = {
        "reference": application.reference,
        "title": application.title,
        "requested_amount": str(application.requested_amount),
        "answers": application.answers,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def missing_for_submission(application: Application) -> list[str]:
    fields = form_fields(application)
    missing = []
    if not application.title:
        missing.append("Project title")
    if application.requested_amount is None:
        missing.append("Requested amount")
    missing.extend(missing_required(fields, application.answers))
    missing.extend(
        f"{name} ({message})" for name, message in validate(fields, application.answers).items()
    )
    if (
        application.requested_amount is not None
        and application.requested_amount > application.call.max_per_voucher
    ):
        missing.append("Requested amount within the voucher maximum")
    return missing


def answers_for_display(application: Application) -> list[dict[str, str]]:
    rows = [
        {"label": "Project title", "value": application.title},
        {"label": "Requested amount", "value": format_eur(application.requested_amount)},
    ]
    for f in form_fields(application):
        value = application.answers.get(f.name)
        if isinstance(value, bool):
            value = "Yes" if value else "No"
        rows.append({"label": f.label, "value": "" if value is None else str(value)})
    return rows


def submit(
    session: Session, actor: Actor, application_id: int, *, now: datetime | None = None
) -> StepResult:
    application = load_application(session, application_id)
    require_own(actor, application)
    now = now or utcnow()
    digest = content_sha256(application)
    call = application.call
    return apply(
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
        changes={"submitted_at": now, "content_sha256": digest},
        details={
            "submitted_at": f"{local_time(now, call.timezone)} ({utc_time(now)})",
            "content_sha256": digest,
            "answers": answers_for_display(application),
        },
    )


def withdraw(session: Session, actor: Actor, application_id: int, *, reason: str) -> StepResult:
    application = load_application(session, application_id)
    require_own(actor, application)
    return apply(
        session,
        actor,
        application,
        "withdraw",
        facts={"reason": reason},
        audit_extra={"reason": reason},
        details={"reason": reason},
    )
