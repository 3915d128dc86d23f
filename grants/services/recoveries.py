"""Recovery orders: money paid beyond what a terminated voucher justified, and its return.

A termination that finds more paid than justified issues one order in its own transaction
(``issue``, called by ``payments.terminate``): the SME gets the order as a PDF, with the
amount, the date to repay by, the account and the reference to quote. Finance records each
repayment received (``record_repayment``): repayments add up, the order is repaid once they
reach its amount, and more than is owed is refused. What was repaid is ``repaid_amount``,
which the call's ledger counts as returned to its budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grants import programme
from grants.db import utcnow
from grants.errors import NotFound, ValidationFailed, require_role
from grants.formatting import format_eur
from grants.models import Application, AuditEvent, Document, RecoveryOrder, RecoveryStatus
from grants.services import audit, documents, mail, notifications
from grants.services.actor import Actor
from grants.services.workflow import flush_or_refuse, load_locked
from workflows import numbers
from workflows.errors import TransitionRefused
from workflows.i18n import _
from workflows.roles import Role

# The longest bank reference kept (the column's width).
REFERENCE_MAX = 100


def local_today(application: Application) -> date:
    """Today in the call's timezone: due dates are the SME's calendar days."""
    return utcnow().astimezone(ZoneInfo(application.call.timezone)).date()


def _order_reference(session: Session, application: Application) -> str:
    issued = session.scalar(
        select(func.count())
        .select_from(RecoveryOrder)
        .where(RecoveryOrder.application_id == application.id)
    )
    return f"{application.reference}-REC-{(issued or 0) + 1}"


def _mail_applicant(
    session: Session,
    actor: Actor,
    application: Application,
    order: RecoveryOrder,
    event: AuditEvent,
    document: Document,
    mail_name: str,
    extra: dict[str, object],
) -> None:
    # Imported here: the step registry names the services that call this one.
    from grants.steps import Notice, Recipient

    context = {
        "application": application,
        "call": application.call,
        "recovery": order,
        "programme": programme.PROGRAMME_NAME,
        **extra,
    }
    notice = Notice(Recipient.APPLICANT, mail_name)
    for address, name in notifications.recipients(session, actor, notice, application):
        subject, body = notifications.render(mail_name, {**context, "name": name})
        mail.queue(
            session,
            to=address,
            subject=subject,
            body=body,
            purpose=mail_name,
            application_id=application.id,
            document_id=document.id,
            dedupe_key=f"recovery:{event.id}:{mail_name}:{address.lower()}",
        )


def issue(
    session: Session,
    actor: Actor,
    application: Application,
    *,
    amount: Decimal,
    reason: str,
    paid: Decimal,
    approved: Decimal | None,
) -> RecoveryOrder:
    """The recovery order of a termination, in the termination's transaction; the caller
    holds the application's lock."""
    if amount <= 0:
        raise ValueError(f"a recovery order recovers a positive amount, got {amount}")
    order = RecoveryOrder(
        reference=_order_reference(session, application),
        application_id=application.id,
        amount=amount,
        due_on=local_today(application) + timedelta(days=programme.RECOVERY_DAYS),
        status=RecoveryStatus.OPEN,
        reason=reason,
        repaid_amount=Decimal("0.00"),
        issued_by_id=actor.user_id,
    )
    session.add(order)
    flush_or_refuse(session)
    event = audit.record(
        session,
        actor,
        "issue_recovery_order",
        entity_type="recovery_order",
        entity_id=order.id,
        after={
            "reference": order.reference,
            "amount": amount,
            "due_on": order.due_on.isoformat(),
            "status": order.status,
        },
        application_id=application.id,
    )
    document = documents.enqueue(
        session,
        application=application,
        event=event,
        kind="recovery_order",
        step="Issue recovery order",
        details={
            "reference": order.reference,
            "amount": format_eur(amount),
            "total_paid": format_eur(paid),
            "approved_costs": format_eur(approved) if approved is not None else "",
            "due_on": order.due_on.isoformat(),
            "reason": reason,
            "account_holder": programme.RECOVERY_ACCOUNT_HOLDER,
            "account_iban": programme.RECOVERY_IBAN,
            "account_bic": programme.RECOVERY_BIC,
        },
    )
    _mail_applicant(session, actor, application, order, event, document, "recovery_order", {})
    return order


@dataclass(frozen=True)
class Repayment:
    order: RecoveryOrder
    event: AuditEvent
    document: Document


def _parse_repayment(
    amount: str, received_on: str, bank_reference: str, today: date
) -> tuple[Decimal, date, str]:
    errors: dict[str, str] = {}
    value = Decimal(0)
    try:
        value = numbers.parse_money(
            amount, field_label=_("The amount received"), minimum=Decimal("0.01")
        )
    except numbers.NumberRefused as exc:
        errors["amount"] = exc.message
    day = today
    try:
        day = date.fromisoformat(received_on.strip())
    except ValueError:
        errors["received_on"] = _("give the date the repayment was received, as YYYY-MM-DD")
    else:
        if day > today:
            errors["received_on"] = _("the date received cannot be in the future")
    reference = bank_reference.strip()
    if not reference:
        errors["bank_reference"] = _("give the bank's reference of the transfer received")
    elif len(reference) > REFERENCE_MAX:
        errors["bank_reference"] = _(
            "the bank reference is at most %(count)s characters", count=REFERENCE_MAX
        )
    if errors:
        raise ValidationFailed(errors)
    return value, day, reference


def record_repayment(
    session: Session,
    actor: Actor,
    order_id: int,
    *,
    amount: str,
    received_on: str,
    bank_reference: str,
) -> Repayment:
    """Finance records money received against an order; a receipt goes to the SME. The
    order is locked: two officers recording at once add up, or the second is refused if
    the two together would exceed what is owed."""
    require_role(actor, Role.FINANCE)
    order = load_locked(session, RecoveryOrder, order_id, "recovery order")
    application = order.application
    value, day, reference = _parse_repayment(
        amount, received_on, bank_reference, local_today(application)
    )
    if order.status != RecoveryStatus.OPEN:
        raise TransitionRefused(_("this recovery order is already repaid in full"))
    outstanding = order.amount - order.repaid_amount
    if value > outstanding:
        raise ValidationFailed(
            {
                "amount": _(
                    "%(amount)s is more than the %(outstanding)s still owed",
                    amount=format_eur(value),
                    outstanding=format_eur(outstanding),
                )
            }
        )
    before = {"status": order.status, "repaid_amount": order.repaid_amount}
    order.repaid_amount = order.repaid_amount + value
    order.repaid_at = day
    order.repayment_reference = reference
    order.recorded_by_id = actor.user_id
    order.recorded_at = utcnow()
    if order.repaid_amount == order.amount:
        order.status = RecoveryStatus.REPAID
    flush_or_refuse(session)
    event = audit.record(
        session,
        actor,
        "record_repayment",
        entity_type="recovery_order",
        entity_id=order.id,
        before=before,
        after={
            "status": order.status,
            "repaid_amount": order.repaid_amount,
            "amount": value,
            "received_on": day.isoformat(),
            "bank_reference": reference,
        },
        application_id=application.id,
    )
    settled = order.status == RecoveryStatus.REPAID
    document = documents.enqueue(
        session,
        application=application,
        event=event,
        kind="repayment_receipt",
        step="Record repayment",
        details={
            "reference": order.reference,
            "amount": format_eur(value),
            "received_on": day.isoformat(),
            "bank_reference": reference,
            "order_amount": format_eur(order.amount),
            "repaid_total": format_eur(order.repaid_amount),
            "outstanding": format_eur(order.amount - order.repaid_amount),
            "due_on": order.due_on.isoformat(),
            "settled": settled,
        },
    )
    _mail_applicant(
        session,
        actor,
        application,
        order,
        event,
        document,
        "repayment_received",
        {"received": value, "settled": settled},
    )
    return Repayment(order, event, document)


def visible_order(session: Session, actor: Actor, order_id: int) -> RecoveryOrder:
    """A recovery order finance may act on (finance sees every voucher under agreement)."""
    require_role(actor, Role.FINANCE)
    order = session.get(RecoveryOrder, order_id)
    if order is None:
        raise NotFound(f"no recovery order {order_id}")
    return order


def orders_of(session: Session, application_id: int) -> list[RecoveryOrder]:
    return list(
        session.scalars(
            select(RecoveryOrder)
            .where(RecoveryOrder.application_id == application_id)
            .order_by(RecoveryOrder.id)
        )
    )
