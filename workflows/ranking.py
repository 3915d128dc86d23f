"""Ranking of evaluated applications and the funding line.

Order: ranking total (weighted), then the tie-break criteria (Excellence, then Impact), then
the earliest submission, then the application id so equal cases always rank the same way.
Funding goes down the list while the budget lasts; the first application that does not fit
marks the funding line, and it and everyone below it form the reserve list in rank order.
Nobody below the line is funded ahead of it, even if smaller, so the ranking stays the
ranking the evaluation produced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import pairwise

from workflows.i18n import _
from workflows.money import quantize
from workflows.numbers import plain

SELECTED = "selected"
RESERVE = "reserve"
REJECTED = "rejected"


@dataclass(frozen=True)
class Candidate:
    """An evaluated application as the ranking sees it (consensus scores, keyed by criterion)."""

    application_id: int
    scores: Mapping[str, Decimal]
    ranking_total: Decimal
    passed: bool
    submitted_at: datetime
    amount: Decimal


@dataclass(frozen=True)
class Placement:
    """Where an application ends up: its outcome, rank among those that passed, reserve slot."""

    application_id: int
    outcome: str
    rank: int | None
    reserve_position: int | None


def _order_key(candidate: Candidate, tie_break_keys: Sequence[str]) -> tuple:
    """Sort key: best first; a missing tie-break score counts as 0."""
    ties = tuple(-candidate.scores.get(key, Decimal(0)) for key in tie_break_keys)
    return (-candidate.ranking_total, *ties, candidate.submitted_at, candidate.application_id)


def rank(
    candidates: Sequence[Candidate],
    budget: Decimal,
    *,
    tie_break_keys: Sequence[str] = ("excellence", "impact"),
) -> list[Placement]:
    """Place every candidate: selected down to the funding line, then reserve, then rejected.

    Returns placements in rank order, the rejected last (best total first).
    """
    if budget < 0:
        raise ValueError(f"the budget must not be negative, got {budget}")
    ids = [c.application_id for c in candidates]
    if len(set(ids)) != len(ids):
        raise ValueError("an application appears twice in the ranking")
    negative = [c.application_id for c in candidates if c.amount < 0]
    if negative:
        raise ValueError(f"negative amount requested by application(s) {negative}")

    passed = sorted(
        (c for c in candidates if c.passed), key=lambda c: _order_key(c, tie_break_keys)
    )
    failed = sorted(
        (c for c in candidates if not c.passed), key=lambda c: _order_key(c, tie_break_keys)
    )

    placements: list[Placement] = []
    committed = Decimal(0)
    reserve_position = 0
    for position, candidate in enumerate(passed, start=1):
        if reserve_position == 0 and committed + candidate.amount <= budget:
            committed += candidate.amount
            placements.append(Placement(candidate.application_id, SELECTED, position, None))
        else:
            reserve_position += 1
            placements.append(
                Placement(candidate.application_id, RESERVE, position, reserve_position)
            )
    placements.extend(Placement(c.application_id, REJECTED, None, None) for c in failed)
    return placements


def budget_remaining(budget: Decimal, committed: Iterable[Decimal]) -> Decimal:
    """Budget left after what is already committed; negative means the call is over-committed."""
    return quantize(budget - sum(committed, Decimal(0)))


@dataclass(frozen=True)
class TieBreak:
    """Two neighbours in the ranking with the same total, and what put one ahead."""

    ahead: int
    behind: int
    total: Decimal
    reason: str


def _moment(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def _tie_reason(
    ahead: Candidate, behind: Candidate, keys: Sequence[str], labels: Mapping[str, str]
) -> str:
    for key in keys:
        first, second = ahead.scores.get(key, Decimal(0)), behind.scores.get(key, Decimal(0))
        if first != second:
            return _(
                "higher %(criterion)s score (%(ahead)s against %(behind)s)",
                criterion=labels.get(key, key),
                ahead=plain(first),
                behind=plain(second),
            )
    same = ", ".join(labels.get(key, key) for key in keys)
    if ahead.submitted_at != behind.submitted_at:
        return _(
            "same %(criteria)s scores; submitted earlier (%(ahead)s against %(behind)s)",
            criteria=same,
            ahead=_moment(ahead.submitted_at),
            behind=_moment(behind.submitted_at),
        )
    return _("same scores and submission time; the lower application number goes first")


def explain_ties(
    candidates: Sequence[Candidate],
    *,
    tie_break_keys: Sequence[str] = ("excellence", "impact"),
    labels: Mapping[str, str] | None = None,
) -> list[TieBreak]:
    """Each pair of neighbours (among those that passed) with equal ranking totals, in rank
    order, with the rule that decided their order in words. ``labels`` name the criteria."""
    names = labels or {}
    ranked = sorted(
        (c for c in candidates if c.passed), key=lambda c: _order_key(c, tie_break_keys)
    )
    return [
        TieBreak(
            ahead.application_id,
            behind.application_id,
            ahead.ranking_total,
            _tie_reason(ahead, behind, tie_break_keys, names),
        )
        for ahead, behind in pairwise(ranked)
        if ahead.ranking_total == behind.ranking_total
    ]


def reserve_to_promote(reserves: Sequence[tuple[int, Decimal]], available: Decimal) -> int | None:
    """The first reserve, in list order, whose amount fits the budget available; None if
    none fits. Smaller ones further down may be promoted past a larger one that does not fit:
    freed money is not left idle while someone on the list could use it."""
    for application_id, amount in reserves:
        if amount <= available:
            return application_id
    return None
