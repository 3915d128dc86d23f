"""What the call builder's pages show: the step list, a step's fields as typed text, the
country and timezone choices. The inverse (typed text into rules) is the service's
``read_step``; both use the same field names, the paths of ``call_rules.problems``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from werkzeug.datastructures import MultiDict

from grants.services.call_builder import (
    EDITABLE_STEPS,
    PLACEHOLDER_FIELDS,
    Review,
    Step,
    TimeChoice,
    step_of,
    time_choice,
    time_paths,
)
from workflows.call_rules import CallRules
from workflows.i18n import N_
from workflows.numbers import plain
from workflows.registration_numbers import (
    CANDIDATE_COUNTRIES,
    EEA_COUNTRIES,
    EU_MEMBER_STATES,
    countries,
)

TITLES = {
    Step.BASICS: N_("Basics"),
    Step.DATES: N_("Dates"),
    Step.MONEY: N_("Money"),
    Step.ELIGIBILITY: N_("Eligibility"),
    Step.EVALUATION: N_("Evaluation"),
    Step.FORM: N_("Application form"),
    Step.REVIEW: N_("Review and publish"),
}
# The consortium's own zones first (DOMAIN.md: deadlines such as 17:00 Brussels), then a few
# more; any other IANA zone can be typed.
TIMEZONES = (
    "Europe/Brussels",
    "Europe/Rome",
    "Europe/Paris",
    "Europe/Amsterdam",
    "Europe/Zagreb",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Lisbon",
    "Europe/Athens",
    "Europe/Helsinki",
    "Europe/Dublin",
    "UTC",
)
EMPTY_ROWS = 2  # blank rows offered under the cut-offs and criteria already set
MIN_CUTOFF_ROWS = 3


@dataclass(frozen=True)
class StepLink:
    step: Step
    number: int
    title: str
    # "problems" (something stops publishing), "unset" (placeholders), "ok", or "" (review).
    state: str
    current: bool


def step_links(found: Review | None, current: Step) -> list[StepLink]:
    """The builder's steps, each with whether it stops publishing (None: no call yet)."""
    links = []
    for number, step in enumerate((*EDITABLE_STEPS, Step.FORM, Step.REVIEW), start=1):
        if found is None or step == Step.REVIEW:
            state = ""
        elif any(step_of(path) == step for path in found.problems):
            state = "problems"
        elif step in found.placeholders:
            state = "unset"
        else:
            state = "ok"
        links.append(StepLink(step, number, TITLES[step], state, step == current))
    return links


def neighbours(step: Step) -> tuple[Step | None, Step | None]:
    """The steps before and after ``step``."""
    order = (*EDITABLE_STEPS, Step.FORM, Step.REVIEW)
    index = order.index(step)
    return (
        order[index - 1] if index else None,
        order[index + 1] if index + 1 < len(order) else None,
    )


def step_problems(found: Review, step: Step) -> dict[str, str]:
    """What on this step stops publishing (the placeholders' "not set yet" is the review's)."""
    return {path: message for path, message in found.problems.items() if step_of(path) == step}


def review_groups(found: Review) -> list[tuple[Step, list[tuple[str, str]]]]:
    """Every problem, grouped by the step that puts it right, in the steps' order."""
    everything = found.everything
    groups = []
    for step in (*EDITABLE_STEPS, Step.FORM):
        items = [(path, message) for path, message in everything.items() if step_of(path) == step]
        if items:
            groups.append((step, items))
    return groups


# -- a step's fields as text -----------------------------------------------------------------


def _wall(values: MultiDict[str, str], name: str, wall: datetime | None) -> None:
    values[f"{name}.date"] = "" if wall is None else f"{wall:%Y-%m-%d}"
    values[f"{name}.time"] = "" if wall is None else f"{wall:%H:%M}"


def _flag(values: MultiDict[str, str], name: str, on: bool) -> None:
    if on:
        values[name] = "yes"


def _basics(values: MultiDict[str, str], rules: CallRules) -> None:
    values.update(
        {
            "reference": rules.reference,
            "title": rules.title,
            "voucher_type": str(rules.voucher_type),
            "purpose": rules.purpose,
            "guidance": rules.guidance,
            "who_can_apply": rules.who_can_apply,
        }
    )


def _dates(values: MultiDict[str, str], rules: CallRules) -> None:
    listed = rules.timezone in TIMEZONES
    values["timezone"] = rules.timezone if listed else "other"
    values["timezone_other"] = "" if listed else rules.timezone
    _wall(values, "publication", rules.publication)
    _wall(values, "opening", rules.opening)
    _wall(values, "deadline", rules.deadline)
    _flag(values, "batch_ranking", rules.batch_ranking)
    rows = max(len(rules.cutoffs) + EMPTY_ROWS, MIN_CUTOFF_ROWS)
    for row in range(rows):
        _wall(values, f"cutoffs.{row}", rules.cutoffs[row] if row < len(rules.cutoffs) else None)
    for path, fold in rules.folds.items():
        values[f"fold.{path}"] = str(fold)


def _money(values: MultiDict[str, str], rules: CallRules) -> None:
    for name in ("budget", "reserve", "max_per_voucher", "cumulative_cap"):
        values[name] = plain(getattr(rules, name))
    values["funding_rate"] = plain(rules.funding_rate)
    values["prefinancing_percent"] = plain(rules.prefinancing_percent)
    values["cost_basis"] = str(rules.cost_basis)
    _flag(values, "pay_provider_directly", rules.pay_provider_directly)


def _eligibility(values: MultiDict[str, str], rules: CallRules) -> None:
    chosen = rules.eligibility
    e = "eligibility."
    values.setlist("eligible_countries", list(rules.eligible_countries))
    months = chosen.min_registration_months
    _flag(values, e + "registration_check", months is not None)
    values[e + "min_registration_months"] = "6" if months is None else str(months)
    _flag(values, e + "de_minimis_check", chosen.de_minimis_check)
    values[e + "de_minimis_ceiling"] = plain(chosen.de_minimis_ceiling)
    values[e + "de_minimis_years"] = str(chosen.de_minimis_years)
    _flag(values, e + "one_application_per_sme", chosen.one_application_per_sme)
    _flag(values, e + "partner_exclusion", chosen.partner_exclusion)
    _flag(values, e + "target_markets_outside_eu", chosen.target_markets_outside_eu)


def _evaluation(values: MultiDict[str, str], rules: CallRules) -> None:
    for row, criterion in enumerate(rules.criteria):
        for part in ("key", "name", "description", "max", "threshold", "weight"):
            value = criterion.get(part)
            values[f"criteria.{row}.{part}"] = "" if value is None else str(value)
    for row in range(len(rules.criteria), len(rules.criteria) + EMPTY_ROWS):
        values[f"criteria.{row}.key"] = ""
    values["threshold_total"] = plain(rules.threshold_total)
    values["divergence_limit"] = plain(rules.divergence_limit)
    _flag(values, "evaluators_from_other_countries", rules.evaluators_from_other_countries)
    for name in (
        "experts_per_application",
        "evaluation_days",
        "redress_days",
        "acceptance_days",
        "report_window_days",
    ):
        values[name] = str(getattr(rules, name))


_WRITERS = {
    Step.BASICS: _basics,
    Step.DATES: _dates,
    Step.MONEY: _money,
    Step.ELIGIBILITY: _eligibility,
    Step.EVALUATION: _evaluation,
}


def typed_values(
    rules: CallRules, step: Step, placeholders: tuple[Step, ...] = ()
) -> MultiDict[str, str]:
    """The step's fields as its page shows them: as a person would type them."""
    values: MultiDict[str, str] = MultiDict()
    _WRITERS[step](values, rules)
    if step in placeholders:  # nobody chose these: an empty field, not a made-up value
        for name in PLACEHOLDER_FIELDS.get(step, ()):
            for key in (name, f"{name}.date", f"{name}.time"):
                if key in values:
                    values[key] = ""
    return values


def rows(values: MultiDict[str, str], prefix: str) -> int:
    """How many numbered rows (``cutoffs.N.…``, ``criteria.N.…``) the values hold."""
    found = [
        int(key.split(".")[1])
        for key in values
        if key.startswith(prefix + ".") and key.split(".")[1].isdigit()
    ]
    return max(found, default=-1) + 1


def time_choices(rules: CallRules) -> dict[str, TimeChoice]:
    """The saved times that happen twice: the page shows which of the two was chosen."""
    return {
        path: choice
        for path, wall in time_paths(rules)
        if (choice := time_choice(wall, rules.timezone)) is not None
    }


# -- eligible countries ----------------------------------------------------------------------

COUNTRY_GROUPS = (
    (N_("EU member states"), EU_MEMBER_STATES),
    (N_("EEA countries"), EEA_COUNTRIES),
    (N_("Candidate countries"), CANDIDATE_COUNTRIES),
)


def country_groups(chosen: Iterable[str] = ()) -> list[tuple[str, list[tuple[str, str]]]]:
    """Checkbox groups for the eligible countries: the EU first, then the EEA and candidate
    countries (often eligible under the Single Market Programme), then every other country,
    with any code already chosen that names no country (so that saving keeps it, and the
    review names it)."""
    everything = countries()
    known = {code for code, _name in everything}
    unknown = [(code, code) for code in chosen if code not in known]
    groups = [(title, [c for c in everything if c[0] in codes]) for title, codes in COUNTRY_GROUPS]
    grouped = EU_MEMBER_STATES | EEA_COUNTRIES | CANDIDATE_COUNTRIES
    others = [c for c in everything if c[0] not in grouped] + unknown
    return [*groups, (N_("Other countries"), others)]
