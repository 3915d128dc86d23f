"""SEPA credit transfer batches: money goes to the right account, once.

Authorised instalments are exported as one pain.001.001.03 file (validated against the
schema inside sepaxml, count and control sum read back), never twice unless their batch
was cancelled, even when two finance officers export at the same moment; marking the batch
paid marks every instalment paid through its own step, all or nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from documents.sepa import summarise, validate
from documents.storage import sha256_hex
from grants.errors import ValidationFailed
from grants.models import AuditEvent, SepaBatch, SepaBatchItem
from grants.runtime import Runtime
from grants.services import bank_details, payment_stops, payments, sepa
from grants.services.actor import Actor
from tests.integration.test_services_concurrency import race
from tests.scenario import Scenario, pdf_bytes
from workflows.errors import TransitionRefused
from workflows.payment import PaymentState
from workflows.sepa_batch import SepaBatchState, next_business_day
from workflows.voucher import AppState


def execution_day() -> date:
    return next_business_day(sepa.today())


def contracted(scenario: Scenario, runtime: Runtime, sme: int) -> int:
    app_id = scenario.draft(sme)
    scenario.advance(app_id, AppState.CONTRACTED)  # bank details verified on the way
    return app_id


def prefinancing(scenario: Scenario, runtime: Runtime, sme: int, until: str = "authorised") -> int:
    """An authorised pre-financing instalment (its payment id)."""
    return scenario.prefinancing(contracted(scenario, runtime, sme), until=until)


def balance(scenario: Scenario, runtime: Runtime, sme: int) -> tuple[int, int]:
    """(application id, payment id) of an authorised balance instalment."""
    app_id = contracted(scenario, runtime, sme)
    scenario.advance(app_id, AppState.PAYMENT_AUTHORISED)
    (payment,) = scenario.payments_of(app_id)
    return app_id, payment.id


def export(scenario: Scenario, runtime: Runtime, ids: list[int], actor: Actor | None = None) -> int:
    who = actor or scenario.people.finance[0]
    debtor = sepa.debtor_of(runtime.config)
    request = sepa.ExportRequest(tuple(ids), execution_day())
    return scenario.run(lambda s: sepa.export_batch(s, who, runtime.storage, debtor, request).id)


def load_batch(sessions: sessionmaker[Session], batch_id: int) -> SepaBatch:
    with sessions() as s:
        found = sepa.batch(s, batch_id)
        _ = [(i.payment.application.reference, i.payment.status) for i in found.items]
        return found


def live_batches_of(sessions: sessionmaker[Session], payment_id: int) -> int:
    with sessions() as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(SepaBatchItem)
                .where(SepaBatchItem.payment_id == payment_id, SepaBatchItem.live)
            )
            or 0
        )


def paid(reference: str, day: date | None = None) -> sepa.PaidRequest:
    return sepa.PaidRequest(reference, day or sepa.today(), {})


def test_the_file_is_valid_and_holds_exactly_the_selection(
    scenario: Scenario, runtime: Runtime, sessions: sessionmaker[Session]
) -> None:
    pre = prefinancing(scenario, runtime, 0)
    _app_id, bal = balance(scenario, runtime, 1)
    batch_id = export(scenario, runtime, [bal, pre])
    batch = load_batch(sessions, batch_id)
    data = sepa.read_file(runtime.storage, batch)
    validate(data)
    summary = summarise(data)
    amounts = {i.payment_id: i.amount for i in batch.items}
    assert summary.count == batch.count == 2
    assert summary.control_sum == batch.control_sum == sum(amounts.values(), Decimal(0))
    assert summary.message_id == batch.reference
    assert summary.execution_date == execution_day().isoformat()
    assert set(summary.end_to_end_ids) == {i.end_to_end_id for i in batch.items}
    assert batch.sha256 == sha256_hex(data) and batch.status == SepaBatchState.EXPORTED
    assert b"pre-financing instalment" in data and b"balance instalment" in data
    with sessions() as s:
        event = s.scalars(
            select(AuditEvent).where(
                AuditEvent.entity_type == "sepa_batch", AuditEvent.entity_id == batch.reference
            )
        ).one()
    assert event.action == "export_sepa_batch"
    assert sorted(event.after["payment_ids"]) == sorted([pre, bal])
    assert event.after["count"] == 2 and event.after["sha256"] == batch.sha256
    assert Decimal(event.after["control_sum"]) == batch.control_sum


def test_refused_instalments_are_named_and_nothing_is_stored(
    scenario: Scenario, runtime: Runtime, sessions: sessionmaker[Session]
) -> None:
    prepared = prefinancing(scenario, runtime, 0, until="prepared")
    authorised = prefinancing(scenario, runtime, 1)
    with sessions() as s:
        before = s.scalar(select(func.count()).select_from(SepaBatch))
    with pytest.raises(TransitionRefused) as refused:
        export(scenario, runtime, [prepared, authorised])
    assert "no file was made" in refused.value.message
    assert any("not authorised" in r and "prepared" in r for r in refused.value.reasons)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(SepaBatch)) == before

    first = export(scenario, runtime, [authorised])
    with pytest.raises(TransitionRefused) as again:
        export(scenario, runtime, [authorised])
    reference = load_batch(sessions, first).reference
    assert any(f"already in SEPA batch {reference}" in r for r in again.value.reasons)
    assert live_batches_of(sessions, authorised) == 1


def test_bad_input_is_refused_clearly(scenario: Scenario, runtime: Runtime) -> None:
    pre = prefinancing(scenario, runtime, 0)
    finance = scenario.people.finance[0]
    debtor = sepa.debtor_of(runtime.config)
    with pytest.raises(ValidationFailed) as none_chosen:
        scenario.run(
            lambda s: sepa.export_batch(
                s, finance, runtime.storage, debtor, sepa.ExportRequest((), execution_day())
            )
        )
    assert "payment_ids" in none_chosen.value.errors
    with pytest.raises(ValidationFailed) as past:
        scenario.run(
            lambda s: sepa.export_batch(
                s,
                finance,
                runtime.storage,
                debtor,
                sepa.ExportRequest((pre,), sepa.today() - timedelta(days=1)),
            )
        )
    assert "past" in past.value.errors["execution_date"]
    with pytest.raises(TransitionRefused, match="debtor IBAN"):
        sepa.debtor_of(replace(runtime.config, sepa_debtor_iban="DE00123456789"))
    with pytest.raises(TransitionRefused, match="may not"):
        export(scenario, runtime, [pre], actor=scenario.people.officer)


def test_blocked_bank_details_are_refused(scenario: Scenario, runtime: Runtime) -> None:
    app_id = contracted(scenario, runtime, 0)
    pre = scenario.prefinancing(app_id, until="authorised")
    owner = scenario.owner(app_id)
    # The SME changes its account after the order was authorised: the order is blocked.
    scenario.run(
        lambda s: bank_details.change(
            s,
            owner,
            runtime.storage,
            app_id,
            iban="NL91ABNA0417164300",
            bic="ABNANL2AXXX",
            holder="SME account",
            confirmation=bank_details.Upload("bank.pdf", pdf_bytes()),
        )
    )
    with pytest.raises(TransitionRefused) as refused:
        export(scenario, runtime, [pre])
    assert any("bank details" in r for r in refused.value.reasons)


def test_a_cancelled_batch_frees_its_instalments_and_a_paid_one_cannot_be_cancelled(
    scenario: Scenario, runtime: Runtime, sessions: sessionmaker[Session]
) -> None:
    pre = prefinancing(scenario, runtime, 0)
    first = export(scenario, runtime, [pre])
    finance = scenario.people.finance[0]
    with pytest.raises(ValidationFailed):
        scenario.run(lambda s: sepa.cancel_batch(s, finance, first, reason=" "))
    scenario.run(lambda s: sepa.cancel_batch(s, finance, first, reason="bank refused the file"))
    assert load_batch(sessions, first).status == SepaBatchState.CANCELLED
    assert live_batches_of(sessions, pre) == 0

    second = export(scenario, runtime, [pre])
    assert live_batches_of(sessions, pre) == 1
    with pytest.raises(TransitionRefused):
        scenario.run(lambda s: sepa.mark_batch_paid(s, finance, first, paid("BANK-1")))
    scenario.run(lambda s: sepa.mark_batch_paid(s, finance, second, paid("BANK-2")))
    with pytest.raises(TransitionRefused, match="paid batch cannot be cancelled"):
        scenario.run(lambda s: sepa.cancel_batch(s, finance, second, reason="too late"))


def test_marking_the_batch_paid_pays_every_instalment_once(
    scenario: Scenario, runtime: Runtime, sessions: sessionmaker[Session]
) -> None:
    pre_app = contracted(scenario, runtime, 0)
    pre = scenario.prefinancing(pre_app, until="authorised")
    bal_app, bal = balance(scenario, runtime, 1)
    batch_id = export(scenario, runtime, [pre, bal])
    finance = scenario.people.finance[1]
    day = sepa.today()
    with pytest.raises(ValidationFailed) as wrong:
        scenario.run(
            lambda s: sepa.mark_batch_paid(
                s, finance, batch_id, sepa.PaidRequest("", day + timedelta(days=3), {})
            )
        )
    assert {"bank_reference", "value_date"} <= wrong.value.errors.keys()
    request = sepa.PaidRequest("BANK-777", day, {bal: "BANK-777-B"})
    scenario.run(lambda s: sepa.mark_batch_paid(s, finance, batch_id, request))

    (pre_row,) = scenario.payments_of(pre_app)
    (bal_row,) = scenario.payments_of(bal_app)
    assert (pre_row.status, pre_row.payment_reference, pre_row.value_date) == (
        PaymentState.PAID,
        "BANK-777",
        day,
    )
    assert (bal_row.status, bal_row.payment_reference, bal_row.value_date) == (
        PaymentState.PAID,
        "BANK-777-B",
        day,
    )
    assert scenario.status(bal_app) == AppState.PAID
    assert scenario.status(pre_app) == AppState.CONTRACTED
    kinds = [d.kind for d in scenario.documents_of(bal_app) + scenario.documents_of(pre_app)]
    assert kinds.count("remittance_advice") == 2
    batch = load_batch(sessions, batch_id)
    assert (batch.status, batch.bank_reference, batch.value_date) == ("paid", "BANK-777", day)

    # Never paid twice: not by the batch again, not one by one, not in another file.
    with pytest.raises(TransitionRefused):
        scenario.run(lambda s: sepa.mark_batch_paid(s, finance, batch_id, paid("BANK-778")))
    with pytest.raises(TransitionRefused):
        scenario.run(
            lambda s: payments.mark_instalment_paid(s, finance, pre, payment_reference="X")
        )
    with pytest.raises(TransitionRefused) as refused:
        export(scenario, runtime, [pre])
    assert any("not authorised" in r for r in refused.value.reasons)


def test_an_instalment_sent_to_the_bank_is_settled_with_its_file_only(
    scenario: Scenario, runtime: Runtime, sessions: sessionmaker[Session]
) -> None:
    pre = prefinancing(scenario, runtime, 0)
    app_id, bal = balance(scenario, runtime, 1)
    batch_id = export(scenario, runtime, [pre, bal])
    finance, officer = scenario.people.finance[0], scenario.people.officer
    # Paid or stopped on its own, it could leave the bank twice: the file settles it.
    attempts: list[Callable[[Session], object]] = [
        lambda s: payments.mark_instalment_paid(s, finance, pre, payment_reference="BY-HAND"),
        lambda s: payments.mark_paid(s, finance, app_id, payment_reference="BY-HAND"),
        lambda s: payment_stops.cancel_instalment(s, finance, pre, reason="typo"),
        lambda s: payment_stops.withhold_balance(s, officer, app_id, reason="breach"),
    ]
    for attempt in attempts:
        with pytest.raises(TransitionRefused, match="sent to the bank"):
            scenario.run(attempt)
    batch = load_batch(sessions, batch_id)
    assert {i.payment.status for i in batch.items} == {PaymentState.AUTHORISED}
    # Once the file is cancelled, the instalment is the finance officers' again.
    scenario.run(lambda s: sepa.cancel_batch(s, finance, batch_id, reason="bank refused it"))
    scenario.run(lambda s: payment_stops.cancel_instalment(s, finance, pre, reason="typo"))


def test_marking_paid_is_all_or_nothing(
    scenario: Scenario, runtime: Runtime, sessions: sessionmaker[Session]
) -> None:
    first = prefinancing(scenario, runtime, 0)
    app_id = contracted(scenario, runtime, 1)
    second = scenario.prefinancing(app_id, until="authorised")
    batch_id = export(scenario, runtime, [first, second])
    finance = scenario.people.finance[0]
    # The second SME changed its account after the file was made: the whole batch waits.
    owner = scenario.owner(app_id)
    scenario.run(
        lambda s: bank_details.change(
            s,
            owner,
            runtime.storage,
            app_id,
            iban="NL91ABNA0417164300",
            bic="ABNANL2AXXX",
            holder="SME account",
            confirmation=bank_details.Upload("bank.pdf", pdf_bytes()),
        )
    )
    with pytest.raises(TransitionRefused, match="nothing was marked paid"):
        scenario.run(lambda s: sepa.mark_batch_paid(s, finance, batch_id, paid("BANK-9")))
    batch = load_batch(sessions, batch_id)
    assert batch.status == SepaBatchState.EXPORTED
    assert {i.payment.status for i in batch.items} == {PaymentState.AUTHORISED}


def test_overlapping_exports_at_the_same_moment_put_each_instalment_in_one_file(
    scenario: Scenario, runtime: Runtime, sessions: sessionmaker[Session]
) -> None:
    ids = [prefinancing(scenario, runtime, sme) for sme in range(3)]
    f1, f2 = scenario.people.finance
    debtor = sepa.debtor_of(runtime.config)
    day = execution_day()
    selections = [(f1, ids[:2]), (f2, ids[1:])]
    attempts = race(
        sessions,
        [
            lambda s, who=who, chosen=chosen: sepa.export_batch(
                s, who, runtime.storage, debtor, sepa.ExportRequest(tuple(chosen), day)
            )
            for who, chosen in selections
        ],
    )
    winners = [a for a in attempts if a.ok]
    assert len(winners) == 1, [repr(a.error) for a in attempts]
    (loser,) = [a for a in attempts if not a.ok]
    assert isinstance(loser.error, TransitionRefused), repr(loser.error)
    for payment_id in ids:
        expected = 1 if payment_id in selections[winners[0].index][1] else 0
        assert live_batches_of(sessions, payment_id) == expected


# -- HTTP --------------------------------------------------------------------------------------


def test_finance_exports_downloads_and_marks_paid_over_http(
    client: FlaskClient,
    login: Callable[[FlaskClient, str], None],
    scenario: Scenario,
    runtime: Runtime,
    sessions: sessionmaker[Session],
) -> None:
    pre_app = contracted(scenario, runtime, 0)
    pre = scenario.prefinancing(pre_app, until="authorised")
    bal_app, bal = balance(scenario, runtime, 1)
    emails = scenario.people.emails
    login(client, emails["finance1"])

    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "SEPA export" in dashboard and 'href="/finance/sepa/export"' in dashboard
    page = client.get("/finance/sepa/export?all=1").get_data(as_text=True)
    assert f'value="{pre}" checked' in page and f'value="{bal}" checked' in page

    nothing = client.post("/finance/sepa/export", data={"execution_date": "tomorrow"})
    assert nothing.status_code == 422
    assert "Give the requested execution date" in nothing.get_data(as_text=True)

    made = client.post(
        "/finance/sepa/export",
        data={"payment_id": [str(pre), str(bal)], "execution_date": execution_day().isoformat()},
    )
    assert made.status_code == 302
    batch_url = made.headers["Location"]
    batch_id = int(batch_url.rstrip("/").rsplit("/", 1)[1])
    batch = load_batch(sessions, batch_id)
    assert client.get(batch_url).status_code == 200

    again = client.post(
        "/finance/sepa/export",
        data={"payment_id": [str(pre)], "execution_date": execution_day().isoformat()},
    )
    assert again.status_code == 409
    assert f"already in SEPA batch {batch.reference}" in again.get_data(as_text=True)

    xml = client.get(f"/finance/sepa/{batch_id}/file.xml")
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    assert sha256_hex(xml.data) == batch.sha256

    form = {"bank_reference": "BANK-HTTP-1", "value_date": sepa.today().isoformat()}
    confirm = client.post(f"/finance/sepa/{batch_id}/mark-paid", data=form)
    text = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "2 instalments" in text
    assert all(i.iban in text and i.payee_name in text for i in batch.items)
    assert scenario.payments_of(pre_app)[0].status == PaymentState.AUTHORISED  # not yet

    done = client.post(f"/finance/sepa/{batch_id}/mark-paid", data={**form, "confirmed": "1"})
    assert done.status_code == 302
    assert scenario.payments_of(pre_app)[0].status == PaymentState.PAID
    assert scenario.status(bal_app) == AppState.PAID
    listing = client.get("/finance/sepa").get_data(as_text=True)
    assert batch.reference in listing


def test_only_finance_acts_and_auditors_read(
    client: FlaskClient,
    login: Callable[[FlaskClient, str], None],
    scenario: Scenario,
    runtime: Runtime,
) -> None:
    pre = prefinancing(scenario, runtime, 0)
    batch_id = export(scenario, runtime, [pre])
    emails = scenario.people.emails
    reads = ["/finance/sepa", f"/finance/sepa/{batch_id}", f"/finance/sepa/{batch_id}/file.xml"]
    writes = [
        "/finance/sepa/export",
        f"/finance/sepa/{batch_id}/mark-paid",
        f"/finance/sepa/{batch_id}/cancel",
    ]
    for who in ("applicant0", "officer"):
        login(client, emails[who])
        for url in [*reads, "/finance/sepa/export"]:
            assert client.get(url).status_code == 403, (who, url)
        for url in writes:
            assert client.post(url, data={"reason": "x"}).status_code == 403, (who, url)
        client.post("/logout")
    login(client, emails["auditor"])
    for url in reads:
        assert client.get(url).status_code == 200, url
    assert client.get(reads[2]).mimetype == "application/xml"
    for url in writes:
        assert client.post(url, data={"reason": "x"}).status_code == 403, url
    assert "Mark the batch paid" not in client.get(reads[1]).get_data(as_text=True)
