"""What the SEPA pages show: the instalments ready for a file, the batches, one batch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from grants.models import Application, Payment, User
from grants.services import bank_details, sepa
from workflows.sepa_batch import SEPA_BATCH_V1, SepaBatchState


@dataclass(frozen=True)
class ExportRow:
    payment: Payment
    application: Application
    instalment: str
    blocked: str | None


def batch_status_label(status: str) -> str:
    return SEPA_BATCH_V1.fact(status).label


def export_rows(session: Session) -> list[ExportRow]:
    """Authorised instalments in no live batch; those whose bank details are blocked are
    shown with the reason and cannot be chosen."""
    payable = sepa.exportable_payments(session)
    # Each order's payee: the SME, or the service provider on a call paying it directly.
    blocks = bank_details.payment_blocks(session, payable)
    return [
        ExportRow(
            payment=p,
            application=p.application,
            instalment=sepa.instalment_label(p),
            blocked=blocks[p.id],
        )
        for p in payable
    ]


def selection(
    session: Session, *, chosen: set[int] | None = None, every_payable: bool = False
) -> dict[str, Any]:
    """The export form's rows; ``every_payable`` ticks each one that may be paid."""
    rows = export_rows(session)
    if every_payable:
        chosen = {r.payment.id for r in rows if not r.blocked}
    return {
        "rows": rows,
        "chosen": chosen or set(),
        "default_execution_date": sepa.default_execution_date(),
        "exportable_total": sum((r.payment.amount for r in rows if not r.blocked), Decimal(0)),
    }


def dashboard(session: Session) -> dict[str, Any]:
    """The finance dashboard's summary: what waits for a file (chosen on the export page,
    so that the dashboard does not list every authorised instalment) and the batches sent
    to the bank that wait to be marked paid."""
    count, total = sepa.exportable_summary(session)
    return {
        "exportable_count": count,
        "exportable_total": total,
        "waiting": sepa.batches_waiting(session),
    }


def batch_list(session: Session) -> dict[str, Any]:
    return {"batches": sepa.batches(session), "status_label": batch_status_label}


def _name(session: Session, user_id: int | None) -> str:
    user = session.get(User, user_id) if user_id else None
    return user.full_name if user else ""


def batch_page(session: Session, batch_id: int) -> dict[str, Any]:
    found = sepa.batch(session, batch_id)
    return {
        "batch": found,
        "items": found.items,
        "status_label": batch_status_label,
        "created_by": found.created_by.full_name,
        "paid_by": _name(session, found.paid_by_id),
        "cancelled_by": _name(session, found.cancelled_by_id),
        "exported": found.status == SepaBatchState.EXPORTED,
        "today": sepa.today(),
    }


def parse_date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat((raw or "").strip())
    except ValueError:
        return None
