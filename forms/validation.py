"""Check and clean the answers given to a call-defined form.

Accepted input per field type (answers come as strings from an HTML form, or as JSON values
from the API or from a saved draft):

- ``text``: one line, at most ``TEXT_MAX_CHARS`` characters after trimming.
- ``long_text``: at most ``LONG_TEXT_MAX_CHARS`` characters and ``max_words`` words
  (see ``word_count``); line endings are normalised to ``\\n``.
- ``number``: as ``workflows.numbers.parse_decimal`` reads it, negative allowed, at most two
  decimals, at most ``NUMBER_MAX`` either way: ``12``, ``-3``, ``2,5``, ``12 000``,
  ``1.234,5``; ``1,000`` is refused (1 or 1000?), and so are ``1e3`` and ``2.125``.
- ``money``: EUR as ``workflows.numbers.parse_money`` reads it, at most
  ``workflows.numbers.MONEY_MAX`` (the database's amount column): ``8000``, ``8000,50``,
  ``8 000``, ``8.000,50``, ``8,000.50``, ``€8000``; ``8,000`` (8 or 8000?), ``-5`` and
  ``8000.505`` (never rounded) are refused.
- ``date``: ``YYYY-MM-DD`` (or a ``datetime.date``).
- ``choice``: exactly one of the options.
- ``yes_no``: ``True``/``False`` or, case-insensitively, ``yes``/``no``, ``true``/``false``,
  ``on`` (what a ticked HTML checkbox sends), ``1``/``0``; empty means not ticked.
- ``multi_choice``: a list of options (a single option as text is read as a list of one);
  stored in the order of the options, without repeats.
- ``country``: an ISO 3166-1 alpha-2 code, any case (``it`` is stored as ``IT``).
- ``country_list``: a list of alpha-2 codes (a single code as text is a list of one); blank
  items (the dropdowns left at "none") are dropped, and the codes stored upper case, each
  once, in the order chosen. A country the field does not take is refused by name, with the
  reason ("Germany is in the EU: ...").
- ``multi_choice`` and ``country_list`` with ``min_choices``: a complete answer has at least
  that many (like a group's ``min_items``, also when the field is optional); at least one
  when required.
- ``file``: the id of an uploaded attachment (a positive whole number); whether it exists is
  the application's business, not the form's.
- ``group``: a list of objects, one per item, each answering the group's sub-fields. Items
  whose answers are all empty are dropped (that is how a person removes a line). Errors are
  addressed by path: ``budget_lines[1].cost`` is the ``cost`` of the second item (indices
  count from 0 over the items that are kept), ``budget_lines`` the group as a whole (how many
  items), ``budget_lines.total.cost`` the total of ``cost`` (``total_max``, ``must_equal``).

``validate`` never requires completeness (a draft may be saved half-filled) unless asked with
``complete=True``; ``missing_required`` lists what must still be filled in before submission.
``references`` gives the values outside the form that a group's ``must_equal`` may name
(``{"requested_amount": Decimal("8000.00")}``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal

from forms.answers import (
    LONG_TEXT_MAX_CHARS,
    TEXT_MAX_CHARS,
    _blank,
    _decimal_text,
    _Invalid,
    _is_empty,
    _parse,
    _text,
    _yes_no,
    word_count,
)
from forms.schema import EXTERNAL_REFERENCES, LIST_TYPES, Field, FieldType
from workflows.i18n import _
from workflows.money import CENT, format_eur

__all__ = [
    "LONG_TEXT_MAX_CHARS",
    "TEXT_MAX_CHARS",
    "describe",
    "group_rows",
    "group_totals",
    "missing_required",
    "normalise",
    "validate",
    "word_count",
]


def validate(
    fields: list[Field],
    answers: Mapping[str, object],
    *,
    complete: bool = False,
    references: Mapping[str, Decimal | None] | None = None,
) -> dict[str, str]:
    """Return ``{path: message}`` for every answer that does not fit its field.

    Empty answers are fine (drafts) unless ``complete`` is true, in which case required fields
    that are empty (or a required declaration that is not ticked, or a group with too few
    items) are reported too. Keys that are not fields of the form are ignored (``normalise``
    drops them). A path is a field name, or for a group's items ``group[i].sub`` (see the
    module documentation).
    """
    errors: dict[str, str] = {}
    parsed: dict[str, object] = {}
    for f in fields:
        value = answers.get(f.name)
        if f.type is FieldType.GROUP:
            _validate_group(f, value, complete=complete, errors=errors)
        else:
            _validate_answer(f, value, complete=complete, parsed=parsed, errors=errors)

    _check_not_before(fields, parsed, errors, prefix="")

    known: dict[str, Decimal] = {
        name: value
        for name, value in (references or {}).items()
        if name in EXTERNAL_REFERENCES and isinstance(value, Decimal)
    }
    for f in fields:
        if f.type in (FieldType.MONEY, FieldType.NUMBER) and isinstance(
            parsed.get(f.name), Decimal
        ):
            known[f.name] = parsed[f.name]  # type: ignore[assignment]
    labels = {f.name: f.label for f in fields}
    for f in fields:
        if f.type is FieldType.GROUP and f.totals:
            _check_totals(f, answers.get(f.name), known, labels, errors)
    return errors


def _validate_answer(
    f: Field,
    value: object,
    *,
    complete: bool,
    parsed: dict[str, object],
    errors: dict[str, str],
) -> None:
    """One answer that is not a group: its error, if any; its value in ``parsed`` if it reads."""
    if _is_empty(f, value):
        if complete and f.required:
            errors[f.name] = _required_message(f)
        elif complete and f.type in LIST_TYPES and f.choice_minimum:
            errors[f.name] = _too_few(f, 0)
        return
    try:
        parsed[f.name] = chosen = _parse(f, value)
    except _Invalid as exc:
        errors[f.name] = str(exc)
        return
    if complete and f.required and f.type is FieldType.YES_NO and chosen is not True:
        errors[f.name] = _required_message(f)
    if complete and isinstance(chosen, list) and len(chosen) < f.choice_minimum:
        errors[f.name] = _too_few(f, len(chosen))


def _check_not_before(
    fields: list[Field] | tuple[Field, ...],
    parsed: Mapping[str, object],
    errors: dict[str, str],
    *,
    prefix: str,
) -> None:
    dates = {name: v for name, v in parsed.items() if isinstance(v, dt.date)}
    labels = {f.name: f.label for f in fields}
    for f in fields:
        if f.not_before and f.name in dates and f.not_before in dates:
            earlier = dates[f.not_before]
            if dates[f.name] < earlier:
                errors[prefix + f.name] = _(
                    "%(field)s cannot be before %(other)s (%(date)s).",
                    field=f.label,
                    other=labels[f.not_before],
                    date=earlier.isoformat(),
                )


def _validate_group(f: Field, value: object, *, complete: bool, errors: dict[str, str]) -> None:
    if value is None or (isinstance(value, str) and not value.strip()):
        value = []
    if not isinstance(value, list | tuple):
        errors[f.name] = _("These answers could not be read; fill in the lines again.")
        return
    rows = group_rows(value)
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            errors[f"{f.name}[{index}]"] = _(
                "Line %(number)s could not be read; fill it in again.", number=index + 1
            )
            continue
        for sub, message in validate(list(f.fields), row, complete=complete).items():
            errors[f"{f.name}[{index}].{sub}"] = message
    if len(rows) > f.item_limit:
        errors[f.name] = _(
            "Give at most %(lines)s; you have %(count)s.",
            lines=_lines(f.item_limit),
            count=len(rows),
        )
    elif complete and len(rows) < f.item_minimum:
        if not rows:
            errors[f.name] = _required_message(f)
        else:
            errors[f.name] = _(
                "Give at least %(lines)s; you have %(count)s.",
                lines=_lines(f.item_minimum),
                count=len(rows),
            )


def _check_totals(
    f: Field,
    value: object,
    known: Mapping[str, Decimal],
    labels: Mapping[str, str],
    errors: dict[str, str],
) -> None:
    rows = group_rows(value)
    if not rows:
        return
    for name, total in group_totals(f, value).items():
        sub = f.sub(name)
        if any(path.startswith(f"{f.name}[") and path.endswith(f".{name}") for path in errors):
            continue  # an amount that does not read makes the total meaningless; say that first
        path = f"{f.name}.total.{name}"
        money = sub.type is FieldType.MONEY
        shown = _shown(total, money=money)
        if f.total_max is not None and total > f.total_max:
            errors[path] = _(
                "The total of %(field)s is %(total)s; it cannot be more than %(maximum)s.",
                field=sub.label,
                total=shown,
                maximum=_shown(f.total_max, money=money),
            )
        elif f.must_equal is not None and f.must_equal in known:
            target = known[f.must_equal]
            if total != target:
                if f.must_equal in EXTERNAL_REFERENCES:
                    what = _(EXTERNAL_REFERENCES[f.must_equal])
                else:
                    what = labels.get(f.must_equal, "")
                errors[path] = _(
                    "The total of %(field)s is %(total)s; it must equal %(target)s (%(amount)s).",
                    field=sub.label,
                    total=shown,
                    target=what,
                    amount=_shown(target, money=money),
                )


def _shown(value: Decimal, *, money: bool) -> str:
    # Amounts read the same everywhere: EUR 8,000.00 (workflows.money.format_eur).
    return format_eur(value) if money else _decimal_text(value)


def _lines(n: int) -> str:
    return _("%(count)s line", count=n) if n == 1 else _("%(count)s lines", count=n)


def group_rows(value: object) -> list[object]:
    """The items of a group answer that are not entirely empty, in order.

    A person removes a line by clearing it; an HTML form also always sends one blank line
    for adding. Anything that is not a list gives no items.
    """
    if not isinstance(value, list | tuple):
        return []
    return [row for row in value if not _row_is_empty(row)]


def _chosen_count(f: Field, value: object) -> int:
    """How many different things a list answer chooses; one that does not read counts its
    different non-blank items (what is wrong with them is ``validate``'s to say)."""
    if _is_empty(f, value):
        return 0
    try:
        chosen = _parse(f, value)
    except _Invalid:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            return 1
        return len({str(v).strip() for v in items if not _blank(v)})
    return len(chosen) if isinstance(chosen, list) else 1


def _too_few(f: Field, count: int) -> str:
    return _(
        "Choose at least %(minimum)s; you chose %(count)s.", minimum=f.choice_minimum, count=count
    )


def _row_is_empty(row: object) -> bool:
    if not isinstance(row, Mapping):
        return row is None or (isinstance(row, str) and not row.strip())
    return all(_blank(v) for v in row.values())


def group_totals(f: Field, value: object) -> dict[str, Decimal]:
    """Sum of each of the group's ``totals`` sub-fields over its items.

    Values that do not read as amounts are left out (``validate`` reports them).
    """
    totals: dict[str, Decimal] = {}
    rows = [row for row in group_rows(value) if isinstance(row, Mapping)]
    for name in f.totals:
        sub = f.sub(name)
        total = Decimal(0)
        for row in rows:
            raw = row.get(name)
            if _is_empty(sub, raw):
                continue
            try:
                amount = _parse(sub, raw)
            except _Invalid:
                continue
            assert isinstance(amount, Decimal)
            total += amount
        totals[name] = total.quantize(CENT) if sub.type is FieldType.MONEY else total
    return totals


def describe(fields: list[Field], path: str) -> str:
    """What a person calls the answer at ``path``: ``"Budget, line 2: Cost (EUR)"``."""
    by_name = {f.name: f for f in fields}
    match = _PATH_RE.fullmatch(path)
    if match is None:
        return path
    name, index, total = match.group("name", "index", "total")
    sub = match.group("sub") or match.group("sub2")
    field = by_name.get(name)
    if field is None:
        return path
    if sub is None and index is None:
        return field.label
    sub_label = sub
    if sub is not None and any(s.name == sub for s in field.fields):
        sub_label = field.sub(sub).label
    if total is not None:
        return _("%(field)s: total of %(sub)s", field=field.label, sub=sub_label)
    if sub is not None:
        return _(
            "%(field)s, line %(number)s: %(sub)s",
            field=field.label,
            number=int(index) + 1,
            sub=sub_label,
        )
    return _("%(field)s, line %(number)s", field=field.label, number=int(index) + 1)


_PATH_RE = re.compile(
    r"(?P<name>[a-z][a-z0-9_]*)"
    r"(?:\[(?P<index>\d+)\](?:\.(?P<sub>[a-z][a-z0-9_]*))?"
    r"|\.(?P<total>total)\.(?P<sub2>[a-z][a-z0-9_]*))?"
)


def missing_required(fields: list[Field], answers: Mapping[str, object]) -> list[str]:
    """Labels of required fields that are still empty, in form order.

    A required ``yes_no`` counts as missing unless it is ticked (true). A multi_choice or
    country_list with fewer choices than its ``choice_minimum``: its label, or "Label (at least
    3)". For a group: the group itself when it has too few items, and each item's empty
    required sub-fields (``"Budget, line 2: Cost (EUR)"``).
    """
    missing = []
    for f in fields:
        value = answers.get(f.name)
        if f.type is FieldType.GROUP:
            missing.extend(_missing_in_group(f, value))
            continue
        if f.type in LIST_TYPES and f.choice_minimum:
            count = _chosen_count(f, value)
            if count < f.choice_minimum:
                missing.append(
                    f.label
                    if count == 0 or f.choice_minimum == 1
                    else _(
                        "%(field)s (at least %(count)s)",
                        field=f.label,
                        count=f.choice_minimum,
                    )
                )
            continue
        if not f.required:
            continue
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


def _missing_in_group(f: Field, value: object) -> list[str]:
    """The group when it has too few items, and each item's empty required sub-fields."""
    missing = []
    rows = group_rows(value)
    if len(rows) < f.item_minimum:
        missing.append(
            f.label
            if not rows or f.item_minimum == 1
            else _(
                "%(field)s (at least %(lines)s)",
                field=f.label,
                lines=_lines(f.item_minimum),
            )
        )
    for index, row in enumerate(rows):
        if isinstance(row, Mapping):
            missing.extend(
                _(
                    "%(field)s, line %(number)s: %(sub)s",
                    field=f.label,
                    number=index + 1,
                    sub=label,
                )
                for label in missing_required(list(f.fields), row)
            )
    return missing


def normalise(fields: list[Field], answers: Mapping[str, object]) -> dict[str, object]:
    """JSON-safe answers for storage: only the form's fields, in form order.

    Strings are trimmed (long text keeps its paragraphs, with ``\\n`` line endings); money is a
    string with two decimals (``"8000.50"``); numbers a string with a dot (``"2.5"``); dates
    ``"YYYY-MM-DD"``; declarations ``True``/``False``; multiple choices a list in the order of
    the options; countries an upper-case code; country lists upper-case codes in the order
    chosen; files the attachment id; groups a list of normalised items without the empty ones.
    Empty answers are left out. An answer that does not validate is kept as the trimmed text
    that was typed (a list without its blank items), so a draft loses nothing; ``validate``
    says what is wrong with it.
    """
    clean: dict[str, object] = {}
    for f in fields:
        if f.name not in answers:
            continue
        value = answers[f.name]
        if f.type is FieldType.GROUP:
            group = _normalise_group(f, value)
            if group is not None:
                clean[f.name] = group
            continue
        if _is_empty(f, value) and not (f.type is FieldType.YES_NO and value is False):
            continue
        try:
            parsed = _parse(f, value)
        except _Invalid:
            clean[f.name] = _kept(value)
            continue
        if isinstance(parsed, Decimal):
            clean[f.name] = _decimal_text(parsed, money=f.type is FieldType.MONEY)
        elif isinstance(parsed, dt.date):
            clean[f.name] = parsed.isoformat()
        else:
            clean[f.name] = parsed
    return clean


def _kept(value: object) -> object:
    """What is stored of an answer that does not fit its field: as typed, JSON-safe."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, list | tuple):
        # A blank item is no answer (a dropdown left at "none"), not something typed.
        return [_kept(v) for v in value if not _blank(v)]
    if isinstance(value, bool | int | None):
        return value
    return str(value)


def _normalise_group(f: Field, value: object) -> object | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, list | tuple):
        return _kept(value)
    items: list[object] = []
    for row in group_rows(value):
        if isinstance(row, Mapping):
            item = normalise(list(f.fields), row)
            if item:
                items.append(item)
        else:
            items.append(_kept(row))
    return items or None


def _required_message(f: Field) -> str:
    if f.type is FieldType.YES_NO:
        return _("Tick this box to confirm: %(field)s", field=f.label)
    if f.type is FieldType.CHOICE:
        return _("Choose an option for %(field)s.", field=f.label)
    if f.type is FieldType.MULTI_CHOICE:
        return _("Choose at least one option for %(field)s.", field=f.label)
    if f.type is FieldType.COUNTRY:
        return _("Choose a country for %(field)s.", field=f.label)
    if f.type is FieldType.COUNTRY_LIST:
        return _("Choose at least one country for %(field)s.", field=f.label)
    if f.type is FieldType.FILE:
        return _("Upload %(field)s.", field=f.label)
    if f.type is FieldType.GROUP:
        return _(
            "Add at least %(lines)s to %(field)s.",
            lines=_lines(max(f.item_minimum, 1)),
            field=f.label,
        )
    return _("Fill in %(field)s.", field=f.label)
