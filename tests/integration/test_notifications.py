"""Every step that concerns a person mails them, once, from the registry; reminders too."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from grants.errors import ValidationFailed
from grants.formatting import format_eur
from grants.models import AuditEvent, Document, MailMessage, Payment
from grants.services import awards, payments, reporting
from grants.services.expectations import report_due
from grants.services.reminders import send_due
from grants.steps import Recipient, find
from tests.scenario import Scenario
from workflows.errors import TransitionRefused
from workflows.voucher import AppState


def outbox(sessions: sessionmaker[Session], app_id: int) -> list[MailMessage]:
    with sessions() as session:
        return list(
            session.scalars(
                select(MailMessage)
                .where(MailMessage.application_id == app_id)
                .order_by(MailMessage.id)
            )
        )


def step_mails(messages: list[MailMessage], event: AuditEvent) -> list[MailMessage]:
    return [m for m in messages if (m.dedupe_key or "").startswith(f"step:{event.id}:")]


def walk_every_step(scenario: Scenario, app_id: int) -> None:
    """Draft to closed, with the pre-financing and a report returned once."""
    officer, (f1, f2) = scenario.people.officer, scenario.people.finance
    owner = scenario.owner(app_id)
    scenario.advance(app_id, AppState.CONTRACTED)
    scenario.prefinancing(app_id)

    def report(s: Session) -> object:
        return reporting.submit_report(
            s, owner, app_id, summary="Training delivered.", claimed_costs="8200.00"
        )

    scenario.run(report)
    scenario.run(lambda s: reporting.return_report(s, officer, app_id, comments="Add invoices."))
    scenario.run(report)
    scenario.run(
        lambda s: reporting.approve_report(
            s, officer, app_id, approved_costs="8000.00", comments="In order."
        )
    )
    scenario.run(lambda s: payments.prepare_payment(s, f1, app_id))
    scenario.run(lambda s: payments.authorise_payment(s, f2, app_id))
    scenario.run(lambda s: payments.mark_paid(s, f1, app_id, payment_reference="SEPA-9"))
    scenario.run(lambda s: payments.close(s, officer, app_id))


def test_each_step_mails_whom_it_concerns_once_with_its_pdf(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    app_id = scenario.draft()
    walk_every_step(scenario, app_id)
    assert scenario.status(app_id) == AppState.CLOSED
    messages = outbox(sessions, app_id)
    documents = {d.audit_event_id: d for d in scenario.documents_of(app_id)}
    people = scenario.people
    applicant = people.emails["applicant0"]
    experts = {people.emails["evaluator1"], people.emails["evaluator2"]}
    finance = {people.emails["finance1"], people.emails["finance2"]}
    names = {a.user_id: key for key, a in _actors(scenario).items()}

    seen: set[str] = set()
    for event in scenario.events_of(app_id):
        workflow = "payment" if event.entity_type == "payment" else "voucher"
        step = find(workflow, event.action)
        if step is None:
            continue
        mails = step_mails(messages, event)
        notices = step.notices_for(event.after["status"])
        if _is_balance_row(sessions, event):
            # The balance instalment moves inside the application's own step, which tells.
            assert mails == [], f"{event.action} of the balance row mailed on its own"
            continue
        expected: set[tuple[str, str]] = set()
        for notice in notices:
            if notice.to is Recipient.APPLICANT:
                expected.add((notice.mail, applicant))
            elif notice.to is Recipient.EVALUATORS:
                expected |= {(notice.mail, e) for e in experts}
            else:
                actor_email = people.emails.get(names.get(event.actor_id, ""), "")
                expected |= {(notice.mail, f) for f in finance - {actor_email}}
        got = {(m.purpose, m.to_address) for m in mails}
        # Finance notices reach every active finance officer; this scenario's are among them.
        finance_mails = {n.mail for n in notices if n.to is Recipient.FINANCE}
        assert expected <= got, f"{event.action}: missing {expected - got}"
        assert {g for g in got if g[0] not in finance_mails} == {
            e for e in expected if e[0] not in finance_mails
        }, f"{event.action}: unexpected {got - expected}"
        assert len(mails) == len(got), f"{event.action}: a recipient was mailed twice"
        document = documents.get(event.id)
        for message in mails:
            attach = next(n.attach for n in notices if n.mail == message.purpose)
            want = document.id if attach and document is not None else None
            assert message.document_id == want, f"{event.action}: {message.purpose}"
            assert "_" not in message.subject.split(":")[0]
        seen |= {m.purpose for m in mails}
    assert {
        "submission_receipt",
        "eligibility_decision",
        "evaluation_assignment",
        "result_letter",
        "voucher_offer",
        "agreement_signed",
        "voucher_contracted",
        "payment_authorised",
        "payment_paid",
        "report_acknowledgement",
        "report_returned",
        "report_approved",
        "balance_to_prepare",
        "payment_to_authorise",
        "closure_certificate",
    } <= seen


def _actors(scenario: Scenario) -> dict[str, object]:
    people = scenario.people
    found: dict[str, object] = {"officer": people.officer}
    found |= {f"finance{i}": a for i, a in enumerate(people.finance, 1)}
    found |= {f"evaluator{i}": a for i, a in enumerate(people.evaluators, 1)}
    found |= {f"applicant{i}": a for i, a in enumerate(people.applicants)}
    return found


def _is_balance_row(sessions: sessionmaker[Session], event: AuditEvent) -> bool:
    if event.entity_type != "payment":
        return False
    with sessions() as session:
        payment = session.get(Payment, int(event.entity_id))
        return payment is not None and payment.instalment == "balance"


def test_mails_say_what_happened_in_words_with_the_facts_that_matter(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.OFFERED)
    app = scenario.application(app_id)
    assert app.offer_deadline is not None
    window = timedelta(days=app.call.offer_acceptance_days)
    assert abs(app.offer_deadline - app.updated_at - window) < timedelta(minutes=1)
    by_purpose = {m.purpose: m for m in outbox(sessions, app_id)}
    offer = by_purpose["voucher_offer"]
    zone = ZoneInfo(app.call.timezone)
    deadline_text = app.offer_deadline.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    assert deadline_text in offer.subject and deadline_text in offer.body_text
    assert format_eur(app.awarded_amount) in offer.body_text  # type: ignore[arg-type]
    assert "Decision: Eligible." in by_purpose["eligibility_decision"].body_text
    assert "Selected for funding" in by_purpose["result_letter"].body_text
    assert app.reference in by_purpose["evaluation_assignment"].subject
    for message in by_purpose.values():
        assert "{{" not in message.body_text and "None" not in message.body_text


def test_a_refused_step_mails_nobody(scenario: Scenario, sessions: sessionmaker[Session]) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.OFFERED)
    before = len(outbox(sessions, app_id))
    scenario.accept(app_id)
    after_accept = len(outbox(sessions, app_id))
    assert after_accept > before
    with pytest.raises(TransitionRefused):
        scenario.accept(app_id)  # a double click: refused, and nothing more is sent
    with pytest.raises(TransitionRefused):
        scenario.run(lambda s: awards.offer(s, scenario.people.officer, app_id))
    assert len(outbox(sessions, app_id)) == after_accept


def test_an_ineligible_decision_tells_the_reasons_and_the_redress_window(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    app_id = scenario.draft()
    scenario.submit(app_id)
    scenario.check_eligibility(app_id, passed=False)
    message = next(m for m in outbox(sessions, app_id) if m.purpose == "eligibility_decision")
    assert "Ineligible" in message.body_text and "redress" in message.body_text
    # The window's end, on the call's clock: the end of the call's redress days.
    app = scenario.application(app_id)
    decided = datetime.fromisoformat(app.eligibility["decided_at"])  # type: ignore[index]
    zone = ZoneInfo(app.call.timezone)
    last = decided.astimezone(zone).date() + timedelta(days=app.call.redress_days)
    assert f"until {last.isoformat()} 23:59" in message.body_text
    assert message.document_id is not None
    with sessions() as session:
        document = session.get(Document, message.document_id)
        assert document is not None and document.kind == "eligibility_decision"


# -- reminders -------------------------------------------------------------------------------


def reminders(sessions: sessionmaker[Session], app_id: int) -> list[str]:
    return [
        m.purpose for m in outbox(sessions, app_id) if (m.dedupe_key or "").startswith("remind:")
    ]


def test_offer_reminders_go_out_once_before_and_once_after_the_deadline(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.OFFERED)
    deadline = scenario.application(app_id).offer_deadline
    assert deadline is not None

    def remind_at(moment: object) -> list[str]:
        sent = scenario.run(lambda s: send_due(s, moment))  # type: ignore[arg-type]
        return [item.mail for item in sent if item.reference == app.reference]

    app = scenario.application(app_id)
    assert remind_at(deadline - timedelta(days=5)) == []
    assert remind_at(deadline - timedelta(days=2)) == ["offer_reminder"]
    assert remind_at(deadline - timedelta(days=1)) == []  # once, however often cron runs
    assert remind_at(deadline + timedelta(minutes=1)) == ["offer_overdue"]
    assert remind_at(deadline + timedelta(days=3)) == []
    assert reminders(sessions, app_id) == ["offer_reminder", "offer_overdue"]
    scenario.accept(app_id)  # a contracted voucher is no longer reminded of its offer
    assert "offer" not in " ".join(remind_at(deadline + timedelta(days=4)))


def test_report_reminders_through_the_command(
    app: Flask, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.CONTRACTED)
    application = scenario.application(app_id)
    due = report_due(application)
    assert due is not None
    runner = app.test_cli_runner()

    def remind(moment: str) -> Result:
        result = runner.invoke(args=["remind", "--at", moment])
        assert result.exit_code == 0, result.output
        return result

    early = remind(f"{due - timedelta(days=10)}T12:00+00:00")
    assert application.reference not in early.output
    soon = remind(f"{due - timedelta(days=3)}T12:00+00:00")
    assert f"{application.reference}: report_reminder" in soon.output
    again = remind(f"{due - timedelta(days=2)}T12:00+00:00")
    assert application.reference not in again.output
    late = remind(f"{due + timedelta(days=2)}T12:00+00:00")
    assert f"{application.reference}: report_overdue" in late.output
    assert reminders(sessions, app_id) == ["report_reminder", "report_overdue"]
    message = next(m for m in outbox(sessions, app_id) if m.purpose == "report_overdue")
    assert due.isoformat() in message.subject


def test_a_call_sets_its_acceptance_window_and_refuses_a_nonsense_one(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    call_id = scenario.add_call(offer_acceptance_days=5, report_window_days=60)
    app_id = scenario.draft(call_id=call_id)
    scenario.advance(app_id, AppState.OFFERED)
    app = scenario.application(app_id)
    assert app.offer_deadline is not None
    window = app.offer_deadline - app.updated_at
    assert abs(window - timedelta(days=5)) < timedelta(minutes=1)
    with pytest.raises(ValidationFailed) as refused:
        scenario.add_call(offer_acceptance_days=0)
    assert "offer_acceptance_days" in refused.value.errors
