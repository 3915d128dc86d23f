"""Call-defined application forms: a form is data (a list of field dicts stored on the call).

A field definition looks like::

    {"name": "summary", "label": "Project summary", "type": "long_text",
     "required": true, "max_words": 300, "help": "..."}

``parse_form`` turns that JSON into ``Field`` objects and refuses anything it does not
understand (an unknown key is more likely a typo than an intention), listing every problem at
once so the person editing the call can fix them in one go.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

__all__ = ["Field", "FieldType", "FormDefinitionError", "parse_form"]

NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")
"""Field names: lower-case letters, digits and underscores, starting with a letter, <= 63."""


class FieldType(StrEnum):
    TEXT = "text"  # one line
    LONG_TEXT = "long_text"  # paragraphs; optional max_words
    NUMBER = "number"  # a decimal number; optional max
    MONEY = "money"  # EUR amount >= 0 with at most 2 decimals; optional max
    DATE = "date"  # ISO yyyy-mm-dd; optional not_before (another date field)
    CHOICE = "choice"  # one of options
    YES_NO = "yes_no"  # a declaration checkbox; when required it must be ticked


class FormDefinitionError(ValueError):
    """A form definition that cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    type: FieldType
    required: bool = False
    help: str = ""
    max_words: int | None = None
    options: tuple[str, ...] = ()
    max: Decimal | None = None
    not_before: str | None = None  # date fields: name of a date field this one may not precede


_KEYS = {
    "name",
    "label",
    "type",
    "required",
    "help",
    "max_words",
    "options",
    "max",
    "not_before",
}
_ONLY_FOR = {
    "max_words": {FieldType.LONG_TEXT},
    "options": {FieldType.CHOICE},
    "max": {FieldType.NUMBER, FieldType.MONEY},
    "not_before": {FieldType.DATE},
}


def parse_form(raw: list[dict]) -> list[Field]:
    """Validate a form definition and return its fields in order.

    Raises ``FormDefinitionError`` for: a definition that is not a list of objects, unknown
    keys, a missing or badly formed name (see ``NAME_RE``), duplicate names, a missing label,
    an unknown type, a ``choice`` without options (or with duplicate/empty ones), attributes
    given to a type they do not apply to, a ``max_words`` that is not a positive whole number,
    a ``max`` that is not a number (or is negative for money), or a ``not_before`` that does
    not name another date field.
    """
    if not isinstance(raw, list):
        raise FormDefinitionError(["the form definition must be a list of fields"])
    problems: list[str] = []
    fields: list[Field] = []
    seen: set[str] = set()
    for index, item in enumerate(raw, start=1):
        where = f"field {index}"
        if not isinstance(item, Mapping):
            problems.append(f"{where}: must be an object with name, label and type")
            continue
        name = item.get("name")
        if isinstance(name, str) and name:
            where = f"field {index} ({name!r})"
        found = _parse_field(item, where, problems)
        if found is None:
            continue
        if found.name in seen:
            problems.append(f"{where}: duplicate name {found.name!r}")
            continue
        seen.add(found.name)
        fields.append(found)

    dates = {f.name for f in fields if f.type is FieldType.DATE}
    for f in fields:
        if f.not_before is not None and (f.not_before not in dates or f.not_before == f.name):
            problems.append(
                f"field {f.name!r}: not_before must name another date field, not {f.not_before!r}"
            )
    if problems:
        raise FormDefinitionError(problems)
    return fields


def _parse_field(item: Mapping, where: str, problems: list[str]) -> Field | None:
    start = len(problems)
    unknown = sorted(str(k) for k in item if k not in _KEYS)
    if unknown:
        problems.append(
            f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(_KEYS))})"
        )

    name = item.get("name")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        problems.append(
            f"{where}: name must be lower-case letters, digits and underscores, starting with "
            f"a letter (at most 63 characters), not {name!r}"
        )

    label = item.get("label")
    if not isinstance(label, str) or not label.strip():
        problems.append(f"{where}: a label is required")

    raw_type = item.get("type")
    try:
        ftype = FieldType(raw_type)
    except ValueError:
        allowed = ", ".join(t.value for t in FieldType)
        problems.append(f"{where}: unknown type {raw_type!r} (expected one of: {allowed})")
        ftype = None

    required = item.get("required", False)
    if not isinstance(required, bool):
        problems.append(f"{where}: required must be true or false")

    help_text = item.get("help", "")
    if not isinstance(help_text, str):
        problems.append(f"{where}: help must be text")

    if ftype is not None:
        for key, types in _ONLY_FOR.items():
            if item.get(key) not in (None, (), []) and ftype not in types:
                kinds = " or ".join(sorted(t.value for t in types))
                problems.append(f"{where}: {key} only applies to {kinds} fields")

    max_words = item.get("max_words")
    if max_words is not None and (
        isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 1
    ):
        problems.append(f"{where}: max_words must be a whole number of at least 1")

    options: tuple[str, ...] = ()
    raw_options = item.get("options", ())
    if ftype is FieldType.CHOICE:
        if not isinstance(raw_options, list | tuple) or not raw_options:
            problems.append(f"{where}: a choice field needs a non-empty list of options")
        elif not all(isinstance(o, str) and o.strip() for o in raw_options):
            problems.append(f"{where}: every option must be non-empty text")
        else:
            options = tuple(o.strip() for o in raw_options)
            if len(set(options)) != len(options):
                problems.append(f"{where}: options must not repeat")

    maximum = _decimal(item.get("max"))
    if item.get("max") is not None:
        if maximum is None:
            problems.append(f"{where}: max must be a number, not {item.get('max')!r}")
        elif ftype is FieldType.MONEY and maximum < 0:
            problems.append(f"{where}: max must not be negative for a money field")

    not_before = item.get("not_before")
    if not_before is not None and not isinstance(not_before, str):
        problems.append(f"{where}: not_before must be the name of a date field")

    if len(problems) > start or ftype is None:
        return None
    assert isinstance(name, str) and isinstance(label, str)
    return Field(
        name=name,
        label=label.strip(),
        type=ftype,
        required=required,
        help=help_text.strip(),
        max_words=max_words,
        options=options,
        max=maximum,
        not_before=not_before,
    )


def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, int | str | Decimal):
        try:
            result = Decimal(value)
        except InvalidOperation:
            return None
        return result if result.is_finite() else None
    return None
