"""The budget ledger as the dashboards, the call's ledger page and its CSV show it."""

from __future__ import annotations

import io
from dataclasses import dataclass

from sqlalchemy.orm import Session

from grants.errors import NotFound
from grants.models import Call
from grants.services import calls, ledger
from grants.services.ledger import Ledger
from workflows.call import CallState
from workflows.i18n import N_
from workflows.ledger import Cause, Figures, Kind

# The release lines, in the order the pages show them.
CAUSES = tuple(Cause)
KIND_LABELS = {
    Kind.COMMITMENT: N_("Commitment"),
    Kind.PAYMENT: N_("Payment"),
    Kind.RELEASE: N_("Release"),
}


@dataclass(frozen=True)
class CallFigures:
    call: Call
    figures: Figures


def figures_by_call(session: Session, listed: list[Call]) -> dict[int, Figures]:
    """The ledger figures of the calls listed (the officer's per-call rows), in a fixed
    number of statements however many calls there are."""
    return ledger.figures_by_call(session, listed)


def finance_rows(session: Session) -> list[CallFigures]:
    """Every call past its draft, with its ledger figures (the finance dashboard)."""
    listed = [c for c in calls.list_calls(session) if c.status != CallState.DRAFT]
    figures = ledger.figures_by_call(session, listed)
    return [CallFigures(call, figures[call.id]) for call in listed]


def call_ledger(session: Session, call_id: int) -> Ledger:
    call = session.get(Call, call_id)
    if call is None:
        raise NotFound(f"no call {call_id}")
    return ledger.call_ledger(session, call)


def csv_text(found: Ledger) -> str:
    out = io.StringIO(newline="")
    ledger.write_csv(found, out)
    return out.getvalue()
