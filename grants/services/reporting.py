"""Final reports: submission by the SME, review by the programme officer."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from forms.schema import Field, FieldType, parse_form_cached
from forms.validation import describe, normalise, validate
from grants.db import utcnow
from grants.formatting import format_eur, local_time
from grants.models import Application, Report
from grants.services import report_forms
from grants.services.actor import Actor
from grants.services.applications import (
    ValidationFailed,
    money_field,
    require_role,
)
from grants.services.workflow import (
    StepResult,
    apply,
    flush_or_refuse,
    load_application,
    load_own_application,
)
from workflows.call_rules import CostBasis
from workflows.errors import TransitionRefused
from workflows.i18n import _
from workflows.money import subcontracting_share_ok
from workflows.roles import Role
from workflows.voucher import AppState


def latest_report(application: Application) -> Report | None:
    return application.reports[-1] if application.reports else None


def _answer(fields: dict[str, Field], answers: dict[str, Any], given: object, name: str) -> object:
    """A value the caller gave directly wins over the draft's answer."""
    if given is not None:
        if name in fields:
            answers[name] = given
        return given
    return answers.get(name)


def submit_report(
    session: Session,
    actor: Actor,
    application_id: int,
    *,
    summary: str | None = None,
    claimed_costs: object = None,
    subcontracted_costs: object = None,
    confirm_delivery: bool | None = None,
) -> StepResult:
    """Submit the final report: the call-defined report form, as saved in the SME's draft.

    The form decides what is asked (``report_forms``); ``summary``, ``claimed_costs`` and
    ``subcontracted_costs`` answers fill the report's own columns, and the rules stay: a
    cost-based call needs costs above zero, subcontracting at most 25% of the voucher.
    Every required answer must be given and every required file uploaded, or the step is
    refused naming what is missing.

    ``summary``, ``claimed_costs`` and ``subcontracted_costs`` given here are answers typed
    by a trusted caller (scripts, the demo, data imports) and override the draft's; such a
    call is not asked for the form's files, which a person attaches through the form.

    On a call paying the service provider directly the SME confirms delivery and asks that
    the provider be paid (``report_forms.DELIVERY``, or ``confirm_delivery`` from a trusted
    caller): without it the report is refused and the draft kept; with it the confirmation
    is in the report's answers and the audit event.
    """
    application = load_own_application(session, actor, application_id)
    if application.status != AppState.CONTRACTED:
        raise TransitionRefused(_("a final report is submitted once the agreement is signed"))
    draft = report_forms.ensure_draft(session, actor, application)
    fields = {f.name: f for f in parse_form_cached(draft.form.definition)}
    answers = dict(draft.answers or {})
    direct = any(v is not None for v in (summary, claimed_costs, subcontracted_costs))
    summary_text = _answer(fields, answers, summary, report_forms.SUMMARY)
    claimed_raw = _answer(fields, answers, claimed_costs, report_forms.CLAIMED)
    subcontracted_raw = _answer(fields, answers, subcontracted_costs, report_forms.SUBCONTRACTED)
    _answer(fields, answers, confirm_delivery, report_forms.DELIVERY)
    pays_provider = application.call.pay_provider_directly
    lump_sum = application.call.cost_basis == CostBasis.LUMP_SUM
    blank = claimed_raw is None or (isinstance(claimed_raw, str) and not claimed_raw.strip())
    claimed = (
        Decimal("0.00")
        if blank
        else money_field(claimed_raw, "claimed_costs", label=_("The costs incurred"))
    )
    subcontracted = money_field(
        subcontracted_raw or "0", "subcontracted_costs", label=_("The subcontracted costs")
    )
    award = application.awarded_amount or Decimal(0)
    if not subcontracting_share_ok(subcontracted, award):
        raise ValidationFailed(
            {"subcontracted_costs": _("subcontracting may not exceed 25% of the voucher budget")}
        )
    form_fields = list(fields.values())
    files = report_forms.report_files(application, answers)
    if direct:
        # Typed answers are checked as the form checks them; files are the form's business.
        errors = validate(form_fields, answers)
        if errors:
            raise ValidationFailed(errors)
        missing = [
            f.label
            for f in form_fields
            if f.required and f.type is not FieldType.FILE and not answers.get(f.name)
        ]
    else:
        errors = report_forms.submission_errors(form_fields, answers, files)
        missing = [describe(form_fields, path) for path in errors]
    summary_clean = str(summary_text or "").strip()
    if report_forms.SUMMARY not in fields and direct and not summary_clean:
        missing.append(_("summary of activities and results"))
    if claimed == 0 and not lump_sum:
        claimed_field = fields.get(report_forms.CLAIMED)
        label = claimed_field.label if claimed_field is not None else _("costs incurred")
        if label not in missing:
            missing.append(label)
    clean = normalise(form_fields, answers)
    delivered = clean.get(report_forms.DELIVERY) is True
    if pays_provider and not delivered:
        confirm = fields.get(report_forms.DELIVERY)
        label = confirm.label if confirm is not None else _("confirmation of delivery")
        if label not in missing:
            missing.append(label)
    now = utcnow()
    report: Report | None = None
    if not missing:  # a refused report is not attached to the application, even in memory
        report = Report(
            application=application,
            summary=summary_clean,
            claimed_costs=claimed,
            subcontracted_costs=subcontracted,
            submitted_at=now,
            submitted_by_id=actor.user_id,
            answers=clean,
            form_id=draft.form_id,
        )
        session.add(report)
        draft.answers = clean
        flush_or_refuse(session)
    return apply(
        session,
        actor,
        application,
        "submit_report",
        facts={"report_missing": missing},
        audit_extra={
            "report_id": report.id if report else None,
            "claimed_costs": claimed,
            "subcontracted_costs": subcontracted,
            "report_form_version": draft.form.version,
            "files": {name: a.sha256 for name, a in sorted(files.items())},
            **({"provider_delivery_confirmed": delivered} if pays_provider else {}),
        },
        details={
            "claimed_costs": "" if lump_sum and claimed == 0 else format_eur(claimed),
            "summary": summary_clean,
            "submitted_at": local_time(now, application.call.timezone),
            "answers": report_forms.answer_rows_for_letter(form_fields, clean, files),
        },
    )


def _report_under_review(application: Application) -> Report | None:
    """The report the officer reviews; None when the application is not waiting for a
    review, so that the workflow refuses the step with its own reason."""
    if application.status != AppState.REPORT_SUBMITTED:
        return None
    report = latest_report(application)
    if report is None or report.outcome is not None:
        raise TransitionRefused(_("there is no report waiting for review"))
    return report


def _record_review(
    session: Session,
    actor: Actor,
    report: Report | None,
    outcome: str,
    comments: str,
    *,
    approved_costs: Decimal | None = None,
) -> None:
    """After the step (which refuses when no report waits): the review on the report."""
    assert report is not None
    report.outcome = outcome
    if approved_costs is not None:
        report.approved_costs = approved_costs
    report.review_comments = comments.strip()
    report.reviewed_by_id = actor.user_id
    report.reviewed_at = utcnow()
    flush_or_refuse(session)


def approve_report(
    session: Session, actor: Actor, application_id: int, *, approved_costs: object, comments: str
) -> StepResult:
    require_role(actor, Role.OFFICER)
    application = load_application(session, application_id)
    report = _report_under_review(application)
    # A lump sum is paid on the work accepted: the officer approves the report, not costs.
    lump_sum = application.call.cost_basis == CostBasis.LUMP_SUM
    approved = (
        None
        if lump_sum
        else money_field(approved_costs, "approved_costs", label=_("The approved costs"))
    )
    result = apply(
        session,
        actor,
        application,
        "approve_report",
        facts={
            "approved_costs": approved,
            "claimed_costs": report.claimed_costs if report else None,
            "lump_sum": lump_sum,
        },
        audit_extra={
            "approved_costs": approved,
            "lump_sum": lump_sum,
            "comments": comments.strip(),
        },
        details={
            "outcome": "approved",
            "approved_costs": "" if approved is None else format_eur(approved),
            "comments": comments.strip(),
        },
    )
    _record_review(session, actor, report, "approved", comments, approved_costs=approved)
    return result


def return_report(
    session: Session, actor: Actor, application_id: int, *, comments: str
) -> StepResult:
    require_role(actor, Role.OFFICER)
    application = load_application(session, application_id)
    report = _report_under_review(application)
    result = apply(
        session,
        actor,
        application,
        "return_report",
        facts={"reason": comments},
        audit_extra={"comments": comments.strip()},
        details={"outcome": "returned", "approved_costs": "", "comments": comments.strip()},
    )
    _record_review(session, actor, report, "returned", comments)
    return result
