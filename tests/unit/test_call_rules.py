"""A call checked as a whole before publishing: every problem at once, by field, times
included (the autumn hour that happens twice, the spring hour that never happens)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pycountry

from workflows.call_rules import CallRules, EligibilityRules, VoucherType, instants, problems

NOW = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
COUNTRIES = frozenset(c.alpha_2 for c in pycountry.countries)


def rules(**changes: object) -> CallRules:
    good = CallRules(
        reference="LEV-INT-2027",
        title="Internationalisation voucher",
        purpose="Helps SMEs enter markets outside the EU.",
        voucher_type=VoucherType.INTERNATIONALISATION,
        timezone="Europe/Rome",
        opening=datetime(2026, 9, 15, 9, 0),
        deadline=datetime(2026, 11, 30, 17, 0),
        budget=Decimal("200000"),
        max_per_voucher=Decimal("10000"),
        eligible_countries=("IT", "FR", "NL", "BE", "HR"),
        eligibility=EligibilityRules(target_markets_outside_eu=True),
    )
    return replace(good, **changes)  # type: ignore[arg-type]


def test_a_sound_call_has_no_problems_and_its_times_are_instants() -> None:
    assert problems(rules(), NOW, COUNTRIES) == {}
    moments, none = instants(rules())
    assert none == {} and moments is not None
    assert moments.deadline == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 17:00 CET


def test_a_deadline_in_the_autumn_hour_is_refused_with_both_instants_until_one_is_chosen() -> None:
    twice = rules(deadline=datetime(2026, 10, 25, 2, 30), opening=datetime(2026, 9, 1, 9, 0))
    found = problems(twice, NOW, COUNTRIES)
    assert set(found) == {"deadline"}
    assert "happens twice" in found["deadline"] and "00:30 UTC" in found["deadline"]
    chosen = replace(twice, folds={"deadline": 1})
    assert problems(chosen, NOW, COUNTRIES) == {}
    moments, _ = instants(chosen)
    assert moments is not None and moments.deadline == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


def test_an_opening_in_the_spring_gap_is_refused_naming_the_gap() -> None:
    gap = rules(opening=datetime(2027, 3, 28, 2, 15), deadline=datetime(2027, 5, 31, 17, 0))
    found = problems(gap, NOW, COUNTRIES)
    assert set(found) == {"opening"} and "from 02:00 to 03:00" in found["opening"]


def test_every_problem_is_reported_at_once_by_field() -> None:
    bad = rules(
        reference=" ",
        purpose="",
        budget=Decimal("50000"),
        reserve=Decimal("45000"),
        max_per_voucher=Decimal("10000"),
        funding_rate=Decimal("120"),
        deadline=datetime(2026, 10, 1, 17, 0),
        cutoffs=(datetime(2026, 12, 1, 17, 0),),
        eligible_countries=("IT", "XX"),
        threshold_total=Decimal("16"),
        experts_per_application=0,
        redress_days=0,
        timezone="Europe/Rome",
    )
    found = problems(bad, NOW, COUNTRIES)
    assert set(found) == {
        "reference",
        "purpose",
        "max_per_voucher",
        "funding_rate",
        "deadline",
        "cutoffs.0",
        "batch_ranking",
        "eligible_countries",
        "threshold_total",
        "experts_per_application",
        "redress_days",
    }
    assert "(5000)" in found["max_per_voucher"]  # the budget left after the reserve
    assert "XX" in found["eligible_countries"]
    assert "at least 30 days" in found["deadline"]
    assert "(15)" in found["threshold_total"]


def test_cut_off_dates_must_be_in_order_between_opening_and_deadline() -> None:
    ordered = rules(
        batch_ranking=True,
        cutoffs=(datetime(2026, 10, 15, 17, 0), datetime(2026, 11, 15, 17, 0)),
    )
    assert problems(ordered, NOW, COUNTRIES) == {}
    assert set(problems(replace(ordered, batch_ranking=False), NOW, COUNTRIES)) == {"batch_ranking"}
    swapped = replace(ordered, cutoffs=tuple(reversed(ordered.cutoffs)))
    assert set(problems(swapped, NOW, COUNTRIES)) == {"cutoffs.1"}


def test_rules_that_belong_to_one_kind_of_voucher_or_need_parameters() -> None:
    upskilling = rules(
        voucher_type=VoucherType.UPSKILLING,
        eligibility=EligibilityRules(
            target_markets_outside_eu=True,
            de_minimis_check=True,
            de_minimis_ceiling=Decimal("0"),
            min_registration_months=-1,
        ),
    )
    assert set(problems(upskilling, NOW, COUNTRIES)) == {
        "eligibility.target_markets_outside_eu",
        "eligibility.de_minimis_ceiling",
        "eligibility.min_registration_months",
    }


def test_one_application_per_sme_cannot_be_switched_off() -> None:
    several = rules(eligibility=EligibilityRules(one_application_per_sme=False))
    found = problems(several, NOW, COUNTRIES)
    assert list(found) == ["eligibility.one_application_per_sme"]
    assert "one application per call" in found["eligibility.one_application_per_sme"]


def test_an_unknown_timezone_is_named() -> None:
    found = problems(rules(timezone="Europe/Genova"), NOW, COUNTRIES)
    assert found == {"timezone": "unknown timezone 'Europe/Genova'"}
