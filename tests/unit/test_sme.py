from dataclasses import replace
from decimal import Decimal

import pytest

from workflows.sme import Enterprise, Holding, sme_category
from workflows.sme_status import (
    FiguresMissing,
    HoldingsRefused,
    LinkOfRelated,
    Profile,
    Related,
    assess,
    two_year_rule,
)

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


# -- the rules beyond the figures (workflows.sme_status), cases after the Commission's
# "User guide to the SME definition" (2020), in our own words --------------------------------
def rel(
    name: str,
    share: str,
    figures: Enterprise | None = None,
    *,
    relation: str = "partner",
    holder: str = "enterprise",
    direction: str = "holds_us",
    invested: str | None = None,
) -> Related:
    return Related(
        name,
        relation,
        D(share),
        figures if figures is not None or holder == "public_body" else ent("0", "0", "0"),
        holder,
        direction,
        D(invested) if invested is not None else None,
    )


def test_public_bodies_holding_25_percent_jointly_decide_whatever_the_figures() -> None:
    # Two municipalities hold 15% each of a tiny enterprise: together 30%, so it is not an SME.
    profile = Profile(
        ent("3", "0.2", "0.1"),
        related=(
            rel("Comune di Genova", "15", holder="public_body"),
            rel("Comune di Chiavari", "15", holder="public_body"),
        ),
    )
    result = assess(profile)
    assert (result.category, result.rule, result.is_sme) == ("not_sme", "public_bodies", False)
    assert result.explanation.startswith("public bodies hold 30%: not an SME whatever the figures")
    # ... even before any figure is given.
    assert assess(replace(profile, latest=None)).category == "not_sme"


def test_a_public_body_below_25_percent_changes_nothing() -> None:
    result = assess(
        Profile(ent("3", "0.2", "0.1"), related=(rel("Region", "24", holder="public_body"),))
    )
    assert result.category == "micro"
    assert "public body holding 24%: its figures are not counted" in [
        c.basis for c in result.counted
    ]


def test_exempt_investors_not_linked_leave_the_enterprise_autonomous() -> None:
    # A university holds 25%, an enterprise 30% and an institutional investor 25%: only the
    # enterprise's 30% is counted (guide: "autonomous at first sight").
    big = ent("200", "40", "40")
    profile = Profile(
        ent("5", "1", "1"),
        related=(
            rel("Università di Genova", "25", big, holder="university"),
            rel("Cantiere C S.p.A.", "30", ent("20", "3", "3")),
            rel("Fondo Regionale", "25", big, holder="institutional_investor"),
        ),
    )
    result = assess(profile)
    assert result.total == Enterprise(D(11), D("1.9") * M, D("1.9") * M)  # 5 + 30% of 20 ...
    assert result.category == "small"
    assert "not counted (an exempt investor" in result.counted[1].basis


@pytest.mark.parametrize(
    "holder",
    [
        "public_investment_corporation",
        "venture_capital",
        "university",
        "institutional_investor",
        "local_authority",
        "business_angel",
    ],
)
def test_each_exempt_investor_at_40_percent_is_not_counted(holder: str) -> None:
    profile = Profile(
        ent("8", "1", "1"),
        related=(rel("Investor", "40", ent("500", "90", "90"), holder=holder, invested="1250000"),),
    )
    assert assess(profile).category == "micro"


def test_exempt_investors_linked_to_each_other_are_counted_in_full() -> None:
    # A university (25%) and a public investment corporation (30%) act together: 55%, linked.
    profile = Profile(
        ent("5", "1", "1"),
        related=(
            rel("Uni", "25", ent("100", "5", "5"), holder="university", relation="linked"),
            rel(
                "Invest",
                "30",
                ent("100", "5", "5"),
                holder="public_investment_corporation",
                relation="linked",
            ),
        ),
    )
    result = assess(profile)
    assert result.category == "medium"  # 5 + 100 + 100 staff
    assert "(partner enterprises: 0, linked enterprises: 2)" in result.explanation


def test_a_business_angel_over_the_investment_cap_is_a_partner() -> None:
    angel = rel("Angel", "40", ent("20", "1", "1"), holder="business_angel", invested="1250000.01")
    result = assess(Profile(ent("5", "1", "1"), related=(angel,)))
    assert result.category == "small"  # 5 + 8 staff
    assert "more than EUR 1,250,000.00, counts as a partner" in result.counted[1].basis


def test_an_investor_must_hold_us_and_an_angel_must_say_what_it_invested() -> None:
    with pytest.raises(HoldingsRefused) as refused:
        assess(
            Profile(
                ent("5", "1", "1"),
                related=(
                    rel("VC Fund", "30", holder="venture_capital", direction="held_by_us"),
                    rel("Angel", "30", holder="business_angel"),
                ),
            )
        )
    assert [(p.index, p.field) for p in refused.value.problems] == [
        (0, "direction"),
        (1, "invested"),
    ]


def test_linked_enterprises_of_a_partner_go_with_it_partners_of_partners_do_not() -> None:
    # A holds 40% of partner B; B owns C outright (linked to B). 40% of B and of C count.
    profile = Profile(
        ent("4", "1", "1"),
        related=(rel("B", "40", ent("10", "1", "1")),),
        links=(LinkOfRelated("B", "C", ent("5", "1", "1")),),
    )
    result = assess(profile)
    assert [(c.name, c.figures.headcount) for c in result.counted] == [
        ("the enterprise", D(4)),
        ("B", D(4)),
        ("C", D(2)),
    ]
    assert result.counted[2].basis == "linked to partner B: 40% of its figures"
    assert result.category == "small"  # 10 staff


def test_linked_enterprises_of_a_linked_enterprise_count_in_full() -> None:
    profile = Profile(
        ent("4", "1", "1"),
        related=(rel("Parent", "100", ent("3", "1", "1"), relation="linked"),),
        links=(LinkOfRelated("parent", "Sister", ent("40", "1", "1")),),
    )
    result = assess(profile)
    assert result.total is not None and result.total.headcount == D(47)
    assert result.category == "small"


def test_a_link_to_no_listed_enterprise_is_refused() -> None:
    with pytest.raises(HoldingsRefused, match="no partner or linked enterprise called “Ghost”"):
        assess(
            Profile(ent("4", "1", "1"), links=(LinkOfRelated("Ghost", "C", ent("1", "1", "1")),))
        )


def test_a_cross_holding_counts_once_at_the_greater_share() -> None:
    # A holds 30% of B and B holds 25% of A: B counts once, at 30%.
    b = ent("20", "2", "2")
    profile = Profile(
        ent("4", "1", "1"),
        related=(
            rel("B S.r.l.", "25", b, direction="holds_us"),
            rel("b  s.r.l.", "30", b, direction="held_by_us"),
        ),
    )
    result = assess(profile)
    assert result.total is not None and result.total.headcount == D(10)
    assert result.counted[1].basis.startswith("cross-holding (25% and 30%), counted once at 30%")
    assert "(partner enterprises: 1, linked enterprises: 0)" in result.explanation


def test_the_same_enterprise_twice_is_refused_by_name_never_summed() -> None:
    profile = Profile(
        ent("4", "1", "1"),
        related=(rel("Porto Holding", "30"), rel("Porto  holding", "30")),
    )
    with pytest.raises(HoldingsRefused) as refused:
        assess(profile)
    [problem] = refused.value.problems
    assert (problem.index, problem.field) == (1, "name")
    assert problem.message.startswith("Porto  holding is entered twice (rows 1 and 2)")


def test_a_cross_holding_with_different_figures_is_refused() -> None:
    profile = Profile(
        ent("4", "1", "1"),
        related=(
            rel("B", "25", ent("20", "2", "2")),
            rel("B", "30", ent("21", "2", "2"), direction="held_by_us"),
        ),
    )
    with pytest.raises(HoldingsRefused, match="same figures in both rows"):
        assess(profile)


def test_an_enterprise_listed_both_directly_and_as_a_link_is_refused() -> None:
    profile = Profile(
        ent("4", "1", "1"),
        related=(rel("B", "40"), rel("C", "30")),
        links=(LinkOfRelated("B", "C", ent("1", "1", "1")),),
    )
    with pytest.raises(HoldingsRefused, match="C is already listed"):
        assess(profile)


# The two-year rule (art. 4(2)): (latest, year before, held) -> (category, rule).
@pytest.mark.parametrize(
    ("latest", "previous", "held", "expected", "rule", "sentence"),
    [
        (
            "medium",
            "medium",
            "medium",
            "medium",
            "two_years_same",
            "medium in 2025 and in 2024: stays medium",
        ),
        (
            "medium",
            "small",
            "small",
            "small",
            "one_year_only",
            "over the small ceilings in 2025 only: stays small until a second year",
        ),
        (
            "small",
            "medium",
            "medium",
            "medium",
            "one_year_only",
            "within the small ceilings in 2025 only: stays medium until a second year",
        ),
        (
            "medium",
            "medium",
            "small",
            "medium",
            "two_years_changed",
            "medium in 2025 and in 2024: becomes medium",
        ),
        (
            "large",
            "medium",
            "small",
            "medium",
            "two_years_changed",
            "over the small ceilings in 2024 and in 2025 (medium, then large): becomes medium",
        ),
        (
            "small",
            "medium",
            "small",
            "small",
            "back_within",
            "small in 2025, medium in 2024: stays small",
        ),
        (
            "medium",
            "micro",
            "small",
            "small",
            "one_year_only",
            "over the small ceilings in 2025 only: stays small until a second year",
        ),
        (
            "large",
            "medium",
            "medium",
            "medium",
            "one_year_only",
            "over the medium ceilings in 2025 only: stays medium until a second year",
        ),
        (
            "micro",
            "micro",
            "small",
            "micro",
            "two_years_changed",
            "micro in 2025 and in 2024: becomes micro",
        ),
    ],
)
def test_the_category_changes_only_after_two_consecutive_years(
    latest: str, previous: str, held: str, expected: str, rule: str, sentence: str
) -> None:
    assert two_year_rule(latest, previous, held, 2025) == (expected, rule, sentence)


def test_without_a_category_held_the_year_before_is_taken_as_held() -> None:
    category, rule, sentence = two_year_rule("medium", "small", None, 2025)
    assert (category, rule) == ("small", "one_year_only")
    assert "(no category held was given: 2024's is taken as held)" in sentence


def test_two_years_of_figures_decide_through_assess() -> None:
    # 2025: 55 staff (over the small ceilings), 2024: 45 staff; small until now.
    profile = Profile(ent("55", "8", "6"), ent("45", "7", "5"), year=2025, held="small")
    result = assess(profile)
    assert (result.category, result.rule, result.is_sme) == ("small", "one_year_only", True)
    assert result.explanation.startswith(
        "over the small ceilings in 2025 only: stays small until a second year"
    )
    assert "2024: aggregated figures: staff 45" in result.explanation
    # A second year over the ceilings: medium.
    second = replace(profile, previous=ent("52", "8", "6"))
    assert (assess(second).category, assess(second).rule) == ("medium", "two_years_changed")


def test_a_large_enterprise_one_year_below_the_ceilings_stays_large() -> None:
    profile = Profile(ent("240", "40", "40"), ent("300", "60", "50"), year=2025, held="large")
    result = assess(profile)
    assert (result.category, result.is_sme) == ("large", False)
    assert result.rule == "one_year_only"


def test_a_newly_established_enterprise_uses_its_estimate() -> None:
    result = assess(Profile(ent("12", "0.5", "0.4"), newly_established=True, held="micro"))
    assert (result.category, result.rule) == ("small", "estimate")
    assert result.explanation.startswith(
        "newly established, no closed year yet: small on the good-faith estimate"
    )


def test_one_closed_year_decides_alone() -> None:
    result = assess(Profile(ent("12", "1.5", "0.9")))
    assert (result.category, result.rule) == ("small", "latest_year")
    assert "staff 12 is below 50" in result.explanation


def test_the_figures_are_needed_unless_public_bodies_decide() -> None:
    with pytest.raises(FiguresMissing, match="needs the staff headcount"):
        assess(Profile(None))
