"""The keys of a form field that only some types take (``max_words``, ``options``, ``max``,
``not_before``, the countries, choice counts, a file's ``max_mb`` and ``accept``, a group's
totals and limits), each read and checked as given: every problem is appended to the list
``forms.schema.parse_form`` reports at once."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from forms.countries import COUNTRY_SETS, all_countries, allowed
from forms.model import FILE_KINDS, LIST_TYPES, MAX_FILE_MB, NUMBER_MAX, Field, FieldType
from workflows import numbers
from workflows.i18n import _

COUNTRY_TYPES = frozenset({FieldType.COUNTRY, FieldType.COUNTRY_LIST})
AMOUNTS = {FieldType.NUMBER, FieldType.MONEY}
_KIND_ALIASES = {"jpg": "jpeg"}


def is_whole(value: object, low: int, high: int | None = None) -> bool:
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return value >= low and (high is None or value <= high)


def type_attributes(
    item: Mapping, ftype: FieldType | None, where: str, problems: list[str]
) -> dict[str, Any]:
    """The keys that only some types take (groups' own keys aside), each checked as given."""
    max_words = whole_key(item, "max_words", where, problems, 1)
    options = _options(item.get("options", ()), ftype, where, problems)
    min_choices = whole_key(item, "min_choices", where, problems, 1)
    max_choices = whole_key(item, "max_choices", where, problems, 1)
    maximum = amount_limit(item.get("max"), _("%(where)s: max", where=where), ftype, problems)
    not_before = item.get("not_before")
    if not_before is not None and not isinstance(not_before, str):
        problems.append(_("%(where)s: not_before must be the name of a date field", where=where))
    countries = _countries(item.get("countries"), "countries", where, problems)
    excluded = _countries(item.get("exclude_countries"), "exclude_countries", where, problems)
    max_mb = whole_key(item, "max_mb", where, problems, 1, MAX_FILE_MB)
    accept = _accept(item.get("accept"), where, problems)
    if ftype in COUNTRY_TYPES:
        _check_countries(countries, excluded, where, problems)
    if ftype in LIST_TYPES:
        available = (
            len(options) if ftype is FieldType.MULTI_CHOICE else len(allowed(countries, excluded))
        )
        _check_choice_counts(min_choices, max_choices, available, where, problems)
    return {
        "max_words": max_words,
        "options": options,
        "max": maximum,
        "not_before": not_before,
        "countries": countries,
        "exclude_countries": excluded,
        "min_choices": min_choices,
        "max_choices": max_choices,
        "max_mb": max_mb,
        "accept": accept,
    }


def whole_key(
    item: Mapping, key: str, where: str, problems: list[str], low: int, high: int | None = None
) -> Any:
    """``item[key]`` as given (None when absent); a problem unless a whole number in range."""
    value = item.get(key)
    if value is not None and not is_whole(value, low, high):
        if high is None:
            problem = _(
                "%(where)s: %(key)s must be a whole number of at least %(low)s",
                where=where,
                key=key,
                low=low,
            )
        else:
            problem = _(
                "%(where)s: %(key)s must be a whole number from %(low)s to %(high)s",
                where=where,
                key=key,
                low=low,
                high=high,
            )
        problems.append(problem)
    return value


def _options(
    raw: object, ftype: FieldType | None, where: str, problems: list[str]
) -> tuple[str, ...]:
    # Options given to another type are reported by forms.schema (_check_applies), not here.
    if ftype not in (FieldType.CHOICE, FieldType.MULTI_CHOICE):
        return ()
    if not isinstance(raw, list | tuple) or not raw:
        problems.append(
            _(
                "%(where)s: a %(type)s field needs a non-empty list of options",
                where=where,
                type=str(ftype),
            )
        )
        return ()
    if not all(isinstance(o, str) and o.strip() for o in raw):
        problems.append(
            _(
                "%(where)s: every option must be non-empty text (in YAML, quote options such "
                "as 'yes', 'no' or numbers)",
                where=where,
            )
        )
        return ()
    options = tuple(o.strip() for o in raw)
    if len(set(options)) != len(options):
        problems.append(_("%(where)s: options must not repeat", where=where))
    return options


def _countries(raw: object, key: str, where: str, problems: list[str]) -> tuple[str, ...]:
    """``countries`` or ``exclude_countries``: codes and set names, upper case, each once, in
    the order given. One set may be written alone (``exclude_countries: EU``)."""
    if raw in (None, (), []):
        return ()
    if isinstance(raw, str) and raw.strip().upper() in COUNTRY_SETS:
        raw = [raw]
    if not isinstance(raw, list | tuple):
        problems.append(
            _(
                "%(where)s: %(key)s must be a list of ISO alpha-2 codes such as [IT, FR], or "
                "the name of a set of countries (%(sets)s)",
                where=where,
                key=key,
                sets=", ".join(COUNTRY_SETS),
            )
        )
        return ()
    known = all_countries() | COUNTRY_SETS.keys()
    codes: list[str] = []
    for code in raw:
        if not isinstance(code, str) or code.strip().upper() not in known:
            if code is False:
                problem = _(
                    "%(where)s: %(code)s is not an ISO 3166-1 alpha-2 country code "
                    "(in YAML write 'NO' for Norway in quotes)",
                    where=where,
                    code=repr(code),
                )
            else:
                problem = _(
                    "%(where)s: %(code)s is not an ISO 3166-1 alpha-2 country code or a set "
                    "of countries (%(sets)s)",
                    where=where,
                    code=repr(code),
                    sets=", ".join(COUNTRY_SETS),
                )
            problems.append(problem)
            continue
        if code.strip().upper() not in codes:
            codes.append(code.strip().upper())
    return tuple(codes)


def _check_countries(
    countries: tuple[str, ...], excluded: tuple[str, ...], where: str, problems: list[str]
) -> None:
    if countries and excluded:
        # Both at once reads as a contradiction more often than as an intention.
        problems.append(
            _(
                "%(where)s: give countries (only these) or exclude_countries (every country "
                "but these), not both",
                where=where,
            )
        )
    elif excluded and not allowed((), excluded):
        problems.append(_("%(where)s: exclude_countries leaves no country to choose", where=where))


def _check_choice_counts(
    low: object, high: object, available: int, where: str, problems: list[str]
) -> None:
    """A ``min_choices`` no answer could meet: above max_choices, or above the choices there are
    (``available``; 0 when they are unknown because the options themselves are wrong)."""
    if not isinstance(low, int) or not is_whole(low, 1):
        return  # a min_choices that is no whole number is reported by whole_key
    if isinstance(high, int) and is_whole(high, 1) and low > high:
        problems.append(_("%(where)s: min_choices cannot be more than max_choices", where=where))
    elif available and low > available:
        problems.append(
            _(
                "%(where)s: min_choices is %(low)s, but there are only %(count)s to choose from",
                where=where,
                low=low,
                count=available,
            )
        )


def _accept(raw: object, where: str, problems: list[str]) -> tuple[str, ...]:
    if raw in (None, (), []):
        return ()
    if not isinstance(raw, list | tuple):
        problems.append(_("%(where)s: accept must be a list such as [pdf, docx]", where=where))
        return ()
    kinds: list[str] = []
    for kind in raw:
        key = _KIND_ALIASES.get(str(kind).strip().lower(), str(kind).strip().lower())
        if not isinstance(kind, str) or key not in FILE_KINDS:
            problems.append(
                _(
                    "%(where)s: accept %(kind)s is not one of: %(kinds)s",
                    where=where,
                    kind=repr(kind),
                    kinds=", ".join(FILE_KINDS),
                )
            )
        elif key not in kinds:
            kinds.append(key)
    return tuple(kinds)


def total_names(
    raw: list[Any] | tuple[Any, ...], subs: list[Field], where: str, problems: list[str]
) -> tuple[str, ...]:
    """The sub-fields a group adds up: money or number ones, each once, in the order given."""
    totals: list[str] = []
    amounts = {f.name for f in subs if f.type in AMOUNTS}
    for total in raw:
        if not isinstance(total, str) or total not in amounts:
            problems.append(
                _(
                    "%(where)s: totals must name money or number sub-fields of the group, "
                    "not %(total)s",
                    where=where,
                    total=repr(total),
                )
            )
        elif total not in totals:
            totals.append(total)
    return tuple(totals)


def amount_limit(
    value: object, where: str, ftype: FieldType | None, problems: list[str]
) -> Decimal | None:
    """A ``max`` or ``total_max`` as the person editing the form typed it (YAML gives text,
    an int or a float), read like the answers it bounds: an amount for money, else a number.
    A total_max is read as an amount (never negative) whatever it totals."""
    if value is None:
        return None
    try:
        if ftype is FieldType.MONEY:
            return numbers.parse_money(value, field_label=where)
        return numbers.parse_decimal(value, field_label=where, minimum=None, maximum=NUMBER_MAX)
    except numbers.NumberRefused as exc:
        problems.append(exc.message)
        return None
