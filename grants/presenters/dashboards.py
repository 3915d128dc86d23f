"""What each role's dashboard shows: read-only queries, shaped for the templates."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from grants.db import utcnow
from grants.models import Application, Call, Evaluation, Instalment, Payment
from grants.presenters import bank_details as bank_presenter
from grants.presenters import final_report
from grants.presenters import ledger as ledger_presenter
from grants.presenters import recoveries as recovery_presenter
from grants.services import (
    access,
    calls,
    conflicts,
    expectations,
    organisations,
    payments,
    redress,
    staff,
)
from grants.services.actor import Actor
from grants.services.role_holders import people_holding
from workflows import engine
from workflows.call import CallState
from workflows.money import prefinancing_amount
from workflows.payment import PaymentState
from workflows.registry import APPLICATION_WORKFLOWS, all_workflows
from workflows.roles import Role
from workflows.voucher import AppState

# What the lists show of each row is loaded with it: a constant number of statements, not
# one per application (12,000 applications made 12,017 statements before). The finance
# lists show no report, so they load none.
_PAYMENTS_SHOWN = (
    selectinload(Application.organisation),
    selectinload(Application.call),
    selectinload(Application.payments),
)
_SHOWN = (*_PAYMENTS_SHOWN, selectinload(Application.reports))


def visible(session: Session, actor: Actor) -> list[Application]:
    return list(session.scalars(access.visible_applications_query(actor).options(*_SHOWN)))


def applicant(session: Session, actor: Actor, now: datetime) -> dict[str, Any]:
    own = visible(session, actor)
    applied = {a.call_id for a in own}
    open_calls = [
        c
        for c in calls.list_calls(session)
        if c.status == CallState.PUBLISHED and access.announced(c, now) and c.id not in applied
    ]
    return {
        "applications": own,
        "open_calls": open_calls,
        "next_steps": {a.id: expectations.next_step(a, now) for a in own},
        "report_deadlines": final_report.report_deadlines(own, now),
    }


@dataclass(frozen=True)
class Listing:
    """A list of applications that is counted by ``stage`` and shown a page at a time."""

    query: Select[tuple[Application]]
    stage: ColumnElement[str]
    stages: tuple[str, ...]
    shown: tuple[Any, ...] = _SHOWN  # the loader options of what the list shows of a row

    def counts(self, session: Session) -> dict[str, int]:
        """How many rows are at each stage: one GROUP BY in the database."""
        staged = (
            self.query.with_only_columns(self.stage.label("stage"), maintain_column_froms=True)
            .order_by(None)
            .subquery()
        )
        grouped = session.execute(select(staged.c.stage, func.count()).group_by(staged.c.stage))
        return {stage: number for stage, number in grouped}

    def page(
        self, session: Session, counts: dict[str, int], wanted: str, page: int, size: int
    ) -> dict[str, Any]:
        """One page of the rows, filtered to ``wanted`` (if one of the stages), with what the
        lists show of each row loaded with it; paging happens in the database."""
        wanted = wanted if wanted in self.stages else ""
        total = counts.get(wanted, 0) if wanted else sum(counts.values())
        pages = max((total + size - 1) // size, 1)
        page = min(page, pages)
        query = self.query.where(self.stage == wanted) if wanted else self.query
        rows = session.scalars(query.options(*self.shown).offset((page - 1) * size).limit(size))
        return {
            "applications": list(rows),
            "counts": counts,
            "wanted": wanted,
            "states": list(self.stages),
            "page": page,
            "total": total,
        }


def by_status(session: Session, actor: Actor, wanted: str, page: int, size: int) -> dict[str, Any]:
    """One page of the visible applications, filtered to ``wanted`` (if a state), with the
    count of each status; counting and paging happen in the database."""
    listing = Listing(
        access.visible_applications_query(actor),
        Application.status,
        tuple(str(s) for s in AppState),
    )
    return listing.page(session, listing.counts(session), wanted, page, size)


def call_rows(session: Session) -> list[dict[str, Any]]:
    listed = calls.list_calls(session)
    figures = ledger_presenter.figures_by_call(session, listed)
    return [
        {
            "call": call,
            "committed": figures[call.id].committed + figures[call.id].paid,
            "remaining": figures[call.id].available,
            "ledger": figures[call.id],
        }
        for call in listed
    ]


def officer(session: Session, actor: Actor, wanted: str, page: int, size: int) -> dict[str, Any]:
    return {
        **by_status(session, actor, wanted, page, size),
        "call_rows": call_rows(session),
        "duplicates": organisations.duplicate_registrations(session),
        "redress_waiting": redress.pending(session),
        "reports_due": final_report.reports_due(session, utcnow()),
    }


def evaluator(session: Session, actor: Actor) -> dict[str, Any]:
    evaluations = list(
        session.scalars(
            select(Evaluation)
            .where(Evaluation.evaluator_id == actor.user_id)
            .order_by(Evaluation.id)
        )
    )
    # A conflict that came to light after the assignment closes the proposal to the expert:
    # the list says so instead of offering a link that answers 404.
    found = conflicts.detected_matrix(
        session, [e.application for e in evaluations], [actor.user_id or 0]
    )
    detected = {app_id: [c.reason for c in hits] for (app_id, _), hits in found.items()}
    return {"evaluations": evaluations, "detected": detected}


# The stage of a pre-financing instalment that has no payment row yet.
TO_PREPARE = "to_prepare"


def _finance_steps() -> tuple[ColumnElement[bool], tuple[str, ...]]:
    """Where a finance officer moves the voucher itself (the balance's steps), as the workflow
    version its call pinned says; and every such state, in workflow order."""
    where: list[ColumnElement[bool]] = []
    found: dict[str, None] = {}
    for definition in all_workflows():
        if definition.name not in APPLICATION_WORKFLOWS:
            continue
        states = [
            s for s in definition.states if engine.available_triggers(definition, s, Role.FINANCE)
        ]
        found.update(dict.fromkeys(states))
        where.append(
            and_(
                Call.workflow_name == definition.name,
                Call.workflow_version == definition.version,
                Application.status.in_(states),
            )
        )
    return or_(*where), tuple(found)


def _finance_listings(actor: Actor) -> dict[str, Listing]:
    """The finance officer's lists, in the order the dashboard offers them: the pre-financing
    instalments to prepare, authorise or mark paid; the vouchers whose balance payment a
    finance officer moves on; every voucher under agreement."""
    vouchers = access.visible_applications_query(actor)
    # The live order only (at most one); a cancelled one is to prepare again, a withheld one
    # is settled with the balance.
    prefinancing = vouchers.join(Application.call).outerjoin(
        Payment,
        and_(
            Payment.application_id == Application.id,
            Payment.instalment == Instalment.PREFINANCING,
            Payment.status.in_(payments.LIVE_STATES),
        ),
    )
    withheld = aliased(Payment)
    to_prepare = and_(
        Payment.id.is_(None),
        ~select(withheld.id)
        .where(
            withheld.application_id == Application.id,
            withheld.instalment == Instalment.PREFINANCING,
            withheld.status == PaymentState.WITHHELD,
        )
        .exists(),
        Application.status == AppState.CONTRACTED,
        Application.awarded_amount > 0,
        Call.prefinancing_percent > 0,
    )
    balance_steps, balance_states = _finance_steps()
    return {
        "prefinancing": Listing(
            prefinancing.where(or_(to_prepare, Payment.status.in_(payments.OPEN_STATES))),
            func.coalesce(Payment.status, TO_PREPARE),
            (TO_PREPARE, *(str(s) for s in payments.OPEN_STATES)),
            _PAYMENTS_SHOWN,
        ),
        "balance": Listing(
            vouchers.join(Application.call).where(balance_steps),
            Application.status,
            balance_states,
            _PAYMENTS_SHOWN,
        ),
        "vouchers": Listing(vouchers, Application.status, access.FINANCE_STATES, _PAYMENTS_SHOWN),
    }


def _prefinancing_rows(
    applications: Iterable[Application],
) -> list[tuple[Application, Payment | None, Decimal]]:
    """Each voucher with its open pre-financing instalment (none: still to prepare) and the
    amount of the instalment."""
    rows = []
    for a in applications:
        payment = payments.instalment(a, Instalment.PREFINANCING)
        if payment is not None and payment.status not in payments.LIVE_STATES:
            payment = None  # cancelled: to prepare again
        amount = (
            payment.amount
            if payment
            else prefinancing_amount(a.awarded_amount or Decimal(0), a.call.prefinancing_percent)
        )
        rows.append((a, payment, amount))
    return rows


def finance(
    session: Session, actor: Actor, chosen: str, wanted: str, page: int, size: int
) -> dict[str, Any]:
    """One page of one of the finance officer's lists (``chosen``, else the first), filtered
    to ``wanted`` (if one of its stages), with the count of every list and of each stage of
    the chosen one; counting and paging happen in the database."""
    listings = _finance_listings(actor)
    chosen = chosen if chosen in listings else next(iter(listings))
    counts = {name: listing.counts(session) for name, listing in listings.items()}
    data = listings[chosen].page(session, counts[chosen], wanted, page, size)
    if chosen == "prefinancing":
        data["prefinancing_rows"] = _prefinancing_rows(data["applications"])
    data["recoveries"] = recovery_presenter.finance_recoveries(session)
    data["ledger_rows"] = ledger_presenter.finance_rows(session)
    data.update(bank_presenter.finance_list(session, actor))
    names = session.scalars(people_holding(Role.FINANCE, active_only=False))
    return {
        **data,
        "chosen": chosen,
        "list_totals": {name: sum(c.values()) for name, c in counts.items()},
        "names": {u.id: u.full_name for u in names},
    }


def users(session: Session) -> dict[str, Any]:
    """The administrator's overview: counts from the database and the invitations still
    open; the accounts themselves are on the paginated accounts page."""
    pending, pending_total = staff.pending_invitations(session)
    return {
        "role_counts": staff.role_counts(session),
        "pending": pending,
        "pending_total": pending_total,
        "deactivated": staff.deactivated_count(session),
    }
