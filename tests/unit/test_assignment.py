"""The assignment proposal (workflows.assignment)."""

from __future__ import annotations

from workflows.assignment import Candidate, Slot, keywords_in, over_capacity, propose


def slots(count: int, needed: int = 2, **extra: object) -> list[Slot]:
    return [Slot(application_id=i, needed=needed, **extra) for i in range(1, count + 1)]  # type: ignore[arg-type]


def test_never_more_than_an_expert_can_take_and_the_rest_is_said() -> None:
    experts = [Candidate(10, capacity=1), Candidate(11, capacity=2), Candidate(12, capacity=1)]
    proposal = propose(slots(3), experts)
    counted = [e for chosen in proposal.chosen.values() for e in chosen]
    assert counted.count(10) <= 1 and counted.count(11) <= 2 and counted.count(12) <= 1
    assert over_capacity(proposal.chosen, experts) == {}
    assert len(counted) == 4
    (short,) = proposal.short.values()
    assert "without availability left: 3" in short


def test_a_conflicted_expert_is_never_proposed() -> None:
    experts = [Candidate(10), Candidate(11), Candidate(12)]
    proposal = propose(slots(4), experts, conflicted={(1, 10), (2, 11), (3, 10), (3, 11)})
    assert 10 not in proposal.chosen[1] and 11 not in proposal.chosen[2]
    assert proposal.chosen[3] == [12]
    assert "with a conflict of interest: 2" in proposal.short[3]


def test_the_workload_is_balanced() -> None:
    proposal = propose(slots(6), [Candidate(10), Candidate(11), Candidate(12), Candidate(13)])
    assert sorted(proposal.loads.values()) == [3, 3, 3, 3]


def test_keywords_matching_win_within_the_balance_and_ties_go_by_id() -> None:
    experts = [
        Candidate(10),
        Candidate(11, keywords=frozenset({"Sonar"})),
        Candidate(12, keywords=frozenset({"Sonar", "Composites"})),
    ]
    one = [Slot(1, 2, keywords=frozenset({"Sonar", "Composites"}))]
    assert propose(one, experts).chosen[1] == [12, 11]
    # Someone already far busier is passed over, however well they match.
    busy = [Candidate(10), Candidate(11), Candidate(12, frozenset({"Sonar"}), load=5)]
    assert propose([Slot(1, 2, keywords=frozenset({"Sonar"}))], busy).chosen[1] == [10, 11]
    # Deterministic: the same facts, the same proposal.
    assert propose(slots(5), experts).chosen == propose(slots(5), list(reversed(experts))).chosen


def test_experts_already_on_an_application_are_not_proposed_again() -> None:
    proposal = propose([Slot(1, 1, taken=frozenset({10}))], [Candidate(10), Candidate(11)])
    assert proposal.chosen[1] == [11]


def test_keywords_are_found_as_whole_words_whatever_the_case() -> None:
    labels = ["Sonar", "Cyber security", "AI"]
    text = "We train engineers in SONAR processing and cyber security; no said."
    assert keywords_in(text, labels) == {"Sonar", "Cyber security"}
