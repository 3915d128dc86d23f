"""A call's budget ledger, and the money facts the award and payment steps are checked on.

Where the figures come from (DOMAIN: the consortium answers to EU auditors for every euro):

- **committed** and **paid** are read from the business rows as they are now: the awards of
  the vouchers that hold budget (the workflow's ``holds_budget`` fact), their paid
  instalments, and the repayments recorded on recovery orders (``RecoveryOrder``);
- **commitments and releases** are read from the audit trail, because the rows no longer
  show them (a termination or a closure lowers the award; a decline keeps it but stops
  holding budget): each is an event with its date, who acted and why. Commitments are the
  ``rank``/``promote`` events that selected a voucher (``awarded_amount``); releases are the
  ``released`` extra of decline, expiry, exclusion and closure, and for a termination the
  award before less what had been paid (``awarded_amount`` after plus ``recovery_amount``):
  the part to recover is released only when it is repaid;
- **recoveries repaid**: the paid figure is net of the orders' ``repaid_amount`` (rows); the
  release lines are the ``record_repayment`` events, one per repayment received.

Both sources meet in one identity the tests hold through a whole lifecycle: every
commitment made = committed + paid + released; and budget = held back + available +
committed + paid, where available is what promotions and offers may use.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import IO, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grants.db import utcnow
from grants.models import (
    Application,
    AuditEvent,
    Call,
    Instalment,
    Organisation,
    Payment,
    RecoveryOrder,
)
from workflows import ledger
from workflows.call_rules import eligibility_rules_of
from workflows.eligibility import DeMinimisRule
from workflows.errors import TransitionRefused
from workflows.guards import TransitionContext, failed_guards
from workflows.i18n import _
from workflows.ledger import Cause, Figures, Kind, VoucherMoney
from workflows.money import quantize
from workflows.payment import PaymentState
from workflows.registry import application_states_where
from workflows.voucher import PAYMENT_LIMITS

HOLDS_BUDGET = application_states_where("holds_budget")
OPEN_PAYMENTS = (PaymentState.PREPARED, PaymentState.AUTHORISED)
_COMMITTING_STEPS = ("rank", "promote")
ZERO = Decimal("0.00")


def _money(value: Any) -> Decimal:
    return quantize(Decimal(str(value))) if value not in (None, "") else ZERO


def _sums_by_application(session: Session, query: Any) -> dict[int, Decimal]:
    return {app_id: _money(total) for app_id, total in session.execute(query)}


def _in_call(call_id: int) -> Any:
    return select(Application.id).where(Application.call_id == call_id).scalar_subquery()


def paid_by_application(session: Session, call_id: int) -> dict[int, Decimal]:
    return _sums_by_application(
        session,
        select(Payment.application_id, func.sum(Payment.amount))
        .where(Payment.application_id.in_(_in_call(call_id)), Payment.status == PaymentState.PAID)
        .group_by(Payment.application_id),
    )


def repaid_by_application(session: Session, call_id: int) -> dict[int, Decimal]:
    return _sums_by_application(
        session,
        select(RecoveryOrder.application_id, func.sum(RecoveryOrder.repaid_amount))
        .where(RecoveryOrder.application_id.in_(_in_call(call_id)))
        .group_by(RecoveryOrder.application_id),
    )


def vouchers(session: Session, call_id: int) -> dict[int, VoucherMoney]:
    """Each voucher of the call that holds budget: its award, paid and repaid amounts."""
    paid = paid_by_application(session, call_id)
    repaid = repaid_by_application(session, call_id)
    rows = session.execute(
        select(Application.id, Application.awarded_amount)
        .where(Application.call_id == call_id, Application.status.in_(HOLDS_BUDGET))
        .order_by(Application.id)
    )
    return {
        app_id: VoucherMoney(_money(award), paid.get(app_id, ZERO), repaid.get(app_id, ZERO))
        for app_id, award in rows
    }


def available(session: Session, call: Call) -> Decimal:
    """What the call's vouchers may still use: budget - held back - committed - paid."""
    return ledger.figures(call.budget, call.reserve, vouchers(session, call.id).values()).available


# -- movements ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Movement:
    """One line of the ledger: a voucher's commitment, a payment, or a release and its cause."""

    at: datetime
    application_id: int
    reference: str
    organisation: str
    kind: Kind
    amount: Decimal
    cause: Cause | None = None
    detail: str = ""

    @property
    def signed(self) -> Decimal:
        """The effect on what the call still has available: a commitment takes, a release
        gives back; a payment only moves money from committed to paid."""
        if self.kind == Kind.COMMITMENT:
            return -self.amount
        return self.amount if self.kind == Kind.RELEASE else ZERO


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _release_of(event: AuditEvent) -> Decimal:
    after, before = event.after or {}, event.before or {}
    if "released" in after:
        return _money(after["released"])
    if event.action == "terminate":
        paid = _money(after.get("awarded_amount")) + _money(after.get("recovery_amount"))
        return ledger.termination_release(_money(before.get("awarded_amount")), paid)
    return ZERO


def _event_movements(
    session: Session, call_id: int, names: dict[int, tuple[str, str]]
) -> Iterable[Movement]:
    actions = (*_COMMITTING_STEPS, *ledger.RELEASING_STEPS)
    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.application_id.in_(_in_call(call_id)),
            AuditEvent.entity_type == "application",
            AuditEvent.action.in_(actions),
        )
        .order_by(AuditEvent.id)
    )
    for event in events:
        app_id = event.application_id
        assert app_id is not None
        reference, organisation = names[app_id]
        after = event.after or {}
        if event.action in _COMMITTING_STEPS:
            if after.get("status") != "selected":
                continue
            kind, cause, amount = Kind.COMMITMENT, None, _money(after.get("awarded_amount"))
        else:
            kind, cause, amount = Kind.RELEASE, ledger.RELEASING_STEPS[event.action], ZERO
            amount = _release_of(event)
        if amount:
            yield Movement(
                _aware(event.occurred_at),
                app_id,
                reference,
                organisation,
                kind,
                amount,
                cause,
                str(after.get("reason") or after.get("cause") or ""),
            )


def _payment_movements(
    session: Session, call_id: int, names: dict[int, tuple[str, str]]
) -> Iterable[Movement]:
    paid = session.scalars(
        select(Payment)
        .where(Payment.application_id.in_(_in_call(call_id)), Payment.status == PaymentState.PAID)
        .order_by(Payment.id)
    )
    for payment in paid:
        reference, organisation = names[payment.application_id]
        instalment = "pre-financing" if payment.instalment == Instalment.PREFINANCING else "balance"
        yield Movement(
            _aware(payment.paid_at or payment.updated_at),
            payment.application_id,
            reference,
            organisation,
            Kind.PAYMENT,
            _money(payment.amount),
            None,
            f"{instalment} {payment.payment_reference or ''}".strip(),
        )


def _recovery_movements(
    session: Session, call_id: int, names: dict[int, tuple[str, str]]
) -> Iterable[Movement]:
    """Each repayment recorded against a recovery order (``record_repayment`` events)."""
    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.application_id.in_(_in_call(call_id)),
            AuditEvent.entity_type == "recovery_order",
            AuditEvent.action == "record_repayment",
        )
        .order_by(AuditEvent.id)
    )
    for event in events:
        assert event.application_id is not None
        reference, organisation = names[event.application_id]
        after = event.after or {}
        yield Movement(
            _aware(event.occurred_at),
            event.application_id,
            reference,
            organisation,
            Kind.RELEASE,
            _money(after.get("amount")),
            Cause.RECOVERY,
            f"received {after.get('received_on', '')} {after.get('bank_reference', '')}".strip(),
        )


def movements(session: Session, call_id: int) -> list[Movement]:
    """Every movement of the call's money, oldest first."""
    names = {
        app_id: (reference, legal_name)
        for app_id, reference, legal_name in session.execute(
            select(Application.id, Application.reference, Organisation.legal_name)
            .join(Organisation, Organisation.id == Application.organisation_id)
            .where(Application.call_id == call_id)
        )
    }
    found = [
        *_event_movements(session, call_id, names),
        *_payment_movements(session, call_id, names),
        *_recovery_movements(session, call_id, names),
    ]
    order = {Kind.COMMITMENT: 0, Kind.PAYMENT: 1, Kind.RELEASE: 2}
    return sorted(found, key=lambda m: (m.at, order[m.kind], m.application_id))


@dataclass(frozen=True)
class Ledger:
    call: Call
    figures: Figures
    movements: list[Movement]

    @property
    def committed_ever(self) -> Decimal:
        return quantize(sum((m.amount for m in self.movements if m.kind == Kind.COMMITMENT), ZERO))

    @property
    def reconciles(self) -> bool:
        """Every commitment is committed, paid or released: the trail and the rows agree."""
        f = self.figures
        return self.committed_ever == quantize(f.committed + f.paid + f.released_total)


def _releases(found: Iterable[Movement]) -> list[tuple[Cause, Decimal]]:
    return [(m.cause, m.amount) for m in found if m.kind == Kind.RELEASE and m.cause]


def call_ledger(session: Session, call: Call) -> Ledger:
    found = movements(session, call.id)
    figures = ledger.figures(
        call.budget, call.reserve, vouchers(session, call.id).values(), _releases(found)
    )
    return Ledger(call, figures, found)


def call_figures(session: Session, call: Call) -> Figures:
    return call_ledger(session, call).figures


def figures_by_call(session: Session, calls: Iterable[Call]) -> dict[int, Figures]:
    """The figures of many calls in a fixed number of statements (the dashboards), however
    many calls and vouchers there are; the same sums as ``call_ledger``."""
    listed = list(calls)
    ids = [c.id for c in listed]
    if not ids:
        return {}
    paid = _sums_by_application(
        session,
        select(Payment.application_id, func.sum(Payment.amount))
        .join(Application, Application.id == Payment.application_id)
        .where(Application.call_id.in_(ids), Payment.status == PaymentState.PAID)
        .group_by(Payment.application_id),
    )
    repaid = _sums_by_application(
        session,
        select(RecoveryOrder.application_id, func.sum(RecoveryOrder.repaid_amount))
        .join(Application, Application.id == RecoveryOrder.application_id)
        .where(Application.call_id.in_(ids))
        .group_by(RecoveryOrder.application_id),
    )
    held: dict[int, list[VoucherMoney]] = {i: [] for i in ids}
    for app_id, call_id, award in session.execute(
        select(Application.id, Application.call_id, Application.awarded_amount).where(
            Application.call_id.in_(ids), Application.status.in_(HOLDS_BUDGET)
        )
    ):
        held[call_id].append(
            VoucherMoney(_money(award), paid.get(app_id, ZERO), repaid.get(app_id, ZERO))
        )
    releases: dict[int, list[tuple[Cause, Decimal]]] = {i: [] for i in ids}
    events = session.execute(
        select(AuditEvent, Application.call_id)
        .join(Application, Application.id == AuditEvent.application_id)
        .where(
            Application.call_id.in_(ids),
            (
                (AuditEvent.entity_type == "application")
                & AuditEvent.action.in_(tuple(ledger.RELEASING_STEPS))
            )
            | (
                (AuditEvent.entity_type == "recovery_order")
                & (AuditEvent.action == "record_repayment")
            ),
        )
    )
    for event, call_id in events:
        if event.action == "record_repayment":
            amount, cause = _money((event.after or {}).get("amount")), Cause.RECOVERY
        else:
            amount, cause = _release_of(event), ledger.RELEASING_STEPS[event.action]
        if amount:
            releases[call_id].append((cause, amount))
    return {c.id: ledger.figures(c.budget, c.reserve, held[c.id], releases[c.id]) for c in listed}


# -- CSV ----------------------------------------------------------------------------------

CSV_HEADER = (
    "date_utc",
    "call",
    "voucher",
    "organisation",
    "movement",
    "cause",
    "amount_eur",
    "effect_on_available_eur",
    "detail",
)


def write_csv(found: Ledger, out: IO[str]) -> None:
    """One row per movement; amounts as plain decimals with a point (spreadsheets and audit
    tools read them exactly)."""
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for m in found.movements:
        writer.writerow(
            (
                m.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                found.call.reference,
                m.reference,
                m.organisation,
                str(m.kind),
                str(m.cause or ""),
                f"{m.amount:.2f}",
                f"{m.signed:.2f}",
                m.detail,
            )
        )


# -- facts for the award and payment steps --------------------------------------------------


def lock_organisation(session: Session, organisation_id: int) -> Organisation:
    """The SME's row, locked: awards to one SME from different calls queue here (cumulative
    cap, de minimis headroom), always after the call's row and before the application's."""
    organisation = session.scalars(
        select(Organisation).where(Organisation.id == organisation_id).with_for_update()
    ).first()
    assert organisation is not None
    return organisation


def _declared_aid(organisation: Organisation) -> list[tuple[Decimal, date]]:
    aid = []
    for row in organisation.de_minimis_aid or []:
        try:
            aid.append((Decimal(str(row["amount"])), date.fromisoformat(str(row["granted_on"]))))
        except (KeyError, TypeError, ValueError, ArithmeticError):
            continue  # an incomplete row of the profile form is no evidence of aid
    return aid


def award_facts(
    session: Session,
    call: Call,
    organisation: Organisation,
    application: Application,
    amount: Decimal,
    *,
    organisation_awarded_total: Decimal,
    today: date,
) -> dict[str, Any]:
    """Everything the award limits are checked on (offer, promote), read under the locks."""
    held = vouchers(session, call.id)
    others = [v for app_id, v in held.items() if app_id != application.id]
    remaining = ledger.figures(call.budget, call.reserve, others).available
    rules = eligibility_rules_of(call.eligibility_rules)
    return {
        "amount": amount,
        # The call's budget less every other voucher's hold: the voucher's own award (when
        # already selected) is what is being checked.
        "budget_remaining": remaining,
        "max_per_voucher": call.max_per_voucher,
        "organisation_awarded_total": organisation_awarded_total,
        "cumulative_cap": call.cumulative_cap,
        "de_minimis": DeMinimisRule(rules.de_minimis_ceiling, rules.de_minimis_years, today)
        if rules.de_minimis_check
        else None,
        "de_minimis_aid": _declared_aid(organisation),
    }


def payment_facts(
    session: Session, call: Call, application: Application, amount: Decimal
) -> dict[str, Any]:
    """What the payment limits are checked on: the voucher's and the call's payments made or
    under way (net of repayments), read under the call's lock."""
    voucher_payments = _money(
        sum(
            (
                p.amount
                for p in application.payments
                if p.status in (*OPEN_PAYMENTS, PaymentState.PAID)
            ),
            ZERO,
        )
    )
    call_payments = _money(
        session.scalar(
            select(func.coalesce(func.sum(Payment.amount), 0)).where(
                Payment.application_id.in_(_in_call(call.id)),
                Payment.status.in_((*OPEN_PAYMENTS, PaymentState.PAID)),
            )
        )
    ) - quantize(sum(repaid_by_application(session, call.id).values(), ZERO))
    return {
        "payment_amount": amount,
        "voucher_payments": voucher_payments,
        "award": application.awarded_amount or ZERO,
        "call_payments": call_payments,
        "call_budget": quantize(call.budget - call.reserve),
    }


def refuse_payment_beyond_limits(
    session: Session, actor_id: int | None, call: Call, application: Application, amount: Decimal
) -> None:
    """The payment limits of the balance step (``PAYMENT_LIMITS``), for an instalment that is
    not a workflow step of the voucher (the pre-financing): the same guards, the same words."""
    ctx = TransitionContext(
        actor_id=actor_id, now=utcnow(), facts=payment_facts(session, call, application, amount)
    )
    failed = failed_guards(PAYMENT_LIMITS, ctx)
    if failed:
        raise TransitionRefused(
            _("cannot prepare this payment"), reasons=tuple(g.explain(ctx) for g in failed)
        )
