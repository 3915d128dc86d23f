"""Check and clean the answers given to a call-defined form.

Accepted input per field type (answers come as strings from an HTML form, or as JSON values
from the API or from a saved draft):

- ``text``: one line, at most ``TEXT_MAX_CHARS`` characters after trimming.
- ``long_text``: at most ``LONG_TEXT_MAX_CHARS`` characters and ``max_words`` words
  (see ``word_count``); line endings are normalised to ``\\n``.
- ``number``: an optional minus sign, digits, and optionally a decimal part written with a
  dot (``2.5``) or a comma followed by one or two digits (``2,5``). No thousands separators:
  ``1,000`` is refused rather than read as 1 or 1000.
- ``money``: EUR, digits with optionally one or two decimals after a dot or a comma, nothing
  else: ``8000``, ``8000.5``, ``8000.50`` and ``8000,50`` are accepted; ``8,000``,
  ``8.000,50``, ``8 000``, ``€8000``, ``-5`` and ``8000.505`` are refused.
- ``date``: ``YYYY-MM-DD`` (or a ``datetime.date``).
- ``choice``: exactly one of the options.
- ``yes_no``: ``True``/``False`` or, case-insensitively, ``yes``/``no``, ``true``/``false``,
  ``on`` (what a ticked HTML checkbox sends), ``1``/``0``; empty means not ticked.

``validate`` never requires completeness (a draft may be saved half-filled) unless asked with
``complete=True``; ``missing_required`` lists what must still be filled in before submission.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal

from forms.schema import Field, FieldType

__all__ = [
    "LONG_TEXT_MAX_CHARS",
    "TEXT_MAX_CHARS",
    "missing_required",
    "normalise",
    "parse_money",
    "validate",
    "word_count",
]

TEXT_MAX_CHARS = 500
LONG_TEXT_MAX_CHARS = 50_000

_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+|,\d{1,2})?")
_MONEY_RE = re.compile(r"\d+(?:[.,]\d{1,2})?")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TRUE = {"yes", "true", "on", "1"}
_FALSE = {"no", "false", "off", "0", ""}
_CENT = Decimal("0.01")


class _Invalid(ValueError):
    """A value that does not fit its field; the message is for the person filling the form."""


def word_count(text: str) -> int:
    """Words in ``text``: whitespace-separated pieces containing a letter or a digit.

    ``"R&D well-known 5G"`` is 3 words; a lone dash or bullet is not a word.
    """
    return sum(1 for token in text.split() if any(c.isalnum() for c in token))


def parse_money(value: object) -> Decimal:
    """An amount in EUR as a ``Decimal`` with two decimals; ``ValueError`` with a message a
    person can act on when the value is not written as ``8000``, ``8000.50`` or ``8000,50``."""
    return _money(value)


def validate(
    fields: list[Field], answers: Mapping[str, object], *, complete: bool = False
) -> dict[str, str]:
    """Return ``{field name: message}`` for every answer that does not fit its field.

    Empty answers are fine (drafts) unless ``complete`` is true, in which case required fields
    that are empty (or a required declaration that is not ticked) are reported too. Keys that
    are not fields of the form are ignored (``normalise`` drops them).
    """
    errors: dict[str, str] = {}
    parsed: dict[str, object] = {}
    for f in fields:
        value = answers.get(f.name)
        if _is_empty(f, value):
            if complete and f.required:
                errors[f.name] = _required_message(f)
            continue
        try:
            parsed[f.name] = _parse(f, value)
        except _Invalid as exc:
            errors[f.name] = str(exc)
            continue
        if complete and f.required and f.type is FieldType.YES_NO and parsed[f.name] is not True:
            errors[f.name] = _required_message(f)

    dates = {name: v for name, v in parsed.items() if isinstance(v, dt.date)}
    labels = {f.name: f.label for f in fields}
    for f in fields:
        if f.not_before and f.name in dates and f.not_before in dates:
            earlier = dates[f.not_before]
            if dates[f.name] < earlier:
                errors[f.name] = (
                    f"{f.label} cannot be before {labels[f.not_before]} ({earlier.isoformat()})."
                )
    return errors


def missing_required(fields: list[Field], answers: Mapping[str, object]) -> list[str]:
    """Labels of required fields that are still empty, in form order.

    A required ``yes_no`` counts as missing unless it is ticked (true).
    """
    missing = []
    for f in fields:
        if not f.required:
            continue
        value = answers.get(f.name)
        if f.type is FieldType.YES_NO:
            try:
                ticked = _yes_no(value)
            except _Invalid:
                ticked = False
            if not ticked:
                missing.append(f.label)
        elif _is_empty(f, value):
            missing.append(f.label)
    return missing


def normalise(fields: list[Field], answers: Mapping[str, object]) -> dict[str, object]:
    """JSON-safe answers for storage: only the form's fields, in form order.

    Strings are trimmed (long text keeps its paragraphs, with ``\\n`` line endings); money is a
    string with two decimals (``"8000.50"``); numbers a string with a dot (``"2.5"``); dates
    ``"YYYY-MM-DD"``; declarations ``True``/``False``. Empty answers are left out. An answer
    that does not validate is kept as the trimmed text that was typed, so a draft loses
    nothing; ``validate`` says what is wrong with it.
    """
    clean: dict[str, object] = {}
    for f in fields:
        if f.name not in answers:
            continue
        value = answers[f.name]
        if _is_empty(f, value) and not (f.type is FieldType.YES_NO and value is False):
            continue
        try:
            parsed = _parse(f, value)
        except _Invalid:
            clean[f.name] = _text(value) if isinstance(value, str) else str(value)
            continue
        if isinstance(parsed, Decimal):
            clean[f.name] = _decimal_text(parsed, money=f.type is FieldType.MONEY)
        elif isinstance(parsed, dt.date):
            clean[f.name] = parsed.isoformat()
        else:
            clean[f.name] = parsed
    return clean


# -- per-type parsing ------------------------------------------------------------------------
def _parse(f: Field, value: object) -> object:
    match f.type:
        case FieldType.TEXT:
            text = _text(value)
            if "\n" in text:
                raise _Invalid("Keep this to one line.")
            if len(text) > TEXT_MAX_CHARS:
                raise _Invalid(f"Use at most {TEXT_MAX_CHARS} characters; you have {len(text)}.")
            return text
        case FieldType.LONG_TEXT:
            text = _text(value)
            if len(text) > LONG_TEXT_MAX_CHARS:
                raise _Invalid(
                    f"Use at most {LONG_TEXT_MAX_CHARS} characters; you have {len(text)}."
                )
            if f.max_words is not None:
                words = word_count(text)
                if words > f.max_words:
                    raise _Invalid(
                        f"Use at most {f.max_words} words; you have {words}. "
                        f"Remove {words - f.max_words}."
                    )
            return text
        case FieldType.NUMBER:
            number = _number(value)
            if f.max is not None and number > f.max:
                raise _Invalid(f"Enter a number no greater than {_decimal_text(f.max)}.")
            return number
        case FieldType.MONEY:
            amount = _money(value)
            if f.max is not None and amount > f.max:
                raise _Invalid(
                    f"The amount cannot be more than EUR {_decimal_text(f.max, money=True)}."
                )
            return amount
        case FieldType.DATE:
            return _date(value)
        case FieldType.CHOICE:
            choice = _text(value)
            if choice not in f.options:
                raise _Invalid(f"Choose one of: {'; '.join(f.options)}.")
            return choice
        case FieldType.YES_NO:
            return _yes_no(value)
    raise AssertionError(f"unhandled field type {f.type}")  # pragma: no cover


def _is_empty(f: Field, value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return f.type is FieldType.YES_NO and value is False


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid("Enter text.")
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def _number(value: object) -> Decimal:
    if isinstance(value, bool):
        raise _Invalid("Enter a number, for example 12 or 2.5.")
    if isinstance(value, int | Decimal):
        if isinstance(value, Decimal) and not value.is_finite():
            raise _Invalid("Enter a number, for example 12 or 2.5.")
        return Decimal(value)
    if isinstance(value, float):
        value = repr(value)
    if not isinstance(value, str):
        raise _Invalid("Enter a number, for example 12 or 2.5.")
    text = value.strip()
    if not _NUMBER_RE.fullmatch(text):
        raise _Invalid(
            "Enter a number using digits only, for example 12 or 2.5, "
            "without spaces or thousands separators."
        )
    return Decimal(text.replace(",", "."))


def _money(value: object) -> Decimal:
    message = (
        "Enter an amount in euro using digits only, for example 8000 or 8000.50 "
        "(a comma for cents also works: 8000,50). Do not add thousands separators or a "
        "currency sign."
    )
    if isinstance(value, bool):
        raise _Invalid(message)
    if isinstance(value, int):
        value = str(value)
    elif isinstance(value, float):
        value = repr(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise _Invalid(message)
        value = format(value, "f")
    if not isinstance(value, str):
        raise _Invalid(message)
    text = value.strip()
    if text.startswith("-") and _MONEY_RE.fullmatch(text[1:]):
        raise _Invalid("The amount cannot be negative.")
    if not _MONEY_RE.fullmatch(text):
        raise _Invalid(message)
    return Decimal(text.replace(",", ".")).quantize(_CENT)


def _date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        raise _Invalid("Enter a date without a time, as YYYY-MM-DD.")
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value.strip()):
        raise _Invalid("Enter the date as YYYY-MM-DD, for example 2026-03-31.")
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise _Invalid(f"{value.strip()} is not a real date; check the day and month.") from None


def _yes_no(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise _Invalid("Tick the box, or leave it unticked.")


def _decimal_text(value: Decimal, *, money: bool = False) -> str:
    if money:
        return format(value.quantize(_CENT), "f")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _required_message(f: Field) -> str:
    if f.type is FieldType.YES_NO:
        return f"Tick this box to confirm: {f.label}"
    if f.type is FieldType.CHOICE:
        return f"Choose an option for {f.label}."
    return f"Fill in {f.label}."
