"""The applicant organisation: its profile, SME size, de minimis aid and its people.

One function per business action, each taking the acting person. Every profile change is
validated as a whole first (every field's problem reported at once, nothing written on
error), then applied and audited (entity type "organisation", before/after of what
changed). The SME category is computed here with ``workflows.sme`` from the figures and
the partner/linked enterprises, and stored with its explanation.

Invitations are signed, expiring links (itsdangerous, keyed with the application's secret,
which the caller passes in). A link carries the organisation, the invited address and the
audit position of the invitation, so removing that person afterwards withdraws it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grants import programme
from grants.db import utcnow
from grants.models import Application, AuditEvent, MailMessage, Organisation, User
from grants.services import audit, mail
from grants.services.actor import Actor
from grants.services.applications import ValidationFailed
from grants.services.workflow import NotFound, load_locked
from workflows import numbers, registration_numbers
from workflows.errors import TransitionRefused
from workflows.money import format_eur
from workflows.numbers import plain
from workflows.roles import Role
from workflows.sme import CEILINGS, Enterprise, Holding, sme_category

ENTERPRISE_TYPES = ("autonomous", "partner", "linked")
RELATIONS = ("partner", "linked")
# Regulation (EU) 2023/2831: EUR 300,000 per single undertaking over any three years.
DE_MINIMIS_CEILING = Decimal("300000.00")
DE_MINIMIS_YEARS = 3
INVITE_SALT = "cascade-organisation-invite"
INVITE_MAX_AGE = 7 * 24 * 3600  # seconds: an invitation link works for seven days
INVITE_DAYS = INVITE_MAX_AGE // (24 * 3600)

CENT = Decimal("0.01")
MAX_HEADCOUNT = Decimal("9999999.99")  # NUMERIC(12, 2) would take more: a typing error
# Below EUR 1 trillion (beyond it, surely a typing error), within NUMERIC(15, 2).
MAX_MONEY = Decimal("999999999999.99")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^[0-9+()./\s-]*$")

# Each profile field and how it reads in an error summary.
LABELS = {
    "legal_name": "Legal name",
    "country": "Country of registration",
    "registration_number": "Registration number",
    "vat_number": "VAT number",
    "address": "Registered address",
    "registered_on": "Date of registration",
    "contact_name": "Contact person",
    "contact_email": "Contact e-mail",
    "contact_phone": "Contact phone",
    "headcount": "Staff headcount",
    "turnover": "Annual turnover",
    "balance_sheet": "Balance-sheet total",
    "enterprise_type": "Type of enterprise",
    "email": "E-mail address",
}
RELATED_LABELS = {
    "name": "name",
    "relation": "relation",
    "share_percent": "share",
    "headcount": "staff headcount",
    "turnover": "turnover",
    "balance_sheet": "balance-sheet total",
}
AID_LABELS = {
    "granting_authority": "granting authority",
    "amount": "amount",
    "granted_on": "date granted",
}
RELATED_FIELDS = tuple(RELATED_LABELS)
# What a person types in a row (the relation is a select, never empty): all empty = no row.
RELATED_TYPED = ("name", "share_percent", "headcount", "turnover", "balance_sheet")
AID_FIELDS = tuple(AID_LABELS)
# In the plain-words SME result.
CATEGORY_WORDS = {
    "micro": "a micro enterprise",
    "small": "a small enterprise",
    "medium": "a medium-sized enterprise",
    "large": "not an SME: a large enterprise",
}


def error_label(key: str) -> str:
    """How an error key (``related_enterprises-0-turnover``) reads in an error summary."""
    if key in LABELS:
        return LABELS[key]
    group, _, rest = key.partition("-")
    index, _, name = rest.partition("-")
    if group == "related_enterprises" and index.isdigit():
        return f"Related enterprise {int(index) + 1}: {RELATED_LABELS.get(name, name)}"
    if group == "de_minimis_aid" and index.isdigit():
        return f"De minimis aid {int(index) + 1}: {AID_LABELS.get(name, name)}"
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
        lambda v: numbers.parse_decimal(v, field_label="The headcount", maximum=MAX_HEADCOUNT),
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
            raise ValueError("give the date as year-month-day, like 2015-03-02") from None
    if value > today:
        raise ValueError("the date cannot be in the future")
    if value.year < 1800:
        raise ValueError("check the year of this date")
    return value


def _bounded(text: str, limit: int) -> str:
    if len(text) > limit:
        raise ValueError(f"use at most {limit} characters (this has {len(text)})")
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


def _rows(value: object) -> list[Mapping[str, Any]]:
    if value is None or value == "":
        return []
    if not isinstance(value, list | tuple):
        raise ValueError("expected a list of rows")
    return [row for row in value if isinstance(row, Mapping)]


def _blank(row: Mapping[str, Any], names: tuple[str, ...]) -> bool:
    return not any(_text(row.get(name)) for name in names)


def _related(rows: list[Mapping[str, Any]], c: _Checker) -> list[dict[str, str]]:
    clean: list[dict[str, str]] = []
    for index, row in enumerate(rows):
        key = f"related_enterprises-{index}-"
        name = c.check(
            key + "name",
            lambda row=row: _bounded(
                _required(_text(row.get("name")), "give the enterprise's name"), 200
            ),
            "",
        )
        relation = _text(row.get("relation")).lower()
        if relation not in RELATIONS:
            c.errors[key + "relation"] = "choose partner (25% to 50%) or linked (over 50%)"

        def share(row: Mapping[str, Any] = row, relation: str = relation) -> Decimal:
            value = _figure(
                row.get("share_percent"),
                lambda v: numbers.parse_percent(v, field_label="The share"),
            )
            if value is None:
                raise ValueError("give the share of capital or voting rights held, in %")
            if relation == "partner" and not Decimal(25) <= value <= Decimal(50):
                raise ValueError(
                    "a partner enterprise is held 25% to 50%: below 25% it is not counted, "
                    "above 50% it is a linked enterprise"
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
                c.errors[key + name_] = "give this figure (0 if none)"
        if balance is None and key + "balance_sheet" not in c.errors:
            c.errors[key + "balance_sheet"] = "give this figure (0 if none)"
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
            lambda row=row: _bounded(
                _required(_text(row.get("granting_authority")), "give who granted the aid"),
                200,
            ),
            "",
        )

        def amount(row: Mapping[str, Any] = row) -> Decimal:
            value = _parse_money(row.get("amount"))
            if value is None or value == 0:
                raise ValueError("give the amount of aid in euros, more than zero")
            return value

        value = c.check(key + "amount", amount)

        def granted(row: Mapping[str, Any] = row) -> date:
            day = _parse_date(row.get("granted_on"), today=today)
            if day is None:
                raise ValueError("give the date the aid was granted")
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
    """Every field checked; ValidationFailed lists every problem at once."""
    c = _Checker()
    values: dict[str, Any] = {}
    values["legal_name"] = c.check(
        "legal_name",
        lambda: _bounded(
            _required(_text(data.get("legal_name")), "give the organisation's legal name"), 300
        ),
        "",
    )
    country = c.check(
        "country", lambda: registration_numbers.check_country(_text(data.get("country"))), ""
    )
    values["country"] = country
    raw_number = _text(data.get("registration_number"))
    scheme = ""
    if country:
        number, scheme = c.check(
            "registration_number",
            lambda: registration_numbers.validate_registration(country, raw_number),
            (raw_number, ""),
        )
    else:
        number = raw_number
        if not raw_number:
            c.errors["registration_number"] = "enter the organisation's registration number"
    values["registration_number"] = number
    raw_vat = _text(data.get("vat_number"))
    vat: str | None = None
    if raw_vat and country:
        vat = c.check(
            "vat_number", lambda: registration_numbers.validate_vat(country, raw_vat), raw_vat
        )
    elif raw_vat:
        vat = raw_vat
    values["vat_number"] = vat
    values["address"] = c.check(
        "address",
        lambda: _bounded(
            _required(
                str(data.get("address") or "").strip(), "give the registered office's address"
            ),
            1000,
        ),
        "",
    )
    values["registered_on"] = c.check(
        "registered_on", lambda: _parse_date(data.get("registered_on"), today=today)
    )
    values["contact_name"] = c.check(
        "contact_name", lambda: _bounded(_text(data.get("contact_name")), 200), ""
    )

    def contact_email() -> str:
        email = _text(data.get("contact_email")).lower()
        if email and not _EMAIL.match(email):
            raise ValueError("give an e-mail address like name@example.eu")
        return _bounded(email, 254)

    values["contact_email"] = c.check("contact_email", contact_email, "")

    def contact_phone() -> str:
        phone = _text(data.get("contact_phone"))
        if not _PHONE.match(phone):
            raise ValueError("use digits, spaces and + ( ) - only, like +39 010 123 4567")
        return _bounded(phone, 40)

    values["contact_phone"] = c.check("contact_phone", contact_phone, "")
    values["headcount"] = c.check("headcount", lambda: _parse_staff(data.get("headcount")))
    values["turnover"] = c.check("turnover", lambda: _parse_money(data.get("turnover")))
    values["balance_sheet"] = c.check(
        "balance_sheet", lambda: _parse_money(data.get("balance_sheet"))
    )
    kind = _text(data.get("enterprise_type")).lower() or "autonomous"
    if kind not in ENTERPRISE_TYPES:
        c.errors["enterprise_type"] = "choose autonomous, partner or linked"
    values["enterprise_type"] = kind

    related_rows = c.check(
        "related_enterprises", lambda: _rows(data.get("related_enterprises")), []
    )
    related_rows = [r for r in related_rows if not _blank(r, RELATED_TYPED)]
    related = _related(related_rows, c)
    values["related_enterprises"] = related
    aid_rows = c.check("de_minimis_aid", lambda: _rows(data.get("de_minimis_aid")), [])
    aid_rows = [r for r in aid_rows if not _blank(r, AID_FIELDS)]
    values["de_minimis_aid"] = _aid(aid_rows, c, today)

    relations = {r["relation"] for r in related}
    if "enterprise_type" not in c.errors:
        if kind == "autonomous" and related:
            c.errors["enterprise_type"] = (
                "an autonomous enterprise has no partner or linked enterprises: choose partner "
                "or linked, or remove the related enterprises"
            )
        elif kind == "partner" and "linked" in relations:
            c.errors["enterprise_type"] = (
                "an enterprise with a linked enterprise (over 50% or control) is a linked "
                "enterprise: choose linked"
            )
        elif kind == "partner" and "partner" not in relations:
            c.errors["enterprise_type"] = "list the partner enterprises (held 25% to 50%)"
        elif kind == "linked" and "linked" not in relations:
            c.errors["enterprise_type"] = (
                "list the linked enterprises (over 50%, or controlled by other means)"
            )
    if c.errors:
        raise ValidationFailed(c.errors)
    values["sme_category"], values["sme_explanation"] = _sme(values)
    return Clean(values, scheme)


def _sme(values: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The SME category and its explanation, or (None, None) while a figure is missing."""
    own = _enterprise(values)
    if own is None:
        return None, None
    partners = [
        Holding(_row_enterprise(r), Decimal(r["share_percent"]))
        for r in values["related_enterprises"]
        if r["relation"] == "partner"
    ]
    linked = [
        Holding(_row_enterprise(r), Decimal(r["share_percent"]))
        for r in values["related_enterprises"]
        if r["relation"] == "linked"
    ]
    return sme_category(own, partners, linked)


def _enterprise(values: Mapping[str, Any]) -> Enterprise | None:
    figures = (values.get("headcount"), values.get("turnover"), values.get("balance_sheet"))
    if any(v is None for v in figures):
        return None
    headcount, turnover, balance = figures
    return Enterprise(Decimal(headcount), Decimal(turnover), Decimal(balance))


def _row_enterprise(row: Mapping[str, str]) -> Enterprise:
    return Enterprise(
        Decimal(row["headcount"]), Decimal(row["turnover"]), Decimal(row["balance_sheet"])
    )


# -- reading ---------------------------------------------------------------------------------
# The profile's single-valued fields, as forms post them; the two lists follow.
SCALAR_FIELDS = (
    "legal_name",
    "country",
    "registration_number",
    "vat_number",
    "address",
    "registered_on",
    "contact_name",
    "contact_email",
    "contact_phone",
    "headcount",
    "turnover",
    "balance_sheet",
    "enterprise_type",
)
_PROFILE = (*SCALAR_FIELDS, "related_enterprises", "de_minimis_aid")
_STORED = (*_PROFILE, "sme_category", "sme_explanation")


def snapshot(org: Organisation) -> dict[str, Any]:
    """The stored profile as plain JSON values, for the audit trail."""
    return _plain_values({name: getattr(org, name) for name in _STORED})


def _plain_values(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _STORED:
        value = values.get(name)
        if isinstance(value, Decimal):
            value = str(value.quantize(CENT))
        elif isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, list):
            value = [dict(v) for v in value]
        out[name] = value
    return out


def form_values(org: Organisation | None) -> dict[str, Any]:
    """The profile as the form shows it: text, and lists of rows of text."""
    if org is None:
        return {"enterprise_type": "autonomous", "related_enterprises": [], "de_minimis_aid": []}
    values: dict[str, Any] = {}
    for name in _PROFILE:
        value = getattr(org, name)
        if isinstance(value, Decimal):
            value = plain(value) if name == "headcount" else str(value.quantize(CENT))
        elif isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, list):
            value = [dict(v) for v in value]
        values[name] = "" if value is None else value
    return values


def own_organisation(session: Session, actor: Actor) -> Organisation | None:
    user = session.get(User, actor.user_id) if actor.user_id else None
    if user is None or user.organisation_id is None:
        return None
    return session.get(Organisation, user.organisation_id)


def is_manager(session: Session, actor: Actor) -> bool:
    user = session.get(User, actor.user_id) if actor.user_id else None
    return bool(user and user.organisation_id is not None and user.is_org_manager)


def get_organisation(session: Session, actor: Actor, organisation_id: int) -> Organisation:
    """For the programme team and auditors, and the organisation's own people."""
    org = session.get(Organisation, organisation_id)
    if org is None:
        raise NotFound(f"no organisation {organisation_id}")
    if actor.role in (Role.OFFICER, Role.AUDITOR):
        return org
    own = own_organisation(session, actor)
    if actor.role == Role.APPLICANT and own is not None and own.id == org.id:
        return org
    raise NotFound(f"no organisation {organisation_id}")


def members(session: Session, organisation_id: int) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .where(User.organisation_id == organisation_id)
            .order_by(User.is_org_manager.desc(), User.full_name, User.id)
        )
    )


def applications_of(session: Session, actor: Actor, organisation_id: int) -> list[Application]:
    """The organisation's applications, for whoever may see the organisation."""
    get_organisation(session, actor, organisation_id)
    return list(
        session.scalars(
            select(Application)
            .where(Application.organisation_id == organisation_id)
            .order_by(Application.reference)
        )
    )


@dataclass(frozen=True)
class SmeRow:
    label: str
    basis: str
    headcount: str
    turnover: str
    balance_sheet: str


@dataclass(frozen=True)
class SmeResult:
    """The SME test in plain words, with the figures that went into it."""

    category: str | None
    headline: str
    rows: list[SmeRow]
    total: SmeRow | None
    explanation: str | None
    ceilings: list[str]


def _staff(value: Decimal) -> str:
    return plain(value.quantize(CENT))


def sme_result(org: Organisation) -> SmeResult:
    ceilings = [
        f"{name}: fewer than {plain(staff)} staff and turnover at most {format_eur(turnover)} "
        f"or balance sheet at most {format_eur(balance)}"
        for name, staff, turnover, balance in CEILINGS
    ]
    own = _enterprise(
        {"headcount": org.headcount, "turnover": org.turnover, "balance_sheet": org.balance_sheet}
    )
    if own is None or org.sme_category is None:
        return SmeResult(
            None,
            "The SME test needs the staff headcount, the annual turnover and the balance-sheet "
            "total of the latest approved accounts.",
            [],
            None,
            None,
            ceilings,
        )
    rows = [
        SmeRow(
            org.legal_name,
            "own figures",
            _staff(own.headcount),
            format_eur(own.turnover),
            format_eur(own.balance_sheet),
        )
    ]
    total = own
    for related in org.related_enterprises:
        e = _row_enterprise(related)
        share = Decimal(related["share_percent"])
        if related["relation"] == "partner":
            ratio = share / 100
            counted = Enterprise(e.headcount * ratio, e.turnover * ratio, e.balance_sheet * ratio)
            basis = f"partner held {plain(share)}%: {plain(share)}% of its figures"
        else:
            counted = e
            basis = f"linked ({plain(share)}%): all of its figures"
        rows.append(
            SmeRow(
                related["name"],
                basis,
                _staff(counted.headcount),
                format_eur(counted.turnover),
                format_eur(counted.balance_sheet),
            )
        )
        total = Enterprise(
            total.headcount + counted.headcount,
            total.turnover + counted.turnover,
            total.balance_sheet + counted.balance_sheet,
        )
    words = CATEGORY_WORDS.get(org.sme_category, org.sme_category)
    headline = f"{org.legal_name} is {words} under Recommendation 2003/361/EC."
    if org.sme_category == "large":
        headline += " Only SMEs can receive vouchers: if a figure is wrong, correct it."
    return SmeResult(
        org.sme_category,
        headline,
        rows,
        SmeRow(
            "Counted for the SME test",
            "total",
            _staff(total.headcount),
            format_eur(total.turnover),
            format_eur(total.balance_sheet),
        )
        if len(rows) > 1
        else None,
        org.sme_explanation,
        ceilings,
    )


@dataclass(frozen=True)
class AidRow:
    granting_authority: str
    amount: Decimal
    granted_on: date
    counted: bool


@dataclass(frozen=True)
class DeMinimis:
    rows: list[AidRow]
    period_start: date
    total: Decimal
    ceiling: Decimal
    headroom: Decimal

    @property
    def over(self) -> bool:
        return self.total > self.ceiling


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def de_minimis_summary(aid: list[Mapping[str, Any]], *, today: date | None = None) -> DeMinimis:
    """Aid granted in the last three years (a rolling period ending today) against the
    EUR 300,000 ceiling; older aid is listed but not counted."""
    today = today or utcnow().date()
    start = _years_before(today, DE_MINIMIS_YEARS)
    rows = sorted(
        (
            AidRow(
                str(row["granting_authority"]),
                Decimal(str(row["amount"])),
                date.fromisoformat(str(row["granted_on"])),
                start < date.fromisoformat(str(row["granted_on"])) <= today,
            )
            for row in aid
        ),
        key=lambda r: (r.granted_on, r.granting_authority),
        reverse=True,
    )
    total = sum((r.amount for r in rows if r.counted), Decimal("0.00"))
    return DeMinimis(
        rows, start, total, DE_MINIMIS_CEILING, max(DE_MINIMIS_CEILING - total, Decimal("0.00"))
    )


# -- changing the profile --------------------------------------------------------------------
def _require_applicant(actor: Actor) -> None:
    if actor.role != Role.APPLICANT:
        raise TransitionRefused(f"a {actor.role.label.lower()} may not do this")


def _load_user(session: Session, actor: Actor) -> User:
    user = session.scalars(select(User).where(User.id == actor.user_id).with_for_update()).first()
    if user is None:
        raise NotFound("no such account")
    return user


def _load_organisation(session: Session, organisation_id: int) -> Organisation:
    return load_locked(session, Organisation, organisation_id, "organisation")


def _managed(
    session: Session, actor: Actor, organisation_id: int | None = None
) -> tuple[User, Organisation]:
    """The acting manager and their organisation, or a refusal a person understands."""
    _require_applicant(actor)
    user = _load_user(session, actor)
    if user.organisation_id is None:
        raise TransitionRefused("your account is not linked to an organisation yet")
    if organisation_id is not None and user.organisation_id != organisation_id:
        raise NotFound(f"no organisation {organisation_id}")
    if not user.is_org_manager:
        raise TransitionRefused(
            "only the organisation's manager may do this: ask them, or ask them to hand the "
            "manager role over to you"
        )
    return user, _load_organisation(session, user.organisation_id)


def create_organisation(
    session: Session, actor: Actor, data: Mapping[str, Any], *, today: date | None = None
) -> Organisation:
    """An applicant without an organisation registers it and becomes its manager."""
    _require_applicant(actor)
    user = _load_user(session, actor)
    if user.organisation_id is not None:
        raise TransitionRefused(
            "your account already belongs to an organisation: one account works for one "
            "organisation"
        )
    clean = validate_profile(data, today=today or utcnow().date())
    org = Organisation(**clean.values)
    session.add(org)
    session.flush()
    user.organisation_id = org.id
    user.is_org_manager = True
    session.flush()
    audit.record(
        session,
        actor,
        "create_organisation",
        entity_type="organisation",
        entity_id=org.id,
        after={
            **snapshot(org),
            "registration_scheme": clean.registration_scheme,
            "manager": user.email,
        },
    )
    return org


@dataclass(frozen=True)
class ProfileUpdate:
    organisation: Organisation
    changed: list[str]
    registration_scheme: str


def update_profile(
    session: Session,
    actor: Actor,
    organisation_id: int,
    data: Mapping[str, Any],
    *,
    today: date | None = None,
) -> ProfileUpdate:
    """The manager changes the profile; fields left out of ``data`` keep their value."""
    _user, org = _managed(session, actor, organisation_id)
    clean = validate_profile({**form_values(org), **data}, today=today or utcnow().date())
    before = snapshot(org)
    after = _plain_values(clean.values)
    changed = [name for name in _STORED if before[name] != after[name]]
    for name in changed:
        setattr(org, name, clean.values[name])
    if changed:
        session.flush()
        audit.record(
            session,
            actor,
            "update_organisation",
            entity_type="organisation",
            entity_id=org.id,
            before={name: before[name] for name in changed},
            after={name: after[name] for name in changed},
        )
    return ProfileUpdate(org, changed, clean.registration_scheme)


# -- people ----------------------------------------------------------------------------------
def _serializer(secret: str) -> URLSafeTimedSerializer:
    if not secret:
        raise ValueError("invitations need the application's secret key")
    return URLSafeTimedSerializer(secret, salt=INVITE_SALT)


def invite(
    session: Session,
    actor: Actor,
    email: str,
    *,
    secret: str,
    link: Callable[[str], str],
) -> MailMessage:
    """The manager invites a colleague by e-mail; the link works for seven days."""
    user, org = _managed(session, actor)
    address = _text(email).lower()
    if not address:
        raise ValidationFailed({"email": "give your colleague's e-mail address"})
    if not _EMAIL.match(address) or len(address) > 254:
        raise ValidationFailed({"email": "give an e-mail address like name@example.eu"})
    if any(m.email.lower() == address for m in members(session, org.id)):
        raise ValidationFailed({"email": f"{address} is already a member of {org.legal_name}"})
    event = audit.record(
        session,
        actor,
        "invite_member",
        entity_type="organisation",
        entity_id=org.id,
        after={"email": address},
    )
    token = _serializer(secret).dumps({"o": org.id, "e": address, "n": event.id})
    body = (
        f"Hello,\n\n{user.full_name} invites you to join {org.legal_name} on the "
        f"{programme.PROGRAMME_NAME} voucher platform, to prepare and follow its "
        f"applications together.\n\n"
        f"Log in with this e-mail address ({address}), or create an account with it first, "
        f"then open this link within {INVITE_DAYS} days:\n\n{link(token)}\n\n"
        f"If you did not expect this invitation, ignore this message.\n"
    )
    return mail.queue(
        session,
        to=address,
        subject=f"Join {org.legal_name} on the {programme.PROGRAMME_NAME} platform",
        body=body,
        purpose="organisation_invite",
    )


class InvitationInvalid(TransitionRefused):
    """The link itself no longer works: forged, cut short, expired or withdrawn."""


@dataclass(frozen=True)
class Invitation:
    organisation: Organisation
    email: str
    event_id: int


def read_invitation(
    session: Session, token: str, *, secret: str, max_age: int = INVITE_MAX_AGE
) -> Invitation:
    """The invitation a link carries, or a refusal saying why it no longer works."""
    try:
        payload = _serializer(secret).loads(token, max_age=max_age)
    except SignatureExpired:
        raise InvitationInvalid(
            f"this invitation has expired (links work for {INVITE_DAYS} days): ask the "
            "organisation's manager to invite you again"
        ) from None
    except BadSignature:
        raise InvitationInvalid(
            "this invitation link is not valid: check that you opened the whole link from "
            "the e-mail"
        ) from None
    if not (
        isinstance(payload, dict)
        and isinstance(payload.get("o"), int)
        and isinstance(payload.get("e"), str)
        and isinstance(payload.get("n"), int)
    ):
        raise InvitationInvalid("this invitation link is not valid")
    org = session.get(Organisation, payload["o"])
    if org is None:
        raise InvitationInvalid("the organisation of this invitation no longer exists")
    invitation = Invitation(org, payload["e"], payload["n"])
    removals = session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity_type == "organisation",
            AuditEvent.entity_id == str(org.id),
            AuditEvent.action == "remove_member",
            AuditEvent.id > invitation.event_id,
        )
    )
    if any(e.before.get("email") == invitation.email for e in removals):
        raise InvitationInvalid(
            "this invitation was withdrawn when the account was removed from the "
            "organisation: ask the manager for a new invitation"
        )
    return invitation


def join(
    session: Session,
    actor: Actor,
    token: str,
    *,
    secret: str,
    max_age: int = INVITE_MAX_AGE,
) -> Organisation:
    """The invited person, logged in with the invited address, joins the organisation.

    Joining twice is harmless: a member who opens the link again is simply a member.
    """
    _require_applicant(actor)
    invitation = read_invitation(session, token, secret=secret, max_age=max_age)
    user = _load_user(session, actor)
    org = invitation.organisation
    if user.email.lower() != invitation.email:
        raise TransitionRefused(
            f"this invitation was sent to {invitation.email}: log in with that address to accept it"
        )
    if user.organisation_id == org.id:
        return org
    if user.organisation_id is not None:
        raise TransitionRefused(
            "your account already belongs to another organisation: one account works for one "
            "organisation, so use another account or ask your manager to remove you first"
        )
    user.organisation_id = org.id
    user.is_org_manager = False
    session.flush()
    audit.record(
        session,
        actor,
        "join_organisation",
        entity_type="organisation",
        entity_id=org.id,
        after={"email": user.email, "user_id": user.id},
    )
    return org


def _colleague(session: Session, org: Organisation, user_id: int) -> User:
    colleague = session.scalars(select(User).where(User.id == user_id).with_for_update()).first()
    if colleague is None or colleague.organisation_id != org.id:
        raise TransitionRefused("this person is not a member of your organisation")
    return colleague


def remove_member(session: Session, actor: Actor, user_id: int) -> User:
    """The manager removes a colleague's access; pending invitations to them stop working."""
    manager, org = _managed(session, actor)
    if user_id == manager.id:
        raise TransitionRefused(
            "you cannot remove yourself: hand the manager role over to a colleague first"
        )
    colleague = _colleague(session, org, user_id)
    colleague.organisation_id = None
    colleague.is_org_manager = False
    session.flush()
    audit.record(
        session,
        actor,
        "remove_member",
        entity_type="organisation",
        entity_id=org.id,
        before={"email": colleague.email.lower(), "user_id": colleague.id},
    )
    return colleague


def transfer_manager(session: Session, actor: Actor, user_id: int) -> User:
    """The manager hands the role over to a colleague, and becomes a colleague."""
    manager, org = _managed(session, actor)
    if user_id == manager.id:
        raise TransitionRefused("you are already the manager")
    colleague = _colleague(session, org, user_id)
    if colleague.role != Role.APPLICANT:
        raise TransitionRefused("only an applicant account can manage the organisation")
    manager.is_org_manager = False
    colleague.is_org_manager = True
    session.flush()
    audit.record(
        session,
        actor,
        "transfer_manager",
        entity_type="organisation",
        entity_id=org.id,
        before={"manager": manager.email},
        after={"manager": colleague.email},
    )
    return colleague


# -- duplicates ------------------------------------------------------------------------------
@dataclass(frozen=True)
class OrganisationSummary:
    id: int
    legal_name: str
    country: str
    registration_number: str
    vat_number: str | None
    created_at: datetime
    users: int


@dataclass
class DuplicateGroup:
    reasons: list[str]
    organisations: list[OrganisationSummary]


def duplicate_registrations(session: Session) -> list[DuplicateGroup]:
    """Organisations that share a registration number (same country) or a VAT number.

    Not refused at registration: a second account must not be blocked by a typo or an
    impostor. Officers see the groups and decide (merge by invitation, or ineligible).
    """
    rows = session.execute(
        select(
            Organisation.id,
            Organisation.legal_name,
            Organisation.country,
            Organisation.registration_number,
            Organisation.vat_number,
            Organisation.created_at,
        ).order_by(Organisation.id)
    ).all()
    users = dict(
        session.execute(
            select(User.organisation_id, func.count(User.id))
            .where(User.organisation_id.is_not(None))
            .group_by(User.organisation_id)
        ).all()
    )
    by_key: dict[tuple[str, ...], list[int]] = {}
    for row in rows:
        country, number = registration_numbers.company_key(row.country, row.registration_number)
        if number:
            by_key.setdefault(("registration", country, number), []).append(row.id)
        vat = re.sub(r"[\s.\-/]", "", row.vat_number or "").upper()
        if vat:
            by_key.setdefault(("vat", vat), []).append(row.id)
    # Union the organisations that share any key into one group.
    parent = {row.id: row.id for row in rows}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    shared = {key: ids for key, ids in by_key.items() if len(ids) > 1}
    for ids in shared.values():
        for other in ids[1:]:
            parent[find(other)] = find(ids[0])
    by_id = {row.id: row for row in rows}
    groups: dict[int, DuplicateGroup] = {}
    members_of: dict[int, set[int]] = {}
    for key, ids in shared.items():
        root = find(ids[0])
        group = groups.setdefault(root, DuplicateGroup([], []))
        members_of.setdefault(root, set()).update(ids)
        if key[0] == "registration":
            group.reasons.append(f"same registration number {key[1]} {key[2]}")
        else:
            group.reasons.append(f"same VAT number {key[1]}")
    for root, group in groups.items():
        group.organisations = [
            OrganisationSummary(
                i,
                by_id[i].legal_name,
                by_id[i].country,
                by_id[i].registration_number,
                by_id[i].vat_number,
                by_id[i].created_at,
                users.get(i, 0),
            )
            for i in sorted(members_of[root])
        ]
    return [groups[root] for root in sorted(groups)]


def duplicates_of(session: Session, organisation_id: int) -> list[DuplicateGroup]:
    """The duplicate groups an organisation belongs to (none, usually)."""
    return [
        group
        for group in duplicate_registrations(session)
        if any(o.id == organisation_id for o in group.organisations)
    ]
