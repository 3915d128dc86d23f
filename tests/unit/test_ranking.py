from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from workflows.ranking import (
    Candidate,
    Placement,
    budget_remaining,
    explain_ties,
    rank,
    reserve_to_promote,
)

D = Decimal
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def cand(
    app_id: int,
    total: str,
    *,
    e: str = "4",
    i: str = "4",
    passed: bool = True,
    minutes: int = 0,
    amount: str = "5000.00",
) -> Candidate:
    return Candidate(
        application_id=app_id,
        scores={"excellence": D(e), "impact": D(i), "implementation": D(total) - D(e) - D(i)},
        ranking_total=D(total),
        passed=passed,
        submitted_at=T0 + timedelta(minutes=minutes),
        amount=D(amount),
    )


def test_ranked_by_total_and_funded_down_to_the_line() -> None:
    placements = rank([cand(1, "11"), cand(2, "14"), cand(3, "12.5")], D("10000.00"))
    assert placements == [
        Placement(2, "selected", 1, None),
        Placement(3, "selected", 2, None),
        Placement(1, "reserve", 3, 1),
    ]


def test_tie_broken_by_excellence() -> None:
    placements = rank([cand(1, "12", e="3.5", i="5"), cand(2, "12", e="4.5", i="3")], D("100000"))
    assert [p.application_id for p in placements] == [2, 1]
    assert [p.rank for p in placements] == [1, 2]


def test_tie_broken_by_impact_when_excellence_equal() -> None:
    placements = rank([cand(1, "12", e="4", i="3.5"), cand(2, "12", e="4", i="4.5")], D("100000"))
    assert [p.application_id for p in placements] == [2, 1]


def test_tie_broken_by_earliest_submission_when_scores_equal() -> None:
    placements = rank([cand(1, "12", minutes=5), cand(2, "12", minutes=1)], D("100000"))
    assert [p.application_id for p in placements] == [2, 1]


def test_total_beats_excellence() -> None:
    placements = rank([cand(1, "12", e="5"), cand(2, "12.5", e="3")], D("100000"))
    assert [p.application_id for p in placements] == [2, 1]


def test_equal_everything_falls_back_to_application_id() -> None:
    candidates = [cand(9, "12"), cand(3, "12"), cand(5, "12")]
    first = rank(candidates, D("100000"))
    assert [p.application_id for p in first] == [3, 5, 9]
    assert rank(list(reversed(candidates)), D("100000")) == first


def test_custom_tie_break_keys() -> None:
    a = Candidate(1, {"impact": D(3), "x": D(5)}, D(10), True, T0, D(1))
    b = Candidate(2, {"impact": D(4), "x": D(1)}, D(10), True, T0, D(1))
    assert [p.application_id for p in rank([a, b], D(10), tie_break_keys=("x",))] == [1, 2]
    assert [p.application_id for p in rank([a, b], D(10))] == [2, 1]


def test_missing_tie_break_score_counts_as_zero() -> None:
    a = Candidate(1, {}, D(10), True, T0, D(1))
    b = Candidate(2, {"excellence": D("0.5")}, D(10), True, T0 + timedelta(days=1), D(1))
    assert [p.application_id for p in rank([a, b], D(10))] == [2, 1]


def test_funding_line_does_not_skip_ahead_to_a_smaller_one() -> None:
    candidates = [
        cand(1, "14", amount="6000.00"),
        cand(2, "13", amount="5000.00"),  # does not fit: 11000 > 10000
        cand(3, "12", amount="1000.00"),  # would fit, but is below the line
        cand(4, "11", amount="500.00"),
    ]
    assert rank(candidates, D("10000.00")) == [
        Placement(1, "selected", 1, None),
        Placement(2, "reserve", 2, 1),
        Placement(3, "reserve", 3, 2),
        Placement(4, "reserve", 4, 3),
    ]


def test_budget_exactly_used_up_is_funded() -> None:
    placements = rank([cand(1, "14"), cand(2, "13"), cand(3, "12")], D("10000.00"))
    assert [p.outcome for p in placements] == ["selected", "selected", "reserve"]
    assert placements[2].reserve_position == 1


def test_first_one_too_big_puts_everyone_on_reserve() -> None:
    placements = rank([cand(1, "14", amount="20000"), cand(2, "13")], D("10000"))
    assert placements == [Placement(1, "reserve", 1, 1), Placement(2, "reserve", 2, 2)]


def test_zero_budget_everyone_passed_is_reserve() -> None:
    placements = rank([cand(1, "14"), cand(2, "13")], D(0))
    assert [p.outcome for p in placements] == ["reserve", "reserve"]
    assert [p.reserve_position for p in placements] == [1, 2]


def test_rejected_come_last_by_total_without_rank() -> None:
    candidates = [
        cand(1, "9", passed=False),
        cand(2, "13"),
        cand(3, "9.5", passed=False),
        cand(4, "12", amount="9000"),
        cand(5, "14.5", passed=False),  # high total, but failed a criterion threshold
    ]
    assert rank(candidates, D("10000")) == [
        Placement(2, "selected", 1, None),
        Placement(4, "reserve", 2, 1),
        Placement(5, "rejected", None, None),
        Placement(3, "rejected", None, None),
        Placement(1, "rejected", None, None),
    ]


def test_rejected_are_never_funded_even_with_budget_left() -> None:
    placements = rank([cand(1, "14", passed=False)], D("1000000"))
    assert placements == [Placement(1, "rejected", None, None)]


def test_empty_ranking() -> None:
    assert rank([], D("1000")) == []


def test_refuses_duplicates_negative_budget_and_amounts() -> None:
    with pytest.raises(ValueError, match="twice"):
        rank([cand(1, "12"), cand(1, "13")], D(100))
    with pytest.raises(ValueError, match="budget"):
        rank([cand(1, "12")], D(-1))
    with pytest.raises(ValueError, match="negative amount"):
        rank([cand(1, "12", amount="-5")], D(100))


def test_budget_remaining() -> None:
    assert budget_remaining(D("100000.00"), [D("8000.00"), D("2000.50")]) == D("89999.50")
    assert budget_remaining(D("100000"), []) == D("100000.00")
    assert budget_remaining(D("1000"), iter([D("1500")])) == D("-500.00")
    assert str(budget_remaining(D("10"), [D("2.555")])) == "7.45"


# -- ties explained in words, the reserve that fits the freed budget ------------------------


def test_each_tie_is_explained_by_the_rule_that_broke_it() -> None:
    candidates = [
        cand(1, "12", e="4", i="4"),
        cand(2, "12", e="4.5", i="4"),  # ahead of 1 on Excellence
        cand(3, "12", e="4", i="4.5", minutes=5),  # ahead of 1 on Impact
        cand(4, "12", e="4", i="4", minutes=-5),  # same scores as 1, submitted earlier
        cand(5, "12", e="4", i="4", minutes=-5),  # same scores and time as 4: by number
        cand(6, "14"),
        cand(7, "12", passed=False),  # failed thresholds: not part of the ranked ties
    ]
    ties = explain_ties(candidates, labels={"excellence": "Excellence", "impact": "Impact"})
    order = [p.application_id for p in rank(candidates, D("100000"))]
    assert order[:6] == [6, 2, 3, 4, 5, 1]
    assert [(t.ahead, t.behind) for t in ties] == [(2, 3), (3, 4), (4, 5), (5, 1)]
    assert all(t.total == D("12") for t in ties)
    reasons = [t.reason for t in ties]
    assert reasons[0] == "higher Excellence score (4.5 against 4)"
    assert reasons[1] == "higher Impact score (4.5 against 4)"
    assert reasons[2] == "same scores and submission time; the lower application number goes first"
    assert reasons[3] == (
        "same Excellence, Impact scores; submitted earlier "
        "(2026-03-01 11:55:00 UTC against 2026-03-01 12:00:00 UTC)"
    )


def test_no_ties_nothing_to_explain() -> None:
    assert explain_ties([cand(1, "12"), cand(2, "13")]) == []


def test_budget_ending_mid_list_with_a_tie_at_the_line() -> None:
    # 1 and 2 tie on the total; 2 wins on Excellence, so 2 is funded and 1 holds the line.
    candidates = [cand(1, "12", e="4"), cand(2, "12", e="5"), cand(3, "13"), cand(4, "11")]
    placements = rank(candidates, D("10000.00"))
    assert placements == [
        Placement(3, "selected", 1, None),
        Placement(2, "selected", 2, None),
        Placement(1, "reserve", 3, 1),
        Placement(4, "reserve", 4, 2),
    ]
    assert explain_ties(candidates)[0].ahead == 2


def test_the_first_reserve_that_fits_is_promoted() -> None:
    reserves = [(7, D("6000")), (8, D("3000")), (9, D("2000"))]
    assert reserve_to_promote(reserves, D("6000")) == 7
    assert reserve_to_promote(reserves, D("5000")) == 8
    assert reserve_to_promote(reserves, D("1999.99")) is None
    assert reserve_to_promote([], D("10000")) is None
