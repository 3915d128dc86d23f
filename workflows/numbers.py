"""Numbers typed by people: one parser per kind (money, percent, score, whole number, decimal).

Every place that reads a number a person typed uses these, so "7.500,00" means the same on
the organisation profile, the application form, the final report and the evaluation form.

What is accepted is what a European user types when it can only mean one thing:

- digits with at most one decimal mark, a point or a comma: ``7500``, ``7500.5``, ``7500,50``;
- thousands grouped by three with a space (also U+00A0 and U+202F, as word processors and
  spreadsheets paste them), an apostrophe (Swiss style), a point or a comma, the decimal mark
  then being the other one: ``7 500,00``, ``7.500,00``, ``7,500.00``, ``1'234.50``;
- a leading minus only where the kind allows negative values; surrounding whitespace;
  ``EUR``/``€`` before or after an amount, ``%`` after a percentage.

Refused, with a message saying how to write it, because the value would have to be guessed:
a single point or comma followed by exactly three digits (``7,500``: 7500 in Rome, 7.5 in
Dublin), separators that do not group by three or mix kinds (``7.50.0``, ``1,23,456.00``),
exponents (``1e3``), ``NaN``/``Infinity``, hexadecimal, underscores, digits other than
0-9, more decimals than the kind allows (``12.345`` is never rounded to 12.35) and values
outside the kind's range. Ranges are bounded so the database column never overflows.

The text is checked (length, characters, grouping, digit counts) before a ``Decimal`` is
built, so a 10,000-digit string or ``1e309`` costs nothing and never raises anything but
``NumberRefused``. Floats are never used for arithmetic: a float handed in by an API client
or a YAML file is read through its shortest ``repr``, which is exact.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, localcontext

from workflows.i18n import _
from workflows.money import format_eur

__all__ = [
    "DECIMAL_MAX",
    "MAX_TEXT",
    "MONEY_MAX",
    "NumberRefused",
    "parse_decimal",
    "parse_integer",
    "parse_money",
    "parse_percent",
    "parse_score",
    "plain",
]

# Longer than any honest figure ("EUR 1.234.567.890,12" is 20): checked before anything else.
MAX_TEXT = 64
# NUMERIC(12, 2), the type of every amount column (grants.db.Money).
MONEY_MAX = Decimal("9999999999.99")
# Bounds of the plain decimals nobody configured a range for: within NUMERIC(15, 2).
DECIMAL_MAX = Decimal("9999999999999.99")

_DIGITS = frozenset("0123456789")
_SPACES = frozenset(" \u00a0\u2009\u202f")  # space, no-break, thin, narrow no-break
_APOSTROPHES = frozenset("'\u2019")
_MARKS = frozenset(".,")
_MINUS = frozenset("-\u2212")  # hyphen-minus, and the minus sign word processors insert
_EXPONENT = re.compile(r"[0-9][0-9.,]*[eE][+-]?[0-9]+")
_CURRENCY_BEFORE = re.compile(r"(?:EUR|€)\s*", re.IGNORECASE)
_CURRENCY_AFTER = re.compile(r"\s*(?:EUR|€)$", re.IGNORECASE)
_PERCENT_AFTER = re.compile(r"\s*%$")
_FIRST_GROUP = re.compile(r"[1-9][0-9]{0,2}")  # what may stand before the first thousands mark


class NumberRefused(ValueError):
    """A typed number that cannot be taken as it is; ``message`` says how to write it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def plain(value: Decimal) -> str:
    """12, 9.5, 33.33: a number as a person writes it (no exponent, no trailing zeros)."""
    return format(value.normalize(), "f") if value else "0"  # also "0" for -0 and 0.00


@dataclass(frozen=True)
class _Kind:
    """How one kind of number is read and talked about."""

    subject: str  # starts the messages: "The amount", or the field's label
    example: str  # how to write one: "7500 or 7 500,00"
    decimals: int
    minimum: Decimal | None  # None: no lower bound but -maximum
    maximum: Decimal
    show: Callable[[Decimal], str] = plain  # a bound as messages give it
    currency: bool = False
    percent: bool = False
    scale: bool = False  # a scale from minimum to maximum: refusals name both ends

    @property
    def lowest(self) -> Decimal:
        return -self.maximum if self.minimum is None else self.minimum

    @property
    def integer_digits(self) -> int:
        """Digits before the decimal mark the largest allowed value has."""
        return len(str(int(max(abs(self.lowest), abs(self.maximum)))))

    def unreadable(self) -> NumberRefused:
        return NumberRefused(
            _(
                "%(subject)s must be written with digits, like %(example)s.",
                subject=self.subject,
                example=self.example,
            )
        )


def _show_percent(value: Decimal) -> str:
    return f"{plain(value)}%"


def _subject(field_label: str | None, default: str) -> str:
    """What the messages start with: the caller's words for the field, as given."""
    return field_label or default


# -- the parsers, one per kind ---------------------------------------------------------------
def parse_money(
    value: object,
    *,
    field_label: str | None = None,
    minimum: Decimal = Decimal(0),
    maximum: Decimal = MONEY_MAX,
) -> Decimal:
    """An amount in euro with exactly two decimals (``Decimal("7500.00")``).

    At most two decimals may be typed: a third is refused, never rounded. ``EUR`` or ``€``
    may stand before or after the amount. The default maximum fits NUMERIC(12, 2).
    """
    subject = _subject(field_label, _("The amount"))
    example = _("7500, 7500,00 or 7 500,00")
    kind = _Kind(subject, example, 2, minimum, maximum, format_eur, currency=True)
    return _parse(value, kind).quantize(Decimal("0.01"))


def parse_percent(
    value: object,
    *,
    field_label: str | None = None,
    minimum: Decimal = Decimal(0),
    maximum: Decimal = Decimal(100),
    decimals: int = 2,
) -> Decimal:
    """A percentage, 0 to 100 unless told otherwise, with at most ``decimals`` decimals;
    a ``%`` after it is allowed."""
    subject = _subject(field_label, _("The percentage"))
    example = _("30 or 33,33")
    kind = _Kind(subject, example, decimals, minimum, maximum, _show_percent, percent=True)
    return _parse(value, kind)


def parse_score(value: object, *, maximum: Decimal, field_label: str | None = None) -> Decimal:
    """A score from 0 to ``maximum`` with at most two decimals.

    The scale's own rule (half points) belongs to ``workflows.scoring``, which applies it.
    """
    subject = _subject(field_label, _("The score"))
    kind = _Kind(subject, _("3 or 3.5"), 2, Decimal(0), maximum, scale=True)
    return _parse(value, kind)


def parse_integer(
    value: object,
    *,
    field_label: str | None = None,
    minimum: int | None = 0,
    maximum: int = 10**9,
) -> int:
    """A whole number; thousands may be grouped (``12 000``), decimals are refused."""
    low = None if minimum is None else Decimal(minimum)
    subject = _subject(field_label, _("The number"))
    kind = _Kind(subject, _("12 or 12 000"), 0, low, Decimal(maximum))
    return int(_parse(value, kind))


def parse_decimal(
    value: object,
    *,
    field_label: str | None = None,
    minimum: Decimal | None = Decimal(0),
    maximum: Decimal = DECIMAL_MAX,
    decimals: int = 2,
) -> Decimal:
    """A number with at most ``decimals`` decimals (staff in annual work units: ``9,5``).

    ``minimum=None`` allows negative values down to ``-maximum``.
    """
    subject = _subject(field_label, _("The number"))
    kind = _Kind(subject, _("12 or 9,5"), decimals, minimum, maximum)
    return _parse(value, kind)


# -- the one reading behind them -------------------------------------------------------------
def _parse(value: object, kind: _Kind) -> Decimal:
    if isinstance(value, bool):
        raise kind.unreadable()
    if isinstance(value, int):
        if abs(value) >= 10**kind.integer_digits:  # before Decimal(): ints can be any size
            raise _out_of_range(kind, below=value < 0)
        found = Decimal(value)
    elif isinstance(value, float):
        # repr is the shortest text giving this float back: exact, and at most ~24 characters.
        found = _from_decimal(Decimal(repr(value)), kind)
    elif isinstance(value, Decimal):
        found = _from_decimal(value, kind)
    elif isinstance(value, str):
        found = _from_text(value, kind)
    else:
        raise kind.unreadable()
    if found < kind.lowest:
        raise _out_of_range(kind, below=True)
    if found > kind.maximum:
        raise _out_of_range(kind, below=False)
    return found


def _from_decimal(value: Decimal, kind: _Kind) -> Decimal:
    if not value.is_finite():
        raise kind.unreadable()
    if value.is_zero():
        return Decimal(0)
    if value.adjusted() >= kind.integer_digits:  # the exponent alone says it is too large
        raise _out_of_range(kind, below=value < 0)
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    if exponent >= -kind.decimals:
        return value
    if exponent < -MAX_TEXT:
        raise _too_many_decimals(plain(value), kind)
    # 7500.000 is 7500.00 exactly; 7500.005 is not, and is not rounded. The coefficient is
    # bounded above (integer digits) and below (MAX_TEXT decimals): this precision suffices.
    with localcontext(prec=kind.integer_digits + MAX_TEXT + 2):
        exact = value.quantize(Decimal(1).scaleb(-kind.decimals))
    if exact != value:
        raise _too_many_decimals(plain(value), kind)
    return exact


def _from_text(raw: str, kind: _Kind) -> Decimal:
    if len(raw) > MAX_TEXT:
        raise NumberRefused(
            _(
                "%(subject)s is too long to be a number: write it with digits, like %(example)s.",
                subject=kind.subject,
                example=kind.example,
            )
        )
    typed = raw.strip()
    if not typed:
        raise NumberRefused(
            _(
                "Enter %(subject)s, like %(example)s.",
                subject=kind.subject.lower(),
                example=kind.example,
            )
        )
    body = typed
    if kind.currency:
        before = _CURRENCY_BEFORE.match(body)
        body = body[before.end() :] if before else _CURRENCY_AFTER.sub("", body)
    if kind.percent:
        body = _PERCENT_AFTER.sub("", body)
    negative = body[:1] in _MINUS
    if negative:
        body = body[1:]
    if _EXPONENT.fullmatch(body):
        raise NumberRefused(
            _(
                "%(subject)s must be written in full, like %(example)s: "
                "exponents such as 1e3 are not accepted.",
                subject=kind.subject,
                example=kind.example,
            )
        )
    runs, separators = _split(body, kind)
    integer, fraction = _integer_and_fraction(typed, runs, separators, kind)
    if len(integer.lstrip("0")) > kind.integer_digits:
        raise _out_of_range(kind, below=negative)
    if len(fraction) > kind.decimals:
        raise _too_many_decimals(typed, kind)
    # Only ASCII digits, at most MAX_TEXT of them: building the Decimal is cheap and exact.
    value = Decimal(("-" if negative else "") + integer + ("." + fraction if fraction else ""))
    return Decimal(0) if value.is_zero() else value


def _split(body: str, kind: _Kind) -> tuple[list[str], list[str]]:
    """The runs of digits and the separators between them; any other character is refused."""
    runs: list[str] = []
    separators: list[str] = []
    start = 0
    for index, char in enumerate(body):
        if char in _DIGITS:
            continue
        if char in _SPACES:
            separators.append(" ")
        elif char in _APOSTROPHES:
            separators.append("'")
        elif char in _MARKS:
            separators.append(char)
        else:  # letters (NaN, 0x1F), underscores, signs inside, digits other than 0-9
            raise kind.unreadable()
        runs.append(body[start:index])
        start = index + 1
    runs.append(body[start:])
    if not runs[0] and not separators:
        raise kind.unreadable()
    return runs, separators


def _integer_and_fraction(
    typed: str, runs: list[str], separators: list[str], kind: _Kind
) -> tuple[str, str]:
    """Which separator is the decimal mark, if any, and whether the others group thousands."""
    if not separators:
        return runs[0], ""
    if any(not run for run in runs):  # ".5", "7500.", "7..5", "7 ,5"
        raise _badly_grouped(typed, kind)
    marks = [s for s in separators if s in _MARKS]
    if len(marks) == 1 and len(separators) == 1:
        integer, fraction = runs
        # One mark and three digits: 7,500 is 7500 in Rome and 7.5 in Dublin. 0,500 and
        # 1234,500 cannot be thousands (a group starts with 1-9; at most three digits lead).
        if len(fraction) == 3 and _FIRST_GROUP.fullmatch(integer):
            raise _ambiguous(typed, integer, fraction, marks[0], kind)
        return integer, fraction
    if len(set(marks)) == 2 or len(marks) == 1:
        # 7.500,00 / 7,500.00: the last mark is the decimal one; 7 500,00: spaces group, so
        # the only mark is. Either way it comes once, after every thousands separator.
        decimal = marks[-1]
        if separators.count(decimal) != 1 or separators[-1] != decimal:
            raise _badly_grouped(typed, kind)
        groups, fraction, thousands = runs[:-1], runs[-1], separators[:-1]
    else:  # 1.234.567, 1 234 567: a mark that comes twice cannot be the decimal one
        groups, fraction, thousands = runs, "", separators
    if len(set(thousands)) != 1 or not _grouped_by_three(groups):
        raise _badly_grouped(typed, kind)
    return "".join(groups), fraction


def _grouped_by_three(groups: list[str]) -> bool:
    return bool(_FIRST_GROUP.fullmatch(groups[0])) and all(len(g) == 3 for g in groups[1:])


# -- what is said when a number is refused ---------------------------------------------------
def _out_of_range(kind: _Kind, *, below: bool) -> NumberRefused:
    if kind.scale:
        low, high = kind.show(kind.lowest), kind.show(kind.maximum)
        return NumberRefused(
            _(
                "%(subject)s must be between %(low)s and %(high)s.",
                subject=kind.subject,
                low=low,
                high=high,
            )
        )
    if not below:
        return NumberRefused(
            _(
                "%(subject)s cannot be more than %(maximum)s.",
                subject=kind.subject,
                maximum=kind.show(kind.maximum),
            )
        )
    if kind.lowest == 0:
        return NumberRefused(_("%(subject)s cannot be negative.", subject=kind.subject))
    return NumberRefused(
        _(
            "%(subject)s must be at least %(minimum)s.",
            subject=kind.subject,
            minimum=kind.show(kind.lowest),
        )
    )


def _too_many_decimals(typed: str, kind: _Kind) -> NumberRefused:
    if kind.decimals == 0:
        return NumberRefused(
            _(
                "%(subject)s must be a whole number, like %(example)s.",
                subject=kind.subject,
                example=kind.example,
            )
        )
    if kind.currency:
        return NumberRefused(
            _(
                "%(subject)s can have at most %(decimals)s decimals (cents); “%(typed)s” is not "
                "rounded: write the value you mean with fewer decimals.",
                subject=kind.subject,
                decimals=kind.decimals,
                typed=typed,
            )
        )
    return NumberRefused(
        _(
            "%(subject)s can have at most %(decimals)s decimals; “%(typed)s” is not "
            "rounded: write the value you mean with fewer decimals.",
            subject=kind.subject,
            decimals=kind.decimals,
            typed=typed,
        )
    )


def _badly_grouped(typed: str, kind: _Kind) -> NumberRefused:
    return NumberRefused(
        _(
            "“%(typed)s” cannot be read for sure: group thousands by three with one kind of "
            "separator and put the decimals after a single comma or point, like %(example)s.",
            typed=typed,
            example=kind.example,
        )
    )


def _ambiguous(typed: str, integer: str, fraction: str, mark: str, kind: _Kind) -> NumberRefused:
    whole = f"{integer}{fraction}"
    thousands = _("%(whole)s or %(spaced)s", whole=whole, spaced=f"{integer} {fraction}")
    short = fraction.rstrip("0")
    if len(short) > kind.decimals:  # 12.345 as an amount: only the thousands reading fits
        allowed = (
            _("at most %(decimals)s decimals are allowed here", decimals=kind.decimals)
            if kind.decimals
            else _("a whole number is needed here")
        )
        return NumberRefused(
            _(
                "“%(typed)s” could mean %(whole)s or %(marked)s: "
                "write %(thousands)s if you mean %(whole)s (%(allowed)s).",
                typed=typed,
                whole=whole,
                marked=f"{integer}{mark}{fraction}",
                thousands=thousands,
                allowed=allowed,
            )
        )
    if kind.currency:
        small = f"{integer}{mark}{short.ljust(2, '0')}"
    else:
        small = f"{integer}{mark}{short}" if short else integer
    return NumberRefused(
        _(
            "“%(typed)s” could mean %(whole)s or %(small)s: write %(thousands)s for the "
            "first, %(small)s for the second.",
            typed=typed,
            whole=whole,
            small=small,
            thousands=thousands,
        )
    )


# Row ids fit PostgreSQL's integer column; a longer or non-ASCII "number" is not an id.
_MAX_ID = 2**31 - 1


def parse_id(value: object) -> int:
    """A row id sent back by a page (a chosen option, a version): plain ASCII digits only."""
    text = value.strip() if isinstance(value, str) else ""
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or int(text) > _MAX_ID:
        raise NumberRefused(_("choose an option from the list"))
    return int(text)
