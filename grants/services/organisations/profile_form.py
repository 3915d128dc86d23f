"""The organisation profile's form: its fields, their labels, and checking it as a whole.

Every problem is reported at once, next to its field; nothing is written on error. The SME
category is computed with ``sme.category_of`` once the figures read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from grants.errors import ValidationFailed
from grants.services.organisations.sme import category_of
from workflows import numbers, registration_numbers
from workflows.i18n import N_, _
from workflows.money import CENT
from workflows.numbers import plain

ENTERPRISE_TYPES = ("autonomous", "partner", "linked")
RELATIONS = ("partner", "linked")
MAX_HEADCOUNT = Decimal("9999999.99")  # NUMERIC(12, 2) would take more: a typing error
# Below EUR 1 trillion (beyond it, surely a typing error), within NUMERIC(15, 2).
MAX_MONEY = Decimal("999999999999.99")
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
    "email": N_("E-mail address"),
}
RELATED_LABELS = {
    "name": N_("name"),
    "relation": N_("relation"),
    "share_percent": N_("share"),
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
RELATED_TYPED = ("name", "share_percent", "headcount", "turnover", "balance_sheet")
AID_FIELDS = tuple(AID_LABELS)


def error_label(key: str) -> str:
    """How an error key (``related_enterprises-0-turnover``) reads in an error summary."""
    if key in LABELS:
        return _(LABELS[key])
    group, _sep, rest = key.partition("-")
    index, _sep, name = rest.partition("-")
    if group == "related_enterprises" and index.isdigit():
        return _(
            "Related enterprise %(number)s: %(field)s",
            number=int(index) + 1,
            field=_(RELATED_LABELS[name]) if name in RELATED_LABELS else name,
        )
    if group == "de_minimis_aid" and index.isdigit():
        return _(
            "De minimis aid %(number)s: %(field)s",
            number=int(index) + 1,
            field=_(AID_LABELS[name]) if name in AID_LABELS else name,
        )
    return key


# -- parsing ---------------------------------------------------------------------------------
def _text(value: object) -> str:
    return "" if value is None else " ".join(str(value).split())


def _figure(raw: object, parse: Callable[[object], Decimal]) -> Decimal | None:
    """A figure read by ``workflows.numbers`` (its refusal is a ValueError the checker
    reports), or None when left empty."""
    if not _text(raw):
        return None
    return parse(raw)


def _parse_staff(raw: object) -> Decimal | None:
    """Staff in annual work units: part-timers make decimals (9.5), at most two."""
    value = _figure(
        raw,
        lambda v: numbers.parse_decimal(v, field_label=_("The headcount"), maximum=MAX_HEADCOUNT),
    )
    return None if value is None else value.quantize(CENT)


def _parse_money(raw: object) -> Decimal | None:
    return _figure(raw, lambda v: numbers.parse_money(v, maximum=MAX_MONEY))


def _parse_date(raw: object, *, today: date) -> date | None:
    if isinstance(raw, datetime):
        raw = raw.date()
    if isinstance(raw, date):
        value = raw
    else:
        text = _text(raw)
        if not text:
            return None
        try:
            value = date.fromisoformat(text)
        except ValueError:
            raise ValueError(_("give the date as year-month-day, like 2015-03-02")) from None
    if value > today:
        raise ValueError(_("the date cannot be in the future"))
    if value.year < 1800:
        raise ValueError(_("check the year of this date"))
    return value


def _bounded(text: str, limit: int) -> str:
    if len(text) > limit:
        raise ValueError(
            _(
                "use at most %(limit)s characters (this has %(count)s)",
                limit=limit,
                count=len(text),
            )
        )
    return text


@dataclass
class _Checker:
    """Collects every field's problem, so one answer lists them all."""

    errors: dict[str, str] = field(default_factory=dict)

    def check(self, key: str, parse: Callable[[], Any], default: Any = None) -> Any:
        try:
            return parse()
        except ValueError as exc:
            self.errors[key] = str(exc)
            return default


def _required(text: str, message: str) -> str:
    if not text:
        raise ValueError(message)
    return text


def _required_text(raw: object, message: str, limit: int) -> str:
    """Text a person must give (``message`` says what), of at most ``limit`` characters."""
    return _bounded(_required(_text(raw), message), limit)


def _rows(value: object) -> list[Mapping[str, Any]]:
    if value is None or value == "":
        return []
    if not isinstance(value, list | tuple):
        raise ValueError(_("expected a list of rows"))
    return [row for row in value if isinstance(row, Mapping)]


def _blank(row: Mapping[str, Any], names: tuple[str, ...]) -> bool:
    return not any(_text(row.get(name)) for name in names)


def _related(rows: list[Mapping[str, Any]], c: _Checker) -> list[dict[str, str]]:
    clean: list[dict[str, str]] = []
    for index, row in enumerate(rows):
        key = f"related_enterprises-{index}-"
        name = c.check(
            key + "name",
            lambda row=row: _required_text(row.get("name"), _("give the enterprise's name"), 200),
            "",
        )
        relation = _text(row.get("relation")).lower()
        if relation not in RELATIONS:
            c.errors[key + "relation"] = _("choose partner (25% to 50%) or linked (over 50%)")

        def share(row: Mapping[str, Any] = row, relation: str = relation) -> Decimal:
            value = _figure(
                row.get("share_percent"),
                lambda v: numbers.parse_percent(v, field_label=_("The share")),
            )
            if value is None:
                raise ValueError(_("give the share of capital or voting rights held, in %"))
            if relation == "partner" and not Decimal(25) <= value <= Decimal(50):
                raise ValueError(
                    _(
                        "a partner enterprise is held 25% to 50%: below 25% it is not counted, "
                        "above 50% it is a linked enterprise"
                    )
                )
            return value

        percent = c.check(key + "share_percent", share)
        staff = c.check(key + "headcount", lambda row=row: _parse_staff(row.get("headcount")))
        turnover = c.check(key + "turnover", lambda row=row: _parse_money(row.get("turnover")))
        balance = c.check(
            key + "balance_sheet", lambda row=row: _parse_money(row.get("balance_sheet"))
        )
        for name_, value in (("headcount", staff), ("turnover", turnover)):
            if value is None and key + name_ not in c.errors:
                c.errors[key + name_] = _("give this figure (0 if none)")
        if balance is None and key + "balance_sheet" not in c.errors:
            c.errors[key + "balance_sheet"] = _("give this figure (0 if none)")
        clean.append(
            {
                "name": name,
                "relation": relation,
                "share_percent": plain(percent) if percent is not None else "",
                "headcount": plain(staff) if staff is not None else "",
                "turnover": str(turnover) if turnover is not None else "",
                "balance_sheet": str(balance) if balance is not None else "",
            }
        )
    return clean


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
    values.update(_size(data, c))
    related = _related(_typed_rows(data, "related_enterprises", RELATED_TYPED, c), c)
    values["related_enterprises"] = related
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


def _size(data: Mapping[str, Any], c: _Checker) -> dict[str, Any]:
    """The figures of the SME test and the type of enterprise."""
    values: dict[str, Any] = {
        "headcount": c.check("headcount", lambda: _parse_staff(data.get("headcount"))),
        "turnover": c.check("turnover", lambda: _parse_money(data.get("turnover"))),
        "balance_sheet": c.check("balance_sheet", lambda: _parse_money(data.get("balance_sheet"))),
    }
    kind = _text(data.get("enterprise_type")).lower() or "autonomous"
    if kind not in ENTERPRISE_TYPES:
        c.errors["enterprise_type"] = _("choose autonomous, partner or linked")
    values["enterprise_type"] = kind
    return values


def _typed_rows(
    data: Mapping[str, Any], name: str, typed: tuple[str, ...], c: _Checker
) -> list[Mapping[str, Any]]:
    """The rows of a repeated group, leaving out those with nothing typed in them."""
    rows = c.check(name, lambda: _rows(data.get(name)), [])
    return [r for r in rows if not _blank(r, typed)]


def _enterprise_type_problem(kind: str, related: list[dict[str, str]]) -> str | None:
    """Why the type of enterprise contradicts the related enterprises listed, if it does."""
    relations = {r["relation"] for r in related}
    if kind == "autonomous" and related:
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
