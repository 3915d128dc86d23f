"""Money rules of a voucher: pre-financing, balance, recovery, subcontracting, display.

A voucher pays either eligible costs at the funding rate (capped by the award) or a lump
sum (the award, once the work is accepted); the call says which.

Every amount is a ``Decimal`` rounded to the cent with ROUND_HALF_UP, the rounding the
grant agreement and the accounts use; floats are refused so a cent is never lost to binary
rounding.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


def _require_decimal(value: object, name: str) -> Decimal:
    """Accept Decimal (or int) only, so a float never sneaks into a sum of money."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
    result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"{name} must be a finite amount, got {result}")
    return result


def _require_percent(value: Decimal, name: str) -> Decimal:
    """A rate is 0..100; anything else is a configuration mistake, not a payment."""
    percent = _require_decimal(value, name)
    if not Decimal(0) <= percent <= HUNDRED:
        raise ValueError(f"{name} must be between 0 and 100, got {percent}")
    return percent


def quantize(value: Decimal) -> Decimal:
    """Round to the cent, half up, as the accounts do."""
    return _require_decimal(value, "value").quantize(CENT, rounding=ROUND_HALF_UP)


def prefinancing_amount(award: Decimal, percent: Decimal) -> Decimal:
    """The instalment paid at signature: ``percent`` of the award (50% by default)."""
    award = _require_decimal(award, "award")
    if award < 0:
        raise ValueError(f"award must not be negative, got {award}")
    return quantize(award * _require_percent(percent, "percent") / HUNDRED)


def _eligible_payable(
    approved_costs: Decimal, funding_rate_percent: Decimal, award: Decimal
) -> Decimal:
    """What the voucher finally pays: approved costs at the funding rate, capped by the award."""
    approved = _require_decimal(approved_costs, "approved_costs")
    if approved < 0:
        raise ValueError(f"approved_costs must not be negative, got {approved}")
    award = _require_decimal(award, "award")
    if award < 0:
        raise ValueError(f"award must not be negative, got {award}")
    rate = _require_percent(funding_rate_percent, "funding_rate_percent")
    return min(quantize(approved * rate / HUNDRED), quantize(award))


def balance_due(
    *, approved_costs: Decimal, funding_rate_percent: Decimal, award: Decimal, paid_so_far: Decimal
) -> Decimal:
    """min(approved x rate, award) - paid so far; negative means money to recover."""
    payable = _eligible_payable(approved_costs, funding_rate_percent, award)
    return quantize(payable - _require_decimal(paid_so_far, "paid_so_far"))


def recovery_due(
    *,
    approved_costs: Decimal | None,
    funding_rate_percent: Decimal,
    award: Decimal,
    paid_so_far: Decimal,
) -> Decimal:
    """On termination, what was paid beyond what the approved costs justify (never negative).

    No approved costs (``None``) means nothing was justified, so all that was paid comes back.
    """
    approved = Decimal(0) if approved_costs is None else approved_costs
    payable = _eligible_payable(approved, funding_rate_percent, award)
    return max(Decimal("0.00"), quantize(_require_decimal(paid_so_far, "paid_so_far") - payable))


def lump_sum_balance_due(*, award: Decimal, paid_so_far: Decimal) -> Decimal:
    """A lump sum pays the whole award once the work is accepted: award - paid so far."""
    award = _require_decimal(award, "award")
    if award < 0:
        raise ValueError(f"award must not be negative, got {award}")
    return quantize(award - _require_decimal(paid_so_far, "paid_so_far"))


def lump_sum_recovery_due(*, delivered: bool, award: Decimal, paid_so_far: Decimal) -> Decimal:
    """On termination of a lump sum: nothing is justified until the work is accepted, so all
    that was paid comes back; once accepted, only what was paid beyond the award."""
    payable = _require_decimal(award, "award") if delivered else Decimal(0)
    return max(Decimal("0.00"), quantize(_require_decimal(paid_so_far, "paid_so_far") - payable))


def subcontracting_share_ok(
    subcontracted: Decimal, budget: Decimal, limit_percent: Decimal = Decimal(25)
) -> bool:
    """Subcontracting may use at most ``limit_percent`` of the voucher budget (limit included)."""
    subcontracted = _require_decimal(subcontracted, "subcontracted")
    budget = _require_decimal(budget, "budget")
    if subcontracted < 0 or budget < 0:
        raise ValueError("subcontracted and budget must not be negative")
    return subcontracted * HUNDRED <= budget * _require_percent(limit_percent, "limit_percent")


def format_eur(value: Decimal | None) -> str:
    """Display form used in letters and screens: ``EUR 8,000.00``; empty for no amount."""
    if value is None:
        return ""
    return f"EUR {quantize(value):,.2f}"
