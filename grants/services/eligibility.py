"""Eligibility decisions and redress.

Every check reads the organisation's profile as it was at submission
(``Application.organisation_snapshot``), never the live profile, so the evidence of a
decision cannot change afterwards. An application submitted before profiles were kept falls
back to the live profile, and ``evidence_profile`` says so for the page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from forms.model import FieldType
from grants.db import utcnow
from grants.models import Application, Organisation
from grants.services import organisations
from grants.services.actor import Actor
from grants.services.applications import (
    ValidationFailed,
    current_attachments,
    form_fields,
    require_role,
)
from grants.services.organisations import DuplicateGroup
from grants.services.partners import partner_match
from grants.services.workflow import StepResult, apply, load_application
from workflows.call_rules import eligibility_rules_of
from workflows.eligibility import (
    MANUAL_CHECKS,
    OVERRIDE_REASON_MAX,
    CheckResult,
    DeMinimisRule,
    OtherApplication,
    RequiredFile,
    attachments_check,
    automatic_checks,
    deadline_check,
    one_application_check,
    sme_check,
)
from workflows.i18n import _
from workflows.roles import Role
from workflows.voucher import AppState

# Applications that never reached the officer do not count as a second application.
_NOT_APPLYING = (AppState.DRAFT, AppState.WITHDRAWN)


@dataclass(frozen=True)
class EvidenceProfile:
    """The organisation's profile the checks read, and whether it is the one kept at
    submission (False: an application submitted before snapshots, read live)."""

    values: Mapping[str, Any]
    from_submission: bool


def evidence_profile(application: Application) -> EvidenceProfile:
    if application.organisation_snapshot is not None:
        return EvidenceProfile(application.organisation_snapshot, True)
    return EvidenceProfile(organisations.profile_snapshot(application.organisation), False)


def _day(value: object) -> date | None:
    return date.fromisoformat(str(value)) if value else None


def _required_files(application: Application) -> list[RequiredFile]:
    attached = current_attachments(application)
    return [
        RequiredFile(f.label, attached[f.name].filename if f.name in attached else None)
        for f in form_fields(application)
        if f.type is FieldType.FILE and f.required
    ]


def _same_sme(
    session: Session, application: Application, groups: Sequence[DuplicateGroup] | None
) -> list[OtherApplication]:
    """Other applications in the call by organisations the duplicate finder groups with
    this one (same registration number in the same country, or the same VAT number)."""
    mine = application.organisation_id
    groups = organisations.duplicates_of(session, mine) if groups is None else groups
    related = {
        o.id: (o.legal_name, "; ".join(g.reasons))
        for g in groups
        if any(o.id == mine for o in g.organisations)
        for o in g.organisations
        if o.id != mine
    }
    if not related:
        return []
    rows = session.execute(
        select(Application.reference, Application.organisation_id)
        .where(
            Application.call_id == application.call_id,
            Application.organisation_id.in_(related),
            Application.status.not_in(_NOT_APPLYING),
        )
        .order_by(Application.reference)
    ).all()
    return [
        OtherApplication(related[org_id][0], reference, related[org_id][1])
        for reference, org_id in rows
    ]


def proposed_checks(
    application: Application, *, duplicates: Sequence[DuplicateGroup] | None = None
) -> list[dict[str, Any]]:
    """Every rule the call applies, decided from the application and the profile kept at
    submission, each with its evidence; a rule the call leaves out is not shown.

    Whether the applicant is a consortium partner is read from the list of partners (by VAT
    or registration number), not from ``organisations.is_consortium_partner``, which nothing
    sets. ``duplicates``: the duplicate finder's groups, when deciding many applications.
    """
    call = application.call
    session = object_session(application)
    if session is None:
        raise RuntimeError("proposed_checks reads the partners through the application's session")
    profile = evidence_profile(application).values
    # The identity as submitted, not attached to the session: only the partner list reads it.
    identity = Organisation(
        country=str(profile.get("country") or ""),
        registration_number=str(profile.get("registration_number") or ""),
        vat_number=profile.get("vat_number"),
    )
    partner = partner_match(session, identity)
    rules = eligibility_rules_of(call.eligibility_rules)
    try:
        sme = organisations.assess_sme(profile)
        sme_status = sme_check(sme.category, sme.is_sme, sme.rule, sme.explanation)
    except ValueError as exc:  # figures missing: the test cannot say it is an SME
        sme_status = sme_check(None, False, "", str(exc))
    files = _required_files(application)
    submitted_on = (application.submitted_at or utcnow()).date()
    checks: list[CheckResult] = automatic_checks(
        country=identity.country,
        eligible_countries=call.eligible_countries,
        consortium_partner=partner.partner.short_name if partner else None,
        partner_basis=partner.basis if partner else "",
        declaration_signed=application.declaration_signed,
        requested_amount=application.requested_amount,
        max_per_voucher=call.max_per_voucher,
        registered_on=_day(profile.get("registered_on")),
        deadline=call.deadline.date(),
        min_registration_months=rules.min_registration_months,
        partner_exclusion=rules.partner_exclusion,
        # The aid declared at submission, counted back from the submission day: the
        # proposal is the same whenever the officer opens it.
        de_minimis=DeMinimisRule(rules.de_minimis_ceiling, rules.de_minimis_years, submitted_on)
        if rules.de_minimis_check
        else None,
        de_minimis_aid=[
            (Decimal(str(row["amount"])), date.fromisoformat(str(row["granted_on"])))
            for row in profile.get("de_minimis_aid") or []
        ],
        submission=deadline_check(application.submitted_at, call.deadline, call.timezone),
        one_application=one_application_check(
            str(profile.get("legal_name") or application.organisation.legal_name),
            _same_sme(session, application, duplicates),
        )
        if rules.one_application_per_sme
        else None,
        sme=sme_status,
        attachments=attachments_check(files) if files else None,
    )
    return [check.as_dict() for check in checks]


def _overridden(
    checks: list[dict[str, Any]], overrides: Mapping[str, str], actor: Actor, at: str
) -> list[dict[str, Any]]:
    """The automatic checks with the officer's overrides: the result turned, and who, when,
    why and what the data showed kept with the check."""
    keys = {c["key"] for c in checks}
    errors: dict[str, str] = {}
    for key, reason in overrides.items():
        if key not in keys:
            errors[f"override_{key}"] = _("this check is not one of the call's")
        elif not reason.strip():
            errors[f"override_{key}"] = _("give the reason for overriding this check")
        elif len(reason.strip()) > OVERRIDE_REASON_MAX:
            errors[f"override_{key}"] = _(
                "keep the reason within %(max)d characters", max=OVERRIDE_REASON_MAX
            )
    if errors:
        raise ValidationFailed(errors)
    return [
        {
            **check,
            "passed": not check["passed"],
            "override": {
                "by": actor.name,
                "by_id": actor.user_id,
                "at": at,
                "reason": overrides[check["key"]].strip(),
                "original": check["passed"],
            },
        }
        if check["key"] in overrides
        else check
        for check in checks
    ]


def record_eligibility(
    session: Session,
    actor: Actor,
    application_id: int,
    *,
    manual: Mapping[str, tuple[bool, str]],
    reasons: str = "",
    overrides: Mapping[str, str] | None = None,
    duplicates: Sequence[DuplicateGroup] | None = None,
) -> StepResult:
    """Record every check with its evidence; the workflow routes to eligible or ineligible.

    ``manual``: the officer's verdict and evidence for each of ``MANUAL_CHECKS`` (others are
    ignored: SME status is no longer confirmed by hand). ``overrides``: automatic checks
    whose result the officer turns, with the reason.
    """
    require_role(actor, Role.OFFICER)
    application = load_application(session, application_id)
    errors = {
        key: _("give the evidence for this check")
        for key, _name in MANUAL_CHECKS
        if key not in manual or not manual[key][1].strip()
    }
    if errors:
        raise ValidationFailed(errors)
    decided_at = utcnow().isoformat()
    automatic = _overridden(
        proposed_checks(application, duplicates=duplicates), overrides or {}, actor, decided_at
    )
    checks = automatic + [
        {"key": key, "name": name, "passed": manual[key][0], "evidence": manual[key][1].strip()}
        for key, name in MANUAL_CHECKS
    ]
    failed = [c["name"] for c in checks if not c["passed"]]
    if failed and not reasons.strip():
        reasons = "Not met: " + "; ".join(failed)
    profile = evidence_profile(application)
    decision = {
        "checks": checks,
        "reasons": reasons.strip(),
        "decided_by": actor.name,
        "decided_at": decided_at,
        "profile_from_submission": profile.from_submission,
    }
    overridden = [c for c in checks if "override" in c]
    return apply(
        session,
        actor,
        application,
        "check_eligibility",
        facts={"eligibility_checks": checks},
        changes={"eligibility": decision},
        audit_extra={"overrides": overridden} if overridden else None,
        details={
            "outcome": "ineligible" if failed else "eligible",
            "checks": checks,
            "reasons": decision["reasons"],
            "profile_from_submission": profile.from_submission,
        },
    )
