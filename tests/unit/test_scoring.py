from decimal import Decimal

import pytest

from workflows.scoring import (
    DEFAULT_CRITERIA,
    Criterion,
    ScoreError,
    criteria_from_config,
    divergences,
    mean_scores,
    parse_scores,
    passes_thresholds,
    plain,
    total,
    weighted_total,
)

D = Decimal
CRITERIA = criteria_from_config(DEFAULT_CRITERIA)


def scores(e: str, i: str, m: str) -> dict[str, Decimal]:
    return {"excellence": D(e), "impact": D(i), "implementation": D(m)}


# --- configuration -----------------------------------------------------------------------


def test_default_criteria_are_the_three_horizon_criteria() -> None:
    assert [(c.key, c.name) for c in CRITERIA] == [
        ("excellence", "Excellence"),
        ("impact", "Impact"),
        ("implementation", "Implementation"),
    ]
    for c in CRITERIA:
        assert (c.max, c.threshold, c.weight) == (D(5), D(3), D(1))
        assert isinstance(c.max, Decimal)


def test_default_criteria_are_json_ready_dicts() -> None:
    assert all(isinstance(item, dict) for item in DEFAULT_CRITERIA)
    assert all(isinstance(v, str) for item in DEFAULT_CRITERIA for v in item.values())


def test_criteria_from_config_accepts_strings_and_numbers() -> None:
    [a, b] = criteria_from_config(
        [
            {"key": "excellence", "name": "Excellence", "max": 10, "threshold": 5.5, "weight": "2"},
            {"key": "impact", "name": "Impact", "max": "5", "threshold": "2,5", "weight": 0.5},
        ]
    )
    assert a == Criterion("excellence", "Excellence", D(10), D("5.5"), D(2))
    assert b == Criterion("impact", "Impact", D(5), D("2.5"), D("0.5"))


def test_criteria_from_config_fills_defaults() -> None:
    [c] = criteria_from_config([{"key": "impact", "name": "Impact"}])
    assert c == Criterion("impact", "Impact")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "at least one criterion"),
        ([{"name": "No key"}], "a key is required"),
        ([{"key": "a", "name": "A"}, {"key": "a", "name": "B"}], "used twice"),
        ([{"key": "a", "name": "A", "max": "five"}], "max must be written with digits"),
        ([{"key": "a", "name": "A", "max": "NaN"}], "max must be written with digits"),
        ([{"key": "a", "name": "A", "max": "1e309"}], "exponents"),
        ([{"key": "a", "name": "A", "max": "2,500"}], "could mean 2500 or 2,5"),
        ([{"key": "a", "name": "A", "weight": True}], "weight must be written with digits"),
        ([{"key": "a", "name": "A", "threshold": "6"}], "threshold must be between 0 and 5"),
        ([{"key": "a", "name": "A", "max": "0"}], "maximum must be above 0"),
        ([{"key": "a", "name": "A", "weight": "-1"}], "weight must not be negative"),
    ],
)
def test_criteria_from_config_refuses_bad_configuration(raw: list[dict], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        criteria_from_config(raw)


def test_criterion_is_frozen() -> None:
    c = Criterion("a", "A")
    with pytest.raises(AttributeError):
        c.max = D(10)  # type: ignore[misc]


# --- parse_scores ------------------------------------------------------------------------


def test_parse_scores_accepts_numbers_strings_and_commas() -> None:
    parsed = parse_scores(
        CRITERIA, {"excellence": "4,5", "impact": " 3.5 ", "implementation": 5, "csrf": "x"}
    )
    assert parsed == scores("4.5", "3.5", "5")
    assert all(isinstance(v, Decimal) for v in parsed.values())
    assert set(parsed) == {"excellence", "impact", "implementation"}


def test_parse_scores_accepts_the_bounds() -> None:
    assert parse_scores(
        CRITERIA, {"excellence": "0", "impact": D("5.0"), "implementation": 0.5}
    ) == (scores("0", "5", "0.5"))


def test_parse_scores_normalises_negative_zero() -> None:
    parsed = parse_scores(CRITERIA, {"excellence": "-0", "impact": "1", "implementation": "1"})
    assert str(parsed["excellence"]) == "0.0"


def test_parse_scores_reports_every_bad_field_at_once() -> None:
    with pytest.raises(ScoreError) as info:
        parse_scores(CRITERIA, {"excellence": "3.3", "impact": "", "implementation": "6"})
    assert info.value.errors == {
        "excellence": "Excellence must be in half points (e.g. 3 or 3.5), not 3.3",
        "impact": "Impact needs a score",
        "implementation": "Implementation must be between 0 and 5.",
    }
    assert isinstance(info.value, ValueError)
    assert "Impact needs a score" in str(info.value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "Excellence needs a score"),
        ("   ", "Excellence needs a score"),
        ("four", "Excellence must be written with digits, like 3 or 3.5."),
        ("NaN", "Excellence must be written with digits, like 3 or 3.5."),
        ("Infinity", "Excellence must be written with digits, like 3 or 3.5."),
        (True, "Excellence must be written with digits, like 3 or 3.5."),
        ([4], "Excellence must be written with digits, like 3 or 3.5."),
        ("-0.5", "Excellence must be between 0 and 5."),
        ("5.5", "Excellence must be between 0 and 5."),
        (
            "1e309",
            "Excellence must be written in full, like 3 or 3.5: exponents such as 1e3 are not "
            "accepted.",
        ),
        ("9" * 60, "Excellence must be between 0 and 5."),
        (
            "4,500",
            "“4,500” could mean 4500 or 4,5: write 4500 or 4 500 for the first, 4,5 for the "
            "second.",
        ),
        ("4.25", "Excellence must be in half points (e.g. 3 or 3.5), not 4.25"),
        (3.3, "Excellence must be in half points (e.g. 3 or 3.5), not 3.3"),
    ],
)
def test_parse_scores_refuses(value: object, message: str) -> None:
    with pytest.raises(ScoreError) as info:
        parse_scores(CRITERIA, {"excellence": value, "impact": "3", "implementation": "3"})
    assert info.value.errors == {"excellence": message}


def test_parse_scores_missing_key_is_required() -> None:
    with pytest.raises(ScoreError) as info:
        parse_scores(CRITERIA, {})
    assert set(info.value.errors) == {"excellence", "impact", "implementation"}


def test_parse_scores_respects_a_criterion_max() -> None:
    criteria = [Criterion("a", "A", max=D(10), threshold=D(5))]
    assert parse_scores(criteria, {"a": "9.5"}) == {"a": D("9.5")}
    with pytest.raises(ScoreError, match="A must be between 0 and 10"):
        parse_scores(criteria, {"a": "10.5"})


# --- totals and thresholds ---------------------------------------------------------------


def test_total_is_the_plain_sum() -> None:
    assert total(scores("4.5", "3", "2.5")) == D(10)
    assert total({}) == D(0)


def test_weighted_total_uses_weights() -> None:
    criteria = criteria_from_config(
        [
            {"key": "excellence", "name": "Excellence", "weight": "2"},
            {"key": "impact", "name": "Impact", "weight": "1.5"},
            {"key": "implementation", "name": "Implementation", "weight": "0"},
        ]
    )
    assert weighted_total(criteria, scores("4", "3", "5")) == D("12.5")
    assert weighted_total(CRITERIA, scores("4", "3", "5")) == D(12)


def test_weighted_total_needs_every_score() -> None:
    with pytest.raises(ValueError, match="no score for Implementation"):
        weighted_total(CRITERIA, {"excellence": D(4), "impact": D(4)})


def test_passes_thresholds_at_exactly_the_thresholds() -> None:
    assert passes_thresholds(CRITERIA, scores("3", "3", "4"), D(10)) == (True, [])


def test_passes_thresholds_reports_criterion_and_total() -> None:
    ok, reasons = passes_thresholds(CRITERIA, scores("4", "2.5", "3"), D(10))
    assert not ok
    assert reasons == [
        "Impact 2.5 is below the threshold 3",
        "total 9.5 is below the threshold 10",
    ]


def test_passes_thresholds_total_only() -> None:
    ok, reasons = passes_thresholds(CRITERIA, scores("3", "3", "3"), D(10))
    assert (ok, reasons) == (False, ["total 9 is below the threshold 10"])


def test_passes_thresholds_ignores_weights() -> None:
    heavy = [Criterion("excellence", "Excellence", weight=D(3)), Criterion("impact", "Impact")]
    ok, reasons = passes_thresholds(heavy, {"excellence": D(4), "impact": D(4)}, D(10))
    assert not ok
    assert reasons == ["total 8 is below the threshold 10"]


def test_passes_thresholds_missing_score_fails() -> None:
    ok, reasons = passes_thresholds(CRITERIA, {"excellence": D(5), "impact": D(5)}, D(10))
    assert not ok
    assert reasons == ["Implementation has no score"]


# --- divergence and consensus ------------------------------------------------------------


def test_divergences_flags_at_the_limit_and_above() -> None:
    flags = divergences(CRITERIA, [scores("2", "4", "3"), scores("4.5", "2", "4.5")])
    assert flags == [
        "Excellence: experts differ by 2.5 points",
        "Impact: experts differ by 2 points",
    ]


def test_divergences_below_limit_and_single_expert() -> None:
    assert divergences(CRITERIA, [scores("3", "3", "3"), scores("4.5", "4.5", "4.5")]) == []
    assert divergences(CRITERIA, [scores("0", "0", "0")]) == []
    assert divergences(CRITERIA, []) == []


def test_divergences_uses_max_minus_min_across_all_experts() -> None:
    flags = divergences(
        CRITERIA, [scores("3", "3", "3"), scores("4", "3", "3"), scores("1", "3", "3")]
    )
    assert flags == ["Excellence: experts differ by 3 points"]


def test_divergences_custom_limit() -> None:
    assert divergences(CRITERIA, [scores("3", "3", "3"), scores("4", "3", "3")], D(1)) == [
        "Excellence: experts differ by 1 point"
    ]


def test_mean_scores_rounds_down_to_half_points() -> None:
    mean = mean_scores(CRITERIA, [scores("3", "4", "5"), scores("4", "4.5", "5")])
    # 3.5 exact; 4.25 -> 4; 5 exact
    assert mean == {"excellence": D("3.5"), "impact": D(4), "implementation": D(5)}


def test_mean_scores_three_experts() -> None:
    mean = mean_scores(
        CRITERIA, [scores("3", "3", "0"), scores("3.5", "4", "0"), scores("3.5", "5", "0.5")]
    )
    # 10/3 = 3.33 -> 3; 12/3 = 4; 0.5/3 -> 0
    assert mean == {"excellence": D(3), "impact": D(4), "implementation": D(0)}


def test_mean_scores_skips_unscored_criteria() -> None:
    assert mean_scores(CRITERIA, [{"excellence": D(4)}]) == {"excellence": D(4)}
    assert mean_scores(CRITERIA, []) == {}


def test_plain_formats_without_trailing_zeros() -> None:
    assert [plain(D(v)) for v in ("10.0", "2.50", "3", "0.0", "-0")] == ["10", "2.5", "3", "0", "0"]
