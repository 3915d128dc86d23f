"""What the finance dashboard shows of recovery orders: the open ones, overdue first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from grants.models import Application, RecoveryOrder, RecoveryStatus
from grants.services.recoveries import local_today


@dataclass(frozen=True)
class RecoveryRow:
    order: RecoveryOrder
    overdue: bool
    today: date


def finance_recoveries(session: Session) -> dict[str, Any]:
    """Every open recovery order, the overdue ones (past their due date in the call's
    timezone) first, then by due date; with the count of overdue ones."""
    orders = session.scalars(
        select(RecoveryOrder)
        .where(RecoveryOrder.status == RecoveryStatus.OPEN)
        .options(
            selectinload(RecoveryOrder.application).selectinload(Application.organisation),
            selectinload(RecoveryOrder.application).selectinload(Application.call),
        )
        .order_by(RecoveryOrder.due_on, RecoveryOrder.id)
    )
    rows = []
    for order in orders:
        today = local_today(order.application)
        rows.append(RecoveryRow(order, order.due_on < today, today))
    rows.sort(key=lambda r: (not r.overdue, r.order.due_on, r.order.id))
    return {"rows": rows, "overdue": sum(1 for r in rows if r.overdue)}
