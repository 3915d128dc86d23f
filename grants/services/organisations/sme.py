"""What the profile shows about size and aid: the SME test and the de minimis summary.

``assess_sme`` is the SME test of a profile (the stored organisation's values, or the
``profile_snapshot`` kept with an application: both give the same answer), decided by
``workflows.sme_status``; ``category_of`` stores its result with the profile and
``sme_result`` shows it in plain words with the figures that went into it.
``de_minimis_summary`` sets the aid of the last three years against the de minimis ceiling.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from grants.db import utcnow
from grants.models import Organisation
from workflows.eligibility import years_before
from workflows.money import CENT, format_eur
from workflows.numbers import plain
from workflows.sme import CEILINGS, SIZES, Enterprise
from workflows.sme_status import (
    Assessment,
    FiguresMissing,
    HoldingsRefused,
    LinkOfRelated,
    Profile,
    Related,
    assess,
)

# Regulation (EU) 2023/2831: EUR 300,000 per single undertaking over any three years.
DE_MINIMIS_CEILING = Decimal("300000.00")
DE_MINIMIS_YEARS = 3
# In the plain-words SME result.
CATEGORY_WORDS = {
    "micro": "a micro enterprise",
    "small": "a small enterprise",
    "medium": "a medium-sized enterprise",
    "large": "not an SME: a large enterprise",
    "not_sme": "not an SME: 25% or more of it is held by public bodies",
}
# The profile's values the SME test reads (``profile_snapshot`` carries them all).
SME_FIELDS = (
    "legal_name",
    "accounts_year",
    "headcount",
    "turnover",
    "balance_sheet",
    "previous_headcount",
    "previous_turnover",
    "previous_balance_sheet",
    "held_category",
    "newly_established",
    "related_enterprises",
    "related_links",
)


@dataclass(frozen=True)
class SmeAssessment:
    """The SME test's answer: ``category`` is micro, small, medium, large or not_sme;
    ``rule`` the key of the rule that decided (public_bodies, estimate, latest_year,
    two_years_same, two_years_changed, back_within, one_year_only); ``explanation`` says it
    with the figures."""

    category: str
    is_sme: bool
    rule: str
    explanation: str


def assess_sme(profile: Mapping[str, Any]) -> SmeAssessment:
    """The SME test of a profile as ``profile_snapshot`` gives it (figures as text or
    Decimals). Raises ValueError with words a person understands when the figures are
    missing (and public bodies do not decide alone) or a holding would be miscounted."""
    result = _assessment(profile)
    return SmeAssessment(result.category, result.is_sme, result.rule, result.explanation)


def category_of(values: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The SME category and its explanation, or (None, None) while a figure is missing."""
    try:
        result = assess_sme(values)
    except FiguresMissing:
        return None, None
    return result.category, result.explanation


def _assessment(values: Mapping[str, Any]) -> Assessment:
    return assess(status_profile(values), str(values.get("legal_name") or "the enterprise"))


def _number(value: object) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))


def _figures(values: Mapping[str, Any], prefix: str = "") -> Enterprise | None:
    figures = [_number(values.get(prefix + n)) for n in ("headcount", "turnover", "balance_sheet")]
    if any(v is None for v in figures):
        return None
    headcount, turnover, balance = figures
    assert headcount is not None and turnover is not None and balance is not None
    return Enterprise(headcount, turnover, balance)


def _related(row: Mapping[str, Any]) -> Related:
    # Rows stored before holder types existed are enterprises holding a share in us.
    return Related(
        name=str(row.get("name") or ""),
        relation=str(row.get("relation") or "partner"),
        share_percent=_number(row.get("share_percent")) or Decimal(0),
        figures=_figures(row),
        holder_type=str(row.get("holder_type") or "enterprise"),
        direction=str(row.get("direction") or "holds_us"),
        invested=_number(row.get("invested")),
    )


def status_profile(values: Mapping[str, Any]) -> Profile:
    """The profile's values (stored, snapshot or validated) as the SME rules read them."""
    year = values.get("accounts_year")
    held = values.get("held_category")
    return Profile(
        latest=_figures(values),
        previous=_figures(values, "previous_"),
        year=int(year) if year not in (None, "") else None,
        held=str(held) if held in SIZES else None,
        newly_established=bool(values.get("newly_established")),
        related=tuple(_related(r) for r in values.get("related_enterprises") or []),
        links=tuple(
            LinkOfRelated(str(k.get("of") or ""), str(k.get("name") or ""), _link_figures(k))
            for k in values.get("related_links") or []
        ),
    )


def _link_figures(row: Mapping[str, Any]) -> Enterprise:
    return _figures(row) or Enterprise(Decimal(0), Decimal(0), Decimal(0))


@dataclass(frozen=True)
class SmeRow:
    label: str
    basis: str
    headcount: str
    turnover: str
    balance_sheet: str


@dataclass(frozen=True)
class SmeResult:
    """The SME test in plain words, with the figures that went into it."""

    category: str | None
    headline: str
    rows: list[SmeRow]
    total: SmeRow | None
    explanation: str | None
    ceilings: list[str]
    decision: str | None = None  # the rule that decided, in a sentence
    rule: str | None = None


def _staff(value: Decimal) -> str:
    return plain(value.quantize(CENT))


def _row(label: str, basis: str, e: Enterprise) -> SmeRow:
    return SmeRow(
        label, basis, _staff(e.headcount), format_eur(e.turnover), format_eur(e.balance_sheet)
    )


def sme_result(org: Organisation) -> SmeResult:
    """The SME test of the organisation as its profile page shows it."""
    ceilings = [
        f"{name}: fewer than {plain(staff)} staff and turnover at most {format_eur(turnover)} "
        f"or balance sheet at most {format_eur(balance)}"
        for name, staff, turnover, balance in CEILINGS
    ]
    try:
        result = _assessment({name: getattr(org, name) for name in SME_FIELDS})
    except FiguresMissing:
        return SmeResult(
            None,
            "The SME test needs the staff headcount, the annual turnover and the balance-sheet "
            "total of the latest closed year.",
            [],
            None,
            None,
            ceilings,
        )
    except HoldingsRefused as exc:
        return SmeResult(
            None,
            f"The SME test cannot be worked out: {exc}. Correct the profile.",
            [],
            None,
            None,
            ceilings,
        )
    rows = [_row(c.name, c.basis, c.figures) for c in result.counted]
    words = CATEGORY_WORDS.get(result.category, result.category)
    headline = f"{org.legal_name} is {words} under Recommendation 2003/361/EC."
    if not result.is_sme:
        headline += " Only SMEs can receive vouchers: if a figure is wrong, correct it."
    total = result.total
    return SmeResult(
        result.category,
        headline,
        rows,
        _row("Counted for the SME test", "total", total)
        if total is not None and len(rows) > 1
        else None,
        result.details or None,
        ceilings,
        result.decision,
        result.rule,
    )


@dataclass(frozen=True)
class AidRow:
    granting_authority: str
    amount: Decimal
    granted_on: date
    counted: bool


@dataclass(frozen=True)
class DeMinimis:
    rows: list[AidRow]
    period_start: date
    total: Decimal
    ceiling: Decimal
    headroom: Decimal

    @property
    def over(self) -> bool:
        return self.total > self.ceiling


def de_minimis_summary(aid: list[Mapping[str, Any]], *, today: date | None = None) -> DeMinimis:
    """Aid granted in the last three years (a rolling period ending today) against the
    EUR 300,000 ceiling; older aid is listed but not counted."""
    today = today or utcnow().date()
    start = years_before(today, DE_MINIMIS_YEARS)
    rows = sorted(
        (
            AidRow(
                str(row["granting_authority"]),
                Decimal(str(row["amount"])),
                date.fromisoformat(str(row["granted_on"])),
                start < date.fromisoformat(str(row["granted_on"])) <= today,
            )
            for row in aid
        ),
        key=lambda r: (r.granted_on, r.granting_authority),
        reverse=True,
    )
    total = sum((r.amount for r in rows if r.counted), Decimal("0.00"))
    return DeMinimis(
        rows, start, total, DE_MINIMIS_CEILING, max(DE_MINIMIS_CEILING - total, Decimal("0.00"))
    )
