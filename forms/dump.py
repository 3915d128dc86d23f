"""Writing a form definition back out: the canonical JSON of parsed ``Field`` objects."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from forms.model import Field, FieldType


def _number_out(value: Decimal) -> int | str:
    return int(value) if value == value.to_integral_value() else format(value, "f")


def _as_is(value: Any) -> Any:
    return value


# The keys dump_form writes after name, label and type, in its fixed order, with how each
# value is written; a group's own keys follow its sub-fields.
_DUMPED: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("required", _as_is),
    ("help", _as_is),
    ("max_words", _as_is),
    ("options", list),
    ("min_choices", _as_is),
    ("max_choices", _as_is),
    ("max", _number_out),
    ("not_before", _as_is),
    ("countries", list),
    ("exclude_countries", list),
    ("max_mb", _as_is),
    ("accept", list),
)
_GROUP_DUMPED: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("min_items", _as_is),
    ("max_items", _as_is),
    ("totals", list),
    ("total_max", _number_out),
    ("must_equal", _as_is),
)
# A key is left out when at its default: None for what is optional, else false or empty
# (``min_items`` 0 is written: it differs from its default, None).
_OPTIONAL = frozenset(f.name for f in dataclasses.fields(Field) if f.default is None)


def dump_form(fields: list[Field] | tuple[Field, ...]) -> list[dict[str, Any]]:
    """The canonical JSON definition of ``fields``: ``parse_form(dump_form(f)) == f``.

    Only keys that differ from their defaults are written, in a fixed order.
    """
    out: list[dict[str, Any]] = []
    for f in fields:
        item: dict[str, Any] = {"name": f.name, "label": f.label, "type": str(f.type)}
        _dump_keys(f, _DUMPED, item)
        if f.type is FieldType.GROUP:
            item["fields"] = dump_form(f.fields)
            _dump_keys(f, _GROUP_DUMPED, item)
        out.append(item)
    return out


def _dump_keys(
    f: Field, keys: tuple[tuple[str, Callable[[Any], Any]], ...], item: dict[str, Any]
) -> None:
    for key, write in keys:
        value = getattr(f, key)
        at_default = value is None if key in _OPTIONAL else not value
        if not at_default:
            item[key] = write(value)
