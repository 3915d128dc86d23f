"""Eligibility decisions and redress."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session, object_session

from grants.db import utcnow
from grants.models import Application
from grants.services.actor import Actor
from grants.services.applications import ValidationFailed, require_role
from grants.services.partners import partner_match
from grants.services.workflow import StepResult, apply, load_application
from workflows.call_rules import eligibility_rules_of
from workflows.eligibility import MANUAL_CHECKS, DeMinimisRule, automatic_checks
from workflows.i18n import _
from workflows.roles import Role


def proposed_checks(application: Application) -> list[dict[str, Any]]:
    """What the data already shows, for the officer to confirm with the manual checks.

    Whether the applicant is a consortium partner is read from the list of partners (by VAT
    or registration number), not from ``organisations.is_consortium_partner``, which nothing
    sets.
    """
    call = application.call
    organisation = application.organisation
    session = object_session(application)
    if session is None:
        raise RuntimeError("proposed_checks reads the partners through the application's session")
    partner = partner_match(session, organisation)
    rules = eligibility_rules_of(call.eligibility_rules)
    return [
        check.as_dict()
        for check in automatic_checks(
            country=organisation.country,
            eligible_countries=call.eligible_countries,
            consortium_partner=partner.partner.short_name if partner else None,
            partner_basis=partner.basis if partner else "",
            declaration_signed=application.declaration_signed,
            requested_amount=application.requested_amount,
            max_per_voucher=call.max_per_voucher,
            registered_on=organisation.registered_on,
            deadline=call.deadline.date(),
            min_registration_months=rules.min_registration_months,
            partner_exclusion=rules.partner_exclusion,
            de_minimis=DeMinimisRule(
                rules.de_minimis_ceiling, rules.de_minimis_years, utcnow().date()
            )
            if rules.de_minimis_check
            else None,
            de_minimis_aid=[
                (Decimal(str(row["amount"])), date.fromisoformat(str(row["granted_on"])))
                for row in organisation.de_minimis_aid
            ],
        )
    ]


def record_eligibility(
    session: Session,
    actor: Actor,
    application_id: int,
    *,
    manual: Mapping[str, tuple[bool, str]],
    reasons: str = "",
) -> StepResult:
    """Record every check with its evidence; the workflow routes to eligible or ineligible."""
    require_role(actor, Role.OFFICER)
    application = load_application(session, application_id)
    errors = {
        key: _("give the evidence for this check")
        for key, _name in MANUAL_CHECKS
        if key not in manual or not manual[key][1].strip()
    }
    if errors:
        raise ValidationFailed(errors)
    checks = proposed_checks(application) + [
        {"key": key, "name": name, "passed": manual[key][0], "evidence": manual[key][1].strip()}
        for key, name in MANUAL_CHECKS
    ]
    failed = [c["name"] for c in checks if not c["passed"]]
    if failed and not reasons.strip():
        reasons = "Not met: " + "; ".join(failed)
    decision = {
        "checks": checks,
        "reasons": reasons.strip(),
        "decided_by": actor.name,
        "decided_at": utcnow().isoformat(),
    }
    return apply(
        session,
        actor,
        application,
        "check_eligibility",
        facts={"eligibility_checks": checks},
        changes={"eligibility": decision},
        details={
            "outcome": "ineligible" if failed else "eligible",
            "checks": checks,
            "reasons": decision["reasons"],
        },
    )


def uphold_redress(
    session: Session, actor: Actor, application_id: int, *, request: str, decision: str
) -> StepResult:
    """A redress request found justified sends the application back to eligibility."""
    require_role(actor, Role.OFFICER)
    application = load_application(session, application_id)
    return apply(
        session,
        actor,
        application,
        "redress",
        facts={"reason": decision},
        audit_extra={"request": request, "decision": decision},
        details={"request": request, "decision": decision},
    )
