"""Reconciliation: do the business rows hold what the audit trail says they should?

The hash chain proves the trail was not changed; it says nothing about a payment's amount
or an application's status changed directly in the database without an event. This replays
the trail (``workflows.reconcile``) and compares every checked field of every application,
evaluation, payment, bank account and redress request with the database, naming each
difference by table, row id and field, with the trail's value and the database's.

Streaming: events are read in id order a thousand at a time and never kept; the replay
holds one small dict per business row. Then each table is read the same way.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from grants.errors import NotFound
from grants.models import (
    Application,
    AuditEvent,
    BankAccount,
    Call,
    Evaluation,
    Payment,
    RedressRequest,
)
from workflows import reconcile
from workflows.reconcile import EventView, Mismatch

# How many differences a report lists (it counts them all): a wholesale edit stays readable.
LISTED = 500
_BATCH = 1000
_MODELS: dict[str, Any] = {
    reconcile.APPLICATIONS: Application,
    reconcile.EVALUATIONS: Evaluation,
    reconcile.PAYMENTS: Payment,
    reconcile.BANK_ACCOUNTS: BankAccount,
    reconcile.REDRESS: RedressRequest,
}


@dataclass
class ReconciliationReport:
    events: int = 0
    rows: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    # Every difference found, listed or not.
    count: int = 0

    @property
    def ok(self) -> bool:
        return self.count == 0

    def add(self, found: list[Mismatch] | Iterator[Mismatch]) -> None:
        for mismatch in found:
            self.count += 1
            if len(self.mismatches) < LISTED:
                self.mismatches.append(mismatch)


def _stream(session: Session, statement: Select[Any]) -> Iterator[Any]:
    # yield_per: a server-side cursor on PostgreSQL, closed even if the caller stops early.
    with session.execute(statement.execution_options(yield_per=_BATCH)) as rows:
        yield from rows


def _events(session: Session, application_ids: Collection[int] | None) -> Iterator[EventView]:
    table = AuditEvent.__table__
    statement = (
        select(
            table.c.id,
            table.c.action,
            table.c.entity_type,
            table.c.entity_id,
            table.c.application_id,
            table.c.actor_id,
            table.c.after,
        )
        .where(table.c.entity_type.in_(reconcile.ENTITY_TYPES))
        .order_by(table.c.id)
    )
    if application_ids is not None:
        statement = statement.where(table.c.application_id.in_(list(application_ids)))
    for row in _stream(session, statement):
        yield EventView(
            id=row.id,
            action=row.action,
            entity_type=row.entity_type,
            entity_id=row.entity_id,
            application_id=row.application_id,
            actor_id=row.actor_id,
            after=row.after or {},
        )


def _rows(
    session: Session, name: str, application_ids: Collection[int] | None
) -> Iterator[dict[str, Any]]:
    table = _MODELS[name].__table__
    statement = select(table.c.id, *(table.c[f] for f in reconcile.FIELDS[name])).order_by(
        table.c.id
    )
    if application_ids is not None:
        owner = table.c.id if name == reconcile.APPLICATIONS else table.c.application_id
        statement = statement.where(owner.in_(list(application_ids)))
    for row in _stream(session, statement):
        yield dict(row._mapping)


def reconcile_trail(
    session: Session, *, application_ids: Collection[int] | None = None
) -> ReconciliationReport:
    """Replay the trail and compare. ``application_ids``: only those applications and their
    rows (a voucher's check, and tests sharing a database); None: everything."""
    replay = reconcile.Replay()
    report = ReconciliationReport()
    for event in _events(session, application_ids):
        replay.add(event)
        report.events += 1
    for name in _MODELS:
        for row in _rows(session, name, application_ids):
            report.rows += 1
            report.add(replay.compare(name, row["id"], row))
    report.add(replay.leftovers(tuple(_MODELS)))
    return report


def scope_of(
    session: Session, applications: Collection[str] = (), calls: Collection[str] = ()
) -> list[int] | None:
    """The ids of the applications named by reference, and of every application of the
    calls named; None when nothing is named (everything is checked)."""
    if not applications and not calls:
        return None
    found: dict[str, int] = {
        reference: app_id
        for reference, app_id in session.execute(
            select(Application.reference, Application.id).where(
                Application.reference.in_(list(applications))
            )
        )
    }
    unknown = [reference for reference in applications if reference not in found]
    if unknown:
        raise NotFound(f"no application {', '.join(unknown)}")
    ids = set(found.values())
    for reference in calls:
        call_id = session.scalar(select(Call.id).where(Call.reference == reference))
        if call_id is None:
            raise NotFound(f"no call {reference}")
        ids.update(session.scalars(select(Application.id).where(Application.call_id == call_id)))
    return sorted(ids)
