"""The call builder: a programme officer makes a call step by step in the browser.

The draft call row exists from the first step on, so every later step is an update of a
draft (``update_draft_call``, audited with before/after of what changed) and the work in
progress is the same for every officer. What a step's form posts is read here into
``CallRules``: numbers through ``workflows.numbers`` (as people type them), times as the
wall-clock times of the call's timezone. What cannot be stored at all is refused naming the
fields to correct; what only stops publishing is listed by ``review`` (every problem of
``call_rules.problems``, the application form's, and the steps still holding placeholders),
shown on each step and on the review page. Publishing goes through ``calls.publish``, so its
own checks and its audit event apply too.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.countries import EU_COUNTRIES
from forms.defaults import INTERNATIONALISATION_FORM, VOUCHER_FORM
from forms.model import FieldType
from forms.schema import parse_form
from grants.errors import NotFound, ValidationFailed, require_role
from grants.models import Call
from grants.services import audit, calls
from grants.services.actor import Actor
from grants.services.call_files import COUNTRIES, rules_of, spec_of
from grants.services.workflow import StepResult, flush_or_refuse, load_call
from workflows import call_rules, numbers, scoring
from workflows.call import CallState
from workflows.call_rules import CallRules, CostBasis, EligibilityRules, VoucherType
from workflows.errors import TransitionRefused
from workflows.i18n import N_, _
from workflows.local_time import AmbiguousLocalTime, LocalTimeProblem, local_instant, zone
from workflows.roles import Role

T = TypeVar("T")


class Step(StrEnum):
    """The builder's pages, in order; each value is also the page's endpoint name."""

    BASICS = "basics"
    DATES = "dates"
    MONEY = "money"
    ELIGIBILITY = "eligibility"
    EVALUATION = "evaluation"
    FORM = "application_form"
    REVIEW = "review"


# The steps whose page is a form of CallRules fields (the application form has its editor).
EDITABLE_STEPS = (Step.BASICS, Step.DATES, Step.MONEY, Step.ELIGIBILITY, Step.EVALUATION)

# Which step sets each field: a problem's path starts with one of these, so every problem
# links to the page (and the field) where it is put right.
STEP_FIELDS: dict[Step, tuple[str, ...]] = {
    Step.BASICS: ("reference", "title", "voucher_type", "purpose", "guidance", "who_can_apply"),
    Step.DATES: ("timezone", "publication", "opening", "deadline", "batch_ranking", "cutoffs"),
    Step.MONEY: (
        "budget",
        "reserve",
        "max_per_voucher",
        "cumulative_cap",
        "funding_rate",
        "cost_basis",
        "prefinancing_percent",
    ),
    Step.ELIGIBILITY: ("eligible_countries", "eligibility"),
    Step.EVALUATION: (
        "criteria",
        "threshold_total",
        "experts_per_application",
        "divergence_limit",
        "redress_days",
        "acceptance_days",
        "report_window_days",
    ),
    Step.FORM: ("form",),
}


def step_of(path: str) -> Step:
    head = path.split(".", 1)[0]
    return next((step for step, names in STEP_FIELDS.items() if head in names), Step.REVIEW)


# How each field reads in an error summary and on its page (one place for both).
LABELS: dict[str, str] = {
    "reference": N_("Reference"),
    "title": N_("Title"),
    "voucher_type": N_("Type of voucher"),
    "purpose": N_("What the call funds and why"),
    "guidance": N_("Guidance for applicants"),
    "who_can_apply": N_("Who can apply"),
    "timezone": N_("Timezone"),
    "publication": N_("Publication"),
    "opening": N_("Opening"),
    "deadline": N_("Deadline"),
    "batch_ranking": N_("Rank in batches at cut-off dates"),
    "cutoffs": N_("Cut-off dates"),
    "budget": N_("Budget (EUR)"),
    "reserve": N_("Reserve for a later call (EUR)"),
    "max_per_voucher": N_("Maximum per voucher (EUR)"),
    "cumulative_cap": N_("Cap per SME across the consortium's calls (EUR)"),
    "funding_rate": N_("Funding rate (%)"),
    "cost_basis": N_("How the voucher is paid"),
    "prefinancing_percent": N_("Pre-financing at signature (%)"),
    "eligible_countries": N_("Eligible countries"),
    "eligibility.min_registration_months": N_("Months registered before the deadline"),
    "eligibility.de_minimis_ceiling": N_("De minimis ceiling (EUR)"),
    "eligibility.de_minimis_years": N_("De minimis period (years)"),
    "eligibility.target_markets_outside_eu": N_("Target markets outside the EU"),
    "criteria": N_("Evaluation criteria"),
    "threshold_total": N_("Total threshold"),
    "experts_per_application": N_("Experts per application"),
    "divergence_limit": N_("Divergence limit (points)"),
    "redress_days": N_("Days to ask for redress"),
    "acceptance_days": N_("Days to accept an offer"),
    "report_window_days": N_("Days to submit the final report"),
    "form": N_("Application form"),
}
CRITERION_PARTS: dict[str, str] = {
    "key": N_("key"),
    "name": N_("name"),
    "description": N_("description"),
    "max": N_("maximum"),
    "threshold": N_("threshold"),
    "weight": N_("weight"),
}


def label(path: str) -> str:
    """A field's words in an error summary (``cutoffs.1``: "Cut-off date 2")."""
    if path in LABELS:
        return _(LABELS[path])
    parts = path.split(".")
    if parts[0] == "cutoffs" and len(parts) == 2 and parts[1].isdigit():
        return _("Cut-off date %(number)s", number=int(parts[1]) + 1)
    if parts[0] == "criteria" and len(parts) == 3 and parts[1].isdigit():
        part = _(CRITERION_PARTS.get(parts[2], parts[2]))
        return _("Criterion %(number)s, %(part)s", number=int(parts[1]) + 1, part=part)
    return path


# -- reading what a step's form posts -------------------------------------------------------


class Typed(Protocol):
    """What a page posted (a werkzeug MultiDict): one text per name, or several."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def getlist(self, key: str) -> list[str]: ...


@dataclass(frozen=True)
class TimeChoice:
    """The two instants (UTC) of a wall-clock time that happens twice."""

    earlier: datetime
    later: datetime


class StepRefused(ValidationFailed):
    """A step's input that cannot be saved: ``errors`` by posted field name; ``choices`` the
    times that happen twice, to be asked which one they mean."""

    def __init__(self, errors: dict[str, str], choices: dict[str, TimeChoice] | None = None):
        super().__init__(errors)
        self.choices = choices or {}


MAX_TEXT = 20_000  # characters of a long text (purpose, guidance): pages, not books
MAX_ROWS = 20  # cut-off dates or criteria rows read from one page
MAX_DAYS = 10_000  # whole numbers: far beyond any rule, within every integer column
SHORT_TEXT = {"reference": 40, "title": 300}  # the columns' lengths
CRITERION_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
YEARS = (2000, 2100)  # dates typed outside these are typing mistakes


class _Reader:
    """Reads one step's posted values, collecting every error instead of stopping."""

    def __init__(self, typed: Typed) -> None:
        self.typed = typed
        self.errors: dict[str, str] = {}

    def raw(self, name: str) -> str:
        value = self.typed.get(name)
        return value.strip() if isinstance(value, str) else ""

    def text(self, name: str, *, limit: int = MAX_TEXT) -> str:
        value = self.raw(name)
        if len(value) > limit:
            self.errors[name] = _("Use at most %(count)s characters.", count=limit)
        return value

    def flag(self, name: str) -> bool:
        return bool(self.raw(name))

    def number(self, name: str, parse: Callable[..., T], default: T, **bounds: Any) -> T:
        try:
            return parse(self.raw(name), **bounds)
        except numbers.NumberRefused as exc:
            self.errors[name] = exc.message
            return default

    def choice(self, name: str, kind: Callable[[str], T], default: T) -> T:
        try:
            return kind(self.raw(name))
        except ValueError:
            self.errors[name] = _("Choose one of the options.")
            return default

    def wall(self, name: str, *, optional: bool = False) -> datetime | None:
        """A date and a time typed as on a calendar and a clock (``name.date``, ``name.time``)."""
        day, clock = self.raw(f"{name}.date"), self.raw(f"{name}.time")
        if not day and not clock:
            if not optional:
                self.errors[name] = _("Enter the date and the time.")
            return None
        try:
            moment = datetime.combine(date.fromisoformat(day), time.fromisoformat(clock))
        except ValueError:
            self.errors[name] = _(
                "Enter the date as on a calendar and the time as on a clock, "
                "e.g. 2026-11-30 and 17:00."
            )
            return None
        if not YEARS[0] <= moment.year <= YEARS[1]:
            self.errors[name] = _(
                "Enter a year between %(first)s and %(last)s.", first=YEARS[0], last=YEARS[1]
            )
            return None
        return moment.replace(second=0, microsecond=0)


def _read_basics(read: _Reader, rules: CallRules) -> CallRules:
    return replace(
        rules,
        reference=read.text("reference", limit=SHORT_TEXT["reference"]),
        title=read.text("title", limit=SHORT_TEXT["title"]),
        voucher_type=read.choice("voucher_type", VoucherType, rules.voucher_type),
        purpose=read.text("purpose"),
        guidance=read.text("guidance"),
        who_can_apply=read.text("who_can_apply"),
    )


def _timezone(read: _Reader, current: str) -> str:
    """The zone chosen in the list, or typed when it is not there ("other")."""
    chosen = read.raw("timezone")
    name = read.raw("timezone_other") if chosen == "other" else chosen
    try:
        zone(name)
    except LocalTimeProblem as exc:
        read.errors["timezone"] = _(
            "Choose a timezone, or type one such as Europe/Rome: %(why)s", why=str(exc)
        )
        return current
    return name


def time_paths(rules: CallRules) -> list[tuple[str, datetime]]:
    """Every wall-clock time of the call, by its path in ``problems`` and ``folds``."""
    paths = [] if rules.publication is None else [("publication", rules.publication)]
    paths += [("opening", rules.opening), ("deadline", rules.deadline)]
    return paths + [(f"cutoffs.{i}", wall) for i, wall in enumerate(rules.cutoffs)]


def time_choice(wall: datetime, timezone: str) -> TimeChoice | None:
    """The two instants of a time that happens twice; None for any other time."""
    try:
        local_instant(wall, timezone)
    except AmbiguousLocalTime as twice:
        return TimeChoice(twice.earlier, twice.later)
    except LocalTimeProblem:
        return None
    return None


def _read_dates(read: _Reader, rules: CallRules) -> CallRules:
    timezone = _timezone(read, rules.timezone)
    # The times as posted, by field name; cut-off rows left empty are dropped, so the rules'
    # path of a cut-off ("cutoffs.0") and its posted row ("cutoffs.2") may differ.
    walls: dict[str, datetime] = {}
    for name in ("publication", "opening", "deadline"):
        if (wall := read.wall(name, optional=name == "publication")) is not None:
            walls[name] = wall
    rows: list[str] = []
    for row in (f"cutoffs.{index}" for index in range(MAX_ROWS)):
        if (wall := read.wall(row, optional=True)) is not None:
            walls[row] = wall
            rows.append(row)
    posted = {name: name for name in walls if not name.startswith("cutoffs.")}
    posted |= {f"cutoffs.{index}": row for index, row in enumerate(rows)}
    # Every typed time that happens twice is offered as a choice, also when something else
    # is refused, so that the choice made is kept on the page and posted again.
    choices = {
        name: choice for name, wall in walls.items() if (choice := time_choice(wall, timezone))
    }
    if read.errors or "opening" not in walls or "deadline" not in walls:
        raise StepRefused(read.errors, choices)
    # Which instant an autumn-hour time means, where the page asked (a choice left over
    # from a time since changed to an ordinary one is dropped).
    folds = {
        path: int(fold)
        for path, name in posted.items()
        if name in choices and (fold := read.raw(f"fold.{name}")) in ("0", "1")
    }
    dated = replace(
        rules,
        timezone=timezone,
        publication=walls.get("publication"),
        opening=walls["opening"],
        deadline=walls["deadline"],
        batch_ranking=read.flag("batch_ranking"),
        cutoffs=tuple(walls[row] for row in rows),
        folds=folds,
    )
    _moments, refused = call_rules.instants(dated)
    if refused:
        raise StepRefused({posted.get(p, p): m for p, m in refused.items()}, choices)
    return dated


def _read_money(read: _Reader, rules: CallRules) -> CallRules:
    reserve = (
        read.number("reserve", numbers.parse_money, rules.reserve)
        if read.raw("reserve")
        else Decimal(0)
    )
    return replace(
        rules,
        budget=read.number("budget", numbers.parse_money, rules.budget),
        reserve=reserve,
        max_per_voucher=read.number("max_per_voucher", numbers.parse_money, rules.max_per_voucher),
        cumulative_cap=read.number("cumulative_cap", numbers.parse_money, rules.cumulative_cap),
        funding_rate=read.number("funding_rate", numbers.parse_percent, rules.funding_rate),
        cost_basis=read.choice("cost_basis", CostBasis, rules.cost_basis),
        prefinancing_percent=read.number(
            "prefinancing_percent", numbers.parse_percent, rules.prefinancing_percent
        ),
    )


def _read_eligibility(read: _Reader, rules: CallRules) -> CallRules:
    e = "eligibility."
    current = rules.eligibility
    months: int | None = None
    if read.flag(e + "registration_check"):
        months = read.number(
            e + "min_registration_months", numbers.parse_integer, 6, maximum=MAX_DAYS
        )
    de_minimis = read.flag(e + "de_minimis_check")
    ceiling, years = current.de_minimis_ceiling, current.de_minimis_years
    if de_minimis:  # the ceiling and period only matter, and are only read, when checked
        ceiling = read.number(e + "de_minimis_ceiling", numbers.parse_money, ceiling)
        years = read.number(e + "de_minimis_years", numbers.parse_integer, years, maximum=100)
    chosen: list[str] = []
    for code in read.typed.getlist("eligible_countries")[: len(COUNTRIES) + 1]:
        code = code.strip().upper()[:8]
        if code and code not in chosen:
            chosen.append(code)
    return replace(
        rules,
        eligible_countries=tuple(chosen),
        eligibility=EligibilityRules(
            min_registration_months=months,
            de_minimis_check=de_minimis,
            de_minimis_ceiling=ceiling,
            de_minimis_years=years,
            one_application_per_sme=read.flag(e + "one_application_per_sme"),
            partner_exclusion=read.flag(e + "partner_exclusion"),
            target_markets_outside_eu=read.flag(e + "target_markets_outside_eu"),
        ),
    )


def _read_criterion(read: _Reader, row: int) -> dict[str, object] | None:
    """One row of the criteria table (None when left empty: a row is removed by clearing it)."""
    path = f"criteria.{row}."
    if not any(read.raw(path + part) for part in CRITERION_PARTS):
        return None
    key = read.raw(path + "key")
    if not CRITERION_KEY.fullmatch(key):
        read.errors[path + "key"] = _(
            "Give a short key in lower-case letters, digits and _, starting with a letter, "
            "e.g. excellence."
        )
    name = read.text(path + "name", limit=200)
    if not name:
        read.errors[path + "name"] = _("Give the criterion's name as evaluators read it.")
    criterion: dict[str, object] = {"key": key, "name": name}
    scores = {
        part: read.number(path + part, numbers.parse_decimal, None, maximum=scoring.CONFIG_MAX)
        for part in ("max", "threshold", "weight")
    }
    for part, value in scores.items():
        criterion[part] = "" if value is None else numbers.plain(value)
    top, threshold, weight = scores["max"], scores["threshold"], scores["weight"]
    if name and top is not None and threshold is not None and weight is not None:
        try:  # the criterion's own rules, said beside the cell that breaks them
            scoring.Criterion(key or "?", name, top, threshold, weight)
        except ValueError as exc:
            read.errors[path + ("max" if top <= 0 else "threshold")] = str(exc)
    description = read.text(path + "description", limit=2_000)
    if description:
        criterion["description"] = description
    return criterion


def _read_evaluation(read: _Reader, rules: CallRules) -> CallRules:
    criteria = [c for row in range(MAX_ROWS) if (c := _read_criterion(read, row)) is not None]
    whole: dict[str, Any] = {"maximum": MAX_DAYS}
    return replace(
        rules,
        criteria=tuple(criteria),
        threshold_total=read.number(
            "threshold_total", numbers.parse_decimal, rules.threshold_total
        ),
        experts_per_application=read.number(
            "experts_per_application", numbers.parse_integer, 2, **whole
        ),
        divergence_limit=read.number(
            "divergence_limit", numbers.parse_decimal, rules.divergence_limit
        ),
        redress_days=read.number("redress_days", numbers.parse_integer, 5, **whole),
        acceptance_days=read.number("acceptance_days", numbers.parse_integer, 14, **whole),
        report_window_days=read.number("report_window_days", numbers.parse_integer, 30, **whole),
    )


_READERS: dict[Step, Callable[[_Reader, CallRules], CallRules]] = {
    Step.BASICS: _read_basics,
    Step.DATES: _read_dates,
    Step.MONEY: _read_money,
    Step.ELIGIBILITY: _read_eligibility,
    Step.EVALUATION: _read_evaluation,
}


def read_step(step: Step, typed: Typed, rules: CallRules) -> CallRules:
    """``rules`` with the step's fields as posted; StepRefused names every field to correct."""
    read = _Reader(typed)
    changed = _READERS[step](read, rules)
    if read.errors:
        raise StepRefused(read.errors)
    return changed


# -- storing ---------------------------------------------------------------------------------

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


def _require_draft(call: Call) -> None:
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
    _require_draft(call)
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
    _require_draft(call)
    rules = read_step(step, typed, rules_of(call))
    return update_draft_call(session, actor, call_id, rules, step=step, now=now)


# -- reviewing and publishing ---------------------------------------------------------------


def _markets_question(fields: Sequence[Any]) -> bool:
    return any(
        f.type is FieldType.COUNTRY_LIST and not (f.allowed_countries & EU_COUNTRIES)
        for f in fields
    )


def form_problems(rules: CallRules, form: list[dict[str, Any]]) -> dict[str, str]:
    """What in the application form stops publishing, under the key ``form``."""
    if not form:
        return {"form": _("The call has no application form: open the form editor and save one.")}
    try:
        fields = parse_form(form)
    except ValueError as exc:
        return {"form": str(exc)}
    outside = rules.eligibility.target_markets_outside_eu
    if (
        outside
        and rules.voucher_type == VoucherType.INTERNATIONALISATION
        and not _markets_question(fields)
    ):
        return {
            "form": _(
                "Target markets outside the EU are checked: the form needs a question of type "
                "country_list that leaves out the EU (exclude_countries: [EU])."
            )
        }
    return {}


@dataclass(frozen=True)
class Review:
    """Everything that stops a draft from being published, by field."""

    problems: dict[str, str]
    # The steps still holding placeholders, each reported on its first field.
    unset: dict[str, str] = field(default_factory=dict)
    placeholders: tuple[Step, ...] = ()

    @property
    def everything(self) -> dict[str, str]:
        return self.unset | self.problems

    @property
    def clean(self) -> bool:
        return not self.problems and not self.unset

    def of_step(self, step: Step) -> dict[str, str]:
        return {path: m for path, m in self.everything.items() if step_of(path) == step}


def review(session: Session, call: Call, *, now: datetime) -> Review:
    rules = rules_of(call)
    problems = call_rules.problems(rules, now, COUNTRIES) | form_problems(rules, list(call.form))
    pending = placeholders(session, call) if call.status == CallState.DRAFT else ()
    unset = {
        PLACEHOLDER_STEPS[step]: _("Not set yet: open this step, fill it in and save it.")
        for step in pending
    }
    return Review(problems=problems, unset=unset, placeholders=pending)


def publish_draft(session: Session, actor: Actor, call_id: int, *, now: datetime) -> StepResult:
    """Publish a draft whose review is clean, through ``calls.publish`` (its checks, its
    audit event): the builder adds its own checks, never skips the service's."""
    require_role(actor, Role.OFFICER)
    call = load_call(session, call_id)
    _require_draft(call)
    found = review(session, call, now=now)
    if not found.clean:
        reasons = tuple(f"{label(path)}: {message}" for path, message in found.everything.items())
        raise TransitionRefused(_("the call is not ready to publish"), reasons=reasons)
    return calls.publish(session, actor, call_id, now=now)
