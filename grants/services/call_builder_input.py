"""Reading what a call builder step's form posts into ``CallRules``: numbers through
``workflows.numbers`` (as people type them), times as the wall-clock times of the call's
timezone. What cannot be stored at all is refused (``StepRefused``) naming every field to
correct, and a time that happens twice is offered as a choice of its two instants."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from grants.errors import ValidationFailed
from grants.services.call_builder_steps import CRITERION_PARTS, Step
from grants.services.call_files import COUNTRIES
from workflows import call_rules, numbers, scoring
from workflows.call_rules import CallRules, CostBasis, EligibilityRules, VoucherType
from workflows.i18n import _
from workflows.local_time import AmbiguousLocalTime, LocalTimeProblem, local_instant, zone

T = TypeVar("T")


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
        pay_provider_directly=read.flag("pay_provider_directly"),
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
        evaluators_from_other_countries=read.flag("evaluators_from_other_countries"),
        # Left empty: the call keeps the days it has (14 unless changed).
        evaluation_days=read.number(
            "evaluation_days", numbers.parse_integer, rules.evaluation_days, **whole
        )
        if read.raw("evaluation_days")
        else rules.evaluation_days,
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
