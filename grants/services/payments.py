"""Payment instalments, always four-eyes, released at most once; closure and termination.

The pre-financing instalment runs on its own while the voucher is contracted; the balance
instalment moves together with the application's prepare/authorise/mark-paid steps.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from grants import programme
from grants.db import utcnow
from grants.formatting import format_eur, local_time
from grants.models import (
    Application,
    Instalment,
    PayeeKind,
    Payment,
    SepaBatch,
    SepaBatchItem,
    User,
)
from grants.services import audit, bank_details, documents, ledger, recoveries
from grants.services.actor import Actor
from grants.services.applications import ValidationFailed, require_role
from grants.services.awards import lock_call_of, mask_iban
from grants.services.reporting import latest_report
from grants.services.workflow import (
    NotFound,
    StepResult,
    apply,
    check,
    flush_or_refuse,
    load_application,
    load_payment,
)
from workflows import money
from workflows.call_rules import CostBasis
from workflows.errors import TransitionRefused
from workflows.i18n import _
from workflows.payment import PaymentState
from workflows.reconcile import iban_digest
from workflows.roles import Role
from workflows.voucher import AppState

OPEN_STATES = (PaymentState.PREPARED, PaymentState.AUTHORISED)
# An order that pays or has paid; a cancelled or withheld one is on record only.
LIVE_STATES = (*OPEN_STATES, PaymentState.PAID)


def paid_so_far(application: Application) -> Decimal:
    return sum(
        (p.amount for p in application.payments if p.status == PaymentState.PAID), Decimal(0)
    )


def instalment(application: Application, kind: Instalment) -> Payment | None:
    """The instalment's live order (prepared, authorised or paid: at most one, the database
    holds it), else its latest cancelled or withheld one, else None."""
    rows = [p for p in application.payments if p.instalment == kind]
    return next((p for p in rows if p.status in LIVE_STATES), rows[-1] if rows else None)


def _user_name(session: Session, user_id: int | None) -> str:
    user = session.get(User, user_id) if user_id else None
    return user.full_name if user else ""


def _instalment_label(payment: Payment) -> str:
    return "pre-financing" if payment.instalment == Instalment.PREFINANCING else "balance"


def _order_details(session: Session, payment: Payment) -> dict[str, object]:
    return {
        "instalment": _instalment_label(payment),
        "amount": format_eur(payment.amount),
        "payee": payment.payee_name,
        "iban_masked": mask_iban(payment.iban),
        # What the bank needs to execute it (the order is for finance and auditors only).
        **bank_details.order_details(session, payment),
        "prepared_by": _user_name(session, payment.prepared_by_id),
        "authorised_by": _user_name(session, payment.authorised_by_id),
        "status": payment.status,
    }


def _remittance_details(payment: Payment, timezone: str) -> dict[str, object]:
    """The remittance advice, sent to the SME: for a call paying the provider directly it
    says the service provider was paid (its name, its IBAN masked)."""
    provider = bank_details.payee_of(payment.application, payment.instalment)
    return {
        "instalment": _instalment_label(payment),
        "amount": format_eur(payment.amount),
        "paid_at": local_time(payment.paid_at, timezone),
        "payee": payment.payee_name,
        "iban_masked": mask_iban(payment.iban),
        "payment_reference": payment.payment_reference or "",
        "paid_to_provider": provider == PayeeKind.PROVIDER,
    }


def _new_payment(
    session: Session, actor: Actor, application: Application, kind: Instalment, amount: Decimal
) -> Payment:
    if not application.iban or not application.account_holder:
        raise TransitionRefused(_("the voucher has no verified bank account"))
    bank_details.require_payable(application, instalment=kind)
    # The SME's account, or the service provider's for the balance of a call paying it
    # directly (require_payable: the current one of that payee, verified).
    payee_name, iban = application.account_holder, application.iban
    if bank_details.payee_of(application, kind) == PayeeKind.PROVIDER:
        account = bank_details.paid_account(session, application, kind)
        assert account is not None
        payee_name, iban = account.holder, account.iban
    payment = Payment(
        application=application,
        instalment=kind,
        status=PaymentState.PREPARED,
        amount=amount,
        payee_name=payee_name,
        iban=iban,
        prepared_by_id=actor.user_id,
        prepared_at=utcnow(),
    )
    session.add(payment)
    flush_or_refuse(session)
    return payment


def prepare_prefinancing(session: Session, actor: Actor, application_id: int) -> Payment:
    """First finance officer: the pre-financing order, after signature (DOMAIN.md: 50%)."""
    require_role(actor, Role.FINANCE)
    # The call's row first: payments across the call stay within its budget (ledger).
    call = lock_call_of(session, application_id)
    application = load_application(session, application_id)
    if application.status != AppState.CONTRACTED:
        raise TransitionRefused(_("pre-financing is paid while the voucher is contracted"))
    existing = instalment(application, Instalment.PREFINANCING)
    if existing is not None and existing.status in LIVE_STATES:
        raise TransitionRefused(_("the pre-financing instalment already exists"))
    if existing is not None and existing.status == PaymentState.WITHHELD:
        raise TransitionRefused(
            _("the pre-financing was withheld: what is due is paid with the balance")
        )
    if application.call.pay_provider_directly:
        raise TransitionRefused(
            _(
                "this call pays the service provider directly, once, on delivery: it has no "
                "pre-financing"
            )
        )
    amount = money.prefinancing_amount(
        application.awarded_amount or Decimal(0), application.call.prefinancing_percent
    )
    if amount <= 0:
        raise TransitionRefused(_("this call has no pre-financing"))
    ledger.refuse_payment_beyond_limits(session, actor.user_id, call, application, amount)
    payment = _new_payment(session, actor, application, Instalment.PREFINANCING, amount)
    event = audit.record(
        session,
        actor,
        "prepare_prefinancing",
        entity_type="payment",
        entity_id=payment.id,
        after={
            "status": payment.status,
            "amount": amount,
            "instalment": payment.instalment,
            "payee_name": payment.payee_name,
            "iban_masked": mask_iban(payment.iban),
            # What reconciliation compares the order's IBAN with (the trail never keeps it).
            "iban_sha256": iban_digest(payment.iban),
        },
        application_id=application.id,
    )
    documents.enqueue(
        session,
        application=application,
        event=event,
        kind="payment_order",
        step="Prepare pre-financing",
        details=_order_details(session, payment),
    )
    return payment


def _load_prefinancing(
    session: Session, payment_id: int, *, balance_refusal: str
) -> tuple[Application, Payment]:
    """The pre-financing instalment for a step of its own; ``balance_refusal`` says where the
    balance's step is taken instead. Locks the application, then its payment: the order
    every other payment step takes (terminate, the balance steps), so two of them on one
    voucher cannot deadlock."""
    application_id = session.scalar(select(Payment.application_id).where(Payment.id == payment_id))
    if application_id is None:
        raise NotFound(f"no payment {payment_id}")
    application = load_application(session, application_id)
    payment = load_payment(session, payment_id)
    if payment.instalment != Instalment.PREFINANCING:
        raise TransitionRefused(balance_refusal)
    return application, payment


def _authorise_row(session: Session, actor: Actor, payment: Payment, *, inner: bool) -> StepResult:
    """The instalment machine's authorise step: four-eyes, then who and when."""
    result = apply(
        session,
        actor,
        payment,
        "authorise",
        facts={"prepared_by_id": payment.prepared_by_id},
        inner=inner,
    )
    payment.authorised_by_id = actor.user_id
    payment.authorised_at = utcnow()
    flush_or_refuse(session)
    return result


def _pay_row(
    session: Session, actor: Actor, payment: Payment, payment_reference: str, *, inner: bool
) -> StepResult:
    """The instalment machine's paid step: it can happen once, from authorised only."""
    result = apply(
        session,
        actor,
        payment,
        "mark_paid",
        audit_extra={"payment_reference": payment_reference},
        inner=inner,
    )
    payment.paid_by_id = actor.user_id
    payment.paid_at = utcnow()
    payment.payment_reference = payment_reference
    flush_or_refuse(session)
    return result


def _payment_reference(raw: str) -> str:
    if not raw.strip():
        raise ValidationFailed({"payment_reference": _("give the bank's payment reference")})
    return raw.strip()


def authorise_instalment(session: Session, actor: Actor, payment_id: int) -> StepResult:
    """Second finance officer: never the one who prepared it (also a database constraint)."""
    _application, payment = _load_prefinancing(
        session,
        payment_id,
        balance_refusal=_("the balance is authorised from the application's page"),
    )
    bank_details.require_payable(_application, payment)
    result = _authorise_row(session, actor, payment, inner=False)
    result.set_document_details(_order_details(session, payment))
    return result


def refuse_if_sent_to_bank(
    session: Session, payment: Payment, *, paying_batch: int | None = None
) -> None:
    """An instalment in a SEPA file that went to the bank is settled with that file (marked
    paid with it, or freed by cancelling it): paid or stopped on its own, it could be paid
    twice."""
    found = session.execute(
        select(SepaBatch.id, SepaBatch.reference)
        .join(SepaBatchItem, SepaBatchItem.batch_id == SepaBatch.id)
        .where(SepaBatchItem.payment_id == payment.id, SepaBatchItem.live)
    ).first()
    if found is not None and found.id != paying_batch:
        raise TransitionRefused(
            _(
                "this instalment is in the SEPA file %(reference)s sent to the bank: mark "
                "that file paid, or cancel the file first",
                reference=found.reference,
            )
        )


def mark_instalment_paid(
    session: Session,
    actor: Actor,
    payment_id: int,
    *,
    payment_reference: str,
    paying_batch: int | None = None,
) -> StepResult:
    """``paying_batch``: the SEPA file being marked paid, which holds this instalment."""
    application, payment = _load_prefinancing(
        session,
        payment_id,
        balance_refusal=_("the balance is marked paid from the application's page"),
    )
    refuse_if_sent_to_bank(session, payment, paying_batch=paying_batch)
    bank_details.require_payable(application, payment)
    reference = _payment_reference(payment_reference)
    result = _pay_row(session, actor, payment, reference, inner=False)
    result.set_document_details(_remittance_details(payment, application.call.timezone))
    return result


def _lump_sum(application: Application) -> bool:
    return application.call.cost_basis == CostBasis.LUMP_SUM


def _report_accepted(application: Application) -> bool:
    report = latest_report(application)
    return report is not None and report.outcome == "approved"


def balance_amount(application: Application) -> Decimal:
    report = latest_report(application)
    if _lump_sum(application):
        if not _report_accepted(application):
            raise TransitionRefused(_("the final report is not approved"))
        return money.lump_sum_balance_due(
            award=application.awarded_amount or Decimal(0),
            paid_so_far=paid_so_far(application),
        )
    if report is None or report.approved_costs is None:
        raise TransitionRefused(_("the final report is not approved"))
    return money.balance_due(
        approved_costs=report.approved_costs,
        funding_rate_percent=application.call.funding_rate,
        award=application.awarded_amount or Decimal(0),
        paid_so_far=paid_so_far(application),
    )


def prepare_payment(session: Session, actor: Actor, application_id: int) -> StepResult:
    """First finance officer: the balance order, from the approved costs."""
    require_role(actor, Role.FINANCE)
    call = lock_call_of(session, application_id)  # the call's payments stay within its budget
    application = load_application(session, application_id)
    open_instalments = [p.id for p in application.payments if p.status in OPEN_STATES]
    amount = balance_amount(application) if application.status == AppState.REPORT_APPROVED else None
    if amount is not None and amount < 0:
        raise TransitionRefused(
            _(
                "the approved costs justify less than was paid: %(amount)s must be "
                "recovered; terminate the agreement with recovery instead",
                amount=format_eur(-amount),
            )
        )
    facts = {
        "open_instalments": open_instalments,
        **ledger.payment_facts(session, call, application, amount or Decimal(0)),
    }
    # Ask first, so a refused step creates no payment row.
    check(application, "prepare_payment", actor, facts)
    assert amount is not None
    payment = _new_payment(session, actor, application, Instalment.BALANCE, amount)
    return apply(
        session,
        actor,
        application,
        "prepare_payment",
        facts=facts,
        audit_extra={
            "payment_id": payment.id,
            "amount": amount,
            "payee_name": payment.payee_name,
            "payee_iban_masked": mask_iban(payment.iban),
            "payee_iban_sha256": iban_digest(payment.iban),
        },
        details=_order_details(session, payment),
    )


def _balance(application: Application) -> Payment:
    payment = instalment(application, Instalment.BALANCE)
    if payment is None or payment.status not in LIVE_STATES:
        raise TransitionRefused(_("no balance payment has been prepared"))
    return payment


def authorise_payment(session: Session, actor: Actor, application_id: int) -> StepResult:
    application = load_application(session, application_id)
    payment = _balance(application)
    bank_details.require_payable(application, payment)
    facts = {"prepared_by_id": payment.prepared_by_id}
    result = apply(session, actor, application, "authorise_payment", facts=facts, details={})
    # The application's step produced the payment order; the instalment's adds none.
    _authorise_row(session, actor, payment, inner=True)
    result.set_document_details(_order_details(session, payment))
    return result


def mark_paid(
    session: Session,
    actor: Actor,
    application_id: int,
    *,
    payment_reference: str,
    paying_batch: int | None = None,
) -> StepResult:
    """``paying_batch``: the SEPA file being marked paid, which holds the balance."""
    reference = _payment_reference(payment_reference)
    application = load_application(session, application_id)
    payment = _balance(application)
    refuse_if_sent_to_bank(session, payment, paying_batch=paying_batch)
    bank_details.require_payable(application, payment)
    result = apply(
        session,
        actor,
        application,
        "mark_paid",
        audit_extra={"payment_id": payment.id, "payment_reference": reference},
        details={},
    )
    _pay_row(session, actor, payment, reference, inner=True)
    result.set_document_details(_remittance_details(payment, application.call.timezone))
    return result


def retention_until(final_payment: datetime, award: Decimal) -> str:
    years = (
        programme.RETENTION_YEARS_SMALL if award <= Decimal(60000) else programme.RETENTION_YEARS
    )
    day = final_payment.date()
    try:
        return day.replace(year=day.year + years).isoformat()
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28).isoformat()


def close(session: Session, actor: Actor, application_id: int) -> StepResult:
    application = load_application(session, application_id)
    last_paid = max((p.paid_at for p in application.payments if p.paid_at), default=utcnow())
    # The under-spend goes back to the call: the award becomes what was paid (the ledger
    # reads ``released`` as the closure's release).
    paid = paid_so_far(application)
    award = application.awarded_amount or Decimal(0)
    return apply(
        session,
        actor,
        application,
        "close",
        changes={"awarded_amount": paid},
        audit_extra={"released": max(award - paid, Decimal("0.00"))},
        details={
            "total_paid": format_eur(paid_so_far(application)),
            "closed_at": local_time(utcnow(), application.call.timezone),
            "retention_until": retention_until(last_paid, application.awarded_amount or Decimal(0)),
        },
    )


def terminate(session: Session, actor: Actor, application_id: int, *, reason: str) -> StepResult:
    """End the agreement; anything paid beyond the approved costs is to be recovered. The
    activity was under way: the freed budget is not promoted automatically (the officer
    may promote a reserve by hand while there is time to carry it out)."""
    application = load_application(session, application_id)
    report = latest_report(application)
    approved = report.approved_costs if report else None
    paid = paid_so_far(application)
    award = application.awarded_amount or Decimal(0)
    recovery = (
        money.lump_sum_recovery_due(
            delivered=_report_accepted(application), award=award, paid_so_far=paid
        )
        if _lump_sum(application)
        else money.recovery_due(
            approved_costs=approved,
            funding_rate_percent=application.call.funding_rate,
            award=award,
            paid_so_far=paid,
        )
    )
    for payment in application.payments:
        if payment.status in OPEN_STATES:
            # Inside the termination, whose notice tells the SME about its payments.
            apply(session, actor, payment, "withhold", facts={"reason": reason}, inner=True)
    result = apply(
        session,
        actor,
        application,
        "terminate",
        facts={"reason": reason},
        # The award shrinks to what was paid and stays justified; the rest, recovered money
        # included, goes back to the call's budget and the SME's cumulative cap.
        changes={"awarded_amount": paid - recovery},
        audit_extra={"reason": reason, "recovery_amount": recovery},
        details={
            "reason": reason,
            "total_paid": format_eur(paid),
            "approved_costs": format_eur(approved) if approved is not None else "none",
            "recovery_amount": format_eur(recovery),
        },
    )
    if recovery > 0:
        # Same transaction: no termination with money to recover lacks its recovery order.
        recoveries.issue(
            session,
            actor,
            application,
            amount=recovery,
            reason=reason,
            paid=paid,
            approved=approved,
        )
    return result
