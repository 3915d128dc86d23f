"""Stopping a payment order before it is paid: withhold it (a breach) or cancel it.

Each stop needs the reason, is audited, and sends the SME a notice (PDF and mail) saying
why. The pre-financing is stopped on its own row; the balance moves with the voucher: its
stop returns the voucher to ``report_approved``, where the officer may terminate the
agreement, or finance prepares a new order (after a cancellation: corrected bank details or
amount; after a withholding: once the matter is settled). A cancelled pre-financing may be
prepared again while the voucher is contracted; a withheld one is settled with the balance.
A stopped order stays on record; the database allows one live order per instalment, so an
instalment is paid at most once however often it is prepared.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from grants.errors import ValidationFailed
from grants.formatting import format_eur
from grants.models import Application, Instalment, Payment
from grants.services import payments
from grants.services.actor import Actor
from grants.services.awards import mask_iban
from grants.services.workflow import StepResult, apply, load_application
from workflows.errors import TransitionRefused
from workflows.i18n import _

# The payment machine's trigger and the voucher's, for each kind of stop.
WITHHOLD = ("withhold", "withhold_payment")
CANCEL = ("cancel", "cancel_payment")
REASON_MAX = 2000


def _reason(raw: str) -> str:
    reason = (raw or "").strip()
    if not reason:
        raise ValidationFailed({"reason": _("give the reason: the SME reads it in the notice")})
    if len(reason) > REASON_MAX:
        raise ValidationFailed(
            {"reason": _("the reason is at most %(count)s characters", count=REASON_MAX)}
        )
    return reason


def _details(payment: Payment, reason: str) -> dict[str, object]:
    return {
        "instalment": "pre-financing"
        if payment.instalment == Instalment.PREFINANCING
        else "balance",
        "amount": format_eur(payment.amount),
        "payee": payment.payee_name,
        "iban_masked": mask_iban(payment.iban),
        "reason": reason,
    }


def _stop_instalment(
    session: Session, actor: Actor, payment_id: int, reason: str, trigger: str
) -> StepResult:
    reason = _reason(reason)
    _application, payment = payments._load_prefinancing(
        session,
        payment_id,
        balance_refusal=_("the balance is stopped from the application's page"),
    )
    payments.refuse_if_sent_to_bank(session, payment)
    return apply(
        session,
        actor,
        payment,
        trigger,
        facts={"reason": reason},
        audit_extra={"reason": reason, "amount": payment.amount},
        details=_details(payment, reason),
    )


def withhold_instalment(
    session: Session, actor: Actor, payment_id: int, *, reason: str
) -> StepResult:
    """Withhold a prepared or authorised pre-financing (finance or the programme officer)."""
    return _stop_instalment(session, actor, payment_id, reason, WITHHOLD[0])


def cancel_instalment(
    session: Session, actor: Actor, payment_id: int, *, reason: str
) -> StepResult:
    """Cancel a prepared or authorised pre-financing order (finance)."""
    return _stop_instalment(session, actor, payment_id, reason, CANCEL[0])


def _stop_balance(
    session: Session, actor: Actor, application_id: int, reason: str, triggers: tuple[str, str]
) -> StepResult:
    reason = _reason(reason)
    application: Application = load_application(session, application_id)
    balance = payments.instalment(application, Instalment.BALANCE)
    if balance is None or balance.status not in payments.OPEN_STATES:
        raise TransitionRefused(_("no balance payment order is waiting to be paid"))
    payments.refuse_if_sent_to_bank(session, balance)
    instalment_trigger, voucher_trigger = triggers
    result = apply(
        session,
        actor,
        application,
        voucher_trigger,
        facts={"reason": reason},
        audit_extra={"reason": reason, "payment_id": balance.id, "amount": balance.amount},
        details=_details(balance, reason),
    )
    # Inside the voucher's step, which produced the notice and told the SME.
    apply(
        session,
        actor,
        balance,
        instalment_trigger,
        facts={"reason": reason},
        audit_extra={"reason": reason},
        inner=True,
    )
    return result


def withhold_balance(
    session: Session, actor: Actor, application_id: int, *, reason: str
) -> StepResult:
    return _stop_balance(session, actor, application_id, reason, WITHHOLD)


def cancel_balance(
    session: Session, actor: Actor, application_id: int, *, reason: str
) -> StepResult:
    return _stop_balance(session, actor, application_id, reason, CANCEL)
