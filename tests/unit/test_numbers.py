"""Typed numbers: what each kind accepts, what it refuses and what it says."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from workflows.numbers import (
    MAX_TEXT,
    MONEY_MAX,
    NumberRefused,
    parse_decimal,
    parse_integer,
    parse_money,
    parse_percent,
    parse_score,
    plain,
)

D = Decimal
NBSP, NNBSP = "\u00a0", "\u202f"


# -- money: accepted ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("7500", "7500.00"),
        ("7500.00", "7500.00"),
        ("7500,00", "7500.00"),
        ("7500.5", "7500.50"),
        ("7500,5", "7500.50"),
        ("7 500", "7500.00"),
        (f"7{NBSP}500", "7500.00"),
        (f"7{NNBSP}500,00", "7500.00"),
        ("7.500,00", "7500.00"),
        ("7,500.00", "7500.00"),
        ("7'500.00", "7500.00"),
        ("1.234.567,89", "1234567.89"),
        ("1,234,567.89", "1234567.89"),
        ("1 234 567,89", "1234567.89"),
        ("1.234.567", "1234567.00"),  # a mark that comes twice can only group thousands
        ("1,234,567", "1234567.00"),
        ("  7500 \n", "7500.00"),
        ("EUR 7500", "7500.00"),
        ("eur7.500,00", "7500.00"),
        ("€ 7 500", "7500.00"),
        ("7500 €", "7500.00"),
        ("7500EUR", "7500.00"),
        ("0,500".replace("500", "50"), "0.50"),
        ("0", "0.00"),
        ("-0", "0.00"),
        ("0.01", "0.01"),
        ("007500", "7500.00"),
        ("9999999999.99", "9999999999.99"),
    ],
)
def test_money_accepts_what_can_only_mean_one_amount(typed: str, amount: str) -> None:
    value = parse_money(typed)
    assert value == D(amount)
    assert str(value) == amount  # always two decimals: what NUMERIC(12, 2) stores


@pytest.mark.parametrize(
    ("given_", "amount"),
    [(7500, "7500.00"), (D("7500.5"), "7500.50"), (D("7500.000"), "7500.00"), (2.5, "2.50")],
)
def test_money_accepts_numbers_handed_in_by_code(given_: object, amount: str) -> None:
    assert str(parse_money(given_)) == amount


# -- money: refused, with a message saying how to write it ---------------------------------------
@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (
            "7,500",
            "“7,500” could mean 7500 or 7,50: write 7500 or 7 500 for the first, 7,50 for "
            "the second.",
        ),
        (
            "7.500",
            "“7.500” could mean 7500 or 7.50: write 7500 or 7 500 for the first, 7.50 for "
            "the second.",
        ),
        (
            "12.345",
            "“12.345” could mean 12345 or 12.345: write 12345 or 12 345 if you mean 12345 "
            "(at most 2 decimals are allowed here).",
        ),
        (
            "0.001",
            "The amount can have at most 2 decimals (cents); “0.001” is not rounded: write "
            "the value you mean with fewer decimals.",
        ),
        (
            "1234,567",
            "The amount can have at most 2 decimals (cents); “1234,567” is not rounded: write "
            "the value you mean with fewer decimals.",
        ),
        (
            "7.50.0",
            "“7.50.0” cannot be read for sure: group thousands by three with one kind of "
            "separator and put the decimals after a single comma or point, like 7500, "
            "7500,00 or 7 500,00.",
        ),
        ("1,23,456.00", "cannot be read for sure"),
        ("1 234.567,89", "cannot be read for sure"),  # two kinds of thousands separators
        ("1.234,567.89", "cannot be read for sure"),
        ("12,345 67", "cannot be read for sure"),
        ("1,2345", "at most 2 decimals"),
        ("0 500", "cannot be read for sure"),
        ("7500.", "cannot be read for sure"),
        (".5", "cannot be read for sure"),
        ("7..5", "cannot be read for sure"),
        ("7  500", "cannot be read for sure"),
        ("- 5", "cannot be read for sure"),
        (
            "1e3",
            "The amount must be written in full, like 7500, 7500,00 or 7 500,00: exponents "
            "such as 1e3 are not accepted.",
        ),
        ("1e309", "exponents such as 1e3 are not accepted"),
        ("1.5E-2", "exponents such as 1e3 are not accepted"),
        ("NaN", "The amount must be written with digits, like 7500, 7500,00 or 7 500,00."),
        ("nan", "must be written with digits"),
        ("Infinity", "must be written with digits"),
        ("-inf", "must be written with digits"),
        ("0x1F", "must be written with digits"),
        ("1_000", "must be written with digits"),
        ("\u0667\u0665\u0660\u0660", "must be written with digits"),  # Decimal() takes these
        ("\uff17\uff15\uff10\uff10", "must be written with digits"),  # full-width digits
        ("7500 USD", "must be written with digits"),
        ("EUR 7500 €", "must be written with digits"),
        ("+7500", "must be written with digits"),
        ("EUR", "must be written with digits"),
        ("-", "must be written with digits"),
        ("", "Enter the amount, like 7500, 7500,00 or 7 500,00."),
        ("   ", "Enter the amount"),
        ("-5", "The amount cannot be negative."),
        ("\u22125", "The amount cannot be negative."),
        ("10000000000", "The amount cannot be more than EUR 9,999,999,999.99."),
        ("9" * 60, "The amount cannot be more than EUR 9,999,999,999.99."),
        ("9" * (MAX_TEXT + 1), "The amount is too long to be a number"),
        ("1" * 10_000, "The amount is too long to be a number"),
    ],
)
def test_money_refuses_what_would_have_to_be_guessed(typed: str, message: str) -> None:
    with pytest.raises(NumberRefused) as refused:
        parse_money(typed)
    assert message in refused.value.message
    assert str(refused.value) == refused.value.message
    assert isinstance(refused.value, ValueError)  # callers that collect ValueErrors keep working


@pytest.mark.parametrize(
    ("given_", "message"),
    [
        (True, "must be written with digits"),
        (None, "must be written with digits"),
        ([7500], "must be written with digits"),
        (D("NaN"), "must be written with digits"),
        (D("sNaN"), "must be written with digits"),
        (D("Infinity"), "must be written with digits"),
        (float("nan"), "must be written with digits"),
        (float("inf"), "must be written with digits"),
        (D("1e309"), "cannot be more than"),
        (D("1E+999999999"), "cannot be more than"),
        (10**10_000, "cannot be more than"),
        (-(10**10_000), "cannot be negative"),
        (1e300, "cannot be more than"),
        (D("7500.005"), "at most 2 decimals"),
        (D("1E-999999999"), "at most 2 decimals"),
        (1e-300, "at most 2 decimals"),
        (-5, "cannot be negative"),
    ],
    # str() of a 10,000-digit int is itself refused by Python: name such ints by their size.
    ids=lambda v: f"int of {v.bit_length()} bits" if isinstance(v, int) else None,
)
def test_money_refuses_numbers_handed_in_by_code(given_: object, message: str) -> None:
    with pytest.raises(NumberRefused, match=message):
        parse_money(given_)


def test_money_bounds_are_the_callers() -> None:
    assert parse_money("0,01", minimum=D("0.01")) == D("0.01")
    with pytest.raises(NumberRefused, match=r"must be at least EUR 0\.01"):
        parse_money("0", minimum=D("0.01"))
    with pytest.raises(NumberRefused, match=r"cannot be more than EUR 999,999,999,999\.99"):
        parse_money("1.000.000.000.000", maximum=D("999999999999.99"))
    assert parse_money("999.999.999.999,99", maximum=D("999999999999.99")) == D("999999999999.99")


def test_the_field_label_starts_the_message() -> None:
    with pytest.raises(NumberRefused, match=r"^The approved costs cannot be negative\.$"):
        parse_money("-1", field_label="The approved costs")


def test_huge_text_is_refused_before_any_decimal_is_built() -> None:
    started = time.perf_counter()
    for typed in ("9" * 10_000_000, "1e" + "9" * 1_000_000, " " * 1_000_000 + "1"):
        with pytest.raises(NumberRefused, match="too long"):
            parse_money(typed)
    assert time.perf_counter() - started < 1


# -- the other kinds ------------------------------------------------------------------------------
def test_percent() -> None:
    assert parse_percent("30") == D(30)
    assert parse_percent("33,33") == D("33.33")
    assert parse_percent("33.33 %") == D("33.33")
    assert parse_percent("100%") == D(100)
    for typed, message in [
        ("101", "The percentage cannot be more than 100%."),
        ("-1", "The percentage cannot be negative."),
        ("33,333", "could mean 33333 or 33,333"),
        ("12,5000", "at most 2 decimals"),
        ("€30", "must be written with digits"),
        ("30%%", "must be written with digits"),
    ]:
        with pytest.raises(NumberRefused) as refused:
            parse_percent(typed)
        assert message in refused.value.message
    assert parse_percent("50", minimum=D(25), maximum=D(50)) == D(50)


def test_score_is_read_on_its_scale() -> None:
    assert parse_score("3,5", maximum=D(5)) == D("3.5")
    assert parse_score(D("5.0"), maximum=D(5)) == D(5)
    assert parse_score("4.25", maximum=D(5)) == D("4.25")  # the half-point rule is scoring's
    for typed in ("5.5", "-0.5", "9" * 60):
        with pytest.raises(NumberRefused, match=r"^Impact must be between 0 and 5\.$"):
            parse_score(typed, maximum=D(5), field_label="Impact")
    with pytest.raises(NumberRefused, match="could mean 4500 or 4,5"):
        parse_score("4,500", maximum=D(5))


def test_integer() -> None:
    assert parse_integer("12") == 12
    assert parse_integer("12 000") == 12000
    assert parse_integer(" 1.000.000 ") == 1_000_000
    assert parse_integer("-3", minimum=None) == -3
    assert isinstance(parse_integer("7"), int)
    for typed, message in [
        ("12.5", "The number must be a whole number, like 12 or 12 000."),
        ("12,0", "must be a whole number"),
        ("1.000", "“1.000” could mean 1000 or 1: write 1000 or 1 000 for the first, 1 for"),
        ("1.500", "a whole number is needed here"),
        ("-3", "The number cannot be negative."),
        ("0", "The number must be at least 1."),
        ("1000000001", "The number cannot be more than 1000000000."),
    ]:
        with pytest.raises(NumberRefused) as refused:
            parse_integer(typed, minimum=1 if typed == "0" else 0)
        assert message in refused.value.message


def test_decimal() -> None:
    assert parse_decimal("9,5") == D("9.5")
    assert parse_decimal("12") == D(12)
    assert str(parse_decimal("12")) == "12"  # as typed: no decimals invented
    assert parse_decimal("-2,5", minimum=None) == D("-2.5")
    assert parse_decimal("1 234,5", decimals=1) == D("1234.5")
    with pytest.raises(NumberRefused, match="at most 1 decimals"):
        parse_decimal("1,25", decimals=1)
    with pytest.raises(NumberRefused, match="must be at least -100"):
        parse_decimal("-101", minimum=None, maximum=D(100))
    with pytest.raises(NumberRefused, match=r"^The headcount cannot be negative\.$"):
        parse_decimal("-1", field_label="The headcount")


def test_plain() -> None:
    assert [plain(D(v)) for v in ("12.00", "9.50", "100", "-0", "0.00", "1E+2")] == [
        "12",
        "9.5",
        "100",
        "0",
        "0",
        "100",
    ]


# -- properties ---------------------------------------------------------------------------------
amounts = st.decimals(min_value=0, max_value=MONEY_MAX, places=2, allow_nan=False)


def _grouped(digits: str, separator: str) -> str:
    head = len(digits) % 3 or 3
    groups = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return separator.join(groups)


def _styles(amount: Decimal) -> list[str]:
    """The ways a person writes ``amount``: every one is unambiguous."""
    whole, _, cents = f"{amount:.2f}".partition(".")
    return [
        f"{whole}.{cents}",
        f"{whole},{cents}",
        f"{_grouped(whole, ' ')},{cents}",
        f"{_grouped(whole, NBSP)},{cents}",
        f"{_grouped(whole, NNBSP)}.{cents}",
        f"{_grouped(whole, '.')},{cents}",
        f"{_grouped(whole, ',')}.{cents}",
        _grouped(whole, "'") + f".{cents}",
        f"EUR {_grouped(whole, '.')},{cents}",
        f"{whole},{cents} €",
        f"  {whole}.{cents}\t",
        whole if cents == "00" else f"{whole}.{cents}",
    ]


@given(amounts)
@example(D("7500.00"))
@example(D("1234567.89"))
@example(D("0.01"))
@example(MONEY_MAX)
def test_every_way_of_writing_an_amount_gives_it_back_exactly(amount: Decimal) -> None:
    for typed in _styles(amount):
        assert parse_money(typed) == amount, typed


@given(st.decimals(min_value=-(10**12), max_value=10**12, places=2, allow_nan=False))
def test_decimals_round_trip_through_plain(value: Decimal) -> None:
    assert parse_decimal(plain(value), minimum=None) == value


PARSERS: list[Callable[[str], object]] = [
    parse_money,
    parse_percent,
    lambda text: parse_score(text, maximum=D(10)),
    parse_integer,
    parse_decimal,
]
NUMBERISH = st.text(alphabet="0123456789.,' -\u00a0\u202f\u2212eE€EURnaif%x_+", max_size=20)


@settings(max_examples=300)
@given(st.one_of(st.text(), NUMBERISH), st.sampled_from(PARSERS))
def test_any_text_is_read_or_refused_never_crashes(
    text: str, parse: Callable[[str], object]
) -> None:
    try:
        parse(text)
    except NumberRefused as refused:
        assert refused.message


@settings(max_examples=300)
@given(NUMBERISH)
def test_an_accepted_amount_never_has_more_than_two_decimals(text: str) -> None:
    try:
        value = parse_money(text)
    except NumberRefused:
        return
    assert value.as_tuple().exponent == -2
    assert D(0) <= value <= MONEY_MAX


@given(st.integers(min_value=1, max_value=999), st.integers(min_value=0, max_value=999))
def test_one_mark_before_three_digits_is_always_refused(whole: int, part: int) -> None:
    for mark in ",.":
        with pytest.raises(NumberRefused, match="could mean"):
            parse_money(f"{whole}{mark}{part:03d}")
