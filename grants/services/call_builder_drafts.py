"""Drafts of the call builder: a new draft from the Basics step (``start_call``) or as a copy
of an earlier call (``copy_call``), and every later step an update of the draft
(``update_draft_call``, audited with before/after of what changed), so the work in progress
is the same for every officer. A published call's rules never change here."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.defaults import INTERNATIONALISATION_FORM, VOUCHER_FORM
from grants.errors import NotFound, ValidationFailed, require_role
from grants.models import Call
from grants.services import audit, calls
from grants.services.actor import Actor
from grants.services.call_builder_input import Typed, read_step
from grants.services.call_builder_steps import Step
from grants.services.call_files import COUNTRIES, rules_of, spec_of
from grants.services.workflow import flush_or_refuse, load_call
from workflows import call_rules
from workflows.call import CallState
from workflows.call_rules import CallRules, VoucherType
from workflows.errors import TransitionRefused
from workflows.i18n import _
from workflows.local_time import zone
from workflows.roles import Role

# CallSpec's names where they differ from CallRules' (refusals are reported by rules name,
# the name each page's field has).
_RULE_NAMES = {
    "description": "purpose",
    "opens_at": "opening",
    "offer_acceptance_days": "acceptance_days",
    "evaluators_per_application": "experts_per_application",
    "eligible_applicants": "who_can_apply",
    "applicant_guide": "guidance",
    "publish_at": "publication",
}
# The form changes only through its editor (calls.update_form), which versions it.
_NOT_FROM_RULES = frozenset({"form"})
# A new call's steps that start with placeholder values, and the field each is reported on.
PLACEHOLDER_STEPS = {Step.DATES: "opening", Step.MONEY: "budget"}
# Shown empty, not as their placeholder, until their step is saved.
PLACEHOLDER_FIELDS = {
    Step.DATES: ("opening", "deadline"),
    Step.MONEY: ("budget", "max_per_voucher"),
}


def _by_rule_name(errors: Mapping[str, str], rules: CallRules, now: datetime) -> dict[str, str]:
    """Refusals of the store, by rules field, in the words of ``problems`` where it has some
    for the same field (they are written for the builder's pages)."""
    named = {_RULE_NAMES.get(name, name): message for name, message in errors.items()}
    wording = call_rules.problems(rules, now, COUNTRIES)
    return {
        name: wording.get(name) or message[:1].upper() + message[1:]
        for name, message in named.items()
    }


def _storable(
    session: Session,
    rules: CallRules,
    form: list[dict[str, Any]],
    call_id: int | None,
    now: datetime,
) -> calls.CallSpec:
    """The spec to store, or ValidationFailed (by rules field) naming what the database
    could not hold: a time that is not one instant, a deadline before the opening..."""
    spec = spec_of(rules, form)
    errors = calls.spec_errors(spec)
    taken = session.scalar(select(Call.id).where(Call.reference == spec.reference))
    if taken is not None and taken != call_id:
        errors["reference"] = _("a call %(reference)s already exists", reference=spec.reference)
    if errors:
        raise ValidationFailed(_by_rule_name(errors, rules, now))
    return spec


def require_draft(call: Call) -> None:
    if call.status != CallState.DRAFT:
        raise TransitionRefused(
            _(
                "a call's rules change only while it is a draft; %(reference)s is %(state)s: "
                "copy it to make a new call from it",
                reference=call.reference,
                state=call.status,
            )
        )


def placeholders(session: Session, call: Call) -> tuple[Step, ...]:
    """The steps of a call made in the builder that still hold placeholder values."""
    return tuple(
        Step(s) for s in calls.builder_placeholders(session, call) if s in PLACEHOLDER_STEPS
    )


def starting_rules(now: datetime, timezone: str = "Europe/Brussels") -> CallRules:
    """A new call's rules before its steps are saved.

    The database needs every column of a call, so the steps not saved yet hold placeholders
    (``PLACEHOLDER_STEPS``): the call opens in 7 days and closes in 60 (at noon, in the
    call's timezone: no clock change happens at noon, so the times always exist once), and
    the budget and voucher maximum are EUR 1. The review lists such steps as not set, their
    pages show those fields empty, and publishing waits until each step is saved.
    """
    local = now.astimezone(zone(timezone)).replace(tzinfo=None)
    noon = local.replace(hour=12, minute=0, second=0, microsecond=0)
    return CallRules(
        reference="",
        title="",
        purpose="",
        voucher_type=VoucherType.UPSKILLING,
        timezone=timezone,
        opening=noon + timedelta(days=7),
        deadline=noon + timedelta(days=60),
        budget=Decimal(1),
        max_per_voucher=Decimal(1),
    )


def _starting_form(voucher_type: VoucherType) -> list[dict[str, Any]]:
    """The default form of the voucher's kind (forms.defaults), for the officer to adapt."""
    chosen = (
        INTERNATIONALISATION_FORM
        if voucher_type == VoucherType.INTERNATIONALISATION
        else VOUCHER_FORM
    )
    return copy.deepcopy(chosen)


def start_call(session: Session, actor: Actor, typed: Typed, *, now: datetime) -> Call:
    """A new draft call from the Basics step; the other steps start from defaults and
    placeholders (``starting_rules``)."""
    require_role(actor, Role.OFFICER)
    rules = read_step(Step.BASICS, typed, starting_rules(now))
    form = _starting_form(rules.voucher_type)
    call = calls.create_call(session, actor, _storable(session, rules, form, None, now))
    audit.record(
        session,
        actor,
        "build_call",
        entity_type="call",
        entity_id=call.reference,
        after={
            "call_id": call.id,
            "step": str(Step.BASICS),
            "placeholders": list(PLACEHOLDER_STEPS),
        },
    )
    return call


def copy_call(
    session: Session, actor: Actor, source_id: int, reference: str, *, now: datetime
) -> Call:
    """A new draft with an earlier call's rules and form under a new reference.

    Its dates are kept: past ones show as problems on the review until they are set again.
    """
    require_role(actor, Role.OFFICER)
    source = session.get(Call, source_id)
    if source is None:
        raise NotFound(f"no call {source_id}")
    reference = reference.strip()
    if not reference:
        raise ValidationFailed(
            {"reference": _("Give the new call a reference, e.g. LEV-INT-2027.")}
        )
    rules = replace(rules_of(source), reference=reference)
    form = copy.deepcopy(list(source.form))
    call = calls.create_call(session, actor, _storable(session, rules, form, None, now))
    audit.record(
        session,
        actor,
        "copy_call",
        entity_type="call",
        entity_id=call.reference,
        after={"call_id": call.id, "copied_from": source.reference, "placeholders": []},
    )
    return call


@dataclass(frozen=True)
class Saved:
    call: Call
    changed: tuple[str, ...]  # the columns that changed (empty: nothing to save)


def update_draft_call(
    session: Session,
    actor: Actor,
    call_id: int,
    rules: CallRules,
    *,
    step: Step | None = None,
    now: datetime,
) -> Saved:
    """Store ``rules`` on a draft call (its form is left to the form editor).

    Refused (TransitionRefused) for any call but a draft: a published call's rules never
    change. ValidationFailed names what the database cannot hold. The audit event has the
    before and after of each changed column, and the step saved.
    """
    require_role(actor, Role.OFFICER)
    call = load_call(session, call_id)
    require_draft(call)
    spec = _storable(session, rules, list(call.form), call.id, now)
    wanted = {k: v for k, v in calls.call_columns(spec).items() if k not in _NOT_FROM_RULES}
    changed = tuple(name for name, value in wanted.items() if getattr(call, name) != value)
    pending = placeholders(session, call)
    still = tuple(s for s in pending if s != step)
    if not changed and still == pending:
        return Saved(call, ())
    # The audit trail writes amounts and instants as text (audit._jsonable).
    before = {name: getattr(call, name) for name in changed}
    for name in changed:
        setattr(call, name, wanted[name])
    flush_or_refuse(session)
    after: dict[str, Any] = {name: wanted[name] for name in changed}
    after |= {"call_id": call.id, "step": str(step or ""), "placeholders": [str(s) for s in still]}
    audit.record(
        session,
        actor,
        "update_draft_call",
        entity_type="call",
        entity_id=call.reference,
        before=before,
        after=after,
    )
    return Saved(call, changed)


def save_step(
    session: Session, actor: Actor, call_id: int, step: Step, typed: Typed, *, now: datetime
) -> Saved:
    """One step's page saved: read, checked and stored on the draft."""
    require_role(actor, Role.OFFICER)
    call = load_call(session, call_id)
    require_draft(call)
    rules = read_step(step, typed, rules_of(call))
    return update_draft_call(session, actor, call_id, rules, step=step, now=now)
