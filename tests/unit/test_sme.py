from decimal import Decimal

import pytest

from workflows.sme import Enterprise, Holding, sme_category

D = Decimal
M = D(1_000_000)


def ent(staff: str, turnover_m: str, balance_m: str) -> Enterprise:
    return Enterprise(D(staff), D(turnover_m) * M, D(balance_m) * M)


def category(own: Enterprise, **kw: list[Holding]) -> str:
    return sme_category(own, **kw)[0]


@pytest.mark.parametrize(
    ("staff", "turnover", "balance", "expected"),
    [
        ("9", "2", "2", "micro"),
        ("9.9", "1", "1", "micro"),
        ("10", "1", "1", "small"),  # staff ceiling is strict: 10 is not below 10
        ("49", "10", "10", "small"),
        ("50", "1", "1", "medium"),
        ("249", "50", "43", "medium"),
        ("250", "1", "1", "large"),
        ("0", "0", "0", "micro"),
    ],
)
def test_ceilings(staff: str, turnover: str, balance: str, expected: str) -> None:
    assert category(ent(staff, turnover, balance)) == expected


def test_turnover_or_balance_sheet_either_suffices() -> None:
    # turnover over the micro ceiling but balance sheet within: still micro
    assert category(ent("5", "3", "1.5")) == "micro"
    # balance sheet over but turnover within: still micro
    assert category(ent("5", "1.5", "3")) == "micro"
    # both over: not micro
    assert category(ent("5", "3", "3")) == "small"
    # medium: turnover 60M but balance sheet 40M -> medium
    assert category(ent("200", "60", "40")) == "medium"
    # medium: turnover 45M, balance sheet 100M -> medium
    assert category(ent("200", "45", "100")) == "medium"
    # both over the medium money ceilings with few staff -> large
    assert category(ent("20", "51", "44")) == "large"


def test_partner_added_pro_rata() -> None:
    own = ent("6", "1", "1")
    partner = Holding(ent("20", "4", "4"), D(25))  # adds 5 staff, 1M, 1M
    name, explanation = sme_category(own, partners=[partner])
    assert name == "small"
    assert "staff 11" in explanation
    assert "turnover EUR 2,000,000.00" in explanation
    assert "not micro: staff 11 is not below 10" in explanation


def test_partner_at_fifty_percent_is_still_pro_rata() -> None:
    own = ent("4", "1", "1")
    assert category(own, partners=[Holding(ent("10", "1", "1"), D(50))]) == "micro"  # 4 + 5 = 9


def test_linked_added_in_full() -> None:
    own = ent("4", "1", "1")
    linked = Holding(ent("10", "1", "1"), D(51))
    name, explanation = sme_category(own, linked=[linked])
    assert name == "small"  # 4 + 10 = 14 staff
    assert "staff 14" in explanation
    assert "(partner enterprises: 0, linked enterprises: 1)" in explanation


def test_linked_by_control_with_small_share_still_counts_in_full() -> None:
    # Linkage may arise from control (e.g. appointing the board) without a majority share.
    own = ent("4", "1", "1")
    assert category(own, linked=[Holding(ent("10", "1", "1"), D(30))]) == "small"


def test_partners_and_linked_together_push_to_large() -> None:
    own = ent("100", "20", "20")
    partners = [Holding(ent("200", "40", "40"), D("40"))]  # +80 staff, +16M, +16M
    linked = [Holding(ent("80", "20", "10"), D(100))]  # +80, +20M, +10M
    name, explanation = sme_category(own, partners=partners, linked=linked)
    assert name == "large"  # 260 staff
    assert "staff 260" in explanation
    assert "not medium: staff 260 is not below 250" in explanation


def test_large_by_money_explains_both_ceilings() -> None:
    name, explanation = sme_category(ent("100", "60", "50"))
    assert name == "large"
    assert "turnover EUR 60,000,000.00 is above EUR 50,000,000.00" in explanation
    assert "balance sheet EUR 50,000,000.00 is above EUR 43,000,000.00" in explanation


def test_explanation_names_the_deciding_ceiling() -> None:
    name, explanation = sme_category(ent("200", "60", "40"))
    assert name == "medium"
    assert "medium: staff 200 is below 250" in explanation
    assert "balance sheet EUR 40,000,000.00 is at most EUR 43,000,000.00" in explanation
    assert "turnover EUR 60,000,000.00 is above EUR 50,000,000.00" in explanation

    name, explanation = sme_category(ent("3", "1", "5"))
    assert name == "micro"
    assert explanation.endswith(
        "micro: staff 3 is below 10 and turnover EUR 1,000,000.00 is at most EUR 2,000,000.00"
    )


def test_fractional_pro_rata_staff() -> None:
    own = ent("9", "1", "1")
    name, explanation = sme_category(own, partners=[Holding(ent("3", "0", "0"), D("33.33"))])
    assert name == "micro"  # 9 + 0.9999 < 10
    assert "staff 9.9999" in explanation


@pytest.mark.parametrize("share", ["24.99", "50.01", "0"])
def test_partner_share_outside_25_to_50_is_refused(share: str) -> None:
    with pytest.raises(ValueError, match="partner holding is 25% to 50%"):
        sme_category(ent("1", "1", "1"), partners=[Holding(ent("1", "1", "1"), D(share))])


def test_share_above_100_is_refused() -> None:
    with pytest.raises(ValueError, match="between 0% and 100%"):
        sme_category(ent("1", "1", "1"), linked=[Holding(ent("1", "1", "1"), D(101))])


def test_negative_figures_are_refused() -> None:
    with pytest.raises(ValueError, match="headcount must not be negative"):
        sme_category(Enterprise(D(-1), D(0), D(0)))
