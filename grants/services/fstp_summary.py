"""The FSTP summary of a call, for the consortium's report to the EU.

Per call: applications received, eligible and funded, the amounts committed and paid, in
total and per country of the SME; and per consortium partner, the calls it manages.

What each figure counts (an application counts once, in the state it is in now):
- **received**: submitted (a draft never sent, or withdrawn before it was, is not);
- **eligible**: passed the eligibility check: every received application but those still
  waiting for the check, found ineligible, or withdrawn before it;
- **funded**: holds an award (the workflow's ``awarded`` fact: offered and onwards,
  terminated ones with the amount they kept), as the publication lists them;
- **committed**: the amounts awarded to the funded ones;
- **paid**: what was paid to them, net of recoveries repaid.
"Per partner" is per the partner *managing* the call (``Call.managing_partner``): it is the
beneficiary accountable to the EU for the call's money, so each call's figures count once,
under its managing partner; the partners whose staff only work on a call are not credited.
Calls made before partners were kept have none and count under "no managing partner".
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from grants.models import Application, Call
from grants.services import ledger
from grants.services.audit import _spreadsheet_cell
from grants.services.workflow import NotFound
from workflows import registration_numbers
from workflows.i18n import N_
from workflows.ledger import ZERO
from workflows.money import quantize
from workflows.registry import application_states_where
from workflows.voucher import AppState

FUNDED_STATES = frozenset(application_states_where("awarded"))
# Received but not (or not yet) found eligible.
NOT_ELIGIBLE = frozenset({AppState.SUBMITTED, AppState.INELIGIBLE, AppState.WITHDRAWN})
NO_PARTNER = N_("no managing partner")


@dataclass
class Figures:
    received: int = 0
    eligible: int = 0
    funded: int = 0
    committed: Decimal = ZERO
    paid: Decimal = ZERO

    def add(self, other: Figures) -> None:
        self.received += other.received
        self.eligible += other.eligible
        self.funded += other.funded
        self.committed = quantize(self.committed + other.committed)
        self.paid = quantize(self.paid + other.paid)


@dataclass(frozen=True)
class Line:
    key: str  # a country code, a partner's short name, a call reference
    name: str
    figures: Figures


@dataclass
class CallSummary:
    call_id: int
    reference: str
    title: str
    partner: str  # the managing partner's short name, "" when none
    partner_name: str
    total: Figures = field(default_factory=Figures)
    by_country: list[Line] = field(default_factory=list)


@dataclass
class ProgrammeSummary:
    calls: list[CallSummary]
    total: Figures
    by_country: list[Line]
    by_partner: list[Line]


def _application_figures(
    application: Application, paid: dict[int, Decimal], repaid: dict[int, Decimal]
) -> Figures:
    figures = Figures()
    if application.submitted_at is None or application.status == AppState.DRAFT:
        return figures
    figures.received = 1
    if application.status not in NOT_ELIGIBLE:
        figures.eligible = 1
    if application.status in FUNDED_STATES:
        figures.funded = 1
        figures.committed = quantize(application.awarded_amount or ZERO)
        figures.paid = quantize(paid.get(application.id, ZERO) - repaid.get(application.id, ZERO))
    return figures


def _country_of(application: Application) -> str:
    snapshot = application.organisation_snapshot or {}
    return str(snapshot.get("country") or application.organisation.country)


def _lines(grouped: dict[str, Figures], names: dict[str, str]) -> list[Line]:
    return [
        Line(key, names.get(key, key), figures)
        for key, figures in sorted(grouped.items(), key=lambda kv: names.get(kv[0], kv[0]))
    ]


def _summarise(session: Session, call: Call) -> CallSummary:
    partner = call.managing_partner
    summary = CallSummary(
        call.id,
        call.reference,
        call.title,
        partner.short_name if partner else "",
        partner.name if partner else "",
    )
    paid = ledger.paid_by_application(session, call.id)
    repaid = ledger.repaid_by_application(session, call.id)
    countries: dict[str, Figures] = {}
    applications = session.scalars(
        select(Application)
        .where(Application.call_id == call.id, Application.submitted_at.is_not(None))
        .options(selectinload(Application.organisation))
    )
    for application in applications:
        figures = _application_figures(application, paid, repaid)
        summary.total.add(figures)
        countries.setdefault(_country_of(application), Figures()).add(figures)
    summary.by_country = _lines(
        countries, {code: registration_numbers.country_name(code) for code in countries}
    )
    return summary


def call_summary(session: Session, call_id: int) -> CallSummary:
    call = session.get(Call, call_id)
    if call is None:
        raise NotFound(f"no call {call_id}")
    return _summarise(session, call)


def programme_summary(session: Session, call_ids: Iterable[int] | None = None) -> ProgrammeSummary:
    """Every call (or those given), with totals per country and per managing partner."""
    query = select(Call).options(selectinload(Call.managing_partner)).order_by(Call.reference)
    if call_ids is not None:
        query = query.where(Call.id.in_(list(call_ids)))
    summaries = [_summarise(session, call) for call in session.scalars(query)]
    total = Figures()
    countries: dict[str, Figures] = {}
    partners: dict[str, Figures] = {}
    partner_names: dict[str, str] = {}
    for summary in summaries:
        total.add(summary.total)
        for line in summary.by_country:
            countries.setdefault(line.key, Figures()).add(line.figures)
        partners.setdefault(summary.partner, Figures()).add(summary.total)
        partner_names[summary.partner] = summary.partner_name or summary.partner
    country_names = {code: registration_numbers.country_name(code) for code in countries}
    return ProgrammeSummary(
        summaries,
        total,
        _lines(countries, country_names),
        _lines(partners, partner_names),
    )


# -- CSV ------------------------------------------------------------------------------------
CSV_COLUMNS = [
    "call_reference",
    "scope",
    "key",
    "name",
    "received",
    "eligible",
    "funded",
    "committed_eur",
    "paid_eur",
]


def _row(call: str, scope: str, key: str, name: str, figures: Figures) -> dict[str, str]:
    return {
        "call_reference": call,
        "scope": scope,
        "key": key,
        "name": name,
        "received": str(figures.received),
        "eligible": str(figures.eligible),
        "funded": str(figures.funded),
        "committed_eur": f"{figures.committed:.2f}",
        "paid_eur": f"{figures.paid:.2f}",
    }


def _call_rows(summary: CallSummary) -> list[dict[str, str]]:
    rows = [
        _row(summary.reference, "total", summary.reference, summary.title, summary.total),
        _row(
            summary.reference,
            "partner",
            summary.partner,
            summary.partner_name or NO_PARTNER,
            summary.total,
        ),
    ]
    rows += [
        _row(summary.reference, "country", line.key, line.name, line.figures)
        for line in summary.by_country
    ]
    return rows


def write_call_csv(summary: CallSummary, stream: IO[str]) -> None:
    """One row for the call's total, one for its managing partner, one per country."""
    _write(stream, _call_rows(summary))


def write_programme_csv(summary: ProgrammeSummary, stream: IO[str]) -> None:
    """Every call's rows, then the programme's totals per partner and per country."""
    rows = [row for call in summary.calls for row in _call_rows(call)]
    rows.append(_row("", "total", "", "", summary.total))
    rows += [
        _row("", "partner", line.key, line.name or NO_PARTNER, line.figures)
        for line in summary.by_partner
    ]
    rows += [_row("", "country", line.key, line.name, line.figures) for line in summary.by_country]
    _write(stream, rows)


def _write(stream: IO[str], rows: list[dict[str, str]]) -> None:
    writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _spreadsheet_cell(v) for k, v in row.items()})
