from decimal import Decimal

import pytest

from workflows.money import (
    balance_due,
    format_eur,
    lump_sum_balance_due,
    lump_sum_recovery_due,
    prefinancing_amount,
    quantize,
    recovery_due,
    subcontracting_share_ok,
)

D = Decimal


def test_quantize_rounds_half_up_to_cents() -> None:
    assert str(quantize(D("2.345"))) == "2.35"
    assert str(quantize(D("2.344"))) == "2.34"
    assert str(quantize(D("-2.345"))) == "-2.35"
    assert str(quantize(D(8000))) == "8000.00"
    assert str(quantize(8000)) == "8000.00"  # type: ignore[arg-type]


def test_quantize_refuses_floats_and_non_finite() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        quantize(0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        quantize(True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        quantize(D("NaN"))


def test_prefinancing_amount() -> None:
    assert prefinancing_amount(D("8000.00"), D(50)) == D("4000.00")
    assert str(prefinancing_amount(D("3333.33"), D(50))) == "1666.67"  # 1666.665 half up
    assert prefinancing_amount(D("8000"), D(0)) == D("0.00")
    assert prefinancing_amount(D("8000"), D(100)) == D("8000.00")


def test_prefinancing_refuses_bad_percent_and_award() -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        prefinancing_amount(D("8000"), D(101))
    with pytest.raises(ValueError, match="between 0 and 100"):
        prefinancing_amount(D("8000"), D(-1))
    with pytest.raises(ValueError, match="award"):
        prefinancing_amount(D("-1"), D(50))


def test_balance_due_normal_case() -> None:
    due = balance_due(
        approved_costs=D("8000.00"),
        funding_rate_percent=D(100),
        award=D("8000.00"),
        paid_so_far=D("4000.00"),
    )
    assert due == D("4000.00")


def test_balance_due_capped_by_award() -> None:
    due = balance_due(
        approved_costs=D("12000.00"),
        funding_rate_percent=D(100),
        award=D("8000.00"),
        paid_so_far=D("4000.00"),
    )
    assert due == D("4000.00")


def test_balance_due_with_funding_rate() -> None:
    due = balance_due(
        approved_costs=D("10000.01"),
        funding_rate_percent=D(70),
        award=D("8000.00"),
        paid_so_far=D("4000.00"),
    )
    assert str(due) == "3000.01"  # 7000.007 -> 7000.01


def test_balance_due_negative_means_recovery() -> None:
    due = balance_due(
        approved_costs=D("3000.00"),
        funding_rate_percent=D(100),
        award=D("8000.00"),
        paid_so_far=D("4000.00"),
    )
    assert due == D("-1000.00")


def test_balance_due_refuses_negative_approved_costs() -> None:
    with pytest.raises(ValueError, match="approved_costs"):
        balance_due(
            approved_costs=D("-1"),
            funding_rate_percent=D(100),
            award=D(1),
            paid_so_far=D(0),
        )


def test_recovery_due_on_termination() -> None:
    assert recovery_due(
        approved_costs=D("1500.00"),
        funding_rate_percent=D(100),
        award=D("8000.00"),
        paid_so_far=D("4000.00"),
    ) == D("2500.00")


def test_recovery_due_with_no_approved_costs_is_everything_paid() -> None:
    assert recovery_due(
        approved_costs=None, funding_rate_percent=D(100), award=D("8000"), paid_so_far=D("4000")
    ) == D("4000.00")


def test_recovery_due_never_negative() -> None:
    result = recovery_due(
        approved_costs=D("8000"), funding_rate_percent=D(50), award=D("8000"), paid_so_far=D("0")
    )
    assert result == D(0)
    assert str(result) == "0.00"


def test_recovery_due_is_capped_by_award() -> None:
    assert recovery_due(
        approved_costs=D("20000"),
        funding_rate_percent=D(100),
        award=D("8000"),
        paid_so_far=D("9000"),
    ) == D("1000.00")


def test_subcontracting_share() -> None:
    assert subcontracting_share_ok(D("2500.00"), D("10000.00"))
    assert not subcontracting_share_ok(D("2500.01"), D("10000.00"))
    assert subcontracting_share_ok(D(0), D(0))
    assert not subcontracting_share_ok(D("0.01"), D(0))
    assert subcontracting_share_ok(D("4000"), D("10000"), D(40))
    with pytest.raises(ValueError, match="negative"):
        subcontracting_share_ok(D(-1), D(100))


def test_format_eur() -> None:
    assert format_eur(D("8000")) == "EUR 8,000.00"
    assert format_eur(D("1234567.891")) == "EUR 1,234,567.89"
    assert format_eur(D("0.005")) == "EUR 0.01"
    assert format_eur(D("-1500.5")) == "EUR -1,500.50"
    assert format_eur(None) == ""


def test_a_lump_sum_balance_is_the_award_less_what_was_paid() -> None:
    assert lump_sum_balance_due(award=D("2000.00"), paid_so_far=D("1000.00")) == D("1000.00")
    assert lump_sum_balance_due(award=D("2000"), paid_so_far=D("0")) == D("2000.00")
    with pytest.raises(TypeError):
        lump_sum_balance_due(award=2000.0, paid_so_far=D("0"))  # type: ignore[arg-type]


def test_a_terminated_lump_sum_keeps_money_only_for_accepted_work() -> None:
    paid = D("1000.00")
    assert lump_sum_recovery_due(delivered=False, award=D("2000"), paid_so_far=paid) == paid
    assert lump_sum_recovery_due(delivered=True, award=D("2000"), paid_so_far=paid) == D("0.00")
