"""The auditor's trail browser: filters, paging, events in words, documents, the event page,
and the audit of the auditor's own reading."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from grants import programme
from grants.models import Application, AuditEvent, Document
from grants.presenters.audit_trail import PAGE_SIZE
from grants.services import audit
from grants.services.audit_views import VIEWED
from grants.services.documents import DrainResult
from tests.scenario import Scenario
from workflows.voucher import AppState

Login = Callable[[FlaskClient, str], None]
EVENT_LINK = re.compile(r'<th scope="row" class="num"><a href="/audit/events/(\d+)"')
FULL_IBAN = "DE89370400440532013000"
DASH = "\N{EN DASH}"


def logged_in(app: Flask, login: Login, scenario: Scenario, who: str) -> FlaskClient:
    client = app.test_client()
    login(client, scenario.people.emails[who])
    return client


def shown(client: FlaskClient, query: str) -> tuple[set[int], str]:
    response = client.get(f"/audit?{query}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    return {int(i) for i in EVENT_LINK.findall(body)}, body


def ids(sessions: sessionmaker[Session], *conditions: object) -> set[int]:
    with sessions() as session:
        return set(session.scalars(select(AuditEvent.id).where(*conditions)))  # type: ignore[arg-type]


@pytest.fixture
def two_applications(scenario: Scenario) -> tuple[int, int]:
    first = scenario.draft(0)
    scenario.advance(first, AppState.IN_EVALUATION)
    second = scenario.draft(1)
    scenario.submit(second)
    return first, second


def test_each_filter_narrows_to_the_right_events(
    app: Flask,
    login: Login,
    scenario: Scenario,
    sessions: sessionmaker[Session],
    two_applications: tuple[int, int],
) -> None:
    first, second = two_applications
    third = scenario.draft(2)  # in the call, by the third SME, only a draft
    call_ref = scenario.application(first).call.reference
    ref_first = scenario.application(first).reference
    auditor = logged_in(app, login, scenario, "auditor")
    mine = (first, second, third)

    in_call = ids(
        sessions,
        or_(
            AuditEvent.application_id.in_(mine),
            and_(AuditEvent.entity_type == "call", AuditEvent.entity_id == call_ref),
        ),
    )
    got, body = shown(auditor, f"call={call_ref}")
    assert got == in_call and len(in_call) < PAGE_SIZE
    assert f"{len(in_call)} events match the filters." in body

    got, _ = shown(auditor, f"reference={ref_first}")
    assert got == ids(sessions, AuditEvent.application_id == first)

    with sessions() as session:
        organisation = session.get(Application, second).organisation.legal_name  # type: ignore[union-attr]
    got, _ = shown(auditor, f"organisation={organisation.split(' S.r.l.')[0]}")
    assert got == ids(sessions, AuditEvent.application_id == second)

    officer = scenario.people.officer
    got, _ = shown(auditor, f"actor={officer.name.upper()}")
    assert got and got == ids(sessions, AuditEvent.actor_id == officer.user_id)
    got, _ = shown(auditor, f"actor={scenario.people.emails['officer']}")
    assert got == ids(sessions, AuditEvent.actor_id == officer.user_id)

    # Role within the call: the applicants' own steps only.
    got, _ = shown(auditor, f"call={call_ref}&role=applicant")
    assert got == in_call & ids(sessions, AuditEvent.actor_role == "applicant")
    assert got and got < in_call

    # The action, as words: the submissions of the two submitted applications.
    got, body = shown(auditor, f"call={call_ref}&action=application-submitted")
    submitted = ids(sessions, AuditEvent.application_id.in_(mine), AuditEvent.action == "submit")
    assert got == submitted and len(submitted) == 2
    assert '<option value="application-submitted" selected>Application submitted</option>' in body

    # Local dates in the programme's timezone, the end date included.
    today = datetime.now(ZoneInfo(programme.PROGRAMME_TIMEZONE)).date()
    got, _ = shown(auditor, f"call={call_ref}&date_from={today - timedelta(1)}&date_to={today}")
    assert got == in_call
    got, body = shown(auditor, f"call={call_ref}&date_to={today - timedelta(1)}")
    assert got == set() and "0 events match the filters." in body
    got, _ = shown(auditor, f"call={call_ref}&date_from={today + timedelta(1)}")
    assert got == set()


def test_filters_combine_and_bad_input_is_named_not_lost(
    app: Flask,
    login: Login,
    scenario: Scenario,
    sessions: sessionmaker[Session],
    two_applications: tuple[int, int],
) -> None:
    first, _second = two_applications
    application = scenario.application(first)
    officer = scenario.people.officer
    client = logged_in(app, login, scenario, "officer")  # officers read the trail too

    got, body = shown(
        client,
        f"call={application.call.reference}&reference={application.reference}"
        f"&actor={officer.name}&action=evaluators-assigned",
    )
    assert got == ids(
        sessions, AuditEvent.application_id == first, AuditEvent.action == "assign_evaluators"
    )
    assert len(got) == 1 and "1 event matches the filters." in body

    got, body = shown(client, f"reference={application.reference}&date_from=31/12/2026&role=nobody")
    assert got == ids(sessions, AuditEvent.application_id == first)  # the rest still applies
    assert "Enter a date as year-month-day" in body and "Choose a role from the list." in body
    assert 'value="31/12/2026"' in body  # what was typed is shown back
    assert 'aria-invalid="true"' in body


def test_paging_happens_in_the_database_with_counts(
    app: Flask, login: Login, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    app_id = scenario.draft()
    reference = scenario.application(app_id).reference
    owner = scenario.owner(app_id)

    def many(session: Session) -> None:
        for n in range(PAGE_SIZE + 7):
            audit.record(
                session,
                owner,
                "save_draft",
                entity_type="application",
                entity_id=reference,
                application_id=app_id,
                after={"title": f"Draft {n}"},
            )

    scenario.run(many)
    expected = ids(sessions, AuditEvent.application_id == app_id)
    auditor = logged_in(app, login, scenario, "auditor")
    first_page, body = shown(auditor, f"reference={reference}")
    assert len(first_page) == PAGE_SIZE
    assert f"Showing 1{DASH}{PAGE_SIZE} of {len(expected)}." in body
    assert "Page 1 of 2" in body and f"page=2&amp;reference={reference}" in body
    second_page, body = shown(auditor, f"reference={reference}&page=2")
    assert f"Showing {PAGE_SIZE + 1}{DASH}{len(expected)} of {len(expected)}." in body
    assert first_page | second_page == expected and not first_page & second_page
    assert min(first_page) > max(second_page)  # newest first
    # A page past the end shows the last one.
    assert shown(auditor, f"reference={reference}&page=99")[0] == second_page


def test_events_read_in_words_with_money_dates_and_masked_ibans(
    app: Flask,
    login: Login,
    scenario: Scenario,
    sessions: sessionmaker[Session],
    two_applications: tuple[int, int],
) -> None:
    first, _ = two_applications
    reference = scenario.application(first).reference
    officer = scenario.people.officer
    event_id = scenario.run(
        lambda s: (
            audit.record(
                s,
                officer,
                "offer",
                entity_type="application",
                entity_id=reference,
                application_id=first,
                before={"status": "selected", "awarded_amount": None},
                after={
                    "status": "offered",
                    "awarded_amount": "8000.00",
                    "iban": FULL_IBAN,
                    "offer_deadline": "2026-12-31T16:00:00+00:00",
                },
            ).id
        )
    )
    auditor = logged_in(app, login, scenario, "auditor")
    _, trail = shown(auditor, f"reference={reference}")
    for words in ("Application submitted", "Evaluators assigned", "Eligibility decided"):
        assert words in trail
    for trigger in ("assign_evaluators", "check_eligibility", "submit_scores", "awarded_amount"):
        assert trigger not in trail
    assert "Awarded amount:" in trail and "EUR 8,000.00" in trail
    assert "Offer deadline:" in trail and "2026-12-31 17:00 CET" in trail
    assert "DE89 3704 0044 0532 0130 00" in trail  # auditors see the full IBAN

    page = auditor.get(f"/audit/events/{event_id}").get_data(as_text=True)
    assert "Selected" in page and "Offered" in page and "EUR 8,000.00" in page

    officer_client = logged_in(app, login, scenario, "officer")
    for view in (f"/audit?reference={reference}", f"/audit/events/{event_id}"):
        body = officer_client.get(view).get_data(as_text=True)
        assert "DE89 **** **** 3000" in body and FULL_IBAN not in body
        assert "DE89 3704" not in body


def test_documents_of_an_event_are_linked_and_the_event_page_shows_the_chain(
    app: Flask,
    login: Login,
    scenario: Scenario,
    sessions: sessionmaker[Session],
    render_documents: Callable[[], DrainResult],
) -> None:
    app_id = scenario.draft()
    scenario.submit(app_id)
    render_documents()
    reference = scenario.application(app_id).reference
    with sessions() as session:
        receipt = session.scalars(
            select(Document).where(
                Document.application_id == app_id, Document.kind == "submission_receipt"
            )
        ).one()
        event = session.get(AuditEvent, receipt.audit_event_id)
        assert event is not None and event.seq is not None
        before = session.scalar(select(AuditEvent).where(AuditEvent.seq == event.seq - 1))
        assert before is not None
    auditor = logged_in(app, login, scenario, "auditor")
    _, trail = shown(auditor, f"reference={reference}")
    link = f'<a href="/documents/{receipt.id}">Submission receipt</a>'
    assert link in trail

    response = auditor.get(f"/audit/events/{event.id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert link in page
    assert "Application submitted" in page and "submit" not in re.sub(r"<[^>]+>", " ", page).split()
    assert event.hash in page and event.prev_hash in page and before.hash == event.prev_hash
    assert f"Position {event.seq} of " in page and "Hash and link check out" in page
    assert f'href="/audit/events/{before.id}" rel="prev"' in page
    assert auditor.get(f"/audit/events/{receipt.audit_event_id + 10**9}").status_code == 404
    download = auditor.get(f"/documents/{receipt.id}")
    assert download.status_code == 200 and download.data.startswith(b"%PDF")


def test_the_auditors_reading_is_itself_audited_once_per_view(
    app: Flask, login: Login, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    app_id = scenario.draft()
    reference = scenario.application(app_id).reference
    call_ref = scenario.application(app_id).call.reference
    auditor_id = scenario.people.auditor.user_id

    def views() -> list[AuditEvent]:
        with sessions() as session:
            return list(
                session.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.action == VIEWED, AuditEvent.actor_id == auditor_id)
                    .order_by(AuditEvent.id)
                )
            )

    auditor = logged_in(app, login, scenario, "auditor")
    assert auditor.get(f"/audit?call={call_ref}&role=applicant").status_code == 200
    recorded = views()
    assert len(recorded) == 1
    assert recorded[0].after == {
        "page": "auditor.index",
        "filters": {"call": call_ref, "role": "applicant"},
    }
    assert recorded[0].application_id is None  # the application's own history is untouched

    # Paging through the same result, or reloading it, right away: no second event.
    auditor.get(f"/audit?call={call_ref}&role=applicant&page=2")
    auditor.get(f"/audit?call={call_ref}&role=applicant")
    assert len(views()) == 1
    # Other filters, an event's page, the export: each recorded.
    auditor.get(f"/audit?reference={reference}")
    event_id = scenario.events_of(app_id)[0].id
    auditor.get(f"/audit/events/{event_id}")
    with auditor.get("/audit/export.csv") as response:
        assert response.status_code == 200
    recorded = views()
    assert [e.after for e in recorded[1:]] == [
        {"page": "auditor.index", "filters": {"reference": reference}},
        {"page": "auditor.event", "target": str(event_id)},
        {"page": "auditor.export_csv"},
    ]
    # ...and shown in words in the trail itself.
    _, body = shown(auditor, f"actor={scenario.people.emails['auditor']}")
    assert "Audit pages viewed" in body
    assert '<span class="change-label">Page:</span> <span class="change-after">Audit trail<' in body
    assert "auditor_viewed" not in body and "auditor.index" not in body
    auditor.get(f"/audit?call={call_ref}&action=application-submitted")
    _, body = shown(auditor, f"actor={scenario.people.emails['auditor']}")
    assert "Action: Application submitted" in body
    # The chain is still whole.
    with sessions() as session:
        assert audit.verify_chain(session).ok


@pytest.mark.parametrize("who", ["applicant0", "evaluator1", "finance1", "admin"])
def test_only_auditors_and_officers_browse_the_trail(
    app: Flask, login: Login, scenario: Scenario, who: str
) -> None:
    event_id = scenario.events_of(scenario.draft())[0].id
    client = logged_in(app, login, scenario, who)
    assert client.get("/audit?role=officer").status_code == 403
    assert client.get(f"/audit/events/{event_id}").status_code == 403
    for allowed in ("auditor", "officer"):
        reader = logged_in(app, login, scenario, allowed)
        assert reader.get(f"/audit/events/{event_id}").status_code == 200
