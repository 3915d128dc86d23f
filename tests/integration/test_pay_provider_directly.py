"""Money goes to the right account, once: a call may pay the service provider directly when
the SME confirms delivery. The SME gives the provider's account, finance verifies it four-eyes,
the final report asks the SME to confirm delivery, and the balance order and the SEPA file pay
the provider; an ordinary call keeps paying the SME."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from documents.render import render_html
from documents.sepa import NAMESPACE
from forms.schema import FormDefinitionError
from grants.models import (
    Application,
    AuditEvent,
    BankAccount,
    Call,
    Document,
    MailMessage,
    PayeeKind,
    Payment,
)
from grants.runtime import Runtime
from grants.services import (
    awards,
    bank_details,
    call_files,
    calls,
    payments,
    report_forms,
    reporting,
    sepa,
)
from grants.services.applications import ValidationFailed
from grants.services.call_files import COUNTRIES
from tests.integration.test_call_builder import MONEY, build, call_of, officer
from tests.scenario import Scenario, pdf_bytes, pending_documents_discarded, scenario_storage
from workflows import call_rules
from workflows.errors import TransitionRefused
from workflows.sepa_batch import next_business_day
from workflows.voucher import AppState

Login = Callable[[FlaskClient, str], None]
PROVIDER = "Centro Formazione Navale S.r.l."  # as the scenario's application names it
PROVIDER_IBAN = "DE89370400440532013000"
PROVIDER_FULL = "DE89 3704 0044 0532 0130 00"
PROVIDER_MASKED = "DE89 **** **** 3000"
SME_IBAN = "IT60X0542811101000000123456"
DIRECT = (
    "The voucher is paid directly to the service provider named in the application, once the "
    "SME confirms delivery and the final report is approved"
)
CONFIRMATION = (
    "The service provider delivered the service as agreed; I ask that the voucher be paid "
    "to it directly"
)


@pytest.fixture(autouse=True)
def _discard_unrendered_documents(sessions: sessionmaker[Session]) -> Iterator[None]:
    with pending_documents_discarded(sessions):
        yield


def html(response: Any) -> str:
    """The page's text, entities decoded (an apostrophe may be written &#39;)."""
    return unescape(response.get_data(as_text=True))


def provider_call(scenario: Scenario, **overrides: Any) -> int:
    return scenario.add_call(
        pay_provider_directly=True, prefinancing_percent=Decimal("0"), **overrides
    )


def contracted(scenario: Scenario, call_id: int | None = None) -> int:
    """A contracted voucher on a call paying the provider (the SME's own account verified)."""
    app_id = scenario.draft(call_id=call_id or provider_call(scenario))
    scenario.advance(app_id, AppState.CONTRACTED)
    return app_id


def report_approved(scenario: Scenario) -> int:
    app_id = contracted(scenario)
    owner = scenario.owner(app_id)
    scenario.run(
        lambda s: reporting.submit_report(
            s,
            owner,
            app_id,
            summary="Training delivered by the provider.",
            claimed_costs="8200.00",
            confirm_delivery=True,
        )
    )
    scenario.advance(app_id, AppState.REPORT_APPROVED)
    return app_id


def enter_provider(
    scenario: Scenario, app_id: int, *, by: str = "sme", iban: str = PROVIDER_IBAN
) -> int:
    actor = scenario.owner(app_id) if by == "sme" else scenario.people.finance[0]
    return scenario.run(
        lambda s: (
            bank_details.change_provider(
                s,
                actor,
                scenario_storage(),
                app_id,
                iban=iban,
                bic="",
                name=PROVIDER,
                confirmation=bank_details.Upload("invoice.pdf", pdf_bytes(marker=b"provider")),
            ).id
        )
    )


def refused(scenario: Scenario, action: Callable[[Session], object]) -> str:
    with pytest.raises(TransitionRefused) as caught:
        scenario.run(action)
    return str(caught.value)


# -- the call --------------------------------------------------------------------------------


def test_paying_the_provider_directly_means_no_pre_financing(
    app: Flask, login: Login, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    now = datetime.now(UTC)
    with sessions() as session:
        rules = call_files.rules_of(session.get(Call, scenario.call_id))  # type: ignore[arg-type]
    rules = replace(rules, deadline=rules.deadline + timedelta(days=60))
    assert "pay_provider_directly" not in call_rules.problems(rules, now, COUNTRIES)
    direct = replace(rules, pay_provider_directly=True)
    problem = call_rules.problems(direct, now, COUNTRIES)["pay_provider_directly"]
    assert "set the pre-financing to 0" in problem
    assert "pay_provider_directly" not in call_rules.problems(
        replace(direct, prefinancing_percent=Decimal(0)), now, COUNTRIES
    )

    # In the builder's money step: saved on the draft, named beside the box, not publishable.
    client = officer(app, login, scenario)
    call_id = build(client, f"PD-{scenario.tag.upper()}")
    page = html(client.get(f"/calls/{call_id}/build/money"))
    assert 'name="pay_provider_directly"' in page and "Pay the service provider directly" in page
    response = client.post(
        f"/calls/{call_id}/build/money", data=MONEY | {"pay_provider_directly": "yes"}
    )
    assert response.status_code == 302
    assert call_of(sessions, call_id).pay_provider_directly is True
    page = html(client.get(f"/calls/{call_id}/build/money"))
    assert 'href="#pay_provider_directly"' in page and "set the pre-financing to 0" in page
    assert 'id="pay_provider_directly-error"' in page and "checked" in page
    review = html(client.get(f"/calls/{call_id}/build/review"))
    assert "set the pre-financing to 0" in review
    assert f'href="/calls/{call_id}/build/money#pay_provider_directly"' in review
    refused_publish = client.post(f"/calls/{call_id}/build/publish")
    assert refused_publish.headers["Location"].endswith("/build/review")
    assert call_of(sessions, call_id).status == "draft"
    response = client.post(
        f"/calls/{call_id}/build/money",
        data=MONEY | {"pay_provider_directly": "yes", "prefinancing_percent": "0"},
    )
    assert response.status_code == 302
    review = html(client.get(f"/calls/{call_id}/build/review"))
    assert "Nothing stops this call from being published" in review
    # Unticked, it is off again.
    client.post(f"/calls/{call_id}/build/money", data=MONEY)
    assert call_of(sessions, call_id).pay_provider_directly is False

    # However it is published, such a call never goes out with pre-financing.
    spec = calls.CallSpec(
        reference=f"PDX-{scenario.tag.upper()}",
        title="Direct",
        description="Paid to the provider.",
        budget=Decimal("100000"),
        max_per_voucher=Decimal("10000"),
        opens_at=now - timedelta(days=1),
        deadline=now + timedelta(days=45),
        form=list(call_of(sessions, scenario.call_id).form),
        pay_provider_directly=True,
    )
    officer_actor = scenario.people.officer
    made = scenario.run(lambda s: calls.create_call(s, officer_actor, spec).id)
    why = refused(scenario, lambda s: calls.publish(s, officer_actor, made, now=spec.opens_at))
    assert "no pre-financing" in why


def test_the_call_file_round_trips_the_setting(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    call_id = provider_call(scenario)
    with sessions() as session:
        reference = session.get(Call, call_id).reference  # type: ignore[union-attr]
        text = call_files.export_call(session, reference)
    assert "pay_provider_directly: true" in text and "prefinancing_percent: '0'" in text
    copy = f"{reference}-COPY"
    made = scenario.run(
        lambda s: call_files.import_call(s, scenario.people.officer, text, reference=copy)
    )
    assert "pay_provider_directly" not in made.before_publishing
    with sessions() as session:
        assert (
            session.scalars(select(Call).where(Call.reference == copy)).one().pay_provider_directly
        )
        again = call_files.export_call(session, copy)
    assert again == text.replace(f"reference: {reference}", f"reference: {copy}")
    # A file written before the setting existed pays the SME; a wrong value is named.
    old = text.replace("pay_provider_directly: true\n", "")
    rules, _form = call_files.read_file(old)
    assert rules.pay_provider_directly is False
    with pytest.raises(ValueError) as wrong:
        call_files.read_file(
            text.replace("pay_provider_directly: true", "pay_provider_directly: 2")
        )
    assert "pay_provider_directly" in str(wrong.value)


def test_the_public_page_and_the_agreement_say_who_is_paid(
    client: FlaskClient, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    call_id = provider_call(scenario)
    assert DIRECT in html(client.get(f"/calls/{call_id}"))
    assert DIRECT not in html(client.get(f"/calls/{scenario.call_id}"))
    app_id = scenario.draft(call_id=call_id)
    scenario.advance(app_id, AppState.OFFERED)
    with sessions() as session:
        application = session.get(Application, app_id)
        details = awards.agreement_details(application, scenario.people.officer)  # type: ignore[arg-type]
        offer = session.scalars(
            select(Document).where(
                Document.application_id == app_id, Document.kind == "voucher_agreement"
            )
        ).one()
    assert details["pay_provider_directly"] is True
    assert offer.snapshot["details"]["pay_provider_directly"] is True
    assert DIRECT in render_html("voucher_agreement", offer.snapshot)


# -- the provider's account ------------------------------------------------------------------


def test_the_sme_gives_the_providers_account_and_finance_verifies_it_four_eyes(
    app: Flask, login: Login, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    app_id = contracted(scenario)
    sme = app.test_client()
    login(sme, scenario.people.emails["applicant0"])
    page = html(sme.get(f"/applications/{app_id}/bank-details"))
    assert "Service provider's account" in page
    assert f'value="{PROVIDER}"' in page  # the provider the application names

    missing = sme.post(
        f"/applications/{app_id}/bank-details/provider",
        data={"iban": "", "bic": "", "account_holder": PROVIDER},
        content_type="multipart/form-data",
    )
    body = html(missing)
    assert missing.status_code == 422
    assert "give the IBAN of the service provider" in body
    assert "upload the service provider" in body or "Upload the service provider" in body
    assert 'href="#provider-iban"' in body
    with sessions() as s:
        assert bank_details.current(s, app_id, PayeeKind.PROVIDER) is None

    saved = sme.post(
        f"/applications/{app_id}/bank-details/provider",
        data={
            "iban": PROVIDER_FULL,
            "bic": "",
            "account_holder": PROVIDER,
            "bank_confirmation": (io.BytesIO(pdf_bytes(marker=b"inv")), "invoice.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert saved.status_code == 302, html(saved)
    with sessions() as s:
        account = bank_details.current(s, app_id, PayeeKind.PROVIDER)
        own = bank_details.current(s, app_id)
        assert account is not None and own is not None
        assert (account.payee, account.iban, account.holder) == (
            "provider",
            PROVIDER_IBAN,
            PROVIDER,
        )
        assert account.bic == "COBADEFFXXX" and account.status == "entered"
        assert own.iban == SME_IBAN and own.status == "verified"  # the SME's own is untouched
        assert s.get(Application, app_id).iban == SME_IBAN  # type: ignore[union-attr]
        account_id = account.id
        entered = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.application_id == app_id)
            .order_by(AuditEvent.id.desc())
        ).first()
    assert entered is not None and entered.action == "bank_details_entered"
    assert entered.after["payee"] == "provider" and entered.after["iban_masked"] == PROVIDER_MASKED
    assert PROVIDER_IBAN not in str(entered.after)
    page = html(sme.get(f"/applications/{app_id}/bank-details"))
    assert PROVIDER_MASKED in page and PROVIDER_FULL not in page

    # Finance sees it on its list and the page, full IBAN, and verifies it.
    f1 = app.test_client()
    login(f1, scenario.people.emails["finance1"])
    dashboard = html(f1.get("/dashboard"))
    assert "provider-review-h" in dashboard
    page = html(f1.get(f"/applications/{app_id}/bank-details"))
    assert PROVIDER_FULL in page and "Verify the service provider" in page
    assert f1.post(f"/bank-details/{account_id}/verify").status_code == 302
    with sessions() as s:
        assert s.get(BankAccount, account_id).status == "verified"  # type: ignore[union-attr]

    # A change by finance (on the SME's written request) is flagged and needs another officer.
    changed_id = enter_provider(scenario, app_id, by="finance", iban="NL91ABNA0417164300")
    with sessions() as s:
        changed = s.get(BankAccount, changed_id)
        assert changed is not None and changed.changed and changed.status == "entered"
        assert s.get(BankAccount, account_id).superseded_at is not None  # type: ignore[union-attr]
    f0 = scenario.people.finance[0]
    why = refused(scenario, lambda s: bank_details.verify(s, f0, changed_id))
    assert "four-eyes" in why
    page = html(f1.get(f"/applications/{app_id}/bank-details"))
    assert (
        "Changed after acceptance" in page
        and "Earlier bank details of the service provider" in page
    )

    # Rejected by another officer: the SME is told, about the provider's account.
    f2 = app.test_client()
    login(f2, scenario.people.emails["finance2"])
    empty = f2.post(f"/bank-details/{changed_id}/reject", data={"reason": ""})
    assert empty.status_code == 422 and 'id="provider-reject-reason"' in html(empty)
    assert (
        f2.post(
            f"/bank-details/{changed_id}/reject", data={"reason": "Not on the invoice."}
        ).status_code
        == 302
    )
    with sessions() as s:
        mails = s.scalars(
            select(MailMessage).where(
                MailMessage.application_id == app_id,
                MailMessage.purpose == "bank_details_rejected",
            )
        ).all()
    assert mails and all("Service provider's bank details rejected" in m.subject for m in mails)
    assert "Not on the invoice." in mails[0].body_text and PROVIDER in mails[0].body_text


def test_the_balance_waits_for_the_providers_verified_account_and_pays_it(
    app: Flask,
    login: Login,
    scenario: Scenario,
    runtime: Runtime,
    sessions: sessionmaker[Session],
) -> None:
    app_id = report_approved(scenario)
    f1, f2 = scenario.people.finance
    why = refused(scenario, lambda s: payments.prepare_payment(s, f1, app_id))
    assert "service provider" in why and "not given yet" in why
    finance = app.test_client()
    login(finance, scenario.people.emails["finance1"])
    page = html(finance.get(f"/applications/{app_id}"))
    assert "Service provider's account" in page
    assert "its bank details are not given yet" in page
    account_id = enter_provider(scenario, app_id)
    page = html(finance.get(f"/applications/{app_id}"))
    assert f"Payee: the service provider {PROVIDER}" in page and PROVIDER_FULL in page
    why = refused(scenario, lambda s: payments.prepare_payment(s, f1, app_id))
    assert "service provider's bank details are not verified" in why
    scenario.run(lambda s: bank_details.verify(s, f2, account_id))

    scenario.run(lambda s: payments.prepare_payment(s, f1, app_id))
    (order,) = scenario.payments_of(app_id)
    assert (order.instalment, order.payee_name, order.iban) == ("balance", PROVIDER, PROVIDER_IBAN)
    assert order.amount == Decimal("8000.00")
    with sessions() as s:
        document = s.scalars(
            select(Document).where(
                Document.application_id == app_id, Document.kind == "payment_order"
            )
        ).one()
    details = document.snapshot["details"]
    assert details["payee"] == PROVIDER and details["iban"] == PROVIDER_FULL
    assert details["bic"] == "COBADEFFXXX"

    # A change of the provider's account after the order blocks it until prepared again.
    other = enter_provider(scenario, app_id, iban="NL91ABNA0417164300")
    why = refused(scenario, lambda s: payments.authorise_payment(s, f2, app_id))
    assert "service provider's bank details are not verified" in why
    scenario.run(lambda s: bank_details.verify(s, f1, other))
    why = refused(scenario, lambda s: payments.authorise_payment(s, f2, app_id))
    assert "changed after this order was prepared" in why
    back = enter_provider(scenario, app_id)  # back to the account the order is for
    scenario.run(lambda s: bank_details.verify(s, f1, back))
    scenario.advance(app_id, AppState.PAYMENT_AUTHORISED)

    # The SEPA file pays the provider: its name and IBAN, not the SME's.
    debtor = sepa.debtor_of(runtime.config)
    request = sepa.ExportRequest((order.id,), next_business_day(sepa.today()))
    batch_id = scenario.run(lambda s: sepa.export_batch(s, f1, runtime.storage, debtor, request).id)
    with sessions() as s:
        batch = sepa.batch(s, batch_id)
        (item,) = batch.items
        assert (item.payee_name, item.iban) == (PROVIDER, PROVIDER_IBAN)
        data = sepa.read_file(runtime.storage, batch)
    ns = {"p": NAMESPACE}
    (tx,) = ET.fromstring(data).findall(".//p:CdtTrfTxInf", ns)
    assert tx.findtext("p:Cdtr/p:Nm", namespaces=ns) == PROVIDER
    assert tx.findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=ns) == PROVIDER_IBAN
    assert SME_IBAN.encode() not in data

    # Paid with the file: the remittance advice tells the SME the provider was paid, masked.
    paid = sepa.PaidRequest("BANK-PD-1", sepa.today(), {})
    scenario.run(lambda s: sepa.mark_batch_paid(s, f2, batch_id, paid))
    assert scenario.status(app_id) == AppState.PAID
    with sessions() as s:
        advice = s.scalars(
            select(Document).where(
                Document.application_id == app_id, Document.kind == "remittance_advice"
            )
        ).one()
        mail = s.scalars(
            select(MailMessage).where(
                MailMessage.application_id == app_id, MailMessage.purpose == "payment_paid"
            )
        ).first()
    remittance = advice.snapshot["details"]
    assert remittance["paid_to_provider"] is True and remittance["payee"] == PROVIDER
    assert remittance["iban_masked"] == PROVIDER_MASKED
    assert PROVIDER_IBAN not in str(advice.snapshot)
    assert "paid directly to the service provider" in render_html(
        "remittance_advice", advice.snapshot
    )
    assert mail is not None and "paid directly to the service provider" in mail.body_text


def test_no_pre_financing_on_such_a_call(scenario: Scenario) -> None:
    app_id = contracted(scenario)
    f1 = scenario.people.finance[0]
    why = refused(scenario, lambda s: payments.prepare_prefinancing(s, f1, app_id))
    assert "no pre-financing" in why


# -- the SME confirms delivery ---------------------------------------------------------------


def test_the_report_is_refused_without_the_delivery_confirmation_and_the_draft_is_kept(
    app: Flask, login: Login, scenario: Scenario, runtime: Runtime, sessions: sessionmaker[Session]
) -> None:
    app_id = contracted(scenario)
    owner = scenario.owner(app_id)
    client = app.test_client()
    login(client, scenario.people.emails["applicant0"])
    page = html(client.get(f"/applications/{app_id}"))
    assert CONFIRMATION in page
    assert 'name="provider_delivery_confirmed"' in page
    assert "Proof of payment" not in page  # the SME has not paid the provider: the voucher does
    scenario.run(
        lambda s: report_forms.upload_report_file(
            s,
            owner,
            runtime.storage,
            app_id,
            "invoices",
            filename="invoices.pdf",
            data=pdf_bytes(marker=b"inv"),
        )
    )
    summary = "Four engineers trained by the provider in March."
    form = {"summary": summary, "claimed_costs": "8 200", "subcontracted_costs": "0"}
    response = client.post(f"/applications/{app_id}/final-report", data=form)
    body = html(response)
    assert response.status_code in (409, 422)
    assert "provider_delivery_confirmed" in body and summary in body
    assert scenario.status(app_id) == AppState.CONTRACTED
    with sessions() as s:
        application = s.get(Application, app_id)
        draft = report_forms.draft_of(s, application)  # type: ignore[arg-type]
        assert draft is not None and draft.answers["summary"] == summary
        assert not draft.answers.get(report_forms.DELIVERY)
    # A trusted caller is refused the same way.
    why = refused(
        scenario,
        lambda s: reporting.submit_report(s, owner, app_id, summary=summary, claimed_costs="8200"),
    )
    assert CONFIRMATION in why

    response = client.post(
        f"/applications/{app_id}/final-report",
        data=form | {"provider_delivery_confirmed": "yes"},
    )
    assert response.status_code == 302, html(response)
    assert scenario.status(app_id) == AppState.REPORT_SUBMITTED
    with sessions() as s:
        application = s.get(Application, app_id)
        report = application.reports[-1]  # type: ignore[union-attr]
        assert report.answers[report_forms.DELIVERY] is True
        event = s.scalars(
            select(AuditEvent).where(
                AuditEvent.application_id == app_id, AuditEvent.action == "submit_report"
            )
        ).one()
    assert event.after["provider_delivery_confirmed"] is True


def test_an_officer_report_form_must_ask_the_confirmation_on_such_a_call(
    scenario: Scenario,
) -> None:
    call_id = provider_call(scenario)
    officer_actor = scenario.people.officer
    plain = report_forms.default_definition("costs")
    with pytest.raises(FormDefinitionError) as caught:
        scenario.run(
            lambda s: report_forms.update_report_form(s, officer_actor, call_id, json.dumps(plain))
        )
    assert report_forms.DELIVERY in str(caught.value)
    direct = report_forms.default_definition("costs", pay_provider_directly=True)
    scenario.run(
        lambda s: report_forms.update_report_form(s, officer_actor, call_id, json.dumps(direct))
    )


# -- an ordinary call ------------------------------------------------------------------------


def test_an_ordinary_call_is_unchanged(
    app: Flask, login: Login, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    fields = [f["name"] for f in report_forms.default_definition("costs")]
    assert report_forms.DELIVERY not in fields and "proof_of_payment" in fields
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.PAYMENT_PREPARED)
    (order,) = scenario.payments_of(app_id)
    assert (order.payee_name, order.iban) == ("SME account", SME_IBAN)
    with sessions() as s:
        assert bank_details.payment_block(s.get(Application, app_id), order) is None  # type: ignore[arg-type]
        report = s.get(Application, app_id).reports[-1]  # type: ignore[union-attr]
        assert report_forms.DELIVERY not in report.answers
    owner = scenario.owner(app_id)
    why = refused(
        scenario,
        lambda s: bank_details.change_provider(
            s,
            owner,
            scenario_storage(),
            app_id,
            iban=PROVIDER_IBAN,
            bic="",
            name=PROVIDER,
            confirmation=bank_details.Upload("invoice.pdf", pdf_bytes()),
        ),
    )
    assert "this call pays the SME" in why
    client = app.test_client()
    login(client, scenario.people.emails["applicant0"])
    page = html(client.get(f"/applications/{app_id}/bank-details"))
    assert "provider-h" not in page
    assert client.post(f"/applications/{app_id}/bank-details/provider").status_code == 404
    with sessions() as s:
        assert not s.scalars(
            select(Payment).where(Payment.application_id == app_id, Payment.iban == PROVIDER_IBAN)
        ).first()
    with pytest.raises(ValidationFailed):
        scenario.run(
            lambda s: bank_details.change(
                s,
                owner,
                scenario_storage(),
                app_id,
                iban="",
                bic="",
                holder="x",
                confirmation=None,
            )
        )
