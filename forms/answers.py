"""Reading one answer of a call-defined form, per field type: what a person typed (or an
API sent, or a saved draft holds) as the value it stands for, or the reason it is refused.

Pure: used by ``forms.validation`` for whole forms.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal

from forms.countries import COUNTRY_SETS, country_name, set_holding
from forms.schema import NUMBER_MAX, Field, FieldType
from workflows import numbers
from workflows.i18n import _
from workflows.money import CENT, format_eur

TEXT_MAX_CHARS = 500
LONG_TEXT_MAX_CHARS = 50_000
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TRUE = {"yes", "true", "on", "1"}

_FALSE = {"no", "false", "off", "0", ""}


class _Invalid(ValueError):
    """A value that does not fit its field; the message is for the person filling the form."""


def word_count(text: str) -> int:
    """Words in ``text``: whitespace-separated pieces containing a letter or a digit.

    ``"R&D well-known 5G"`` is 3 words; a lone dash or bullet is not a word.
    """
    return sum(1 for token in text.split() if any(c.isalnum() for c in token))


# -- per-type parsing ------------------------------------------------------------------------
def _parse(f: Field, value: object) -> object:
    parse = _PARSERS.get(f.type)
    if parse is None:  # pragma: no cover - a type added without its parser
        raise AssertionError(f"unhandled field type {f.type}")
    return parse(f, value)


def _parse_text(f: Field, value: object) -> str:
    text = _text(value)
    if "\n" in text:
        raise _Invalid(_("Keep this to one line."))
    if len(text) > TEXT_MAX_CHARS:
        raise _Invalid(
            _(
                "Use at most %(maximum)s characters; you have %(count)s.",
                maximum=TEXT_MAX_CHARS,
                count=len(text),
            )
        )
    return text


def _parse_long_text(f: Field, value: object) -> str:
    text = _text(value)
    if len(text) > LONG_TEXT_MAX_CHARS:
        raise _Invalid(
            _(
                "Use at most %(maximum)s characters; you have %(count)s.",
                maximum=LONG_TEXT_MAX_CHARS,
                count=len(text),
            )
        )
    if f.max_words is not None:
        words = word_count(text)
        if words > f.max_words:
            raise _Invalid(
                _(
                    "Use at most %(maximum)s words; you have %(count)s. Remove %(extra)s.",
                    maximum=f.max_words,
                    count=words,
                    extra=words - f.max_words,
                )
            )
    return text


def _parse_number(f: Field, value: object) -> Decimal:
    number = _number(value)
    if f.max is not None and number > f.max:
        raise _Invalid(
            _("Enter a number no greater than %(maximum)s.", maximum=_decimal_text(f.max))
        )
    return number


def _parse_money(f: Field, value: object) -> Decimal:
    amount = _money(value)
    if f.max is not None and amount > f.max:
        raise _Invalid(_("The amount cannot be more than %(maximum)s.", maximum=format_eur(f.max)))
    return amount


def _parse_choice(f: Field, value: object) -> str:
    choice = _text(value)
    if choice not in f.options:
        raise _Invalid(_("Choose one of: %(options)s.", options="; ".join(f.options)))
    return choice


def _parse_group(f: Field, value: object) -> object:  # pragma: no cover
    # Groups are validated item by item; an answer never reaches here as a whole.
    raise _Invalid(_("Fill in the lines of this group."))


def _is_empty(f: Field, value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple):
        return _blank(value)
    return f.type is FieldType.YES_NO and value is False


def _multi_choice(f: Field, value: object) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(v, str) for v in items):
        raise _Invalid(_("Choose from: %(options)s.", options="; ".join(f.options)))
    chosen = {v.strip() for v in items if v.strip()}
    unknown = sorted(chosen - set(f.options))
    if unknown:
        raise _Invalid(
            _(
                "%(unknown)s is not an option. Choose from: %(options)s.",
                unknown="; ".join(unknown),
                options="; ".join(f.options),
            )
        )
    if f.max_choices is not None and len(chosen) > f.max_choices:
        raise _Invalid(
            _(
                "Choose at most %(maximum)s; you chose %(count)s.",
                maximum=f.max_choices,
                count=len(chosen),
            )
        )
    return [o for o in f.options if o in chosen]


def _country(f: Field, value: object) -> str:
    if not isinstance(value, str) or not _is_country(value.strip().upper()):
        raise _Invalid(_("Choose a country from the list."))
    code = value.strip().upper()
    _check_allowed(f, [code])
    return code


def _country_list(f: Field, value: object) -> list[str]:
    """Codes in the order chosen, each once; blanks (the dropdowns left at "none") dropped."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(v, str) for v in items):
        raise _Invalid(_("Choose the countries from the list."))
    codes = list(dict.fromkeys(v.strip().upper() for v in items if v.strip()))
    unknown = [c for c in codes if not _is_country(c)]
    if unknown:
        raise _Invalid(
            _(
                "%(codes)s: not a country code. Choose the countries from the list.",
                codes=", ".join(unknown),
            )
        )
    _check_allowed(f, codes)
    if f.max_choices is not None and len(codes) > f.max_choices:
        raise _Invalid(
            _(
                "Choose at most %(maximum)s countries; you chose %(count)s.",
                maximum=f.max_choices,
                count=len(codes),
            )
        )
    return codes


def _is_country(code: str) -> bool:
    return re.fullmatch(r"[A-Z]{2}", code) is not None and country_name(code) != code


def _check_allowed(f: Field, codes: list[str]) -> None:
    """Refuse the countries ``f`` does not take, by name, for the reason of the first one: in
    an excluded set ("Germany is in the EU"), not among ``countries``, or excluded itself."""
    allowed = f.allowed_countries
    refused = [c for c in codes if c not in allowed]
    if not refused:
        return
    named = set_holding(refused[0], f.exclude_countries)
    if named is not None:
        refused = [c for c in refused if c in named.codes]
    names = ", ".join(country_name(c) for c in refused)
    one = len(refused) == 1
    if named is not None:
        where = _(named.called)
        if f.type is FieldType.COUNTRY:
            message = _(
                "%(country)s is in %(set)s: choose a country outside %(set)s.",
                country=names,
                set=where,
            )
        elif one:
            message = _(
                "%(country)s is in %(set)s: choose countries outside %(set)s.",
                country=names,
                set=where,
            )
        else:
            message = _(
                "%(countries)s are in %(set)s: choose countries outside %(set)s.",
                countries=names,
                set=where,
            )
    elif f.countries:
        offered = ", ".join(
            _(COUNTRY_SETS[e].called) if e in COUNTRY_SETS else country_name(e) for e in f.countries
        )
        if one:
            message = _(
                "%(country)s is not eligible here. Choose one of: %(countries)s.",
                country=names,
                countries=offered,
            )
        else:
            message = _(
                "%(countries)s are not eligible here. Choose from: %(offered)s.",
                countries=names,
                offered=offered,
            )
    else:
        message = _("%(country)s cannot be chosen here.", country=names)
    raise _Invalid(message)


def _file(value: object) -> int:
    if isinstance(value, bool):
        raise _Invalid(_("Upload the file again."))
    if isinstance(value, int) and value > 0:
        return value
    # ASCII digits only: str.isdigit() also accepts "²", which int() then refuses.
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,18}", value.strip()) and int(value) > 0:
        return int(value)
    raise _Invalid(_("Upload the file again."))


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid(_("Enter text."))
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def _number(value: object) -> Decimal:
    try:
        return numbers.parse_decimal(value, minimum=None, maximum=NUMBER_MAX)
    except numbers.NumberRefused as exc:
        raise _Invalid(exc.message) from None


def _money(value: object) -> Decimal:
    try:
        return numbers.parse_money(value)
    except numbers.NumberRefused as exc:
        raise _Invalid(exc.message) from None


def _date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        raise _Invalid(_("Enter a date without a time, as YYYY-MM-DD."))
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value.strip()):
        raise _Invalid(_("Enter the date as YYYY-MM-DD, for example 2026-03-31."))
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise _Invalid(
            _("%(date)s is not a real date; check the day and month.", date=value.strip())
        ) from None


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
    raise _Invalid(_("Tick the box, or leave it unticked."))


# One parser per field type: it returns the clean value or raises _Invalid.
_PARSERS: dict[FieldType, Callable[[Field, object], object]] = {
    FieldType.TEXT: _parse_text,
    FieldType.LONG_TEXT: _parse_long_text,
    FieldType.NUMBER: _parse_number,
    FieldType.MONEY: _parse_money,
    FieldType.DATE: lambda f, value: _date(value),
    FieldType.CHOICE: _parse_choice,
    FieldType.YES_NO: lambda f, value: _yes_no(value),
    FieldType.MULTI_CHOICE: _multi_choice,
    FieldType.COUNTRY: _country,
    FieldType.COUNTRY_LIST: _country_list,
    FieldType.FILE: lambda f, value: _file(value),
    FieldType.GROUP: _parse_group,
}


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple):
        return all(_blank(v) for v in value)
    return False


def _decimal_text(value: Decimal, *, money: bool = False) -> str:
    return format(value.quantize(CENT), "f") if money else numbers.plain(value)
