"""Withholding and cancelling payment orders; recovery orders after termination, repaid."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from grants.db import unit_of_work, utcnow
from grants.errors import ValidationFailed
from grants.models import AuditEvent, Instalment, MailMessage, Payment, RecoveryOrder
from grants.services import payment_stops, payments, recoveries
from tests.integration.test_services_concurrency import one_winner, race
from tests.scenario import Scenario, pending_documents_discarded
from workflows.errors import TransitionRefused
from workflows.payment import PaymentState
from workflows.voucher import AppState

AWARD = Decimal("8000.00")
PRE = Decimal("4000.00")  # 50% at signature

Login = Callable[[FlaskClient, str], None]


@pytest.fixture(autouse=True)
def _discard_unrendered_documents(sessions: sessionmaker[Session]) -> Iterator[None]:
    with pending_documents_discarded(sessions):
        yield


def kinds(scenario: Scenario, app_id: int) -> list[str]:
    return [d.kind for d in scenario.documents_of(app_id)]


def actions(scenario: Scenario, app_id: int) -> list[tuple[str, str]]:
    return [(e.action, e.entity_type) for e in scenario.events_of(app_id)]


def mails(scenario: Scenario, app_id: int) -> list[str]:
    with scenario.sessions() as session:
        return list(
            session.scalars(
                select(MailMessage.purpose)
                .where(MailMessage.application_id == app_id)
                .order_by(MailMessage.id)
            )
        )


def orders(scenario: Scenario, app_id: int) -> list[RecoveryOrder]:
    with scenario.sessions() as session:
        return recoveries.orders_of(session, app_id)


def contracted(scenario: Scenario, sme: int = 0) -> int:
    app_id = scenario.draft(sme)
    scenario.advance(app_id, AppState.CONTRACTED)
    return app_id


# -- the pre-financing ------------------------------------------------------------------------


def test_withholding_a_prefinancing_needs_a_reason_is_audited_and_notified(
    sessions: sessionmaker[Session],
) -> None:
    scenario = Scenario(sessions, smes=1)
    officer = scenario.people.officer
    app_id = contracted(scenario)
    payment_id = scenario.prefinancing(app_id, until="authorised")
    before = actions(scenario, app_id)

    with pytest.raises(ValidationFailed) as refused:
        scenario.run(
            lambda s: payment_stops.withhold_instalment(s, officer, payment_id, reason=" ")
        )
    assert set(refused.value.errors) == {"reason"}
    assert actions(scenario, app_id) == before
    applicant = scenario.people.applicants[0]
    with pytest.raises(TransitionRefused):
        scenario.run(
            lambda s: payment_stops.withhold_instalment(s, applicant, payment_id, reason="x")
        )

    scenario.run(
        lambda s: payment_stops.withhold_instalment(
            s, officer, payment_id, reason="The training provider is the SME's own subsidiary."
        )
    )
    (payment,) = scenario.payments_of(app_id)
    assert payment.status == PaymentState.WITHHELD
    (event,) = [e for e in scenario.events_of(app_id) if e.action == "withhold"]
    assert event.entity_type == "payment"
    assert event.after["reason"] == "The training provider is the SME's own subsidiary."
    assert kinds(scenario, app_id).count("payment_withheld_notice") == 1
    notice = next(d for d in scenario.documents_of(app_id) if d.kind == "payment_withheld_notice")
    assert notice.snapshot["details"]["amount"] == "EUR 4,000.00"
    assert "payment_withheld" in mails(scenario, app_id)
    # Withheld: settled with the balance, not prepared again; nor stopped twice.
    f1 = scenario.people.finance[0]
    with pytest.raises(TransitionRefused, match="withheld"):
        scenario.run(lambda s: payments.prepare_prefinancing(s, f1, app_id))
    with pytest.raises(TransitionRefused):
        scenario.run(lambda s: payment_stops.cancel_instalment(s, f1, payment_id, reason="again"))


def test_a_cancelled_prefinancing_is_prepared_again_and_paid_once(
    sessions: sessionmaker[Session],
) -> None:
    scenario = Scenario(sessions, smes=1)
    officer = scenario.people.officer
    f1, f2 = scenario.people.finance
    app_id = contracted(scenario)
    first = scenario.prefinancing(app_id, until="prepared")

    with pytest.raises(TransitionRefused):  # cancelling is finance's
        scenario.run(lambda s: payment_stops.cancel_instalment(s, officer, first, reason="x"))
    with pytest.raises(ValidationFailed):
        scenario.run(lambda s: payment_stops.cancel_instalment(s, f2, first, reason=""))
    scenario.run(
        lambda s: payment_stops.cancel_instalment(s, f2, first, reason="The IBAN was mistyped.")
    )
    assert kinds(scenario, app_id).count("payment_cancelled_notice") == 1
    assert "payment_cancelled" in mails(scenario, app_id)

    second = scenario.prefinancing(app_id)  # prepared, authorised and paid
    assert second != first
    with pytest.raises(TransitionRefused, match="already exists"):
        scenario.run(lambda s: payments.prepare_prefinancing(s, f1, app_id))
    rows = scenario.payments_of(app_id)
    assert [(p.id, p.status) for p in rows] == [
        (first, PaymentState.CANCELLED),
        (second, PaymentState.PAID),
    ]
    app = scenario.application(app_id)
    assert payments.paid_so_far(app) == PRE

    # The database itself holds one live order per instalment.
    paid = rows[1]
    with pytest.raises(IntegrityError), unit_of_work(sessions) as session:
        session.add(
            Payment(
                application_id=app_id,
                instalment=Instalment.PREFINANCING,
                status=PaymentState.PREPARED,
                amount=PRE,
                payee_name=paid.payee_name,
                iban=paid.iban,
                prepared_by_id=f1.user_id,
                prepared_at=utcnow(),
            )
        )


def test_racing_preparations_after_a_cancelled_prefinancing_make_one_order(
    sessions: sessionmaker[Session],
) -> None:
    scenario = Scenario(sessions, smes=1)
    f1, f2 = scenario.people.finance
    app_id = contracted(scenario)
    first = scenario.prefinancing(app_id, until="prepared")
    scenario.run(lambda s: payment_stops.cancel_instalment(s, f2, first, reason="Wrong account."))
    attempts = race(
        sessions, [lambda s, a=a: payments.prepare_prefinancing(s, a, app_id) for a in (f1, f2)]
    )
    one_winner(attempts)
    live = [p for p in scenario.payments_of(app_id) if p.status != PaymentState.CANCELLED]
    assert len(live) == 1


# -- the balance ------------------------------------------------------------------------------


def test_a_cancelled_balance_returns_the_voucher_and_is_paid_once(
    sessions: sessionmaker[Session],
) -> None:
    scenario = Scenario(sessions, smes=1)
    f1, f2 = scenario.people.finance
    app_id = scenario.draft(0)
    scenario.advance(app_id, AppState.PAYMENT_AUTHORISED)

    with pytest.raises(ValidationFailed):
        scenario.run(lambda s: payment_stops.cancel_balance(s, f1, app_id, reason=""))
    assert scenario.status(app_id) == AppState.PAYMENT_AUTHORISED
    scenario.run(lambda s: payment_stops.cancel_balance(s, f1, app_id, reason="New bank details."))
    assert scenario.status(app_id) == AppState.REPORT_APPROVED
    (old,) = scenario.payments_of(app_id)
    assert old.status == PaymentState.CANCELLED
    assert ("cancel_payment", "application") in actions(scenario, app_id)
    assert ("cancel", "payment") in actions(scenario, app_id)
    assert kinds(scenario, app_id).count("payment_cancelled_notice") == 1
    assert mails(scenario, app_id).count("payment_cancelled") >= 1

    # Two finance officers prepare the new order at once: one order.
    attempts = race(
        sessions, [lambda s, a=a: payments.prepare_payment(s, a, app_id) for a in (f1, f2)]
    )
    winner = one_winner(attempts)
    preparer, other = ((f1, f2), (f2, f1))[winner.index]
    scenario.run(lambda s: payments.authorise_payment(s, other, app_id))
    scenario.run(lambda s: payments.mark_paid(s, preparer, app_id, payment_reference="SEPA-2"))
    assert scenario.status(app_id) == AppState.PAID
    statuses = [p.status for p in scenario.payments_of(app_id)]
    assert statuses == [PaymentState.CANCELLED, PaymentState.PAID]
    assert payments.paid_so_far(scenario.application(app_id)) == AWARD
    with pytest.raises(TransitionRefused):
        scenario.run(lambda s: payments.prepare_payment(s, f1, app_id))
    with pytest.raises(TransitionRefused):
        scenario.run(lambda s: payment_stops.cancel_balance(s, f1, app_id, reason="too late"))


def test_an_officer_withholds_the_balance_then_terminates(
    sessions: sessionmaker[Session],
) -> None:
    scenario = Scenario(sessions, smes=1)
    officer = scenario.people.officer
    app_id = scenario.draft(0)
    scenario.advance(app_id, AppState.PAYMENT_PREPARED)
    with pytest.raises(TransitionRefused):  # only finance cancels
        scenario.run(lambda s: payment_stops.cancel_balance(s, officer, app_id, reason="x"))
    scenario.run(
        lambda s: payment_stops.withhold_balance(
            s, officer, app_id, reason="Costs claimed twice under another grant."
        )
    )
    assert scenario.status(app_id) == AppState.REPORT_APPROVED
    assert [p.status for p in scenario.payments_of(app_id)] == [PaymentState.WITHHELD]
    assert kinds(scenario, app_id).count("payment_withheld_notice") == 1
    scenario.run(lambda s: payments.terminate(s, officer, app_id, reason="Double funding."))
    assert scenario.status(app_id) == AppState.TERMINATED
    assert orders(scenario, app_id) == []  # nothing was paid: nothing to recover


# -- recovery ---------------------------------------------------------------------------------


def terminated_with_recovery(scenario: Scenario, sme: int = 0) -> tuple[int, RecoveryOrder]:
    app_id = contracted(scenario, sme)
    scenario.prefinancing(app_id)
    officer = scenario.people.officer
    scenario.run(lambda s: payments.terminate(s, officer, app_id, reason="Activity abandoned."))
    (order,) = orders(scenario, app_id)
    return app_id, order


def test_termination_with_over_payment_issues_one_recovery_order(
    sessions: sessionmaker[Session],
) -> None:
    scenario = Scenario(sessions, smes=1)
    app_id, order = terminated_with_recovery(scenario)
    app = scenario.application(app_id)
    assert order.amount == PRE
    assert order.status == "open" and order.repaid_amount == Decimal("0.00")
    assert order.reference == f"{app.reference}-REC-1"
    assert order.reason == "Activity abandoned."
    assert timedelta(days=29) <= order.due_on - utcnow().date() <= timedelta(days=31)
    assert kinds(scenario, app_id).count("recovery_order") == 1
    doc = next(d for d in scenario.documents_of(app_id) if d.kind == "recovery_order")
    assert doc.snapshot["details"]["amount"] == "EUR 4,000.00"
    assert doc.snapshot["details"]["reference"] == order.reference
    assert "recovery_order" in mails(scenario, app_id)
    issued = [e for e in scenario.events_of(app_id) if e.action == "issue_recovery_order"]
    assert len(issued) == 1 and issued[0].after["amount"] == "4000.00"


def test_repayments_add_up_and_more_than_owed_is_refused(
    sessions: sessionmaker[Session],
) -> None:
    scenario = Scenario(sessions, smes=1)
    f1 = scenario.people.finance[0]
    app_id, order = terminated_with_recovery(scenario)
    today = recoveries.local_today(scenario.application(app_id)).isoformat()

    def repay(amount: str, *, day: str = today, ref: str = "BANK-1", who=f1) -> None:
        scenario.run(
            lambda s: recoveries.record_repayment(
                s, who, order.id, amount=amount, received_on=day, bank_reference=ref
            )
        )

    with pytest.raises(ValidationFailed) as bad:
        repay("lots", day="yesterday", ref=" ")
    assert set(bad.value.errors) == {"amount", "received_on", "bank_reference"}
    with pytest.raises(ValidationFailed) as future:
        repay("10", day=(utcnow().date() + timedelta(days=3)).isoformat())
    assert set(future.value.errors) == {"received_on"}
    with pytest.raises(TransitionRefused):
        repay("10", who=scenario.people.officer)

    repay("1500,00", ref="BANK-A")
    (partial,) = orders(scenario, app_id)
    assert partial.status == "open" and partial.repaid_amount == Decimal("1500.00")
    assert partial.repayment_reference == "BANK-A" and partial.recorded_by_id == f1.user_id

    with pytest.raises(ValidationFailed) as over:
        repay("2500.01")
    assert set(over.value.errors) == {"amount"}
    assert orders(scenario, app_id)[0].repaid_amount == Decimal("1500.00")

    repay("2500.00", ref="BANK-B")
    (settled,) = orders(scenario, app_id)
    assert settled.status == "repaid" and settled.repaid_amount == PRE
    with pytest.raises(TransitionRefused):
        repay("0.01")

    assert kinds(scenario, app_id).count("repayment_receipt") == 2
    assert mails(scenario, app_id).count("repayment_received") >= 2
    recorded = [e for e in scenario.events_of(app_id) if e.action == "record_repayment"]
    assert [e.after["repaid_amount"] for e in recorded] == ["1500.00", "4000.00"]
    assert [e.after["status"] for e in recorded] == ["open", "repaid"]


def test_racing_repayments_never_exceed_the_order(sessions: sessionmaker[Session]) -> None:
    scenario = Scenario(sessions, smes=1)
    f1, f2 = scenario.people.finance
    app_id, order = terminated_with_recovery(scenario)
    today = recoveries.local_today(scenario.application(app_id)).isoformat()
    attempts = race(
        sessions,
        [
            lambda s, a=a: recoveries.record_repayment(
                s, a, order.id, amount="3000", received_on=today, bank_reference=f"R-{a.user_id}"
            )
            for a in (f1, f2)
        ],
    )
    assert sum(a.ok for a in attempts) == 1
    (after,) = orders(scenario, app_id)
    assert after.repaid_amount == Decimal("3000.00")


# -- HTTP -------------------------------------------------------------------------------------


def listed(client: FlaskClient, status: str, marker: str) -> str:
    """The page of the finance pre-financing list (filtered to ``status``) showing ``marker``:
    the test database is shared, so the row may be on any page."""
    for number in range(1, 200):
        response = client.get(f"/dashboard?list=prefinancing&status={status}&page={number}")
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        if marker in page:
            return page
        if f"page={number + 1}" not in page:
            break
    raise AssertionError(f"{marker} is not on the list")


def test_finance_stops_and_recovers_through_the_pages(
    app: Flask, login: Login, sessions: sessionmaker[Session]
) -> None:
    scenario = Scenario(sessions, smes=3)
    emails = scenario.people.emails
    clients: dict[str, FlaskClient] = {}

    def as_(who: str) -> FlaskClient:
        if who not in clients:
            clients[who] = app.test_client()
            login(clients[who], emails[who])
        return clients[who]

    # A prepared pre-financing on the dashboard: stopped with a reason, by the right roles.
    pre_app = contracted(scenario, 0)
    payment_id = scenario.prefinancing(pre_app, until="prepared")
    page = listed(as_("finance2"), "prepared", f"/payments/{payment_id}/withhold")
    assert f"/payments/{payment_id}/cancel" in page
    detail = as_("officer").get(f"/applications/{pre_app}").get_data(as_text=True)
    assert f"/payments/{payment_id}/withhold" in detail
    assert f"/payments/{payment_id}/cancel" not in detail
    detail = as_("finance1").get(f"/applications/{pre_app}").get_data(as_text=True)
    assert f"/payments/{payment_id}/cancel" in detail
    assert (
        as_("applicant0").post(f"/payments/{payment_id}/cancel", data={"reason": "x"}).status_code
        == 403
    )
    assert (
        as_("officer").post(f"/payments/{payment_id}/cancel", data={"reason": "x"}).status_code
        == 403
    )
    response = as_("finance2").post(f"/payments/{payment_id}/cancel", data={"reason": ""})
    assert response.status_code == 302
    assert scenario.payments_of(pre_app)[0].status == PaymentState.PREPARED
    response = as_("finance2").post(
        f"/payments/{payment_id}/cancel",
        data={"reason": "Wrong IBAN.", "next": "/dashboard?list=prefinancing"},
    )
    assert response.status_code == 302
    assert scenario.payments_of(pre_app)[0].status == PaymentState.CANCELLED
    # Back on the list as to prepare.
    listed(as_("finance1"), "to_prepare", f"/applications/{pre_app}/prefinancing")
    detail = as_("finance1").get(f"/applications/{pre_app}").get_data(as_text=True)
    assert f"/applications/{pre_app}/prefinancing" in detail

    # The balance is stopped from the application page, a step of the registry.
    bal_app = scenario.draft(1)
    scenario.advance(bal_app, AppState.PAYMENT_PREPARED)
    detail = as_("officer").get(f"/applications/{bal_app}").get_data(as_text=True)
    assert "withhold_payment-reason" in detail and "cancel_payment-reason" not in detail
    assert "cancel_payment-reason" in as_("finance1").get(f"/applications/{bal_app}").get_data(
        as_text=True
    )
    response = as_("officer").post(f"/applications/{bal_app}/withhold_payment", data={"reason": ""})
    assert response.status_code == 422
    response = as_("applicant1").post(
        f"/applications/{bal_app}/withhold_payment", data={"reason": "x"}
    )
    assert response.status_code == 403
    response = as_("officer").post(
        f"/applications/{bal_app}/withhold_payment", data={"reason": "Breach of clause 7."}
    )
    assert response.status_code == 302
    assert scenario.status(bal_app) == AppState.REPORT_APPROVED

    # Recovery: the order is listed, overdue ones flagged; only finance records repayments.
    rec_app, order = terminated_with_recovery(scenario, 2)
    with unit_of_work(sessions) as session:
        session.execute(
            update(RecoveryOrder)
            .where(RecoveryOrder.id == order.id)
            .values(due_on=utcnow().date() - timedelta(days=2))
        )
    page = as_("finance1").get("/dashboard").get_data(as_text=True)
    assert order.reference in page and "Overdue" in page
    url = f"/recoveries/{order.id}/repayment"
    today = recoveries.local_today(scenario.application(rec_app)).isoformat()
    data = {"amount": "4000.00", "received_on": today, "bank_reference": "SEPA-BACK"}
    assert as_("officer").post(url, data=data).status_code == 403
    assert as_("applicant2").post(url, data=data).status_code == 403
    assert as_("finance1").post(url, data={**data, "amount": "4000.01"}).status_code == 302
    assert orders(scenario, rec_app)[0].repaid_amount == Decimal("0.00")
    assert as_("finance1").post(url, data=data).status_code == 302
    assert orders(scenario, rec_app)[0].status == "repaid"
    assert as_("finance1").post("/recoveries/999999999/repayment", data=data).status_code == 404
    page = as_("finance1").get("/dashboard").get_data(as_text=True)
    assert order.reference not in page

    with scenario.sessions() as session:
        stops = session.scalars(
            select(AuditEvent.action).where(AuditEvent.application_id.in_([pre_app, bal_app]))
        ).all()
    assert "cancel" in stops and "withhold_payment" in stops
