"""The supported third parties: the list EU rules require the consortium to publish.

DOMAIN.md (publication): recipients are published with their legal name, country, amount,
purpose, award date and duration, by 30 June of the following year; the 360Giving export
gives each paid instalment as a disbursement transaction. DOMAIN.md also asks for
regrantType FRG010, but 360Giving's code list defines it ("Common Regrant") for the grant
*to* a grantmaker for onward distribution, i.e. the EU's grant to the consortium, not the
vouchers it gives on: voucher records carry no regrantType.

Which vouchers are listed is decided by the workflow's state facts, never by a list of
state names here: every application whose state is ``awarded`` (an offer was made:
offered, contracted, reporting, paying, paid, closed, and terminated, which keeps the
amount it was reduced to). Withdrawn, declined, expired and excluded applications never
hold an award, so they are not listed. The officers' and auditors' list has every one of
them; the public list (``public=True``) only those whose agreement is signed, since an
open offer may still be declined and must not be published as support given.

Identifiers (360Giving): each grant's ``id`` is ``<CASCADE_360_PREFIX>-<voucher reference>``;
a recipient's organisation id is the org-id.guide code of its country's register followed
by its checked registration number where Cascade knows the register (``ORG_ID_LISTS``),
else ``<CASCADE_360_PREFIX>-org-<organisation id>``.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import IO, Any

from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

import documents
from grants import programme
from grants.db import utcnow
from grants.models import Application, AuditEvent, Call
from grants.models.payments import Instalment
from grants.models.recoveries import RecoveryOrder
from grants.services import organisations
from grants.services.audit import _spreadsheet_cell
from grants.services.eligibility import evidence_profile
from grants.services.workflow import NotFound
from workflows import registration_numbers
from workflows.call_rules import VoucherType
from workflows.ledger import ZERO
from workflows.money import quantize
from workflows.payment import PaymentState
from workflows.registry import application_states_where

# Every state in which the SME holds an award (state facts: ``awarded``).
PUBLISHED_STATES = application_states_where("awarded")

CURRENCY = "EUR"
DEFAULT_360_PREFIX = "360G-cascade"

# org-id.guide lists of the national registers whose numbers Cascade checks (see
# workflows.registration_numbers): the scheme that identified the number, per country.
ORG_ID_LISTS: dict[tuple[str, str], str] = {
    ("IT", "partita IVA"): "IT-RI",
    ("FR", "SIREN"): "FR-RCS",
    ("FR", "SIRET"): "FR-RCS",  # reduced to the SIREN it starts with
    ("NL", "KvK number"): "NL-KVK",
    ("BE", "enterprise number (ondernemingsnummer / numéro d'entreprise)"): "BE-BCE_KBO",
    ("HR", "OIB"): "HR-OIB",
}

SCHEMA_DIR = Path(documents.__file__).resolve().parent / "schemas" / "360giving"
PACKAGE_SCHEMA = "360-giving-package-schema.json"
GRANT_SCHEMA = "360-giving-schema.json"


def grant_prefix() -> str:
    """CASCADE_360_PREFIX: the prefix 360Giving registers for the publisher (e.g.
    "360G-leviatad"); the default marks the data as not yet registered."""
    prefix = (os.environ.get("CASCADE_360_PREFIX") or DEFAULT_360_PREFIX).strip().rstrip("-")
    return prefix or DEFAULT_360_PREFIX


def funder_id() -> str:
    """CASCADE_360_FUNDER_ID: the funding organisation's org-id (e.g. the coordinator's
    "IT-RI-…"); unset, an identifier under the publisher's own prefix."""
    return (os.environ.get("CASCADE_360_FUNDER_ID") or "").strip() or f"{grant_prefix()}-funder"


@dataclass(frozen=True)
class Disbursement:
    payment_id: int
    instalment: str
    amount: Decimal
    paid_at: datetime | None
    value_date: date | None


@dataclass(frozen=True)
class SupportedThirdParty:
    """One voucher awarded to an SME, as it is published and reported."""

    application_id: int
    reference: str
    status: str
    organisation_id: int
    legal_name: str
    country: str
    registration_number: str
    registration_scheme: str | None
    sme_status: str  # micro, small, medium, large, not_sme; "" when the figures are missing
    amount_awarded: Decimal
    amount_paid: Decimal
    amount_recovered: Decimal
    purpose: str
    voucher_type: str
    call_id: int
    call_reference: str
    call_title: str
    award_date: datetime | None
    agreement_signed_at: datetime | None
    final_payment_at: datetime | None
    planned_start: date | None
    planned_end: date | None
    disbursements: tuple[Disbursement, ...] = field(default=())

    @property
    def agreement_signed(self) -> bool:
        return self.agreement_signed_at is not None

    @property
    def country_name(self) -> str:
        return registration_numbers.country_name(self.country)

    @property
    def amount_paid_net(self) -> Decimal:
        return self.amount_paid - self.amount_recovered

    @property
    def voucher_type_label(self) -> str:
        try:
            return VoucherType(self.voucher_type).label
        except ValueError:
            return self.voucher_type


# -- gathering ------------------------------------------------------------------------------
def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _award_dates(session: Session, ids: Sequence[int]) -> dict[int, datetime]:
    """When each voucher was offered (the award decision; the latest offer if re-offered)."""
    if not ids:
        return {}
    rows = session.execute(
        select(AuditEvent.application_id, func.max(AuditEvent.occurred_at))
        .where(AuditEvent.application_id.in_(ids), AuditEvent.action == "offer")
        .group_by(AuditEvent.application_id)
    )
    return {app_id: moment for app_id, moment in rows}


def _recovered(session: Session, ids: Sequence[int]) -> dict[int, Decimal]:
    if not ids:
        return {}
    rows = session.execute(
        select(RecoveryOrder.application_id, func.sum(RecoveryOrder.repaid_amount))
        .where(RecoveryOrder.application_id.in_(ids))
        .group_by(RecoveryOrder.application_id)
    )
    return {app_id: quantize(Decimal(total or 0)) for app_id, total in rows}


def _sme_status(application: Application) -> str:
    category, _explanation = organisations.category_of(evidence_profile(application).values)
    return category or ""


def _registration(country: str, number: str) -> tuple[str, str | None]:
    """The checked compact number and the scheme that recognised it (None: not checked)."""
    try:
        compact, scheme = registration_numbers.validate_registration(country, number)
    except ValueError:
        return number, None
    if country == "FR" and scheme == "SIRET":
        compact = compact[:9]
    if scheme.startswith("not checked"):
        return compact, None
    return compact, scheme


def _third_party(
    application: Application, award_date: datetime | None, recovered: Decimal
) -> SupportedThirdParty:
    snapshot = application.organisation_snapshot or {}
    organisation = application.organisation
    country = str(snapshot.get("country") or organisation.country)
    number, scheme = _registration(
        country, str(snapshot.get("registration_number") or organisation.registration_number)
    )
    paid = tuple(
        Disbursement(p.id, p.instalment, quantize(p.amount), p.paid_at, p.value_date)
        for p in application.payments
        if p.status == PaymentState.PAID
    )
    balance = [d.paid_at for d in paid if d.instalment == Instalment.BALANCE and d.paid_at]
    answers = application.answers or {}
    return SupportedThirdParty(
        application_id=application.id,
        reference=application.reference,
        status=application.status,
        organisation_id=organisation.id,
        legal_name=organisation.legal_name,
        country=country,
        registration_number=number,
        registration_scheme=scheme,
        sme_status=_sme_status(application),
        amount_awarded=quantize(application.awarded_amount or ZERO),
        amount_paid=quantize(sum((d.amount for d in paid), ZERO)),
        amount_recovered=recovered,
        purpose=application.title,
        voucher_type=application.call.voucher_type,
        call_id=application.call_id,
        call_reference=application.call.reference,
        call_title=application.call.title,
        award_date=award_date or application.agreement_signed_at,
        agreement_signed_at=application.agreement_signed_at,
        final_payment_at=max(balance) if balance else None,
        planned_start=_day(answers.get("start_date")),
        planned_end=_day(answers.get("end_date")),
        disbursements=paid,
    )


def supported_third_parties(
    session: Session, *, call_id: int | None = None, public: bool = False
) -> list[SupportedThirdParty]:
    """Every awarded voucher (of one call, or all), by call then voucher reference.

    ``public``: only those with a signed agreement, the support the public may see.
    """
    query = (
        select(Application)
        .join(Call, Application.call_id == Call.id)
        .where(Application.status.in_(PUBLISHED_STATES))
        .options(
            selectinload(Application.call),
            selectinload(Application.organisation),
            selectinload(Application.payments),
        )
        .order_by(Call.reference, Application.reference)
    )
    if call_id is not None:
        query = query.where(Application.call_id == call_id)
    if public:
        query = query.where(Application.agreement_signed_at.is_not(None))
    found = list(session.scalars(query))
    ids = [a.id for a in found]
    awarded_on = _award_dates(session, ids)
    recovered = _recovered(session, ids)
    return [_third_party(a, awarded_on.get(a.id), recovered.get(a.id, ZERO)) for a in found]


# -- CSV ------------------------------------------------------------------------------------
CSV_COLUMNS = [
    "reference",
    "status",
    "legal_name",
    "country",
    "country_name",
    "registration_number",
    "org_id",
    "sme_status",
    "amount_awarded_eur",
    "amount_paid_eur",
    "amount_recovered_eur",
    "purpose",
    "voucher_type",
    "call_reference",
    "call_title",
    "award_date",
    "agreement_signed",
    "final_payment",
    "planned_start",
    "planned_end",
]


def _iso_day(value: datetime | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _aware(value).date().isoformat()
    return value.isoformat()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def csv_row(party: SupportedThirdParty) -> dict[str, Any]:
    return {
        "reference": party.reference,
        "status": party.status,
        "legal_name": party.legal_name,
        "country": party.country,
        "country_name": party.country_name,
        "registration_number": party.registration_number,
        "org_id": recipient_org_id(party),
        "sme_status": party.sme_status,
        "amount_awarded_eur": f"{party.amount_awarded:.2f}",
        "amount_paid_eur": f"{party.amount_paid:.2f}",
        "amount_recovered_eur": f"{party.amount_recovered:.2f}",
        "purpose": party.purpose,
        "voucher_type": party.voucher_type,
        "call_reference": party.call_reference,
        "call_title": party.call_title,
        "award_date": _iso_day(party.award_date),
        "agreement_signed": _iso_day(party.agreement_signed_at),
        "final_payment": _iso_day(party.final_payment_at),
        "planned_start": _iso_day(party.planned_start),
        "planned_end": _iso_day(party.planned_end),
    }


def write_csv(parties: Iterable[SupportedThirdParty], stream: IO[str]) -> None:
    """The list for spreadsheets: a cell that would run as a formula is made text."""
    writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for party in parties:
        writer.writerow({k: _spreadsheet_cell(v) for k, v in csv_row(party).items()})


# -- 360Giving ------------------------------------------------------------------------------
def recipient_org_id(party: SupportedThirdParty) -> str:
    """The org-id.guide identifier where the register is known and the number checks out,
    else one under the publisher's prefix (stable: the organisation's row id)."""
    code = ORG_ID_LISTS.get((party.country, party.registration_scheme or ""))
    if code:
        return f"{code}-{re.sub(r'[^0-9A-Za-z]', '', party.registration_number)}"
    return f"{grant_prefix()}-org-{party.organisation_id}"


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _instant(moment: datetime) -> str:
    return _aware(moment).replace(microsecond=0).isoformat()


def _planned(party: SupportedThirdParty) -> list[dict[str, Any]]:
    if party.planned_start is None or party.planned_end is None:
        return []
    months = round((party.planned_end - party.planned_start).days / (365.25 / 12), 1)
    return [
        {
            "startDate": party.planned_start.isoformat(),
            "endDate": party.planned_end.isoformat(),
            "duration": max(months, 0),
        }
    ]


def _disbursement(party: SupportedThirdParty, paid: Disbursement) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": f"{grant_prefix()}-{party.reference}-payment-{paid.payment_id}",
        "currency": CURRENCY,
        "value": _number(paid.amount),
        "description": paid.instalment,
    }
    if paid.paid_at is not None:
        row["transactionDate"] = _instant(paid.paid_at)
    if paid.value_date is not None:
        row["valueDate"] = paid.value_date.isoformat()
    return row


def grant_record(party: SupportedThirdParty) -> dict[str, Any]:
    """One voucher as a 360Giving grant."""
    award_date = party.award_date or party.agreement_signed_at
    record: dict[str, Any] = {
        "id": f"{grant_prefix()}-{party.reference}",
        "title": party.purpose or party.reference,
        "description": (
            f"{party.voucher_type_label} voucher {party.reference} of the call "
            f"{party.call_reference} ({party.call_title}): {party.purpose}"
        ),
        "currency": CURRENCY,
        "amountAwarded": _number(party.amount_awarded),
        "amountDisbursed": _number(party.amount_paid_net),
        "awardDate": _instant(award_date) if award_date else "",
        "recipientOrganization": [
            {
                "id": recipient_org_id(party),
                "name": party.legal_name,
                "addressCountry": party.country_name,
            }
        ],
        "fundingOrganization": [
            {"id": funder_id(), "name": f"{programme.PROGRAMME_NAME} consortium"}
        ],
        "grantProgramme": [{"code": party.call_reference, "title": party.call_title}],
        "fromOpenCall": "Yes",
        "beneficiaryLocation": [{"name": party.country_name, "countryCode": party.country}],
    }
    if planned := _planned(party):
        record["plannedDates"] = planned
    if party.sme_status:
        record["classifications"] = [
            {
                "vocabulary": "EU SME category (Recommendation 2003/361/EC)",
                "code": party.sme_status,
                "title": party.sme_status.replace("_", " "),
            }
        ]
    if party.disbursements:
        record["disbursementTransaction"] = [_disbursement(party, d) for d in party.disbursements]
    return record


def threesixtygiving_package(
    parties: Iterable[SupportedThirdParty], *, now: datetime | None = None
) -> dict[str, Any]:
    moment = _aware(now or utcnow()).replace(microsecond=0)
    return {
        "grants": [grant_record(p) for p in parties],
        "version": "1.4",
        "title": f"{programme.PROGRAMME_NAME}: financial support to third parties",
        "issued": moment.isoformat(),
        "publisher": {"name": f"{programme.PROGRAMME_NAME} consortium"},
        "license": "https://creativecommons.org/licenses/by/4.0/",
    }


def write_json(package: dict[str, Any], stream: IO[str]) -> None:
    json.dump(package, stream, ensure_ascii=False, indent=2)
    stream.write("\n")


# -- validation against the vendored schema --------------------------------------------------
@cache
def _validator() -> Draft202012Validator:
    package = json.loads((SCHEMA_DIR / PACKAGE_SCHEMA).read_text(encoding="utf-8"))
    grant = json.loads((SCHEMA_DIR / GRANT_SCHEMA).read_text(encoding="utf-8"))
    # The files' "$schema" misspells draft 2020-12's URI (http, not https): say the dialect.
    resource = DRAFT202012.create_resource(grant)
    # The package schema names the grant schema by its 1.4.2 URL; the file's own $id is
    # 1.4.3: both resolve to the local copy, so validation never goes to the network.
    referenced = package["properties"]["grants"]["items"]["$ref"]
    registry: Registry[Any] = Registry().with_resources(
        [(referenced, resource), (grant["$id"], resource)]
    )
    return Draft202012Validator(
        package, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


@dataclass(frozen=True)
class SchemaProblem:
    where: str  # e.g. "grants/0/amountAwarded"
    message: str


def schema_problems(package: dict[str, Any]) -> list[SchemaProblem]:
    """What makes ``package`` invalid against the 360Giving package schema (empty: valid)."""
    errors = sorted(_validator().iter_errors(package), key=lambda e: list(e.absolute_path))
    return [
        SchemaProblem("/".join(str(p) for p in e.absolute_path) or "(package)", e.message)
        for e in errors
    ]


def call_id_by_reference(session: Session, reference: str) -> int:
    """The id of the call with this reference, or NotFound."""
    found = session.scalar(select(Call.id).where(Call.reference == reference.strip()))
    if found is None:
        raise NotFound(f"no call {reference}")
    return found
