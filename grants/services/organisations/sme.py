"""What the profile shows about size and aid: the SME test and the de minimis summary.

The SME category is computed with ``workflows.sme`` from the own figures and the partner
and linked enterprises (``category_of``, stored with the profile); ``sme_result`` explains
it in plain words with the figures that went into it. ``de_minimis_summary`` sets the aid
of the last three years against the de minimis ceiling.
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
from workflows.sme import CEILINGS, Enterprise, Holding, sme_category

# Regulation (EU) 2023/2831: EUR 300,000 per single undertaking over any three years.
DE_MINIMIS_CEILING = Decimal("300000.00")
DE_MINIMIS_YEARS = 3
# In the plain-words SME result.
CATEGORY_WORDS = {
    "micro": "a micro enterprise",
    "small": "a small enterprise",
    "medium": "a medium-sized enterprise",
    "large": "not an SME: a large enterprise",
}


def category_of(values: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The SME category and its explanation, or (None, None) while a figure is missing."""
    own = _enterprise(values)
    if own is None:
        return None, None
    partners = [
        Holding(_row_enterprise(r), Decimal(r["share_percent"]))
        for r in values["related_enterprises"]
        if r["relation"] == "partner"
    ]
    linked = [
        Holding(_row_enterprise(r), Decimal(r["share_percent"]))
        for r in values["related_enterprises"]
        if r["relation"] == "linked"
    ]
    return sme_category(own, partners, linked)


def _enterprise(values: Mapping[str, Any]) -> Enterprise | None:
    figures = (values.get("headcount"), values.get("turnover"), values.get("balance_sheet"))
    if any(v is None for v in figures):
        return None
    headcount, turnover, balance = figures
    return Enterprise(Decimal(headcount), Decimal(turnover), Decimal(balance))


def _row_enterprise(row: Mapping[str, str]) -> Enterprise:
    return Enterprise(
        Decimal(row["headcount"]), Decimal(row["turnover"]), Decimal(row["balance_sheet"])
    )


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


def _staff(value: Decimal) -> str:
    return plain(value.quantize(CENT))


def sme_result(org: Organisation) -> SmeResult:
    ceilings = [
        f"{name}: fewer than {plain(staff)} staff and turnover at most {format_eur(turnover)} "
        f"or balance sheet at most {format_eur(balance)}"
        for name, staff, turnover, balance in CEILINGS
    ]
    own = _enterprise(
        {"headcount": org.headcount, "turnover": org.turnover, "balance_sheet": org.balance_sheet}
    )
    if own is None or org.sme_category is None:
        return SmeResult(
            None,
            "The SME test needs the staff headcount, the annual turnover and the balance-sheet "
            "total of the latest approved accounts.",
            [],
            None,
            None,
            ceilings,
        )
    rows = [
        SmeRow(
            org.legal_name,
            "own figures",
            _staff(own.headcount),
            format_eur(own.turnover),
            format_eur(own.balance_sheet),
        )
    ]
    total = own
    for related in org.related_enterprises:
        e = _row_enterprise(related)
        share = Decimal(related["share_percent"])
        if related["relation"] == "partner":
            ratio = share / 100
            counted = Enterprise(e.headcount * ratio, e.turnover * ratio, e.balance_sheet * ratio)
            basis = f"partner held {plain(share)}%: {plain(share)}% of its figures"
        else:
            counted = e
            basis = f"linked ({plain(share)}%): all of its figures"
        rows.append(
            SmeRow(
                related["name"],
                basis,
                _staff(counted.headcount),
                format_eur(counted.turnover),
                format_eur(counted.balance_sheet),
            )
        )
        total = Enterprise(
            total.headcount + counted.headcount,
            total.turnover + counted.turnover,
            total.balance_sheet + counted.balance_sheet,
        )
    words = CATEGORY_WORDS.get(org.sme_category, org.sme_category)
    headline = f"{org.legal_name} is {words} under Recommendation 2003/361/EC."
    if org.sme_category == "large":
        headline += " Only SMEs can receive vouchers: if a figure is wrong, correct it."
    return SmeResult(
        org.sme_category,
        headline,
        rows,
        SmeRow(
            "Counted for the SME test",
            "total",
            _staff(total.headcount),
            format_eur(total.turnover),
            format_eur(total.balance_sheet),
        )
        if len(rows) > 1
        else None,
        org.sme_explanation,
        ceilings,
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
