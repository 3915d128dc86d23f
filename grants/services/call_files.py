"""Calls as YAML files: exported to keep them in version control, imported as a new draft.

The file holds what an officer sets (``workflows.call_document``), times as the wall-clock
times of the call's timezone. Importing never touches an existing call: it makes a draft call,
under the file's reference or another one, and lists what must still be put right before it
can be published (a deadline already past, say), as the call builder's summary would.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pycountry
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from grants.errors import NotFound, ValidationFailed
from grants.models import Call
from grants.services import calls
from grants.services.actor import Actor
from workflows.call_document import DocumentProblems, from_document, to_document
from workflows.call_rules import (
    CallRules,
    CostBasis,
    VoucherType,
    eligibility_rules_json,
    eligibility_rules_of,
    instants,
    problems,
)
from workflows.i18n import _
from workflows.local_time import AmbiguousLocalTime, local_instant

COUNTRIES = frozenset(country.alpha_2 for country in pycountry.countries)


def _wall(moment: datetime, zone: str, name: str, folds: dict[str, int]) -> datetime:
    """The wall-clock time of an instant; in the autumn hour, which of the two it was."""
    wall = moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    try:
        local_instant(wall, zone)
    except AmbiguousLocalTime as twice:
        folds[name] = 0 if moment == twice.earlier else 1
    return wall


def rules_of(call: Call) -> CallRules:
    """The call's rules as the officer set them."""
    zone = call.timezone
    folds: dict[str, int] = {}
    cutoffs = tuple(
        _wall(datetime.fromisoformat(raw), zone, f"cutoffs.{index}", folds)
        for index, raw in enumerate(call.cutoffs or [])
    )
    return CallRules(
        reference=call.reference,
        title=call.title,
        purpose=call.description,
        voucher_type=VoucherType(call.voucher_type),
        timezone=zone,
        opening=_wall(call.opens_at, zone, "opening", folds),
        deadline=_wall(call.deadline, zone, "deadline", folds),
        budget=call.budget,
        max_per_voucher=call.max_per_voucher,
        guidance=call.applicant_guide,
        who_can_apply=call.eligible_applicants,
        publication=None
        if call.publish_at is None
        else _wall(call.publish_at, zone, "publication", folds),
        batch_ranking=call.batch_ranking,
        cutoffs=cutoffs,
        reserve=call.reserve,
        funding_rate=call.funding_rate,
        cost_basis=CostBasis(call.cost_basis),
        prefinancing_percent=call.prefinancing_percent,
        pay_provider_directly=call.pay_provider_directly,
        cumulative_cap=call.cumulative_cap,
        eligible_countries=tuple(call.eligible_countries),
        eligibility=eligibility_rules_of(call.eligibility_rules or {}),
        criteria=tuple(dict(criterion) for criterion in call.criteria),
        threshold_total=call.threshold_total,
        experts_per_application=call.evaluators_per_application,
        divergence_limit=call.divergence_limit,
        evaluators_from_other_countries=call.evaluators_from_other_countries,
        evaluation_days=call.evaluation_days,
        redress_days=call.redress_days,
        acceptance_days=call.offer_acceptance_days,
        report_window_days=call.report_window_days,
        folds=folds,
    )


def _call(session: Session, reference: str) -> Call:
    call = session.scalar(select(Call).where(Call.reference == reference))
    if call is None:
        raise NotFound(f"no call {reference}")
    return call


def export_call(session: Session, reference: str) -> str:
    """The call as YAML text (keys in the order an officer reads them)."""
    call = _call(session, reference)
    document = to_document(rules_of(call), list(call.form))
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


@dataclass(frozen=True)
class Imported:
    call: Call
    # What still stops publishing, by field (empty: it can be published as it is).
    before_publishing: dict[str, str]


def read_file(text: str) -> tuple[CallRules, list[dict[str, object]]]:
    """The rules and form of a call file, or DocumentProblems naming every mistake."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DocumentProblems({"": _("not readable as YAML: %(error)s", error=str(exc))}) from exc
    return from_document(document)


def spec_of(rules: CallRules, form: list[dict[str, object]]) -> calls.CallSpec:
    """The call to store for ``rules`` and ``form``: times as instants, names as the columns
    have them. ValidationFailed (by rules field) when a time names no single instant."""
    moments, refused = instants(rules)
    if moments is None:
        raise ValidationFailed(refused)
    return calls.CallSpec(
        reference=rules.reference.strip(),
        title=rules.title,
        description=rules.purpose,
        budget=rules.budget,
        max_per_voucher=rules.max_per_voucher,
        opens_at=moments.opening,
        deadline=moments.deadline,
        timezone=rules.timezone,
        funding_rate=rules.funding_rate,
        prefinancing_percent=rules.prefinancing_percent,
        pay_provider_directly=rules.pay_provider_directly,
        cumulative_cap=rules.cumulative_cap,
        evaluators_per_application=rules.experts_per_application,
        batch_ranking=rules.batch_ranking,
        offer_acceptance_days=rules.acceptance_days,
        report_window_days=rules.report_window_days,
        threshold_total=rules.threshold_total,
        eligible_countries=rules.eligible_countries,
        eligible_applicants=rules.who_can_apply,
        applicant_guide=rules.guidance,
        criteria=[dict(criterion) for criterion in rules.criteria],
        form=list(form),  # type: ignore[arg-type]
        voucher_type=rules.voucher_type,
        cost_basis=rules.cost_basis,
        publish_at=moments.publication,
        cutoffs=moments.cutoffs,
        reserve=rules.reserve,
        eligibility_rules=eligibility_rules_json(rules.eligibility),
        divergence_limit=rules.divergence_limit,
        evaluators_from_other_countries=rules.evaluators_from_other_countries,
        evaluation_days=rules.evaluation_days,
        redress_days=rules.redress_days,
    )


def import_call(
    session: Session,
    actor: Actor,
    text: str,
    *,
    reference: str | None = None,
    now: datetime | None = None,
) -> Imported:
    """A new draft call from a call file (``reference`` replaces the file's, to copy a call).

    Refused (DocumentProblems or ValidationFailed, by field) when the file cannot make a call
    at all; what only stops publishing is returned with the call.
    """
    rules, form = read_file(text)
    if reference is not None:
        rules = replace(rules, reference=reference)
    call = calls.create_call(session, actor, spec_of(rules, form))
    later = problems(rules, now or datetime.now(UTC), COUNTRIES)
    return Imported(call=call, before_publishing=later)
