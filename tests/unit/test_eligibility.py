from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from workflows.eligibility import (
    MANUAL_CHECKS,
    CheckResult,
    DeMinimisRule,
    automatic_checks,
    months_before,
)

D = Decimal
DEADLINE = date(2026, 9, 30)


def run(**overrides: Any) -> dict[str, CheckResult]:
    args: dict[str, Any] = {
        "country": "IT",
        "eligible_countries": ["IT", "FR", "NL", "BE", "HR"],
        "consortium_partner": None,
        "declaration_signed": True,
        "requested_amount": D("8000.00"),
        "max_per_voucher": D("10000.00"),
        "registered_on": date(2020, 1, 15),
        "deadline": DEADLINE,
    }
    args.update(overrides)
    return {r.key: r for r in automatic_checks(**args)}


def test_all_checks_pass_in_order() -> None:
    results = automatic_checks(
        country="IT",
        eligible_countries=["IT"],
        consortium_partner=None,
        declaration_signed=True,
        requested_amount=D("8000.00"),
        max_per_voucher=D("10000.00"),
        registered_on=date(2020, 1, 15),
        deadline=DEADLINE,
    )
    assert [r.key for r in results] == [
        "country",
        "not_partner",
        "declaration",
        "amount",
        "registration",
    ]
    assert all(r.passed for r in results)
    assert all(r.evidence and r.name for r in results)


def test_as_dict() -> None:
    result = run()["declaration"]
    assert result.as_dict() == {
        "key": "declaration",
        "name": "Declaration of honour signed",
        "passed": True,
        "evidence": "declaration of honour signed",
    }


def test_country_check() -> None:
    ok = run(country=" it ")["country"]
    assert ok.passed
    assert ok.evidence == "established in IT, which is eligible (eligible: BE, FR, HR, IT, NL)"
    bad = run(country="US")["country"]
    assert not bad.passed
    assert "US, which is not eligible" in bad.evidence
    assert not run(country="  ")["country"].passed
    assert run(country="")["country"].evidence == "country not given"
    assert not run(eligible_countries=[])["country"].passed


def test_partner_check() -> None:
    ok = run()["not_partner"]
    assert ok.passed
    assert ok.evidence == "not a partner of the consortium running the call"
    result = run(consortium_partner="DLTM")["not_partner"]
    assert not result.passed
    assert result.evidence == "is DLTM, a partner of the consortium running the call"
    found = run(consortium_partner="TVT", partner_basis="same VAT number FR12345678901")
    assert found["not_partner"].evidence == (
        "is TVT, a partner of the consortium running the call (same VAT number FR12345678901)"
    )


def test_declaration_check() -> None:
    result = run(declaration_signed=False)["declaration"]
    assert not result.passed
    assert result.evidence == "declaration of honour not signed"


def test_amount_check() -> None:
    assert run(requested_amount=D("10000.00"))["amount"].passed
    over = run(requested_amount=D("10000.01"))["amount"]
    assert not over.passed
    assert over.evidence == "requested EUR 10,000.01 is above the maximum EUR 10,000.00"
    ok = run()["amount"]
    assert ok.evidence == "requested EUR 8,000.00 is within the maximum EUR 10,000.00"
    missing = run(requested_amount=None)["amount"]
    assert (missing.passed, missing.evidence) == (False, "requested amount not given")
    assert not run(requested_amount=D(0))["amount"].passed


def test_registration_boundary() -> None:
    # 6 months before 30 Sep 2026 is 30 Mar 2026: registered that day is enough
    on_time = run(registered_on=date(2026, 3, 30))["registration"]
    assert on_time.passed
    assert on_time.evidence == (
        "registered on 2026-03-30, on or before 2026-03-30 "
        "(6 months before the deadline 2026-09-30)"
    )
    late = run(registered_on=date(2026, 3, 31))["registration"]
    assert not late.passed
    assert "after 2026-03-30" in late.evidence


def test_registration_custom_months_and_missing_date() -> None:
    assert run(registered_on=date(2025, 9, 30), min_registration_months=12)["registration"].passed
    assert not run(registered_on=date(2025, 10, 1), min_registration_months=12)[
        "registration"
    ].passed
    missing = run(registered_on=None)["registration"]
    assert (missing.passed, missing.evidence) == (False, "registration date not given")
    assert run(registered_on=DEADLINE, min_registration_months=0)["registration"].passed
    with pytest.raises(ValueError):
        run(min_registration_months=-1)


def test_months_before_clamps_to_month_end() -> None:
    assert months_before(date(2026, 8, 31), 6) == date(2026, 2, 28)
    assert months_before(date(2024, 8, 31), 6) == date(2024, 2, 29)
    assert months_before(date(2026, 3, 15), 6) == date(2025, 9, 15)
    assert months_before(date(2026, 1, 31), 1) == date(2025, 12, 31)
    assert months_before(date(2026, 1, 31), 0) == date(2026, 1, 31)


def test_manual_checks() -> None:
    # SME status is decided automatically from the profile kept at submission.
    assert MANUAL_CHECKS == [("no_double_funding", "No double funding of the same activity")]


def test_check_result_is_frozen() -> None:
    with pytest.raises(AttributeError):
        run()["country"].passed = False  # type: ignore[misc]


def test_de_minimis_is_checked_only_when_the_call_sets_it() -> None:
    assert "de_minimis" not in run()
    rule = DeMinimisRule(D("300000"), 3, date(2026, 10, 15))
    assert run(de_minimis=rule)["de_minimis"].passed  # nothing declared


def test_de_minimis_counts_aid_of_the_rolling_period_plus_the_request() -> None:
    rule = DeMinimisRule(D("300000"), 3, date(2026, 10, 15))
    aid = [
        (D("200000"), date(2024, 3, 1)),
        (D("90000"), date(2026, 1, 10)),
        (D("250000"), date(2023, 10, 15)),  # exactly three years before: outside the period
    ]
    within = run(de_minimis=rule, de_minimis_aid=aid, requested_amount=D("10000.00"))
    check = within["de_minimis"]
    assert check.passed
    assert "EUR 290,000.00 of de minimis aid declared since 2023-10-15 (2 grants)" in check.evidence
    assert "makes EUR 300,000.00, within" in check.evidence
    over = run(de_minimis=rule, de_minimis_aid=aid, requested_amount=D("10000.01"))["de_minimis"]
    assert not over.passed and "above the ceiling" in over.evidence
    assert "headroom EUR 10,000.00" in over.evidence


def test_de_minimis_uses_the_calls_ceiling_and_period() -> None:
    rule = DeMinimisRule(D("100000"), 1, date(2026, 10, 15))
    aid = [(D("95000"), date(2025, 10, 16)), (D("50000"), date(2025, 10, 15))]
    check = run(de_minimis=rule, de_minimis_aid=aid, requested_amount=D("5000"))["de_minimis"]
    assert check.passed and "(1 grant)" in check.evidence
    assert check.name == "De minimis aid within EUR 100,000.00 over 1 year"
    missing = run(de_minimis=rule, requested_amount=None)["de_minimis"]
    assert not missing.passed and missing.evidence == "requested amount not given"
