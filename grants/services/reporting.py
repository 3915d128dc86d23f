"""Final reports: submission by the SME, review by the programme officer."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from grants.db import utcnow
from grants.formatting import format_eur, local_time
from grants.models import Application, Report
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


def submit_report(
    session: Session,
    actor: Actor,
    application_id: int,
    *,
    summary: str,
    claimed_costs: object,
    subcontracted_costs: object = "0",
) -> StepResult:
    application = load_own_application(session, actor, application_id)
    if application.status != AppState.CONTRACTED:
        raise TransitionRefused(_("a final report is submitted once the agreement is signed"))
    claimed = money_field(claimed_costs, "claimed_costs", label=_("The costs incurred"))
    subcontracted = money_field(
        subcontracted_costs or "0", "subcontracted_costs", label=_("The subcontracted costs")
    )
    award = application.awarded_amount or Decimal(0)
    if not subcontracting_share_ok(subcontracted, award):
        raise ValidationFailed(
            {"subcontracted_costs": _("subcontracting may not exceed 25% of the voucher budget")}
        )
    missing = [] if summary.strip() else [_("summary of activities and results")]
    if claimed == 0:
        missing.append(_("costs incurred"))
    now = utcnow()
    report: Report | None = None
    if not missing:  # a refused report is not attached to the application, even in memory
        report = Report(
            application=application,
            summary=summary.strip(),
            claimed_costs=claimed,
            subcontracted_costs=subcontracted,
            submitted_at=now,
            submitted_by_id=actor.user_id,
        )
        session.add(report)
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
        },
        details={
            "claimed_costs": format_eur(claimed),
            "summary": summary.strip(),
            "submitted_at": local_time(now, application.call.timezone),
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
