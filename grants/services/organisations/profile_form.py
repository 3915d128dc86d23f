"""The organisation profile's form: its fields, their labels, and checking it as a whole.

Every problem is reported at once, next to its field; nothing is written on error. The SME
category is computed with ``sme.category_of`` once the figures read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from grants.errors import ValidationFailed
from grants.services.organisations.profile_holdings import (
    RELATIONS,
    _holding_problems,
    _links,
    _related,
)
from grants.services.organisations.profile_parse import (
    MAX_HEADCOUNT,
    MAX_MONEY,
    _blank,
    _bounded,
    _Checker,
    _parse_date,
    _parse_money,
    _parse_staff,
    _required,
    _required_text,
    _rows,
    _text,
)
from grants.services.organisations.sme import category_of
from workflows import numbers, registration_numbers
from workflows.i18n import N_, _
from workflows.sme import SIZES
from workflows.sme_status import EXEMPT_INVESTORS

__all__ = ["MAX_HEADCOUNT", "MAX_MONEY", "RELATIONS"]

ENTERPRISE_TYPES = ("autonomous", "partner", "linked")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^[0-9+()./\s-]*$")

# Each profile field and how it reads in an error summary.
LABELS = {
    "legal_name": N_("Legal name"),
    "country": N_("Country of registration"),
    "registration_number": N_("Registration number"),
    "vat_number": N_("VAT number"),
    "address": N_("Registered address"),
    "registered_on": N_("Date of registration"),
    "contact_name": N_("Contact person"),
    "contact_email": N_("Contact e-mail"),
    "contact_phone": N_("Contact phone"),
    "headcount": N_("Staff headcount"),
    "turnover": N_("Annual turnover"),
    "balance_sheet": N_("Balance-sheet total"),
    "enterprise_type": N_("Type of enterprise"),
    "accounts_year": N_("Year of the latest closed accounts"),
    "newly_established": N_("Newly established"),
    "previous_headcount": N_("Staff headcount, the year before"),
    "previous_turnover": N_("Annual turnover, the year before"),
    "previous_balance_sheet": N_("Balance-sheet total, the year before"),
    "held_category": N_("Category held until now"),
    "email": N_("E-mail address"),
}
RELATED_LABELS = {
    "name": N_("name"),
    "holder_type": N_("who it is"),
    "direction": N_("who holds the share"),
    "relation": N_("relation"),
    "share_percent": N_("share"),
    "headcount": N_("staff headcount"),
    "turnover": N_("turnover"),
    "balance_sheet": N_("balance-sheet total"),
    "invested": N_("amount invested"),
}
LINK_LABELS = {
    "of": N_("linked to"),
    "name": N_("name"),
    "headcount": N_("staff headcount"),
    "turnover": N_("turnover"),
    "balance_sheet": N_("balance-sheet total"),
}
AID_LABELS = {
    "granting_authority": N_("granting authority"),
    "amount": N_("amount"),
    "granted_on": N_("date granted"),
}
RELATED_FIELDS = tuple(RELATED_LABELS)
# What a person types in a row (the relation is a select, never empty): all empty = no row.
RELATED_TYPED = ("name", "share_percent", "headcount", "turnover", "balance_sheet", "invested")
LINK_FIELDS = tuple(LINK_LABELS)
LINK_TYPED = LINK_FIELDS
AID_FIELDS = tuple(AID_LABELS)
# Each repeated group of the form: its error label and the fields of a row.
_GROUPS = {
    "related_enterprises": (N_("Related enterprise %(number)s: %(field)s"), RELATED_LABELS),
    "related_links": (N_("Enterprise linked to a related one %(number)s: %(field)s"), LINK_LABELS),
    "de_minimis_aid": (N_("De minimis aid %(number)s: %(field)s"), AID_LABELS),
}


def error_label(key: str) -> str:
    """How an error key (``related_enterprises-0-turnover``) reads in an error summary."""
    if key in LABELS:
        return _(LABELS[key])
    group, _sep, rest = key.partition("-")
    index, _sep, name = rest.partition("-")
    if group in _GROUPS and index.isdigit():
        label, fields = _GROUPS[group]
        return _(label, number=int(index) + 1, field=_(fields[name]) if name in fields else name)
    return key


# -- parsing ---------------------------------------------------------------------------------
def _aid(rows: list[Mapping[str, Any]], c: _Checker, today: date) -> list[dict[str, str]]:
    clean: list[dict[str, str]] = []
    for index, row in enumerate(rows):
        key = f"de_minimis_aid-{index}-"
        authority = c.check(
            key + "granting_authority",
            lambda row=row: _required_text(
                row.get("granting_authority"), _("give who granted the aid"), 200
            ),
            "",
        )

        def amount(row: Mapping[str, Any] = row) -> Decimal:
            value = _parse_money(row.get("amount"))
            if value is None or value == 0:
                raise ValueError(_("give the amount of aid in euros, more than zero"))
            return value

        value = c.check(key + "amount", amount)

        def granted(row: Mapping[str, Any] = row) -> date:
            day = _parse_date(row.get("granted_on"), today=today)
            if day is None:
                raise ValueError(_("give the date the aid was granted"))
            return day

        day = c.check(key + "granted_on", granted)
        clean.append(
            {
                "granting_authority": authority,
                "amount": str(value) if value is not None else "",
                "granted_on": day.isoformat() if day is not None else "",
            }
        )
    return clean


@dataclass(frozen=True)
class Clean:
    """A validated profile, ready to store."""

    values: dict[str, Any]
    registration_scheme: str


def validate_profile(data: Mapping[str, Any], *, today: date) -> Clean:
    """Every field checked; ValidationFailed lists every problem at once.

    One helper per group of the form, called in the form's order, so the error summary
    lists the problems from top to bottom.
    """
    c = _Checker()
    values, scheme = _identity(data, c, today)
    values.update(_contact(data, c))
    values.update(_size(data, c, today))
    related = _related(_typed_rows(data, "related_enterprises", RELATED_TYPED, c), c)
    values["related_enterprises"] = related
    links = _links(_typed_rows(data, "related_links", LINK_TYPED, c), c)
    values["related_links"] = links
    _holding_problems(related, links, c)
    values["de_minimis_aid"] = _aid(_typed_rows(data, "de_minimis_aid", AID_FIELDS, c), c, today)
    # Only once the type itself is valid: one problem per field, the most basic one.
    if "enterprise_type" not in c.errors:
        problem = _enterprise_type_problem(values["enterprise_type"], related)
        if problem:
            c.errors["enterprise_type"] = problem
    if c.errors:
        raise ValidationFailed(c.errors)
    values["sme_category"], values["sme_explanation"] = category_of(values)
    return Clean(values, scheme)


def _identity(data: Mapping[str, Any], c: _Checker, today: date) -> tuple[dict[str, Any], str]:
    """Who the organisation is (name, country, numbers, registered office and date), and
    the registration scheme its number was read with ("" when not known)."""
    values: dict[str, Any] = {}
    values["legal_name"] = c.check(
        "legal_name",
        lambda: _required_text(
            data.get("legal_name"), _("give the organisation's legal name"), 300
        ),
        "",
    )
    country = c.check(
        "country", lambda: registration_numbers.check_country(_text(data.get("country"))), ""
    )
    values["country"] = country
    values["registration_number"], scheme = _registration_number(
        country, _text(data.get("registration_number")), c
    )
    values["vat_number"] = _vat_number(country, _text(data.get("vat_number")), c)
    values["address"] = c.check(
        "address",
        lambda: _bounded(
            _required(
                str(data.get("address") or "").strip(), _("give the registered office's address")
            ),
            1000,
        ),
        "",
    )
    values["registered_on"] = c.check(
        "registered_on", lambda: _parse_date(data.get("registered_on"), today=today)
    )
    return values, scheme


def _registration_number(country: str, raw: str, c: _Checker) -> tuple[str, str]:
    """The number as its country's scheme writes it, and the scheme's name. Without a valid
    country the number cannot be checked: it is kept as typed, only required."""
    if country:
        return c.check(
            "registration_number",
            lambda: registration_numbers.validate_registration(country, raw),
            (raw, ""),
        )
    if not raw:
        c.errors["registration_number"] = _("enter the organisation's registration number")
    return raw, ""


def _vat_number(country: str, raw: str, c: _Checker) -> str | None:
    """The VAT number is optional; without a valid country it is kept as typed."""
    if not raw:
        return None
    if not country:
        return raw
    return c.check("vat_number", lambda: registration_numbers.validate_vat(country, raw), raw)


def _contact(data: Mapping[str, Any], c: _Checker) -> dict[str, Any]:
    # A dict display evaluates in order, so the errors stay in the form's order.
    return {
        "contact_name": c.check(
            "contact_name", lambda: _bounded(_text(data.get("contact_name")), 200), ""
        ),
        "contact_email": c.check(
            "contact_email", lambda: _contact_email(data.get("contact_email")), ""
        ),
        "contact_phone": c.check(
            "contact_phone", lambda: _contact_phone(data.get("contact_phone")), ""
        ),
    }


def _contact_email(raw: object) -> str:
    email = _text(raw).lower()
    if email and not _EMAIL.match(email):
        raise ValueError(_("give an e-mail address like name@example.eu"))
    return _bounded(email, 254)


def _contact_phone(raw: object) -> str:
    phone = _text(raw)
    if not _PHONE.match(phone):
        raise ValueError(_("use digits, spaces and + ( ) - only, like +39 010 123 4567"))
    return _bounded(phone, 40)


def _size(data: Mapping[str, Any], c: _Checker, today: date) -> dict[str, Any]:
    """The figures of the SME test and the type of enterprise."""
    values: dict[str, Any] = {
        "headcount": c.check("headcount", lambda: _parse_staff(data.get("headcount"))),
        "turnover": c.check("turnover", lambda: _parse_money(data.get("turnover"))),
        "balance_sheet": c.check("balance_sheet", lambda: _parse_money(data.get("balance_sheet"))),
    }
    values.update(_years(data, values, c, today))
    kind = _text(data.get("enterprise_type")).lower() or "autonomous"
    if kind not in ENTERPRISE_TYPES:
        c.errors["enterprise_type"] = _("choose autonomous, partner or linked")
    values["enterprise_type"] = kind
    return values


_PREVIOUS = ("previous_headcount", "previous_turnover", "previous_balance_sheet")


def _years(
    data: Mapping[str, Any], latest: Mapping[str, Any], c: _Checker, today: date
) -> dict[str, Any]:
    """What the two-year rule needs: the year of the figures, the year before's figures
    (all three or none), the category held, or that the enterprise is newly established."""
    values: dict[str, Any] = {
        "accounts_year": c.check(
            "accounts_year",
            lambda: (
                numbers.parse_integer(
                    data.get("accounts_year"),
                    field_label=_("The year"),
                    minimum=1900,
                    maximum=today.year,
                )
                if _text(data.get("accounts_year"))
                else None
            ),
        ),
        "previous_headcount": c.check(
            "previous_headcount", lambda: _parse_staff(data.get("previous_headcount"))
        ),
        "previous_turnover": c.check(
            "previous_turnover", lambda: _parse_money(data.get("previous_turnover"))
        ),
        "previous_balance_sheet": c.check(
            "previous_balance_sheet", lambda: _parse_money(data.get("previous_balance_sheet"))
        ),
    }
    held = _text(data.get("held_category")).lower()
    if held and held not in SIZES:
        c.errors["held_category"] = _("choose micro, small, medium or large, or leave it empty")
    values["held_category"] = held or None
    new = _text(data.get("newly_established")).lower() in ("yes", "on", "true", "1")
    values["newly_established"] = new
    given = [name for name in _PREVIOUS if _text(data.get(name))]
    if new:
        for name in given:
            c.errors.setdefault(
                name,
                _("a newly established enterprise has no closed year before: leave this empty"),
            )
    elif given:
        for name in _PREVIOUS:
            if name not in given:
                c.errors.setdefault(
                    name, _("give the three figures of the year before (0 if none)")
                )
    if given and any(latest.get(n) is None for n in ("headcount", "turnover", "balance_sheet")):
        for name in ("headcount", "turnover", "balance_sheet"):
            if latest.get(name) is None:
                c.errors.setdefault(
                    name, _("give the latest year's figures too: the year before's need them")
                )
    return values


def _typed_rows(
    data: Mapping[str, Any], name: str, typed: tuple[str, ...], c: _Checker
) -> list[Mapping[str, Any]]:
    """The rows of a repeated group, leaving out those with nothing typed in them."""
    rows = c.check(name, lambda: _rows(data.get(name)), [])
    return [r for r in rows if not _blank(r, typed)]


def _enterprise_type_problem(kind: str, related: list[dict[str, str]]) -> str | None:
    """Why the type of enterprise contradicts the related enterprises listed, if it does.

    Exempt investors holding 25% to 50% without being linked, and public bodies (whose
    share decides alone), leave an enterprise autonomous."""
    counting = [
        r
        for r in related
        if r["holder_type"] == "enterprise"
        or (r["holder_type"] in EXEMPT_INVESTORS and r["relation"] == "linked")
    ]
    relations = {r["relation"] for r in counting}
    if kind == "autonomous" and counting:
        return _(
            "an autonomous enterprise has no partner or linked enterprises: choose partner "
            "or linked, or remove the related enterprises"
        )
    if kind == "partner" and "linked" in relations:
        return _(
            "an enterprise with a linked enterprise (over 50% or control) is a linked "
            "enterprise: choose linked"
        )
    if kind == "partner" and "partner" not in relations:
        return _("list the partner enterprises (held 25% to 50%)")
    if kind == "linked" and "linked" not in relations:
        return _("list the linked enterprises (over 50%, or controlled by other means)")
    return None
