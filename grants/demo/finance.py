"""The demo's money as a finance team handles it: bank details verified against the bank's
letter, instalments paid by SEPA file, a changed IBAN waiting for verification, and the
recovery of a terminated voucher's pre-financing, partly repaid."""

from __future__ import annotations

from datetime import date
from html import escape
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session
from weasyprint import HTML

from documents.storage import DocumentStore
from grants.config import Config
from grants.db import utcnow
from grants.demo.people import DEMO_SMES
from grants.models import Application, Instalment
from grants.services import awards, bank_details, payments, recoveries, sepa
from grants.services.sepa import ExportRequest, PaidRequest

if TYPE_CHECKING:
    from grants.demo.builder import DemoBuilder

FINANCE_1 = "finance1@leviatad.example"
FINANCE_2 = "finance2@leviatad.example"

# The reported voucher's SME moved its account after signing: finance has yet to verify it.
CHANGED_IBAN = "FR7630004000030009876543210"


def bank_letter_pdf(holder: str, iban: str) -> bytes:
    """The bank's confirmation of an account, as a real one-page PDF that opens."""
    html = f"""<html><body style="font-family: 'DejaVu Sans'; font-size: 11pt">
    <h1 style="font-size: 16pt">Confirmation of account details</h1>
    <p>We confirm that the account below is held with us in the name of the holder shown.</p>
    <p>Account holder: {escape(holder)}</p><p>IBAN: {escape(iban)}</p>
    <p>Issued for the payment of an EU-funded voucher.</p></body></html>"""
    return HTML(string=html).write_pdf()


def _upload(holder: str, iban: str) -> bank_details.Upload:
    return bank_details.Upload("bank-confirmation.pdf", bank_letter_pdf(holder, iban))


def _storage(builder: DemoBuilder) -> DocumentStore:
    if builder.storage is None:
        raise RuntimeError("the demo's money needs a document storage for the bank letters")
    return builder.storage


def accept_and_verify(builder: DemoBuilder, app_id: int, org_index: int) -> None:
    """The SME accepts with its IBAN and the bank's letter; the second finance officer
    verifies them (the SME entered them, so any finance officer may)."""
    holder, iban = DEMO_SMES[org_index][0], DEMO_SMES[org_index][5]
    actor = builder.sme_actor(org_index)
    storage = _storage(builder)
    builder.step(
        lambda s: awards.accept(
            s,
            actor,
            app_id,
            iban=iban,
            account_holder=holder,
            signed=True,
            confirmation=_upload(holder, iban),
            storage=storage,
        )
    )
    verifier = builder.actor(FINANCE_2)

    def verify(session: Session) -> None:
        account = bank_details.current(session, app_id)
        assert account is not None
        bank_details.verify(session, verifier, account.id)

    builder.step(verify)


def change_bank_details(builder: DemoBuilder, app_id: int, org_index: int) -> None:
    """The SME gives a new account after signing: payments wait until finance verifies it."""
    holder = DEMO_SMES[org_index][0]
    actor = builder.sme_actor(org_index)
    storage = _storage(builder)
    builder.step(
        lambda s: bank_details.change(
            s,
            actor,
            storage,
            app_id,
            iban=CHANGED_IBAN,
            bic="",
            holder=holder,
            confirmation=_upload(holder, CHANGED_IBAN),
        )
    )


def authorise_prefinancing(builder: DemoBuilder, app_id: int) -> int:
    """One finance officer prepares the pre-financing order, the other authorises it."""
    f1, f2 = builder.actor(FINANCE_1), builder.actor(FINANCE_2)
    payment_id = builder.step(lambda s: payments.prepare_prefinancing(s, f1, app_id).id)
    builder.step(lambda s: payments.authorise_instalment(s, f2, payment_id))
    return payment_id


def balance_payment_id(builder: DemoBuilder, app_id: int) -> int:
    application = builder.session.get_one(Application, app_id)
    return next(p.id for p in application.payments if p.instalment == Instalment.BALANCE)


def pay_by_sepa(builder: DemoBuilder, payment_ids: list[int], bank_reference: str) -> None:
    """The authorised instalments go to the bank as one SEPA file, stored with its sha256;
    the bank's statement then marks each of them paid, on today's value date."""
    f1 = builder.actor(FINANCE_1)
    storage = _storage(builder)
    debtor = sepa.debtor_of(Config())
    today = utcnow().date()
    batch_id = builder.step(
        lambda s: (
            sepa.export_batch(
                s, f1, storage, debtor, ExportRequest(tuple(payment_ids), today), now=today
            ).id
        )
    )
    builder.step(
        lambda s: sepa.mark_batch_paid(
            s, f1, batch_id, PaidRequest(bank_reference, today, {}), now=today
        )
    )


def repay_in_part(builder: DemoBuilder, app_id: int, amount: str, received_on: date) -> None:
    """The terminated SME has repaid part of its recovery order so far."""
    f1 = builder.actor(FINANCE_1)
    order_id = builder.step(lambda s: recoveries.orders_of(s, app_id)[0].id)
    builder.step(
        lambda s: recoveries.record_repayment(
            s,
            f1,
            order_id,
            amount=amount,
            received_on=received_on.isoformat(),
            bank_reference="BNK-RECV-20261",
        )
    )
