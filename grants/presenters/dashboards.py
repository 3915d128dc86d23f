"""What each role's dashboard shows: read-only queries, shaped for the templates."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from grants.models import Application, Evaluation, Instalment, Payment, User
from grants.services import access, awards, calls, expectations, organisations
from grants.services.actor import Actor
from workflows import engine
from workflows.call import CallState
from workflows.money import prefinancing_amount
from workflows.payment import PaymentState
from workflows.roles import Role
from workflows.voucher import AppState

# What the lists show of each row is loaded with it: a constant number of statements, not
# one per application (12,000 applications made 12,017 statements before).
_SHOWN = (
    selectinload(Application.organisation),
    selectinload(Application.call),
    selectinload(Application.payments),
    selectinload(Application.reports),
)


def visible(session: Session, actor: Actor) -> list[Application]:
    return list(session.scalars(access.visible_applications_query(actor).options(*_SHOWN)))


def applicant(session: Session, actor: Actor, now: datetime) -> dict[str, Any]:
    own = visible(session, actor)
    applied = {a.call_id for a in own}
    open_calls = [
        c
        for c in calls.list_calls(session)
        if c.status == CallState.PUBLISHED and c.id not in applied
    ]
    return {
        "applications": own,
        "open_calls": open_calls,
        "next_steps": {a.id: expectations.next_step(a, now) for a in own},
    }


def by_status(session: Session, actor: Actor, wanted: str, page: int, size: int) -> dict[str, Any]:
    """One page of the visible applications, filtered to ``wanted`` (if a state), with the
    count of each status; counting and paging happen in the database."""
    states = [str(s) for s in AppState]
    wanted = wanted if wanted in states else ""
    query = access.visible_applications_query(actor)
    shown = query.order_by(None).subquery()
    grouped = session.execute(select(shown.c.status, func.count()).group_by(shown.c.status))
    counts = {status: number for status, number in grouped}
    total = counts.get(wanted, 0) if wanted else sum(counts.values())
    pages = max((total + size - 1) // size, 1)
    page = min(page, pages)
    if wanted:
        query = query.where(Application.status == wanted)
    rows = session.scalars(query.options(*_SHOWN).offset((page - 1) * size).limit(size))
    return {
        "applications": list(rows),
        "counts": counts,
        "wanted": wanted,
        "states": states,
        "page": page,
        "total": total,
    }


def call_rows(session: Session) -> list[dict[str, Any]]:
    return [
        {
            "call": call,
            "committed": awards.committed_budget(session, call.id),
            "remaining": awards.budget_remaining(session, call),
        }
        for call in calls.list_calls(session)
    ]


def officer(session: Session, actor: Actor, wanted: str, page: int, size: int) -> dict[str, Any]:
    return {
        **by_status(session, actor, wanted, page, size),
        "call_rows": call_rows(session),
        "duplicates": organisations.duplicate_registrations(session),
    }


def evaluator(session: Session, actor: Actor) -> dict[str, Any]:
    evaluations = session.scalars(
        select(Evaluation).where(Evaluation.evaluator_id == actor.user_id).order_by(Evaluation.id)
    )
    return {"evaluations": list(evaluations)}


def _finance_has_a_step(application: Application) -> bool:
    # Read from the workflow: the states from which a finance officer moves the voucher.
    return bool(engine.available_triggers(application.workflow, application.status, Role.FINANCE))


def finance(session: Session, actor: Actor) -> dict[str, Any]:
    vouchers = visible(session, actor)
    to_prefinance = [
        (a, prefinancing_amount(a.awarded_amount or Decimal(0), a.call.prefinancing_percent))
        for a in vouchers
        if a.status == AppState.CONTRACTED
        and not any(p.instalment == Instalment.PREFINANCING for p in a.payments)
        and (a.awarded_amount or 0) > 0
        and a.call.prefinancing_percent > 0
    ]
    open_prefinancing = session.scalars(
        select(Payment)
        .where(
            Payment.instalment == Instalment.PREFINANCING,
            Payment.status.in_([PaymentState.PREPARED, PaymentState.AUTHORISED]),
        )
        .order_by(Payment.id)
    )
    names = session.scalars(select(User).where(User.role == Role.FINANCE))
    return {
        "vouchers": vouchers,
        "balance_work": [a for a in vouchers if _finance_has_a_step(a)],
        "to_prefinance": to_prefinance,
        "open_prefinancing": list(open_prefinancing),
        "names": {u.id: u.full_name for u in names},
    }


def users(session: Session) -> dict[str, Any]:
    return {"users": list(session.scalars(select(User).order_by(User.role, User.full_name)))}
