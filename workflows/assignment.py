"""The assignment proposal: K experts per application, from the call's pool.

Pure: no Flask, no database. The rules, in order:
- never an expert with a conflict detected with the application (``workflows.conflicts``),
  nor one already on it (or who stepped aside from it);
- never more applications than an expert said they can take in the call's pool
  (``capacity``: what is left of it; None: no limit given);
- the workload is balanced: only experts with at most one application more than the least
  loaded candidate are considered for a place;
- among those, experts whose expertise keywords match the application's come first (more
  matches first), then the least loaded, then the lowest id. Applications with the fewest
  candidates are served first, so the scarce experts go where they are needed.
Deterministic: the same facts give the same proposal.

An application's keywords are the labels of the officers' keyword list found as whole words
in its title and answers (``keywords_in``): the same words experts tick on their profile.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from workflows.i18n import _

# Only experts at most this many applications above the least loaded candidate are chosen.
BALANCE_SLACK = 1


@dataclass(frozen=True)
class Slot:
    """An application to staff: how many experts it still needs, and who cannot take it."""

    application_id: int
    needed: int
    keywords: frozenset[str] = frozenset()
    # Experts already on it or who stepped aside from it.
    taken: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Candidate:
    expert_id: int
    keywords: frozenset[str] = frozenset()
    load: int = 0  # applications of the call the expert already works on
    capacity: int | None = None  # how many more they can take; None: no limit given


@dataclass
class Proposal:
    chosen: dict[int, list[int]] = field(default_factory=dict)
    # Applications that cannot get all their experts, and why in words.
    short: dict[int, str] = field(default_factory=dict)
    # The load each expert would have once the proposal is confirmed.
    loads: dict[int, int] = field(default_factory=dict)


def keywords_in(text: str, labels: Iterable[str]) -> frozenset[str]:
    """The labels found in ``text`` as whole words, whatever the case."""
    lowered = text.lower()
    return frozenset(
        label
        for label in labels
        if label.strip() and re.search(rf"(?<!\w){re.escape(label.strip().lower())}(?!\w)", lowered)
    )


def _allowed(
    slot: Slot, experts: Sequence[Candidate], conflicted: frozenset[tuple[int, int]]
) -> list[Candidate]:
    return [
        e
        for e in experts
        if e.expert_id not in slot.taken and (slot.application_id, e.expert_id) not in conflicted
    ]


def _shortfall(
    slot: Slot,
    got: int,
    experts: Sequence[Candidate],
    conflicted: frozenset[tuple[int, int]],
    full: set[int],
) -> str:
    conflicts = sum(1 for e in experts if (slot.application_id, e.expert_id) in conflicted)
    taken = sum(1 for e in experts if e.expert_id in slot.taken)
    busy = sum(
        1
        for e in experts
        if e.expert_id in full
        and e.expert_id not in slot.taken
        and (slot.application_id, e.expert_id) not in conflicted
    )
    # Counted as "experts: N with a conflict…" so that one and several read the same.
    return _(
        "needs %(needed)s more, %(got)s proposed; experts who accepted the pool: "
        "%(pool)s, with a conflict of interest: %(conflicts)s, already on it or stepped "
        "aside: %(taken)s, without availability left: %(busy)s",
        needed=slot.needed,
        got=got,
        pool=len(experts),
        conflicts=conflicts,
        taken=taken,
        busy=busy,
    )


def propose(
    slots: Sequence[Slot],
    experts: Sequence[Candidate],
    conflicted: Iterable[tuple[int, int]] = (),
) -> Proposal:
    """The experts proposed for each application (``conflicted``: (application id, expert
    id) pairs with a detected conflict)."""
    forbidden = frozenset(conflicted)
    ordered = sorted(experts, key=lambda e: e.expert_id)
    load = {e.expert_id: e.load for e in ordered}
    left: dict[int, int | None] = {e.expert_id: e.capacity for e in ordered}
    proposal = Proposal()
    # The most constrained applications first: fewest candidates, then by id.
    queue = sorted(
        (s for s in slots if s.needed > 0),
        key=lambda s: (len(_allowed(s, ordered, forbidden)), s.application_id),
    )
    for slot in queue:
        picked: list[int] = []
        for _place in range(slot.needed):
            candidates = [
                e
                for e in _allowed(slot, ordered, forbidden)
                if e.expert_id not in picked and left[e.expert_id] != 0
            ]
            if not candidates:
                break
            lightest = min(load[e.expert_id] for e in candidates)
            balanced = [e for e in candidates if load[e.expert_id] <= lightest + BALANCE_SLACK]
            best = min(
                balanced,
                key=lambda e: (-len(e.keywords & slot.keywords), load[e.expert_id], e.expert_id),
            )
            picked.append(best.expert_id)
            load[best.expert_id] += 1
            remaining = left[best.expert_id]
            if remaining is not None:
                left[best.expert_id] = remaining - 1
        proposal.chosen[slot.application_id] = picked
        if len(picked) < slot.needed:
            full = {expert_id for expert_id, n in left.items() if n == 0}
            proposal.short[slot.application_id] = _shortfall(
                slot, len(picked), ordered, forbidden, full
            )
    proposal.loads = load
    return proposal


def over_capacity(
    chosen: Mapping[int, Sequence[int]], experts: Sequence[Candidate]
) -> dict[int, int]:
    """Experts given more applications than they can take, with how many too many."""
    counted: dict[int, int] = {}
    for expert_ids in chosen.values():
        for expert_id in expert_ids:
            counted[expert_id] = counted.get(expert_id, 0) + 1
    return {
        e.expert_id: counted.get(e.expert_id, 0) - e.capacity
        for e in experts
        if e.capacity is not None and counted.get(e.expert_id, 0) > e.capacity
    }
