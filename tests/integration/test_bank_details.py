"""Money goes to the right account, once: bank details are entered by the SME, verified by
another person in finance, and every payment step refuses an account that is not verified."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from documents.storage import DocumentStorage
from grants.models import BankAccount, Document, MailMessage, Payment
from grants.services import awards, bank_details, payment_stops, payments
from grants.services.applications import ValidationFailed
from tests.integration.test_services_concurrency import race
from tests.scenario import (
    IBANS,
    Scenario,
    pdf_bytes,
    pending_documents_discarded,
    scenario_storage,
)
from workflows.errors import TransitionRefused
from workflows.payment import PaymentState
from workflows.voucher import AppState

Login = Callable[[FlaskClient, str], None]
# scenario.accept gives the first SME this one (its BIC is found from the IBAN).
FIRST_IBAN = IBANS[0]
FIRST_FULL = "IT60 X054 2811 1010 0000 0123 456"
FIRST_MASKED = "IT60 **** **** 3456"
NEW_IBAN = "DE89370400440532013000"
NEW_FULL = "DE89 3704 0044 0532 0130 00"
NEW_MASKED = "DE89 **** **** 3000"
# A Belgian IBAN whose BIC the bank registry does not give: the BIC must be typed.
NO_BIC_IBAN = "BE68539007547034"


@pytest.fixture(autouse=True)
def _discard_unrendered_documents(sessions: sessionmaker[Session]) -> Iterator[None]:
    with pending_documents_discarded(sessions):
        yield


def html(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined]


def contracted(scenario: Scenario) -> int:
    """A contracted voucher whose bank details (IBANS[0]) finance verified."""
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.CONTRACTED)
    return app_id


def change(scenario: Scenario, app_id: int, iban: str = NEW_IBAN, *, by: str = "sme") -> int:
    actor = scenario.owner(app_id) if by == "sme" else scenario.people.finance[0]
    return scenario.run(
        lambda s: (
            bank_details.change(
                s,
                actor,
                _storage(),
                app_id,
                iban=iban,
                bic="",
                holder="SME account",
                confirmation=bank_details.Upload("letter.pdf", pdf_bytes(marker=b"new")),
            ).id
        )
    )


def _storage() -> DocumentStorage:
    return scenario_storage()


def refused(scenario: Scenario, action: Callable[[Session], object]) -> str:
    with pytest.raises(TransitionRefused) as caught:
        scenario.run(action)
    return str(caught.value)


# -- validation ------------------------------------------------------------------------------


def test_iban_and_bic_errors_at_acceptance_keep_what_was_typed(
    client: FlaskClient, login: Login, scenario: Scenario
) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.OFFERED)
    login(client, scenario.people.emails["applicant0"])

    response = client.post(
        f"/applications/{app_id}/accept",
        data={"iban": "IT60 X054 2811 1010 0000 0123 999", "account_holder": "Typed S.r.l."},
    )
    body = html(response)
    assert response.status_code == 422
    assert "not a valid IBAN" in body
    assert 'value="IT60 X054 2811 1010 0000 0123 999"' in body
    assert 'value="Typed S.r.l."' in body

    response = client.post(
        f"/applications/{app_id}/accept",
        data={"iban": NO_BIC_IBAN, "account_holder": "Typed S.r.l."},
    )
    body = html(response)
    assert response.status_code == 422
    assert "cannot be found from this IBAN" in body
    assert f'value="{NO_BIC_IBAN}"' in body

    response = client.post(
        f"/applications/{app_id}/accept",
        data={"iban": NO_BIC_IBAN, "bic": "GEBA XX BB", "account_holder": "Typed S.r.l."},
    )
    body = html(response)
    assert response.status_code == 422
    assert "not a valid BIC" in body
    assert 'value="GEBA XX BB"' in body
    assert scenario.status(app_id) == AppState.OFFERED


def test_the_bank_details_page_keeps_what_was_typed_on_errors(
    client: FlaskClient, login: Login, scenario: Scenario
) -> None:
    app_id = contracted(scenario)
    login(client, scenario.people.emails["applicant0"])
    response = client.post(
        f"/applications/{app_id}/bank-details",
        data={"iban": "NL91 ABNA 0417 1643 01", "bic": "", "account_holder": "Our Account"},
        content_type="multipart/form-data",
    )
    body = html(response)
    assert response.status_code == 422
    assert "not a valid IBAN" in body
    assert 'value="NL91 ABNA 0417 1643 01"' in body
    assert 'value="Our Account"' in body
    # A valid IBAN without the bank's confirmation: asked for, what was typed kept.
    response = client.post(
        f"/applications/{app_id}/bank-details",
        data={"iban": NEW_IBAN, "bic": "COBADEFF", "account_holder": "Our Account"},
        content_type="multipart/form-data",
    )
    body = html(response)
    assert response.status_code == 422
    assert "confirmation" in body and f'value="{NEW_IBAN}"' in body
    assert bank_details_of(scenario, app_id)[0].iban == FIRST_IBAN  # nothing changed


def bank_details_of(scenario: Scenario, app_id: int) -> list[BankAccount]:
    with scenario.sessions() as session:
        return bank_details.history(session, app_id)


def test_the_confirmation_given_with_the_acceptance_is_kept_and_verifiable(
    scenario: Scenario,
) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.OFFERED)
    owner = scenario.owner(app_id)
    letter = pdf_bytes(marker=b"acceptance letter")
    scenario.run(
        lambda s: awards.accept(
            s,
            owner,
            app_id,
            iban=NO_BIC_IBAN,
            bic="GEBABEBB",
            account_holder="SME account",
            signed=True,
            confirmation=bank_details.Upload("C:\\scans\\letter.pdf", letter),
            storage=scenario_storage(),
        )
    )
    account = bank_details_of(scenario, app_id)[0]
    assert (account.iban, account.bic, account.source) == (NO_BIC_IBAN, "GEBABEBB", "acceptance")
    assert account.confirmation_filename == "letter.pdf"
    assert account.confirmation_sha256 == hashlib.sha256(letter).hexdigest()
    assert scenario.application(app_id).iban == NO_BIC_IBAN  # kept in step with the current row
    scenario.run(lambda s: bank_details.verify(s, scenario.people.finance[1], account.id))
    with pytest.raises(ValidationFailed) as caught:
        scenario.run(
            lambda s: bank_details.change(
                s,
                owner,
                scenario_storage(),
                app_id,
                iban=NO_BIC_IBAN,
                bic="GEBABEBB",
                holder="SME account",
                confirmation=bank_details.Upload("x.txt", b"not a pdf"),
            )
        )
    assert "not a PDF, PNG or JPEG" in caught.value.errors["bank_confirmation"]


# -- verification ----------------------------------------------------------------------------


def test_verification_is_four_eyes(scenario: Scenario) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.OFFERED)
    scenario.accept(app_id)
    f1, f2 = scenario.people.finance
    # Entered by the SME, without the bank's confirmation: not verifiable yet.
    account = bank_details_of(scenario, app_id)[0]
    assert account.status == "entered" and account.confirmation_key is None
    reason = refused(scenario, lambda s: bank_details.verify(s, f1, account.id))
    assert "confirmation" in reason
    # Finance changes them (on the SME's written request): that officer may not verify.
    changed = change(scenario, app_id, by="finance")
    reason = refused(scenario, lambda s: bank_details.verify(s, f1, changed))
    assert "four-eyes" in reason
    # The SME cannot verify at all; another finance officer can.
    refused(scenario, lambda s: bank_details.verify(s, scenario.owner(app_id), changed))
    scenario.run(lambda s: bank_details.verify(s, f2, changed))
    rows = bank_details_of(scenario, app_id)
    assert [(r.status, r.superseded_at is None) for r in rows] == [
        ("verified", True),
        ("entered", False),  # the earlier row stays for the trail
    ]
    assert rows[0].reviewed_by_id == f2.user_id and rows[0].entered_by_id == f1.user_id
    # Details the SME entered: any finance officer verifies them.
    sme_changed = change(scenario, app_id, IBANS[2])
    scenario.run(lambda s: bank_details.verify(s, f1, sme_changed))
    # Already verified: not again.
    refused(scenario, lambda s: bank_details.verify(s, f2, sme_changed))


def test_a_rejection_tells_the_sme_why_and_blocks_payments(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    app_id = contracted(scenario)
    account_id = change(scenario, app_id)
    f1 = scenario.people.finance[0]
    with pytest.raises(ValidationFailed):
        scenario.run(lambda s: bank_details.reject(s, f1, account_id, reason=" "))
    scenario.run(
        lambda s: bank_details.reject(s, f1, account_id, reason="The letter names another firm.")
    )
    with sessions() as session:
        mails = session.scalars(
            select(MailMessage).where(
                MailMessage.application_id == app_id,
                MailMessage.purpose == "bank_details_rejected",
            )
        ).all()
    assert mails and all("The letter names another firm." in m.body_text for m in mails)
    assert scenario.people.emails["applicant0"] in {m.to_address for m in mails}
    assert all(NEW_MASKED in m.body_text and NEW_IBAN not in m.body_text for m in mails)
    reason = refused(scenario, lambda s: payments.prepare_prefinancing(s, f1, app_id))
    assert "rejected" in reason
    actions = [e.action for e in scenario.events_of(app_id) if e.action.startswith("bank_")]
    assert actions[-2:] == ["bank_details_changed", "bank_details_rejected"]


# -- the payment guard -----------------------------------------------------------------------


def test_a_changed_iban_blocks_every_payment_step_until_verified_by_someone_else(
    scenario: Scenario,
) -> None:
    app_id = contracted(scenario)
    f1, f2 = scenario.people.finance
    payment_id = scenario.run(lambda s: payments.prepare_prefinancing(s, f1, app_id).id)

    # The SME changes the IBAN: authorising the order prepared for the old one is refused.
    changed = change(scenario, app_id)
    reason = refused(scenario, lambda s: payments.authorise_instalment(s, f2, payment_id))
    assert "not verified" in reason
    event = [e for e in scenario.events_of(app_id) if e.action == "bank_details_changed"][-1]
    assert (event.before["iban_masked"], event.after["iban_masked"]) == (
        FIRST_MASKED,
        NEW_MASKED,
    )
    assert FIRST_IBAN not in str(event.before) and NEW_IBAN not in str(event.after)

    # Verified again by another person: the old order is still for the old account.
    scenario.run(lambda s: bank_details.verify(s, f2, changed))
    reason = refused(scenario, lambda s: payments.authorise_instalment(s, f2, payment_id))
    assert "cancel the order and prepare it again" in reason
    scenario.run(
        lambda s: payment_stops.cancel_instalment(s, f1, payment_id, reason="IBAN changed")
    )
    again = scenario.run(lambda s: payments.prepare_prefinancing(s, f1, app_id).id)
    scenario.run(lambda s: payments.authorise_instalment(s, f2, again))

    # Changed between authorisation and payment: marking it paid is refused too.
    third = change(scenario, app_id, FIRST_IBAN)
    refused(
        scenario,
        lambda s: payments.mark_instalment_paid(s, f1, again, payment_reference="SEPA-1"),
    )
    scenario.run(lambda s: bank_details.verify(s, f2, third))
    reason = refused(
        scenario,
        lambda s: payments.mark_instalment_paid(s, f1, again, payment_reference="SEPA-1"),
    )
    assert "changed after this order was prepared" in reason

    # Preparing the balance is refused while changed details wait for verification.
    scenario.run(lambda s: payment_stops.cancel_instalment(s, f1, again, reason="IBAN changed"))
    scenario.advance(app_id, AppState.REPORT_APPROVED)
    fourth = change(scenario, app_id, NEW_IBAN)
    reason = refused(scenario, lambda s: payments.prepare_payment(s, f1, app_id))
    assert "not verified" in reason
    assert scenario.status(app_id) == AppState.REPORT_APPROVED
    scenario.run(lambda s: bank_details.verify(s, f2, fourth))
    scenario.run(lambda s: payments.prepare_payment(s, f1, app_id))
    balance = [p for p in scenario.payments_of(app_id) if p.instalment == "balance"][-1]
    assert balance.iban == NEW_IBAN
    # Authorising the balance after one more change is refused, then works once verified.
    fifth = change(scenario, app_id, IBANS[2])
    refused(scenario, lambda s: payments.authorise_payment(s, f2, app_id))
    scenario.run(lambda s: bank_details.verify(s, f1, fifth))
    reason = refused(scenario, lambda s: payments.authorise_payment(s, f2, app_id))
    assert "cancel the order" in reason
    assert bank_details.payment_block is not None  # the SEPA export asks the same question


def test_payment_block_answers_for_the_export(scenario: Scenario) -> None:
    app_id = contracted(scenario)
    f1 = scenario.people.finance[0]
    payment_id = scenario.run(lambda s: payments.prepare_prefinancing(s, f1, app_id).id)
    with scenario.sessions() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        assert bank_details.payment_block(payment.application, payment) is None
    change(scenario, app_id)
    with scenario.sessions() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        assert "not verified" in (bank_details.payment_block(payment.application) or "")


# -- who sees what ---------------------------------------------------------------------------


def test_full_iban_for_finance_and_auditors_masked_for_everyone_else(
    app: object, login: Login, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    app_id = contracted(scenario)
    f1, f2 = scenario.people.finance
    payment_id = scenario.run(lambda s: payments.prepare_prefinancing(s, f1, app_id).id)
    for who, full in (
        ("finance2", True),
        ("auditor", True),
        ("applicant0", False),
        ("officer", False),
    ):
        client = app.test_client()  # type: ignore[attr-defined]
        login(client, scenario.people.emails[who])
        for url in (f"/applications/{app_id}", f"/applications/{app_id}/bank-details"):
            body = html(client.get(url))
            assert (FIRST_FULL in body) is full, (who, url)
            assert (FIRST_MASKED in body) is not full, (who, url)
            assert FIRST_IBAN not in body
        if who == "finance2":
            page = client.get(f"/payments/{payment_id}/confirm/authorise")
            body = html(page)
            assert page.status_code == 200
            assert FIRST_FULL in body and "EUR 4,000.00" in body and "SME account" in body
            assert "BLOPIT22" in body

    # The payment order carries what the bank needs; only finance and auditors get it.
    with sessions() as session:
        order = session.scalars(
            select(Document).where(
                Document.application_id == app_id, Document.kind == "payment_order"
            )
        ).one()
        details = order.snapshot["details"]
    assert details["iban"] == FIRST_FULL
    assert details["bic"] == "BLOPIT22"
    assert details["currency"] == "EUR"
    assert details["payee"] == "SME account"
    assert details["remittance"].endswith("pre-financing")
    assert details["remittance"].startswith(scenario.application(app_id).reference)
    for who, status in (("applicant0", 404), ("officer", 404), ("finance1", 409), ("auditor", 409)):
        client = app.test_client()  # type: ignore[attr-defined]
        login(client, scenario.people.emails[who])
        # 409: pending rendering, but visible; 404: not theirs to see.
        assert client.get(f"/documents/{order.id}").status_code == status, who

    # The remittance advice to the SME stays masked.
    scenario.run(lambda s: payments.authorise_instalment(s, f2, payment_id))
    scenario.run(
        lambda s: payments.mark_instalment_paid(s, f1, payment_id, payment_reference="SEPA-9")
    )
    with sessions() as session:
        advice = session.scalars(
            select(Document).where(
                Document.application_id == app_id, Document.kind == "remittance_advice"
            )
        ).one()
    assert advice.snapshot["details"]["iban_masked"] == FIRST_MASKED
    assert FIRST_IBAN not in str(advice.snapshot)


# -- through the web -------------------------------------------------------------------------


def test_the_sme_changes_and_finance_verifies_through_the_web(
    app: object, login: Login, scenario: Scenario
) -> None:
    app_id = contracted(scenario)
    sme = app.test_client()  # type: ignore[attr-defined]
    login(sme, scenario.people.emails["applicant0"])
    response = sme.post(
        f"/applications/{app_id}/bank-details",
        data={
            "iban": NEW_FULL,
            "bic": "",
            "account_holder": "SME account",
            "bank_confirmation": (io.BytesIO(pdf_bytes(marker=b"web")), "letter.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, html(response)[:2000]
    account = bank_details_of(scenario, app_id)[0]
    assert (account.iban, account.bic, account.changed) == (NEW_IBAN, "COBADEFFXXX", True)

    finance = app.test_client()  # type: ignore[attr-defined]
    login(finance, scenario.people.emails["finance2"])
    dashboard = html(finance.get("/dashboard"))
    assert "Bank details to verify" in dashboard
    row = re.search(rf"{scenario.application(app_id).reference}.*?</tr>", dashboard, re.S)
    assert row is not None and NEW_FULL in row[0] and "Changed after acceptance" in row[0]
    page = html(finance.get(f"/applications/{app_id}/bank-details"))
    assert "Verify bank details" in page
    assert "differs from the organisation" in page  # "SME account" is not the legal name
    download = finance.get(f"/bank-details/{account.id}/confirmation")
    assert download.status_code == 200 and download.data.startswith(b"%PDF")
    officer = app.test_client()  # type: ignore[attr-defined]
    login(officer, scenario.people.emails["officer"])
    assert officer.get(f"/bank-details/{account.id}/confirmation").status_code == 403
    response = finance.post(f"/bank-details/{account.id}/verify")
    assert response.status_code == 302
    assert bank_details_of(scenario, app_id)[0].status == "verified"

    # The auditor's trail shows the change, masked, highlighted.
    auditor = app.test_client()  # type: ignore[attr-defined]
    login(auditor, scenario.people.emails["auditor"])
    trail = html(auditor.get(f"/audit?reference={scenario.application(app_id).reference}"))
    assert "Bank details changed" in trail and NEW_MASKED in trail and NEW_IBAN not in trail


def test_authorising_and_marking_paid_ask_for_confirmation(
    client: FlaskClient, login: Login, scenario: Scenario
) -> None:
    app_id = contracted(scenario)
    f1 = scenario.people.finance[0]
    payment_id = scenario.run(lambda s: payments.prepare_prefinancing(s, f1, app_id).id)
    login(client, scenario.people.emails["finance2"])
    dashboard = html(client.get("/dashboard?list=prefinancing"))
    assert f"/payments/{payment_id}/confirm/authorise" in dashboard
    page = html(client.get(f"/payments/{payment_id}/confirm/authorise?next=/dashboard"))
    assert FIRST_FULL in page and "EUR 4,000.00" in page
    assert f'action="/payments/{payment_id}/authorise"' in page
    response = client.post(f"/payments/{payment_id}/authorise", data={"next": "/dashboard"})
    assert response.status_code == 302
    page = html(client.get(f"/payments/{payment_id}/confirm/mark-paid"))
    assert 'name="payment_reference"' in page and FIRST_FULL in page
    # A change after the authorisation: the confirmation page says why it cannot go ahead.
    change(scenario, app_id)
    page = html(client.get(f"/payments/{payment_id}/confirm/mark-paid"))
    assert "cannot go ahead" in page and 'name="payment_reference"' not in page
    assert client.get(f"/payments/{payment_id}/confirm/elsewhere").status_code == 404


# -- races -----------------------------------------------------------------------------------


def test_fifty_concurrent_authorisations_authorise_once(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    app_id = contracted(scenario)
    f1, f2 = scenario.people.finance
    payment_id = scenario.run(lambda s: payments.prepare_prefinancing(s, f1, app_id).id)
    attempts = race(
        sessions,
        [lambda s: payments.authorise_instalment(s, f2, payment_id) for _ in range(50)],
    )
    winners = [a for a in attempts if a.ok]
    assert len(winners) == 1, [repr(a.error) for a in attempts if not a.ok][:3]
    assert all(isinstance(a.error, TransitionRefused) for a in attempts if not a.ok)
    payment = next(p for p in scenario.payments_of(app_id) if p.id == payment_id)
    assert payment.status == PaymentState.AUTHORISED
    authorised = [
        e
        for e in scenario.events_of(app_id)
        if e.action == "authorise" and e.entity_type == "payment"
    ]
    assert len(authorised) == 1
