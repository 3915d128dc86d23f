"""The SME test of Commission Recommendation 2003/361/EC, with an explanation for the file.

Staff is counted in annual work units (so it may be fractional); turnover excludes VAT.
Partner enterprises (holding of 25% to 50%) are added pro rata to the holding, linked
enterprises (more than 50%, or control by other means) in full. A category requires the
staff ceiling AND either the turnover OR the balance-sheet ceiling. The rule that status
changes only after two consecutive years over a ceiling, the public-body exclusion, exempt
investors and cross-holdings are in ``workflows.sme_status``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from workflows.money import format_eur

MILLION = Decimal(1_000_000)
HUNDRED = Decimal(100)

# The categories from the smallest; "large" is beyond the medium ceilings.
SIZES = ("micro", "small", "medium", "large")
# (category, staff below, turnover at most, balance sheet at most), smallest first.
CEILINGS: tuple[tuple[str, Decimal, Decimal, Decimal], ...] = (
    ("micro", Decimal(10), 2 * MILLION, 2 * MILLION),
    ("small", Decimal(50), 10 * MILLION, 10 * MILLION),
    ("medium", Decimal(250), 50 * MILLION, 43 * MILLION),
)


@dataclass(frozen=True)
class Enterprise:
    """The three figures of one enterprise's latest approved accounts."""

    headcount: Decimal
    turnover: Decimal
    balance_sheet: Decimal


@dataclass(frozen=True)
class Holding:
    """An enterprise related to the applicant, with the share (capital or votes, the higher)."""

    enterprise: Enterprise
    share_percent: Decimal


def _staff(value: Decimal) -> str:
    """Headcount as a person writes it (12, 9.5)."""
    text = format(value.normalize(), "f")
    return "0" if text == "-0" else text


def _check_share(holding: Holding, kind: str) -> None:
    """Refuse a holding that was put in the wrong list, so nothing is silently miscounted."""
    share = holding.share_percent
    if not Decimal(0) <= share <= HUNDRED:
        raise ValueError(f"a {kind} holding must be between 0% and 100%, got {share}%")
    if kind == "partner" and not Decimal(25) <= share <= Decimal(50):
        raise ValueError(
            f"a partner holding is 25% to 50%, got {share}%: below 25% the enterprise is "
            "autonomous and not counted; above 50% it is linked"
        )


def _aggregate(
    own: Enterprise, partners: Sequence[Holding], linked: Sequence[Holding]
) -> Enterprise:
    """Own figures + partners pro rata + linked in full."""
    headcount, turnover, balance = own.headcount, own.turnover, own.balance_sheet
    for holding in partners:
        _check_share(holding, "partner")
        ratio = holding.share_percent / HUNDRED
        headcount += holding.enterprise.headcount * ratio
        turnover += holding.enterprise.turnover * ratio
        balance += holding.enterprise.balance_sheet * ratio
    for holding in linked:
        _check_share(holding, "linked")
        headcount += holding.enterprise.headcount
        turnover += holding.enterprise.turnover
        balance += holding.enterprise.balance_sheet
    for name, value in (
        ("headcount", headcount),
        ("turnover", turnover),
        ("balance sheet", balance),
    ):
        if value < 0:
            raise ValueError(f"the {name} must not be negative")
    return Enterprise(headcount, turnover, balance)


def _why_not(name: str, staff: Decimal, turnover: Decimal, balance: Decimal, e: Enterprise) -> str:
    """Which ceiling a category missed."""
    if e.headcount >= staff:
        return f"not {name}: staff {_staff(e.headcount)} is not below {_staff(staff)}"
    return (
        f"not {name}: turnover {format_eur(e.turnover)} is above {format_eur(turnover)} "
        f"and balance sheet {format_eur(e.balance_sheet)} is above {format_eur(balance)}"
    )


def _why(name: str, staff: Decimal, turnover: Decimal, balance: Decimal, e: Enterprise) -> str:
    """Which ceilings a category met."""
    if e.turnover <= turnover:
        money = f"turnover {format_eur(e.turnover)} is at most {format_eur(turnover)}"
    else:
        money = (
            f"balance sheet {format_eur(e.balance_sheet)} is at most {format_eur(balance)} "
            f"(turnover {format_eur(e.turnover)} is above {format_eur(turnover)})"
        )
    return f"{name}: staff {_staff(e.headcount)} is below {_staff(staff)} and {money}"


def figures_text(total: Enterprise) -> str:
    """The three figures as the explanations write them."""
    return (
        f"staff {_staff(total.headcount)}, turnover {format_eur(total.turnover)}, "
        f"balance sheet {format_eur(total.balance_sheet)}"
    )


def size_of(total: Enterprise) -> tuple[str, list[str]]:
    """The category the figures fit, and why: the last ceiling missed and the one met."""
    misses: list[str] = []
    for name, staff, turnover, balance in CEILINGS:
        fits = total.headcount < staff and (
            total.turnover <= turnover or total.balance_sheet <= balance
        )
        if fits:
            return name, [*misses[-1:], _why(name, staff, turnover, balance, total)]
        misses.append(_why_not(name, staff, turnover, balance, total))
    return "large", misses[-1:]


def sme_category(
    own: Enterprise, partners: Sequence[Holding] = (), linked: Sequence[Holding] = ()
) -> tuple[str, str]:
    """Return ("micro" | "small" | "medium" | "large", explanation with the figures used)."""
    total = _aggregate(own, partners, linked)
    figures = (
        f"aggregated figures: {figures_text(total)}"
        f" (partner enterprises: {len(partners)}, linked enterprises: {len(linked)})"
    )
    name, reasons = size_of(total)
    return name, "; ".join([figures, *reasons])
