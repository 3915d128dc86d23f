"""Call-defined application forms: a form is data (a list of field dicts stored on the call).

A field definition looks like::

    {"name": "summary", "label": "Project summary", "type": "long_text",
     "required": true, "max_words": 300, "help": "..."}

Field types and the keys each one takes (besides ``name``, ``label``, ``type``, ``required``
and ``help``, which every field has):

- ``text``, ``yes_no``: nothing more.
- ``long_text``: ``max_words``.
- ``number``, ``money``: ``max``.
- ``date``: ``not_before`` (the name of another date field this one may not precede).
- ``choice``: ``options`` (one of them is the answer).
- ``multi_choice``: ``options``, ``min_choices`` (checked when the form is complete),
  ``max_choices``; the answer is a list of options.
- ``country``: ``countries`` (only these: ISO 3166-1 alpha-2 codes, or the name of a set of
  ``COUNTRY_SETS`` such as ``EU``; default every country) or ``exclude_countries`` (every
  country but these, written the same way); the answer is an alpha-2 code such as ``"IT"``.
- ``country_list``: several countries: ``countries`` or ``exclude_countries`` as for
  ``country``, ``min_choices`` (checked when the form is complete) and ``max_choices``; the
  answer is a list of alpha-2 codes in the order chosen, such as ``["CN", "BR"]``. Markets
  outside the EU: ``exclude_countries: [EU]``.
- ``file``: ``max_mb`` (default 10; 1 MB = 1,048,576 bytes), ``accept`` (any of ``pdf``,
  ``docx``, ``xlsx``, ``png``, ``jpeg``; default all of them); the answer is the id of the
  uploaded attachment, which only the application's attachment service sets.
- ``group``: a repeatable group of sub-fields such as work packages or budget lines:
  ``fields`` (sub-fields, of the types in ``GROUP_SUB_TYPES``), ``min_items``, ``max_items``
  (default ``MAX_GROUP_ITEMS``), ``totals`` (names of money or number sub-fields whose sums
  are computed and shown), ``total_max`` (no total may exceed it) and ``must_equal`` (every
  total must equal this reference: another money or number field of the form, or one of
  ``EXTERNAL_REFERENCES`` such as ``requested_amount``). The answer is a list of objects,
  one per item. A required group needs at least one item (or ``min_items``).

``parse_form`` turns that JSON into ``Field`` objects and refuses anything it does not
understand (an unknown key is more likely a typo than an intention), listing every problem at
once so the person editing the call can fix them in one go (the keys only some types take
are read by ``forms.field_attributes``). ``dump_form`` gives the canonical JSON definition
back.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from forms.countries import COUNTRY_SETS
from forms.dump import dump_form
from forms.field_attributes import (
    AMOUNTS,
    COUNTRY_TYPES,
    amount_limit,
    is_whole,
    total_names,
    type_attributes,
    whole_key,
)
from forms.model import (
    DEFAULT_FILE_MAX_MB,
    EXTERNAL_REFERENCES,
    FILE_KINDS,
    GROUP_SUB_TYPES,
    LIST_TYPES,
    MAX_FILE_MB,
    MAX_GROUP_ITEMS,
    MB,
    NUMBER_MAX,
    Field,
    FieldType,
    country_choices,
    country_name,
)
from workflows.i18n import _

__all__ = [
    "COUNTRY_SETS",
    "DEFAULT_FILE_MAX_MB",
    "EXTERNAL_REFERENCES",
    "FILE_KINDS",
    "GROUP_SUB_TYPES",
    "LIST_TYPES",
    "MAX_FILE_MB",
    "MAX_GROUP_ITEMS",
    "MB",
    "NUMBER_MAX",
    "Field",
    "FieldType",
    "FormDefinitionError",
    "country_choices",
    "country_name",
    "dump_form",
    "parse_form",
]

NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")
"""Field names: lower-case letters, digits and underscores, starting with a letter, <= 63."""


class FormDefinitionError(ValueError):
    """A form definition that cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


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
    "countries",
    "exclude_countries",
    "min_choices",
    "max_choices",
    "max_mb",
    "accept",
    "fields",
    "min_items",
    "max_items",
    "totals",
    "total_max",
    "must_equal",
}
_ONLY_FOR: dict[str, frozenset[FieldType] | set[FieldType]] = {
    "max_words": {FieldType.LONG_TEXT},
    "options": {FieldType.CHOICE, FieldType.MULTI_CHOICE},
    "min_choices": LIST_TYPES,
    "max_choices": LIST_TYPES,
    "max": {FieldType.NUMBER, FieldType.MONEY},
    "not_before": {FieldType.DATE},
    "countries": COUNTRY_TYPES,
    "exclude_countries": COUNTRY_TYPES,
    "max_mb": {FieldType.FILE},
    "accept": {FieldType.FILE},
    "fields": {FieldType.GROUP},
    "min_items": {FieldType.GROUP},
    "max_items": {FieldType.GROUP},
    "totals": {FieldType.GROUP},
    "total_max": {FieldType.GROUP},
    "must_equal": {FieldType.GROUP},
}


def parse_form_cached(raw: list[dict]) -> list[Field]:
    """``parse_form`` for a definition read again and again (every save and submit reads its
    form): parsed once per distinct content. Keyed by the content itself, so an edited form
    is parsed afresh; ``Field`` is frozen, so sharing the parsed fields is safe."""
    try:
        key = json.dumps(raw, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):  # not plain JSON: parse it as it is, uncached
        return parse_form(raw)
    return list(_parse_text(key))


@functools.lru_cache(maxsize=256)
def _parse_text(key: str) -> tuple[Field, ...]:
    return tuple(parse_form(json.loads(key)))


def parse_form(raw: list[dict]) -> list[Field]:
    """Validate a form definition and return its fields in order.

    Raises ``FormDefinitionError`` for: a definition that is not a list of objects, unknown
    keys, a missing or badly formed name (see ``NAME_RE``), duplicate names, a missing label,
    an unknown type, a ``choice`` or ``multi_choice`` without options (or with duplicate/empty
    ones), attributes given to a type they do not apply to, a ``max_words`` that is not a
    positive whole number, a ``max`` that is not a number (or is negative for money), a
    ``not_before`` that does not name another date field, unknown country codes or sets,
    both ``countries`` and ``exclude_countries``, or a restriction that leaves no country, a
    ``min_choices`` above ``max_choices`` or above the choices there are, a file
    ``max_mb`` outside 1..``MAX_FILE_MB`` or an ``accept`` kind not in ``FILE_KINDS``, and a
    group without sub-fields, with sub-fields of other types than ``GROUP_SUB_TYPES``, with
    item limits that contradict each other, totals of sub-fields that are not money or
    number, or a ``must_equal`` that is not a money/number field nor an external reference.
    """
    if not isinstance(raw, list):
        raise FormDefinitionError([_("the form definition must be a list of fields")])
    problems: list[str] = []
    fields = _parse_fields(raw, None, problems, allowed=None)
    by_name = {f.name: f for f in fields}
    for f in fields:
        if f.must_equal is None:
            continue
        target = by_name.get(f.must_equal)
        if f.must_equal in EXTERNAL_REFERENCES:
            continue
        if target is None or target.type not in AMOUNTS:
            known = ", ".join(sorted(EXTERNAL_REFERENCES))
            problems.append(
                _(
                    "field %(name)s: must_equal must name a money or number field of the form "
                    "or one of: %(known)s; not %(given)s",
                    name=repr(f.name),
                    known=known,
                    given=repr(f.must_equal),
                )
            )
    if problems:
        raise FormDefinitionError(problems)
    return fields


def _where(group: str | None, index: int, name: object = None) -> str:
    """How problems name a field: "field 2 ('budget')", or a group's "…, sub-field 1"."""
    if group is None:
        if isinstance(name, str) and name:
            return _("field %(number)s (%(name)s)", number=index, name=repr(name))
        return _("field %(number)s", number=index)
    if isinstance(name, str) and name:
        return _(
            "%(group)s, sub-field %(number)s (%(name)s)", group=group, number=index, name=repr(name)
        )
    return _("%(group)s, sub-field %(number)s", group=group, number=index)


def _parse_fields(
    raw: list[Any], group: str | None, problems: list[str], *, allowed: frozenset[FieldType] | None
) -> list[Field]:
    """The fields of a form (``group`` None) or the sub-fields of the group named ``group``."""
    fields: list[Field] = []
    seen: set[str] = set()
    for index, item in enumerate(raw, start=1):
        if not isinstance(item, Mapping):
            where = _where(group, index)
            problems.append(
                _("%(where)s: must be an object with name, label and type", where=where)
            )
            continue
        where = _where(group, index, item.get("name"))
        found = _parse_field(item, where, problems, allowed=allowed)
        if found is None:
            continue
        if found.name in seen:
            problems.append(
                _("%(where)s: duplicate name %(name)s", where=where, name=repr(found.name))
            )
            continue
        seen.add(found.name)
        fields.append(found)

    dates = {f.name for f in fields if f.type is FieldType.DATE}
    for f in fields:
        if f.not_before is not None and (f.not_before not in dates or f.not_before == f.name):
            if group is None:
                problem = _(
                    "field %(name)s: not_before must name another date field, not %(other)s",
                    name=repr(f.name),
                    other=repr(f.not_before),
                )
            else:
                problem = _(
                    "sub-field %(name)s: not_before must name another date field, not %(other)s",
                    name=repr(f.name),
                    other=repr(f.not_before),
                )
            problems.append(problem)
    return fields


def _parse_field(
    item: Mapping, where: str, problems: list[str], *, allowed: frozenset[FieldType] | None
) -> Field | None:
    # Each check appends its problems in the order of the documentation above, so the person
    # editing the call reads them in that order; a field with any problem is not built.
    start = len(problems)
    _check_known_keys(item, where, problems)
    name, label = _name_and_label(item, where, problems)
    ftype = _field_type(item.get("type"), where, problems, allowed=allowed)
    required = item.get("required", False)
    if not isinstance(required, bool):
        problems.append(_("%(where)s: required must be true or false", where=where))
    help_text = item.get("help", "")
    if not isinstance(help_text, str):
        problems.append(_("%(where)s: help must be text", where=where))
    if ftype is not None:
        _check_applies(item, ftype, where, problems)
    attributes = type_attributes(item, ftype, where, problems)
    group = _group(item, ftype, where, problems)

    if len(problems) > start or ftype is None:
        return None
    assert isinstance(name, str) and isinstance(label, str)
    return Field(
        name=name,
        label=label.strip(),
        type=ftype,
        required=required,
        help=help_text.strip(),
        **attributes,
        **group,
    )


def _check_known_keys(item: Mapping, where: str, problems: list[str]) -> None:
    unknown = sorted(str(k) for k in item if k not in _KEYS)
    if unknown:
        problems.append(
            _(
                "%(where)s: unknown key(s) %(unknown)s (allowed: %(allowed)s)",
                where=where,
                unknown=", ".join(unknown),
                allowed=", ".join(sorted(_KEYS)),
            )
        )


def _name_and_label(item: Mapping, where: str, problems: list[str]) -> tuple[object, object]:
    """The name and label as given; a problem for each that is not usable."""
    name = item.get("name")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        problems.append(
            _(
                "%(where)s: name must be lower-case letters, digits and underscores, starting "
                "with a letter (at most 63 characters), not %(name)s",
                where=where,
                name=repr(name),
            )
        )
    label = item.get("label")
    if not isinstance(label, str) or not label.strip():
        problems.append(_("%(where)s: a label is required", where=where))
    return name, label


def _field_type(
    raw_type: object, where: str, problems: list[str], *, allowed: frozenset[FieldType] | None
) -> FieldType | None:
    """The field's type, or None when unknown. A type a group does not allow is still
    returned, so the checks that depend on the type report their problems too."""
    try:
        ftype = FieldType(raw_type)
    except ValueError:
        kinds = ", ".join(t.value for t in FieldType)
        problems.append(
            _(
                "%(where)s: unknown type %(type)s (expected one of: %(kinds)s)",
                where=where,
                type=repr(raw_type),
                kinds=kinds,
            )
        )
        return None
    if allowed is not None and ftype not in allowed:
        kinds = ", ".join(sorted(t.value for t in allowed))
        problems.append(
            _(
                "%(where)s: a group's sub-field must be one of: %(kinds)s; not %(type)s",
                where=where,
                kinds=kinds,
                type=str(ftype),
            )
        )
    return ftype


def _check_applies(item: Mapping, ftype: FieldType, where: str, problems: list[str]) -> None:
    for key, types in _ONLY_FOR.items():
        if item.get(key) not in (None, (), []) and ftype not in types:
            kinds = functools.reduce(
                lambda first, second: _("%(first)s or %(second)s", first=first, second=second),
                sorted(t.value for t in types),
            )
            problems.append(
                _(
                    "%(where)s: %(key)s only applies to %(kinds)s fields",
                    where=where,
                    key=key,
                    kinds=kinds,
                )
            )


def _group(
    item: Mapping, ftype: FieldType | None, where: str, problems: list[str]
) -> dict[str, Any]:
    if ftype is not FieldType.GROUP:
        return {}
    raw_fields = item.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        problems.append(_("%(where)s: a group needs a non-empty list of fields", where=where))
        subs: list[Field] = []
    else:
        subs = _parse_fields(raw_fields, where, problems, allowed=GROUP_SUB_TYPES)
    min_items = whole_key(item, "min_items", where, problems, 0, MAX_GROUP_ITEMS)
    max_items = whole_key(item, "max_items", where, problems, 1, MAX_GROUP_ITEMS)
    if is_whole(min_items, 0) and is_whole(max_items, 1) and min_items > max_items:
        problems.append(_("%(where)s: min_items cannot be more than max_items", where=where))

    raw_totals = item.get("totals", ())
    if not isinstance(raw_totals, list | tuple):
        problems.append(_("%(where)s: totals must be a list of sub-field names", where=where))
        raw_totals = ()
    totals = total_names(raw_totals, subs, where, problems)
    total_max = amount_limit(
        item.get("total_max"), _("%(where)s: total_max", where=where), FieldType.MONEY, problems
    )
    must_equal = item.get("must_equal")
    if must_equal is not None and not isinstance(must_equal, str):
        problems.append(
            _("%(where)s: must_equal must be the name of a field or reference", where=where)
        )
    for key in ("total_max", "must_equal"):
        if item.get(key) is not None and not raw_totals:
            problems.append(
                _(
                    "%(where)s: %(key)s needs totals (the sub-fields to add up)",
                    where=where,
                    key=key,
                )
            )
    return {
        "fields": tuple(subs),
        "min_items": min_items,
        "max_items": max_items,
        "totals": totals,
        "total_max": total_max,
        "must_equal": must_equal,
    }
