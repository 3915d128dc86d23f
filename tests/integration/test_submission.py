"""Submission: the server-side deadline in the call's timezone, idempotent submit, the receipt
by e-mail, and a fingerprint that covers the attached files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from grants.db import utcnow
from grants.models import Application, AuditEvent, Call, Document, MailMessage, Organisation
from grants.runtime import Runtime
from grants.services import applications
from tests.scenario import Scenario, pdf_bytes, pending_documents_discarded
from workflows.errors import TransitionRefused
from workflows.voucher import AppState

Login = Callable[[FlaskClient, str], None]
BRUSSELS = ZoneInfo("Europe/Brussels")
TOKEN = "k3Xq9w-double-click_token"


@pytest.fixture(autouse=True)
def _no_rendering(sessions: sessionmaker[Session]) -> Iterator[None]:
    # These tests read the receipt's snapshot, not its PDF.
    with pending_documents_discarded(sessions):
        yield


def five_pm_brussels(days_ahead: int) -> datetime:
    day = (utcnow() + timedelta(days=days_ahead)).date()
    return datetime.combine(day, time(17, 0), tzinfo=BRUSSELS).astimezone(ZoneInfo("UTC"))


def receipts(scenario: Scenario, app_id: int) -> list[Document]:
    return [d for d in scenario.documents_of(app_id) if d.kind == "submission_receipt"]


def submit_events(scenario: Scenario, app_id: int) -> list[AuditEvent]:
    return [e for e in scenario.events_of(app_id) if e.action == "submit"]


def mails(sessions: sessionmaker[Session], app_id: int) -> list[MailMessage]:
    with sessions() as session:
        return list(
            session.scalars(
                select(MailMessage)
                .where(MailMessage.application_id == app_id)
                .order_by(MailMessage.id)
            )
        )


# -- the deadline ----------------------------------------------------------------------------


def test_the_deadline_is_17_00_brussels_to_the_second(scenario: Scenario) -> None:
    deadline = five_pm_brussels(45)
    assert deadline.astimezone(BRUSSELS).hour == 17 and deadline.utcoffset() == timedelta(0)
    assert deadline.hour in (15, 16)  # 17:00 in Brussels is not 17:00 UTC
    call_id = scenario.add_call(deadline=deadline, timezone="Europe/Brussels")
    on_time = scenario.draft(0, call_id=call_id)
    late = scenario.draft(1, call_id=call_id)

    with pytest.raises(TransitionRefused, match="deadline has passed"):
        scenario.run(
            lambda s: applications.submit(
                s, scenario.owner(late), late, now=deadline + timedelta(seconds=1)
            )
        )
    # Exactly at the deadline is too late as well: the server's clock decides, to the second.
    with pytest.raises(TransitionRefused, match="deadline has passed"):
        scenario.run(lambda s: applications.submit(s, scenario.owner(late), late, now=deadline))
    assert scenario.status(late) == AppState.DRAFT
    assert submit_events(scenario, late) == [] and receipts(scenario, late) == []

    one_second_before = deadline - timedelta(seconds=1)
    scenario.run(
        lambda s: applications.submit(s, scenario.owner(on_time), on_time, now=one_second_before)
    )
    app = scenario.application(on_time)
    assert app.status == AppState.SUBMITTED and app.submitted_at == one_second_before
    (receipt,) = receipts(scenario, on_time)
    # The receipt states the time in the call's timezone (and in UTC).
    assert receipt.snapshot["details"]["submitted_at"].startswith(
        one_second_before.astimezone(BRUSSELS).strftime("%Y-%m-%d 16:59 ")
    )


def _move_deadline(sessions: sessionmaker[Session], call_id: int, deadline: datetime) -> None:
    with sessions() as session, session.begin():
        call = session.get(Call, call_id)
        assert call is not None
        call.deadline = deadline


def test_the_server_refuses_a_submission_through_the_web_once_the_deadline_passed(
    client: FlaskClient, login: Login, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    call_id = scenario.add_call(timezone="Europe/Brussels")
    late = scenario.draft(0, call_id=call_id)
    # The call's deadline passed a second ago (the call was open when the draft started).
    _move_deadline(sessions, call_id, utcnow().replace(microsecond=0) - timedelta(seconds=1))
    login(client, scenario.people.emails["applicant0"])
    page = client.post(
        f"/applications/{late}/submit", data={"submission_token": TOKEN}, follow_redirects=True
    )
    body = page.get_data(as_text=True)
    assert "deadline has passed" in body
    assert scenario.status(late) == AppState.DRAFT
    assert mails(sessions, late) == []

    # A call whose deadline is a minute away still accepts it.
    _move_deadline(sessions, call_id, utcnow() + timedelta(minutes=1))
    page = client.post(
        f"/applications/{late}/submit", data={"submission_token": TOKEN}, follow_redirects=True
    )
    assert "Application submitted" in page.get_data(as_text=True)
    assert scenario.status(late) == AppState.SUBMITTED


# -- idempotent submission and the receipt mail ----------------------------------------------


def test_a_double_submit_with_the_same_token_is_one_submission_one_receipt_one_mail(
    client: FlaskClient, login: Login, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    app_id = scenario.draft()
    login(client, scenario.people.emails["applicant0"])
    edit = client.get(f"/applications/{app_id}/edit").get_data(as_text=True)
    token = edit.split('name="submission_token" value="')[1].split('"')[0]
    assert len(token) >= 24

    # Both clicks (or a retried request) land on the success page.
    for _click in range(2):
        response = client.post(f"/applications/{app_id}/submit", data={"submission_token": token})
        assert response.status_code == 302
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "flash-success" in page and "Application submitted" in page
        assert "flash-error" not in page
    assert len(submit_events(scenario, app_id)) == 1
    assert len(receipts(scenario, app_id)) == 1
    assert len(mails(sessions, app_id)) == 1
    assert scenario.application(app_id).submission_token == token

    # Without the token, or with another, it is a second submission: refused as ever.
    for data in ({}, {"submission_token": "another-token-123"}):
        page = client.post(f"/applications/{app_id}/submit", data=data, follow_redirects=True)
        assert "flash-error" in page.get_data(as_text=True)
    assert len(submit_events(scenario, app_id)) == 1
    assert len(receipts(scenario, app_id)) == 1
    assert len(mails(sessions, app_id)) == 1


def test_the_same_token_returns_the_first_result_from_the_service(scenario: Scenario) -> None:
    app_id = scenario.draft()
    owner = scenario.owner(app_id)
    first = scenario.run(lambda s: applications.submit(s, owner, app_id, token=TOKEN))
    submitted_at = scenario.application(app_id).submitted_at
    again = scenario.run(lambda s: applications.submit(s, owner, app_id, token=TOKEN, now=utcnow()))
    assert (again.event.id, again.dest) == (first.event.id, AppState.SUBMITTED)
    assert again.document is not None and first.document is not None
    assert again.document.id == first.document.id
    assert scenario.application(app_id).submitted_at == submitted_at
    with pytest.raises(TransitionRefused, match="while it is submitted"):
        scenario.run(lambda s: applications.submit(s, owner, app_id, token="other-token-1"))
    with pytest.raises(TransitionRefused, match="damaged"):
        scenario.run(lambda s: applications.submit(s, owner, app_id, token="<script>"))
    # Another SME's staff cannot use the token to learn anything.
    stranger = scenario.people.applicants[1]
    with pytest.raises(TransitionRefused, match="applicant organisation"):
        scenario.run(lambda s: applications.submit(s, stranger, app_id, token=TOKEN))


def test_a_refused_submission_does_not_use_up_its_token(scenario: Scenario) -> None:
    app_id = scenario.draft(sign=False)
    owner = scenario.owner(app_id)
    with pytest.raises(TransitionRefused, match="declaration of honour"):
        scenario.run(lambda s: applications.submit(s, owner, app_id, token=TOKEN))
    assert scenario.application(app_id).submission_token is None
    with scenario.sessions() as session, session.begin():
        app = session.get(Application, app_id)
        assert app is not None
        app.declaration_signed = True
    scenario.run(lambda s: applications.submit(s, owner, app_id, token=TOKEN))
    assert scenario.status(app_id) == AppState.SUBMITTED


def test_the_receipt_mail_is_queued_with_the_receipt_document(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    app_id = scenario.draft()
    org_id = scenario.application(app_id).organisation_id
    with sessions() as session, session.begin():
        org = session.get(Organisation, org_id)
        assert org is not None
        org.contact_email = "Contact@SME.example"
    owner = scenario.owner(app_id)
    result = scenario.run(lambda s: applications.submit(s, owner, app_id, token=TOKEN))
    app = scenario.application(app_id)
    assert result.document is not None
    sent = mails(sessions, app_id)
    assert sorted(m.to_address for m in sent) == sorted(
        [scenario.people.emails["applicant0"], "contact@sme.example"]
    )
    for message in sent:
        assert message.purpose == "submission_receipt"
        assert message.document_id == result.document.id
        assert app.reference in message.subject
        assert app.content_sha256 and app.content_sha256 in message.body_text
        assert app.reference in message.body_text
        assert app.submitted_at is not None
        local = app.submitted_at.astimezone(ZoneInfo(app.call.timezone))
        assert local.strftime("%Y-%m-%d %H:%M") in message.body_text


def test_the_contact_is_not_mailed_twice_when_it_is_the_submitter(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    app_id = scenario.draft()
    with sessions() as session, session.begin():
        org = session.get(Organisation, scenario.application(app_id).organisation_id)
        assert org is not None
        org.contact_email = scenario.people.emails["applicant0"].upper()
    scenario.submit(app_id)
    assert [m.to_address for m in mails(sessions, app_id)] == [scenario.people.emails["applicant0"]]


# -- what is submitted -----------------------------------------------------------------------


def test_the_completeness_check_lists_every_missing_item(
    client: FlaskClient, login: Login, scenario: Scenario
) -> None:
    answers = {
        "summary": "Only a summary.",
        "budget_lines": [{"item": "Course", "cost": "5000"}],
        "provider_country": "XX",
    }
    app_id = scenario.draft(answers=answers, amount="8000", sign=False)
    login(client, scenario.people.emails["applicant0"])
    page = client.post(
        f"/applications/{app_id}/submit", data={"submission_token": TOKEN}, follow_redirects=True
    ).get_data(as_text=True)
    for missing in (
        "Objectives",
        "Strategic technology targeted",
        "Planned start date",
        "Budget, line 1: Category",
        "Country where the service provider is established (Choose a country from the list.)",
        "Budget: The total of Cost (EUR) is EUR 5,000.00; it must equal the requested amount "
        "(EUR 8,000.00).",
        "Declaration of honour: Sign the declaration of honour.",
    ):
        assert missing in page, missing
    # Back on the form: the summary links each answer to correct to its field.
    assert 'id="draft-form"' in page
    summary = page.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    for field in ("objectives", "strategic_technology", "provider_country", "declaration_signed"):
        assert f'href="#{field}"' in summary, field
    assert scenario.status(app_id) == AppState.DRAFT


def test_the_fingerprint_covers_the_attached_files(scenario: Scenario, runtime: Runtime) -> None:
    app_id = scenario.draft()
    with scenario.sessions() as session:
        app = session.get(Application, app_id)
        assert app is not None
        plain = applications.content_sha256(app)
    scenario.attach(app_id, runtime.storage, data=pdf_bytes(marker=b"first"))
    with scenario.sessions() as session:
        app = session.get(Application, app_id)
        assert app is not None
        with_first = applications.content_sha256(app)
    scenario.attach(app_id, runtime.storage, data=pdf_bytes(marker=b"second"))
    with scenario.sessions() as session:
        app = session.get(Application, app_id)
        assert app is not None
        with_second = applications.content_sha256(app)
        (quote,) = applications.current_attachments(app).values()
    # Same answers, another file: another fingerprint.
    assert len({plain, with_first, with_second}) == 3
    scenario.submit(app_id)
    app = scenario.application(app_id)
    assert app.content_sha256 == with_second
    (receipt,) = receipts(scenario, app_id)
    shown = {row["label"]: row["value"] for row in receipt.snapshot["details"]["answers"]}
    assert quote.sha256 in shown["Quote from the service provider"]
    assert shown["Budget"] == (
        "1. Sonar course · Training and certification · EUR 6,500.00\n"
        "2. Pilot support · Service provider fees · EUR 1,500.00\n"
        "Total Cost (EUR): EUR 8,000.00"
    )
    assert shown["Country where the service provider is established"] == "Italy (IT)"


def test_after_submitting_the_applicant_reads_what_happens_next_and_withdraw_is_secondary(
    scenario: Scenario, client: FlaskClient, login: Callable[[FlaskClient, str], None]
) -> None:
    app_id = scenario.draft(0)
    scenario.submit(app_id)
    login(client, scenario.people.emails["applicant0"])
    page = client.get(f"/applications/{app_id}").get_data(as_text=True)

    panel = page.split('aria-labelledby="submitted-h"', 1)[1].split("</section>", 1)[0]
    assert "Your application is submitted" in panel and "What happens next" in panel
    assert scenario.application(app_id).reference in panel
    # The test call ranks in batches while open; two experts; 14 days to accept an offer.
    assert "in the next batch" in panel and "2 independent experts" in panel
    assert "14 days to accept" in panel
    # Withdrawing is one click away inside a closed disclosure, not the page's main action.
    withdraw = page.split('id="action-withdraw-more"', 1)
    assert len(withdraw) == 2 and withdraw[0].rstrip().endswith(
        '<details class="card action-card secondary-action"'
    )
    assert "<summary>" in withdraw[1].split("</details>", 1)[0]
    assert f'action="/applications/{app_id}/withdraw"' in withdraw[1].split("</details>", 1)[0]
