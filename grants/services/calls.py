"""Calls for proposals: creation, their own lifecycle, and their application form versions."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forms.schema import Field, FormDefinitionError, dump_form, parse_form
from grants.db import utcnow
from grants.models import AuditEvent, Call, CallForm
from grants.services import audit
from grants.services.actor import Actor
from grants.services.applications import ValidationFailed, require_role
from grants.services.awards import pending_count
from grants.services.workflow import StepResult, apply, flush_or_refuse, load_call
from workflows import scoring
from workflows.call import CallState
from workflows.call_rules import (
    MIN_OPEN_DAYS,
    CostBasis,
    EligibilityRules,
    VoucherType,
    eligibility_rules_json,
)
from workflows.errors import TransitionRefused
from workflows.i18n import _
from workflows.local_time import LocalTimeProblem, require_instant
from workflows.registry import DEFAULT_APPLICATION_WORKFLOW
from workflows.roles import Role


@dataclass
class CallSpec:
    reference: str
    title: str
    description: str
    budget: Decimal
    max_per_voucher: Decimal
    opens_at: datetime
    deadline: datetime
    timezone: str = "Europe/Brussels"
    funding_rate: Decimal = Decimal("100")
    prefinancing_percent: Decimal = Decimal("50")
    cumulative_cap: Decimal = Decimal("60000")
    evaluators_per_application: int = 2
    batch_ranking: bool = False
    # Days to accept an offer; days after the planned end date to submit the final report.
    offer_acceptance_days: int = 14
    report_window_days: int = 30
    threshold_total: Decimal = Decimal("10")
    eligible_countries: Sequence[str] = ("IT", "FR", "NL", "BE", "HR")
    eligible_applicants: str = ""
    applicant_guide: str = ""
    criteria: list[dict[str, Any]] = field(default_factory=lambda: list(scoring.DEFAULT_CRITERIA))
    form: list[dict[str, Any]] = field(default_factory=list)
    voucher_type: str = VoucherType.UPSKILLING
    cost_basis: str = CostBasis.COSTS
    publish_at: datetime | None = None
    cutoffs: Sequence[datetime] = ()
    reserve: Decimal = Decimal("0")
    eligibility_rules: dict[str, Any] = field(
        default_factory=lambda: eligibility_rules_json(EligibilityRules())
    )
    divergence_limit: Decimal = Decimal("2")
    redress_days: int = 5
    evaluators_from_other_countries: bool = False
    evaluation_days: int = 14
    pay_provider_directly: bool = False


def _timing_errors(spec: CallSpec) -> dict[str, str]:
    errors: dict[str, str] = {}
    moments = {"opens_at": _("the opening"), "deadline": _("the deadline")}
    for name, what in moments.items():
        try:
            require_instant(getattr(spec, name), what)
        except LocalTimeProblem as exc:
            errors[name] = str(exc)
    if not errors and spec.deadline <= spec.opens_at:
        errors["deadline"] = _("the deadline must come after the opening")
    return errors


# The lengths of the calls table's text columns that a spec sets from what people type.
_COLUMN_LENGTHS = {"reference": 40, "title": 300, "timezone": 60}


def _column_errors(spec: CallSpec) -> dict[str, str]:
    """What the calls table's constraints would refuse: said here, with the field, instead of
    a database error (the builder saves whatever else an officer typed)."""
    errors: dict[str, str] = {}
    for name, length in _COLUMN_LENGTHS.items():
        if len(getattr(spec, name).strip()) > length:
            errors[name] = _("use at most %(count)s characters", count=length)
    if not 0 < spec.funding_rate <= 100:
        errors["funding_rate"] = _("the funding rate must be more than 0% and at most 100%")
    if not 0 <= spec.prefinancing_percent <= 100:
        errors["prefinancing_percent"] = _("the pre-financing must be between 0% and 100%")
    if spec.divergence_limit <= 0:
        errors["divergence_limit"] = _("the divergence limit must be more than zero")
    for name in ("redress_days", "evaluation_days"):
        if getattr(spec, name) <= 0:
            errors[name] = _("give a number of days of at least 1")
    return errors


def spec_errors(spec: CallSpec) -> dict[str, str]:
    """What stops ``spec`` from being stored as a call at all (by CallSpec field name);
    what only stops publishing is ``workflows.call_rules.problems``."""
    errors: dict[str, str] = {}
    if not spec.reference.strip():
        errors["reference"] = _("a call needs a reference")
    if not spec.title.strip():
        errors["title"] = _("a call needs a title")
    if spec.budget <= 0:
        errors["budget"] = _("the budget must be more than zero")
    elif not 0 <= spec.reserve < spec.budget:
        errors["reserve"] = _("the reserve must be zero or more, and less than the budget")
    if not 0 < spec.max_per_voucher <= spec.budget:
        errors["max_per_voucher"] = _("the voucher maximum must be positive and within the budget")
    errors |= _timing_errors(spec)
    errors |= _column_errors(spec)
    for name in ("offer_acceptance_days", "report_window_days"):
        if not 0 < getattr(spec, name) <= 365:
            errors[name] = _("give a number of days between 1 and 365")
    try:
        ZoneInfo(spec.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = _("unknown timezone %(timezone)s", timezone=repr(spec.timezone))
    try:
        scoring.criteria_from_config(spec.criteria)
    except ValueError as exc:
        errors["criteria"] = str(exc)
    try:
        parse_form(spec.form)
    except ValueError as exc:
        errors["form"] = str(exc)
    return errors


def call_columns(spec: CallSpec) -> dict[str, Any]:
    """The call's columns as ``spec`` sets them: when it is created, and when the call builder
    saves a draft's step (one mapping, so a new column cannot be set by one and not the other).
    """
    return {
        "reference": spec.reference.strip(),
        "title": spec.title.strip(),
        "description": spec.description.strip(),
        "budget": spec.budget,
        "max_per_voucher": spec.max_per_voucher,
        "cumulative_cap": spec.cumulative_cap,
        "funding_rate": spec.funding_rate,
        "prefinancing_percent": spec.prefinancing_percent,
        "opens_at": spec.opens_at,
        "deadline": spec.deadline,
        "timezone": spec.timezone,
        "evaluators_per_application": spec.evaluators_per_application,
        "batch_ranking": spec.batch_ranking,
        "offer_acceptance_days": spec.offer_acceptance_days,
        "report_window_days": spec.report_window_days,
        "eligible_applicants": spec.eligible_applicants.strip(),
        "applicant_guide": spec.applicant_guide.strip(),
        "criteria": list(spec.criteria),
        "threshold_total": spec.threshold_total,
        "eligible_countries": list(spec.eligible_countries),
        "form": list(spec.form),
        "voucher_type": str(spec.voucher_type),
        "cost_basis": str(spec.cost_basis),
        "publish_at": spec.publish_at,
        "cutoffs": [moment.isoformat() for moment in spec.cutoffs],
        "reserve": spec.reserve,
        "eligibility_rules": dict(spec.eligibility_rules),
        "divergence_limit": spec.divergence_limit,
        "redress_days": spec.redress_days,
        "evaluators_from_other_countries": spec.evaluators_from_other_countries,
        "evaluation_days": spec.evaluation_days,
        "pay_provider_directly": spec.pay_provider_directly,
    }


def create_call(session: Session, actor: Actor, spec: CallSpec) -> Call:
    require_role(actor, Role.OFFICER)
    errors = spec_errors(spec)
    if session.scalar(select(Call.id).where(Call.reference == spec.reference)) is not None:
        errors["reference"] = _("a call %(reference)s already exists", reference=spec.reference)
    if errors:
        raise ValidationFailed(errors)
    workflow = DEFAULT_APPLICATION_WORKFLOW
    call = Call(
        **call_columns(spec),
        status=CallState.DRAFT,
        workflow_name=workflow.name,
        workflow_version=workflow.version,
    )
    session.add(call)
    flush_or_refuse(session)
    session.add(
        CallForm(call_id=call.id, version=1, definition=call.form, created_by_id=actor.user_id)
    )
    flush_or_refuse(session)
    audit.record(
        session,
        actor,
        "create_call",
        entity_type="call",
        entity_id=call.reference,
        after={
            "title": call.title,
            "budget": call.budget,
            "deadline": call.deadline.isoformat(),
            "workflow": workflow.key,
        },
    )
    return call


def _publish_problems(call: Call, now: datetime) -> list[str]:
    problems = []
    if call.deadline - max(now, call.opens_at) < timedelta(days=MIN_OPEN_DAYS):
        problems.append(_("the call must stay open at least %(days)s days", days=MIN_OPEN_DAYS))
    if not call.form:
        problems.append(_("the call has no application form"))
    if call.pay_provider_directly and call.prefinancing_percent != 0:
        problems.append(
            _(
                "a voucher paid directly to the service provider has no pre-financing: set "
                "the pre-financing to 0"
            )
        )
    return problems


def _step(
    session: Session, actor: Actor, call_id: int, trigger: str, facts: dict[str, Any]
) -> StepResult:
    call = load_call(session, call_id)
    return apply(session, actor, call, trigger, facts=facts)


# The call builder's audit actions (grants.services.call_builder); the latest of them for a
# call names the builder steps that still hold placeholder values.
BUILDER_ACTIONS = ("build_call", "copy_call", "update_draft_call")


def builder_placeholders(session: Session, call: Call) -> tuple[str, ...]:
    """The steps of a call made in the call builder that still hold placeholders (a budget
    of EUR 1, dates nobody chose); empty for a call made any other way."""
    latest = session.scalar(
        select(AuditEvent.after)
        .where(
            AuditEvent.entity_type == "call",
            AuditEvent.entity_id == call.reference,
            AuditEvent.action.in_(BUILDER_ACTIONS),
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    # A reference is unique among calls, but a draft may give its reference up and another
    # call take it: the event must be this call's.
    if not latest or latest.get("call_id") != call.id:
        return ()
    return tuple(str(step) for step in latest.get("placeholders", []))


def publish(
    session: Session, actor: Actor, call_id: int, *, now: datetime | None = None
) -> StepResult:
    now = now or utcnow()
    call = load_call(session, call_id)
    problems = _publish_problems(call, now)
    # Whichever way it is published (the dashboard's button too), a call never goes out
    # with the builder's placeholders.
    unset = builder_placeholders(session, call)
    if unset:
        problems.append(
            _("the call builder's steps %(steps)s are not saved yet", steps=", ".join(unset))
        )
    return _step(session, actor, call_id, "publish", {"call_problems": problems})


def close_call(
    session: Session, actor: Actor, call_id: int, *, now: datetime | None = None
) -> StepResult:
    call = load_call(session, call_id)
    call_now = now or utcnow()
    return apply(
        session, actor, call, "close_call", facts={"deadline": call.deadline}, now=call_now
    )


def start_evaluation(session: Session, actor: Actor, call_id: int) -> StepResult:
    return _step(session, actor, call_id, "start_evaluation", {})


def publish_results(session: Session, actor: Actor, call_id: int) -> StepResult:
    return _step(
        session,
        actor,
        call_id,
        "publish_results",
        {"pending_applications": pending_count(session, call_id)},
    )


def archive(session: Session, actor: Actor, call_id: int) -> StepResult:
    return _step(session, actor, call_id, "archive", {})


def list_calls(session: Session) -> list[Call]:
    return list(session.scalars(select(Call).order_by(Call.deadline.desc(), Call.reference)))


# -- application form versions ---------------------------------------------------------------

MAX_FORM_TEXT = 200_000  # characters of a pasted definition
FORM_EDITABLE = (CallState.DRAFT, CallState.PUBLISHED)


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: they add nothing to a form and can blow a small
    text up into an enormous structure."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, _("aliases (*name) are not allowed here"), event.start_mark
            )
        return super().compose_node(parent, index)


def _load_text(raw_text: str) -> Any:
    text = raw_text.strip()
    if not text:
        raise FormDefinitionError(
            [_("the definition is empty: paste a JSON or YAML list of fields")]
        )
    if len(text) > MAX_FORM_TEXT:
        raise FormDefinitionError(
            [
                _(
                    "the definition is too long (over %(count)s characters)",
                    count=MAX_FORM_TEXT,
                )
            ]
        )
    if text[0] in "[{":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise FormDefinitionError(
                [
                    _(
                        "JSON: line %(line)s, column %(column)s: %(problem)s",
                        line=exc.lineno,
                        column=exc.colno,
                        problem=exc.msg,
                    )
                ]
            ) from None
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # a SafeLoader: yaml.safe_load's rules
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        message = (
            _(
                "YAML: line %(line)s, column %(column)s: %(problem)s",
                line=mark.line + 1,
                column=mark.column + 1,
                problem=problem,
            )
            if mark
            else _("YAML: %(problem)s", problem=problem)
        )
        raise FormDefinitionError([message]) from None


def parse_form_text(raw_text: str) -> list[dict[str, Any]]:
    """A pasted JSON or YAML form definition, checked, as its canonical JSON.

    The text is a list of fields, or an object whose only key is ``fields``. Raises
    ``FormDefinitionError`` listing every problem (syntax errors with their line).
    """
    data = _load_text(raw_text)
    if isinstance(data, dict) and set(data) == {"fields"}:
        data = data["fields"]
    fields = parse_form(data)
    if not fields:
        raise FormDefinitionError([_("the form needs at least one field")])
    return dump_form(fields)


def preview_form(raw_text: str) -> list[Field]:
    """The fields as an applicant will see them; nothing is saved."""
    return parse_form(parse_form_text(raw_text))


def definition_sha256(definition: list[Any]) -> str:
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def form_versions(session: Session, call_id: int) -> list[CallForm]:
    return list(
        session.scalars(
            select(CallForm).where(CallForm.call_id == call_id).order_by(CallForm.version.desc())
        )
    )


def update_form(session: Session, actor: Actor, call_id: int, raw_text: str) -> CallForm:
    """Save a pasted definition as the call's next form version.

    Allowed while the call is a draft or open. Applications already started keep the
    version they pinned; drafts started from now on get this one. Raises
    ``FormDefinitionError`` for a definition that cannot be used (or is unchanged).
    """
    require_role(actor, Role.OFFICER)
    call = load_call(session, call_id)
    if call.status not in FORM_EDITABLE:
        raise TransitionRefused(
            _(
                "the application form can only change while the call is a draft or open; "
                "this call is %(state)s",
                state=call.status,
            )
        )
    definition = parse_form_text(raw_text)
    if definition == dump_form(parse_form(call.form)):
        raise FormDefinitionError(
            [
                _(
                    "this is the same form as version %(version)s: nothing to save",
                    version=call.form_version,
                )
            ]
        )
    latest = session.scalar(select(func.max(CallForm.version)).where(CallForm.call_id == call.id))
    version = (latest or 0) + 1
    form = CallForm(
        call_id=call.id, version=version, definition=definition, created_by_id=actor.user_id
    )
    session.add(form)
    before = {"form_version": call.form_version, "sha256": definition_sha256(call.form)}
    call.form = definition
    call.form_version = version
    flush_or_refuse(session)
    audit.record(
        session,
        actor,
        "update_form",
        entity_type="call",
        entity_id=call.reference,
        before=before,
        after={
            "form_version": version,
            "sha256": definition_sha256(definition),
            "fields": [f["name"] for f in definition],
        },
    )
    return form
