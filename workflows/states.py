"""Facts about each state of a workflow, in one table beside its definition.

Pages, budget sums, finance's work list and the applicant's "what next" ask these facts
instead of listing states by hand, so a new state is described once and everywhere agrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Badge(StrEnum):
    """The colour family of a status badge."""

    NEUTRAL = "neutral"
    INFO = "info"
    WARN = "warn"
    GOOD = "good"
    BAD = "bad"


class DeadlineRule(StrEnum):
    """Which date the applicant's next step is due by; the service computes it from data."""

    CALL_DEADLINE = "call_deadline"  # the call's submission deadline
    REDRESS_WINDOW = "redress_window"  # N days after the eligibility decision
    OFFER_ACCEPTANCE = "offer_acceptance"  # the offer's acceptance deadline
    REPORT_DUE = "report_due"  # the planned end date plus the call's reporting window


@dataclass(frozen=True)
class StateFacts:
    label: str
    badge: Badge
    # The award counts against the call's budget (selected onwards, until given back).
    holds_budget: bool = False
    # Still on its way to a funding decision: ranking the whole call waits for it.
    awaiting_decision: bool = False
    # An offer was made: the award counts towards the SME's cumulative cap.
    awarded: bool = False
    # Finance officers see the voucher (an agreement exists).
    finance_sees: bool = False
    # The selection result is published: the applicant sees the consensus and the ESR.
    results_out: bool = False
    # What the applicant is expected to do, or why nothing is needed.
    applicant_next: str = ""
    applicant_acts: bool = False
    deadline: DeadlineRule | None = None
    # What the applicant reads once ``deadline`` has passed.
    after_deadline: str = ""


def missing_facts(states: tuple[str, ...], facts: dict[str, StateFacts]) -> set[str]:
    return set(states) - facts.keys()
