"""A call's budget ledger: where every euro of the call is, as pure arithmetic.

A voucher's money is in exactly one place at a time:

- **committed**: awarded (selected, offered, under agreement) and not paid yet;
- **paid**: paid out in instalments, less what came back from recovery orders;
- **released**: gone back to the call, by cause (a decline, an expired offer, an exclusion,
  the unspent part of a terminated agreement, the under-spend at closure, a recovery repaid).

So, for a call: budget = held back + available + committed + paid, and every commitment
ever made = committed + paid + released. The services gather the figures; this module adds
them up and says which limits an amount would break.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from workflows.i18n import N_
from workflows.money import quantize

ZERO = Decimal("0.00")


class Cause(StrEnum):
    """Why money went back to the call (the ledger's release lines)."""

    DECLINE = "decline"
    EXPIRY = "expiry"
    EXCLUSION = "exclusion"
    TERMINATION = "termination"
    CLOSURE = "closure"
    RECOVERY = "recovery"

    @property
    def label(self) -> str:
        return CAUSE_LABELS[self]


CAUSE_LABELS: dict[Cause, str] = {
    Cause.DECLINE: N_("Declined by the SME"),
    Cause.EXPIRY: N_("Offer expired"),
    Cause.EXCLUSION: N_("Excluded from the selection"),
    Cause.TERMINATION: N_("Agreement terminated (unspent part)"),
    Cause.CLOSURE: N_("Under-spend at closure"),
    Cause.RECOVERY: N_("Recovery repaid"),
}

# The workflow step whose audit event releases money, and the cause it records.
RELEASING_STEPS: dict[str, Cause] = {
    "decline": Cause.DECLINE,
    "expire_offer": Cause.EXPIRY,
    "exclude": Cause.EXCLUSION,
    "terminate": Cause.TERMINATION,
    "close": Cause.CLOSURE,
}


class Kind(StrEnum):
    """What a ledger movement does to the call's money."""

    COMMITMENT = "commitment"
    PAYMENT = "payment"
    RELEASE = "release"


@dataclass(frozen=True)
class VoucherMoney:
    """One voucher that holds budget: its award now, what was paid (gross), what came back."""

    award: Decimal
    paid: Decimal
    repaid: Decimal = ZERO

    @property
    def committed(self) -> Decimal:
        """Awarded and not paid yet (a terminated or closed voucher's award is what was paid)."""
        return max(self.award - self.paid, ZERO)

    @property
    def paid_net(self) -> Decimal:
        return self.paid - self.repaid

    @property
    def held(self) -> Decimal:
        """What the voucher takes from the call: a recovery still owed is money out of it."""
        return self.committed + self.paid_net


@dataclass(frozen=True)
class Figures:
    budget: Decimal
    held_back: Decimal
    committed: Decimal
    paid: Decimal
    released: Mapping[Cause, Decimal] = field(default_factory=dict)

    @property
    def usable(self) -> Decimal:
        """What this call's vouchers may use: the budget less what is held back."""
        return quantize(self.budget - self.held_back)

    @property
    def available(self) -> Decimal:
        return quantize(self.budget - self.held_back - self.committed - self.paid)

    @property
    def released_total(self) -> Decimal:
        return quantize(sum(self.released.values(), ZERO))

    def released_by(self, cause: Cause) -> Decimal:
        return self.released.get(cause, ZERO)


def figures(
    budget: Decimal,
    held_back: Decimal,
    vouchers: Iterable[VoucherMoney],
    releases: Iterable[tuple[Cause, Decimal]] = (),
) -> Figures:
    held = list(vouchers)
    released = {cause: ZERO for cause in Cause}
    for cause, amount in releases:
        released[cause] = quantize(released[cause] + amount)
    return Figures(
        budget=quantize(budget),
        held_back=quantize(held_back),
        committed=quantize(sum((v.committed for v in held), ZERO)),
        paid=quantize(sum((v.paid_net for v in held), ZERO)),
        released=released,
    )


def termination_release(award_before: Decimal, paid: Decimal) -> Decimal:
    """A terminated agreement gives back what was never paid; a recovery comes back only
    when it is repaid (a line of its own)."""
    return quantize(max(award_before - paid, ZERO))


def within(amount: Decimal, already: Decimal, limit: Decimal) -> bool:
    """Whether ``already`` plus ``amount`` stays within ``limit`` (to the cent)."""
    return quantize(already + amount) <= quantize(limit)
