"""The model of a call-defined form: field types, fields and the limits they share.

``forms.schema`` reads a definition into these (``parse_form``) and ``forms.dump`` writes it
back (``dump_form``); see ``forms.schema`` for what a definition looks like.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from forms.countries import allowed, country_name
from workflows import numbers
from workflows.i18n import N_

MB = 1024 * 1024
DEFAULT_FILE_MAX_MB = 10
MAX_FILE_MB = 25  # the web server accepts requests of 32 MB (CASCADE_MAX_REQUEST_MB)
MAX_GROUP_ITEMS = 50
# A number answer (and a number field's max) lies within -NUMBER_MAX..NUMBER_MAX: answers are
# stored as text, but totals are compared with amounts, so keep them within NUMERIC(15, 2).
NUMBER_MAX = numbers.DECIMAL_MAX

# File kinds an applicant may upload: kind -> (MIME type, what a person calls it; translate
# it with gettext where it is shown).
FILE_KINDS: dict[str, tuple[str, str]] = {
    "pdf": ("application/pdf", N_("PDF")),
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        N_("Word (DOCX)"),
    ),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        N_("Excel (XLSX)"),
    ),
    "png": ("image/png", N_("PNG image")),
    "jpeg": ("image/jpeg", N_("JPEG image")),
}


# Values every application has outside its form, which a group's total may have to equal;
# what they are called is translated with gettext where it is shown.
EXTERNAL_REFERENCES: dict[str, str] = {"requested_amount": N_("the requested amount")}


class FieldType(StrEnum):
    TEXT = "text"  # one line
    LONG_TEXT = "long_text"  # paragraphs; optional max_words
    NUMBER = "number"  # a decimal number; optional max
    MONEY = "money"  # EUR amount >= 0 with at most 2 decimals; optional max
    DATE = "date"  # ISO yyyy-mm-dd; optional not_before (another date field)
    CHOICE = "choice"  # one of options
    YES_NO = "yes_no"  # a declaration checkbox; when required it must be ticked
    MULTI_CHOICE = "multi_choice"  # several of options (a list); optional max_choices
    COUNTRY = "country"  # ISO 3166-1 alpha-2; optional countries / exclude_countries
    COUNTRY_LIST = "country_list"  # several countries (a list of codes); as country, and
    # min_choices / max_choices
    FILE = "file"  # an uploaded attachment (its id); max_mb, accept
    GROUP = "group"  # repeatable sub-fields (a list of objects); totals


# Types whose answer is a list of values: an HTML form posts one value per ticked box or
# per chosen dropdown under the same name (read them with ``getlist``).
LIST_TYPES = frozenset({FieldType.MULTI_CHOICE, FieldType.COUNTRY_LIST})

# Country dropdowns a country_list shows when it has no max_choices (one more appears once
# they are all used and saved).
COUNTRY_LIST_SLOTS = 5


class CountrySlot(NamedTuple):
    """One country dropdown of a country_list: the code it shows chosen ("" for none), its
    name, and whether the field offers it (a refused country stays shown until changed)."""

    code: str
    name: str
    offered: bool


GROUP_SUB_TYPES = frozenset(
    {
        FieldType.TEXT,
        FieldType.LONG_TEXT,
        FieldType.NUMBER,
        FieldType.MONEY,
        FieldType.DATE,
        FieldType.CHOICE,
        FieldType.COUNTRY,
    }
)


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
    countries: tuple[str, ...] = ()  # country(_list): allowed codes and sets (empty: all)
    max_choices: int | None = None  # multi_choice, country_list
    max_mb: int | None = None  # file: size limit in MB (default DEFAULT_FILE_MAX_MB)
    accept: tuple[str, ...] = ()  # file: kinds of FILE_KINDS (empty: all)
    fields: tuple[Field, ...] = ()  # group: its sub-fields
    min_items: int | None = None  # group
    max_items: int | None = None  # group (default MAX_GROUP_ITEMS)
    totals: tuple[str, ...] = ()  # group: money/number sub-fields summed over the items
    total_max: Decimal | None = None  # group: no total may exceed this
    must_equal: str | None = None  # group: every total must equal this reference
    exclude_countries: tuple[str, ...] = ()  # country(_list): refused codes and sets
    min_choices: int | None = None  # multi_choice, country_list: when complete

    @property
    def file_max_bytes(self) -> int:
        return (self.max_mb or DEFAULT_FILE_MAX_MB) * MB

    @property
    def accepted_kinds(self) -> tuple[str, ...]:
        return self.accept or tuple(FILE_KINDS)

    @property
    def item_limit(self) -> int:
        return self.max_items or MAX_GROUP_ITEMS

    @property
    def item_minimum(self) -> int:
        """Items a complete answer needs: min_items, or one when the group is required."""
        return max(self.min_items or 0, 1 if self.required else 0)

    @property
    def choice_minimum(self) -> int:
        """Choices a complete answer needs: min_choices, or one when the field is required."""
        return max(self.min_choices or 0, 1 if self.required else 0)

    @property
    def allowed_countries(self) -> frozenset[str]:
        """The codes a country or country_list field accepts."""
        return allowed(self.countries, self.exclude_countries)

    def sub(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def country_slots(self, value: object) -> list[CountrySlot]:
        """The dropdowns a country_list shows for ``value`` (a list of codes, as saved or as
        posted): the countries chosen, in order, then empty ones up to max_choices (default
        ``COUNTRY_LIST_SLOTS``, and one spare when there is no maximum), no more than there
        are countries to choose. A method, so that templates reach it through the field."""
        items = [value] if isinstance(value, str) else value
        chosen = [] if not isinstance(items, list | tuple) else [str(v) for v in items]
        codes = [c.strip().upper() for c in chosen if c.strip()]
        allowed = self.allowed_countries
        if self.max_choices is not None:
            wanted = self.max_choices
        else:
            wanted = max(COUNTRY_LIST_SLOTS, len(codes) + 1)
        count = max(min(wanted, len(allowed)), len(codes))
        slots = [CountrySlot(c, country_name(c), c in allowed) for c in codes]
        return slots + [CountrySlot("", "", True)] * (count - len(slots))


def country_choices(field: Field) -> list[tuple[str, str]]:
    """(code, name) pairs a country or country_list field offers, sorted by name."""
    return sorted(((c, country_name(c)) for c in field.allowed_countries), key=lambda pair: pair[1])
