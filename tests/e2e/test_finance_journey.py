"""A finance team takes the demo's vouchers from report approval to a verified, SEPA-exported,
paid and reconciled payment in the browser (issue 11's "done when"): the changed bank details
verified by the second finance officer, the report approved by the officer, the balance
prepared by one finance officer and authorised by the other, both balances waiting for the
bank put in one SEPA file (valid pain.001.001.03 holding exactly them), the file marked paid
with the bank's reference, and the call's ledger showing the money as paid."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from documents.sepa import summarise, validate
from grants.demo import DEMO_PASSWORD, load_demo
from grants.models import Application, Payment, RecoveryOrder, SepaBatch
from tests.e2e.conftest import log_in
from workflows.payment import PaymentState
from workflows.voucher import AppState

REPORTED = "LEV-UPS-2026-0006"  # report submitted; its SME changed its IBAN after signing
AUTHORISED = "LEV-UPS-2026-0003"  # balance authorised, waiting for a SEPA file


def _application(app: Flask, reference: str) -> Application:
    with app.extensions["cascade"].sessions() as session:
        found = session.scalar(select(Application).where(Application.reference == reference))
        assert found is not None
        _ = (found.payments, found.call)
        return found


def _as(page: Page, base: str, who: str) -> None:
    page.context.clear_cookies()
    log_in(page, base, f"{who}@leviatad.example", DEMO_PASSWORD)


def test_finance_pays_the_demo_vouchers_by_sepa_file(
    live_app: tuple[Flask, str], page: Page
) -> None:
    app, base = live_app
    runtime = app.extensions["cascade"]
    assert load_demo(runtime.sessions, runtime.storage)
    page.on("dialog", lambda dialog: dialog.accept())
    reported = _application(app, REPORTED)
    detail = f"{base}/applications/{reported.id}"

    # The SME's new account: flagged to finance, verified by a finance officer.
    _as(page, base, "finance2")
    flagged = page.get_by_role("region", name="Bank details to verify")
    expect(flagged).to_contain_text(REPORTED)
    expect(flagged).to_contain_text("Changed after acceptance")
    page.goto(f"{detail}/bank-details")
    expect(page.locator("main")).to_contain_text("FR76 3000 4000 0300 0987 6543 210")
    page.get_by_role("button", name="Verify bank details").click()
    expect(page.locator("main")).to_contain_text("Verified")

    # The officer approves the report's eligible costs.
    _as(page, base, "officer")
    page.goto(detail)
    page.get_by_label("Approved eligible costs (EUR)").fill("8000.00")
    page.get_by_role("button", name="Approve report").click()
    expect(page.locator("main")).to_contain_text("Report approved")

    # Four eyes: one finance officer prepares the balance, the other authorises it.
    _as(page, base, "finance1")
    page.goto(detail)
    page.get_by_role("button", name="Prepare payment").click()
    expect(page.locator("main")).to_contain_text("Payment prepared")
    _as(page, base, "finance2")
    page.goto(detail)
    expect(page.locator("main")).to_contain_text("FR76 3000 4000 0300 0987 6543 210")
    page.get_by_role("button", name="Authorise payment").click()
    expect(page.locator("main")).to_contain_text("Payment authorised")

    # Both authorised balances in one SEPA file.
    page.goto(f"{base}/dashboard")
    page.get_by_role("link", name="Choose instalments for a SEPA file").click()
    page.get_by_label(f"Pay the balance of {REPORTED}").check()
    page.get_by_label(f"Pay the balance of {AUTHORISED}").check()
    page.get_by_role("button", name="Make the SEPA file").click()
    expect(page.locator("main")).to_contain_text("pain.001.001.03")
    href = page.get_by_role("link", name="pain.001.001.03").get_attribute("href")
    assert href is not None
    download = page.request.get(base + href)
    assert download.ok
    xml = download.body()
    validate(xml)
    summary = summarise(xml)
    assert summary.count == 2 and summary.control_sum == Decimal("8000.00")

    # The bank executed it: the file is marked paid with the statement's reference.
    page.get_by_label("Bank reference of the batch").fill("BNK-E2E-0001")
    page.get_by_role("button", name="Review and mark paid").click()
    expect(page.locator("main")).to_contain_text("FR76")
    page.get_by_role("button", name="Mark the 2 instalments paid").click()
    expect(page.locator("main")).to_contain_text("Paid")

    # Reconciled: each voucher paid once with the bank's reference, the ledger says so.
    for reference in (REPORTED, AUTHORISED):
        paid = _application(app, reference)
        assert paid.status == AppState.PAID
        (balance,) = [p for p in paid.payments if p.instalment == "balance"]
        assert balance.status == PaymentState.PAID
        assert balance.payment_reference == "BNK-E2E-0001" and balance.value_date is not None
    with runtime.sessions() as session:
        batch = session.scalars(select(SepaBatch).order_by(SepaBatch.id.desc())).first()
        assert batch is not None and batch.bank_reference == "BNK-E2E-0001"
        repaid = sum(
            (
                o.repaid_amount
                for o in session.scalars(
                    select(RecoveryOrder)
                    .join(Application)
                    .where(Application.call_id == reported.call_id)
                )
            ),
            Decimal(0),
        )
        paid_total = sum(
            (
                p.amount
                for p in session.scalars(
                    select(Payment)
                    .join(Application)
                    .where(Application.call_id == reported.call_id, Payment.status == "paid")
                )
            ),
            Decimal(0),
        )
    rows = list(
        csv.DictReader(
            io.StringIO(page.request.get(f"{base}/calls/{reported.call_id}/ledger.csv").text())
        )
    )
    assert rows, "the ledger lists the call's movements"
    page.goto(f"{base}/calls/{reported.call_id}/ledger")
    # Paid, net of what the terminated voucher's SME has repaid so far.
    expect(page.locator("main")).to_contain_text(f"EUR {paid_total - repaid:,.2f}")
