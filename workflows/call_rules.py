"""A call's rules as a programme officer sets them, checked as a whole before they become a call.

Everything a call carries (DOMAIN.md, "Numbers and rules a call carries") is here in the form
a person types it: amounts as decimals, times as wall-clock times in the call's timezone.
``problems`` returns every mistake at once, keyed by field, so a builder can show a complete
validation summary; ``instants`` turns the wall-clock times into instants, refusing the ones
that happen twice or never (see ``workflows.local_time``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from workflows import scoring
from workflows.i18n import N_, _
from workflows.local_time import LocalTimeProblem, local_instant, zone
from workflows.numbers import plain

MIN_OPEN_DAYS = 30  # DOMAIN.md: a call stays open at least one month
MAX_PER_THIRD_PARTY = Decimal("60000")  # DOMAIN.md: EU rule unless the grant allows more


class VoucherType(StrEnum):
    UPSKILLING = "upskilling"
    INTERNATIONALISATION = "internationalisation"
    INNOVATION = "innovation"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _VOUCHER_LABELS[self]


_VOUCHER_LABELS = {
    VoucherType.UPSKILLING: N_("Up-skilling"),
    VoucherType.INTERNATIONALISATION: N_("Internationalisation"),
    VoucherType.INNOVATION: N_("Innovation"),
    VoucherType.OTHER: N_("Other"),
}


class CostBasis(StrEnum):
    LUMP_SUM = "lump_sum"  # a fixed amount paid on proof of delivery
    COSTS = "costs"  # reimbursement of eligible costs at the funding rate


@dataclass(frozen=True)
class EligibilityRules:
    """Which of the optional eligibility checks a call applies, with their parameters."""

    min_registration_months: int | None = 6  # None: not checked
    de_minimis_check: bool = False
    de_minimis_ceiling: Decimal = Decimal("300000")  # Regulation 2023/2831
    de_minimis_years: int = 3
    one_application_per_sme: bool = True
    partner_exclusion: bool = True
    # Internationalisation: the target markets must lie outside the EU.
    target_markets_outside_eu: bool = False


def eligibility_rules_json(rules: EligibilityRules) -> dict[str, object]:
    """As stored on a call (amounts as text)."""
    return {
        "min_registration_months": rules.min_registration_months,
        "de_minimis_check": rules.de_minimis_check,
        "de_minimis_ceiling": plain(rules.de_minimis_ceiling),
        "de_minimis_years": rules.de_minimis_years,
        "one_application_per_sme": rules.one_application_per_sme,
        "partner_exclusion": rules.partner_exclusion,
        "target_markets_outside_eu": rules.target_markets_outside_eu,
    }


def eligibility_rules_of(stored: Mapping[str, object]) -> EligibilityRules:
    """A call's stored rules; what is missing (calls made before) takes the default."""
    defaults = eligibility_rules_json(EligibilityRules())
    merged = {**defaults, **stored}
    months = merged["min_registration_months"]
    return EligibilityRules(
        min_registration_months=None if months is None else int(str(months)),
        de_minimis_check=bool(merged["de_minimis_check"]),
        de_minimis_ceiling=Decimal(str(merged["de_minimis_ceiling"])),
        de_minimis_years=int(str(merged["de_minimis_years"])),
        one_application_per_sme=bool(merged["one_application_per_sme"]),
        partner_exclusion=bool(merged["partner_exclusion"]),
        target_markets_outside_eu=bool(merged["target_markets_outside_eu"]),
    )


@dataclass(frozen=True)
class CallRules:
    reference: str
    title: str
    purpose: str
    voucher_type: VoucherType
    timezone: str
    opening: datetime  # wall-clock time in ``timezone``, without an offset
    deadline: datetime  # idem: the last cut-off of a cut-off call
    budget: Decimal
    max_per_voucher: Decimal
    guidance: str = ""
    who_can_apply: str = ""
    publication: datetime | None = None  # idem; None: published by hand
    # Ranked in batches while open (a cut-off call), at each cut-off date before the deadline.
    batch_ranking: bool = False
    cutoffs: tuple[datetime, ...] = ()  # idem
    reserve: Decimal = Decimal("0")  # held back for a later call
    funding_rate: Decimal = Decimal("100")
    cost_basis: CostBasis = CostBasis.COSTS
    prefinancing_percent: Decimal = Decimal("50")
    # The voucher is paid once, directly to the service provider named in the application,
    # when the SME confirms delivery and the final report is approved.
    pay_provider_directly: bool = False
    cumulative_cap: Decimal = MAX_PER_THIRD_PARTY
    eligible_countries: tuple[str, ...] = ()
    eligibility: EligibilityRules = field(default_factory=EligibilityRules)
    criteria: tuple[Mapping[str, object], ...] = tuple(scoring.DEFAULT_CRITERIA)
    threshold_total: Decimal = Decimal("10")
    experts_per_application: int = 2
    divergence_limit: Decimal = Decimal("2")
    # Experts must work in another country than the applicant's.
    evaluators_from_other_countries: bool = False
    # Days an expert has to submit scores, from the assignment.
    evaluation_days: int = 14
    redress_days: int = 5
    acceptance_days: int = 14
    report_window_days: int = 30
    # Which of an autumn hour's two instants a time means, by field ("deadline": 0 or 1),
    # when the officer has said; otherwise such a time is refused.
    folds: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Instants:
    publication: datetime | None
    opening: datetime
    deadline: datetime
    cutoffs: tuple[datetime, ...]


def _moment(rules: CallRules, name: str, wall: datetime, problems: dict[str, str]) -> datetime:
    try:
        return local_instant(wall, rules.timezone, fold=rules.folds.get(name))
    except LocalTimeProblem as exc:
        problems[name] = str(exc)
        return wall


def instants(rules: CallRules) -> tuple[Instants | None, dict[str, str]]:
    """The call's times as instants (UTC), or the problems that stop it."""
    problems: dict[str, str] = {}
    try:
        zone(rules.timezone)
    except LocalTimeProblem as exc:
        return None, {"timezone": str(exc)}
    publication = (
        None
        if rules.publication is None
        else _moment(rules, "publication", rules.publication, problems)
    )
    opening = _moment(rules, "opening", rules.opening, problems)
    deadline = _moment(rules, "deadline", rules.deadline, problems)
    cutoffs = tuple(
        _moment(rules, f"cutoffs.{index}", wall, problems)
        for index, wall in enumerate(rules.cutoffs)
    )
    if problems:
        return None, problems
    return Instants(publication, opening, deadline, cutoffs), {}


def _text_problems(rules: CallRules) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not rules.reference.strip():
        problems["reference"] = _("Give the call a reference, e.g. LEV-INT-2027.")
    elif len(rules.reference.strip()) > 40:
        problems["reference"] = _("Use at most %(count)s characters.", count=40)
    if not rules.title.strip():
        problems["title"] = _("Give the call a title.")
    if not rules.purpose.strip():
        problems["purpose"] = _("Say what the call funds and why: applicants read it first.")
    return problems


def _money_problems(rules: CallRules) -> dict[str, str]:
    problems: dict[str, str] = {}
    if rules.budget <= 0:
        problems["budget"] = _("The budget must be more than zero.")
    if rules.reserve < 0 or (rules.budget > 0 and rules.reserve >= rules.budget):
        problems["reserve"] = _("The reserve must be zero or more, and less than the budget.")
    available = rules.budget - rules.reserve
    if rules.max_per_voucher <= 0:
        problems["max_per_voucher"] = _("The voucher maximum must be more than zero.")
    elif available > 0 and rules.max_per_voucher > available:
        problems["max_per_voucher"] = _(
            "The voucher maximum is more than the budget left after the reserve (%(left)s).",
            left=plain(available),
        )
    elif rules.max_per_voucher > rules.cumulative_cap:
        problems["max_per_voucher"] = _(
            "The voucher maximum is more than the cap per SME (%(cap)s).",
            cap=plain(rules.cumulative_cap),
        )
    if rules.cumulative_cap > MAX_PER_THIRD_PARTY:
        problems["cumulative_cap"] = _(
            "EU rules cap support to one third party at %(cap)s unless the grant allows more.",
            cap=plain(MAX_PER_THIRD_PARTY),
        )
    for name in ("funding_rate", "prefinancing_percent"):
        value = getattr(rules, name)
        low_ok = value > 0 if name == "funding_rate" else value >= 0
        if not low_ok or value > 100:
            problems[name] = _("Give a percentage between 0 and 100.")
    if rules.pay_provider_directly and rules.prefinancing_percent != 0:
        # The provider is paid once, on delivery: there is nothing to pay at signature.
        problems["pay_provider_directly"] = _(
            "A voucher paid directly to the service provider is paid once, on delivery: set "
            "the pre-financing to 0, or pay the SME instead."
        )
    return problems


def _timing_problems(rules: CallRules, now: datetime) -> dict[str, str]:
    moments, problems = instants(rules)
    if moments is None:
        return problems
    if moments.deadline <= moments.opening:
        problems["deadline"] = _("The deadline must come after the opening.")
    elif moments.deadline - max(now, moments.opening) < timedelta(days=MIN_OPEN_DAYS):
        problems["deadline"] = _(
            "A call stays open at least %(days)s days from its opening (or from today).",
            days=MIN_OPEN_DAYS,
        )
    if moments.publication is not None and moments.publication > moments.opening:
        problems["publication"] = _("Publish the call on or before its opening.")
    if moments.cutoffs and not rules.batch_ranking:
        problems["batch_ranking"] = _("Cut-off dates need ranking in batches.")
    earlier = moments.opening
    for index, cutoff in enumerate(moments.cutoffs):
        if not earlier < cutoff < moments.deadline:
            problems[f"cutoffs.{index}"] = _(
                "Cut-off dates come after the opening, in order, and before the deadline."
            )
        earlier = cutoff
    return problems


def _country_problems(countries: Sequence[str], known: frozenset[str]) -> dict[str, str]:
    if not countries:
        return {"eligible_countries": _("Choose the countries where applicants may be based.")}
    unknown = [code for code in countries if code not in known]
    if unknown:
        return {
            "eligible_countries": _("Unknown country codes: %(codes)s.", codes=", ".join(unknown))
        }
    return {}


def _eligibility_problems(rules: CallRules) -> dict[str, str]:
    problems: dict[str, str] = {}
    chosen = rules.eligibility
    months = chosen.min_registration_months
    if months is not None and not 0 <= months <= 120:
        problems["eligibility.min_registration_months"] = _(
            "Give a number of months between 0 and 120."
        )
    if chosen.de_minimis_check:
        if chosen.de_minimis_ceiling <= 0:
            problems["eligibility.de_minimis_ceiling"] = _("The ceiling must be more than zero.")
        if not 1 <= chosen.de_minimis_years <= 10:
            problems["eligibility.de_minimis_years"] = _("Give a period of 1 to 10 years.")
    if not chosen.one_application_per_sme:
        # DOMAIN.md: one application per SME per call. Applications, the dashboards and the
        # database (one row per call and organisation) rely on it; a second project of the
        # same SME goes to a later call.
        problems["eligibility.one_application_per_sme"] = _(
            "Each SME may make one application per call: a second project goes to another call."
        )
    if chosen.target_markets_outside_eu and rules.voucher_type != VoucherType.INTERNATIONALISATION:
        problems["eligibility.target_markets_outside_eu"] = _(
            "Target markets outside the EU apply to internationalisation vouchers only."
        )
    return problems


def _evaluation_problems(rules: CallRules) -> dict[str, str]:
    problems: dict[str, str] = {}
    try:
        criteria = scoring.criteria_from_config(list(rules.criteria))
    except ValueError as exc:
        return {"criteria": str(exc)}
    if not criteria:
        problems["criteria"] = _("Give at least one evaluation criterion.")
    best = sum((c.max for c in criteria), Decimal(0))
    if not Decimal(0) <= rules.threshold_total <= best:
        problems["threshold_total"] = _(
            "The total threshold must be between 0 and the sum of the maxima (%(best)s).",
            best=plain(best),
        )
    if not 1 <= rules.experts_per_application <= 5:
        problems["experts_per_application"] = _("Give 1 to 5 experts per application.")
    if rules.divergence_limit <= 0:
        problems["divergence_limit"] = _("The divergence limit must be more than zero.")
    windows = {
        "evaluation_days": (1, 90),
        "redress_days": (1, 60),
        "acceptance_days": (1, 90),
        "report_window_days": (1, 365),
    }
    for name, (low, high) in windows.items():
        if not low <= getattr(rules, name) <= high:
            problems[name] = _(
                "Give a number of days between %(low)s and %(high)s.", low=low, high=high
            )
    return problems


def problems(rules: CallRules, now: datetime, known_countries: frozenset[str]) -> dict[str, str]:
    """Every reason the call cannot be published as it stands, by field (empty: publishable).

    ``now`` is an instant; ``known_countries`` the ISO codes a country may have.
    """
    return (
        _text_problems(rules)
        | _money_problems(rules)
        | _timing_problems(rules, now)
        | _country_problems(rules.eligible_countries, known_countries)
        | _eligibility_problems(rules)
        | _evaluation_problems(rules)
    )
