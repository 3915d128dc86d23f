"""Redress: the applicant asks for the review of an eligibility or evaluation decision within
the call's window (counted on the call's clock); an officer upholds or rejects it with reasons
and a letter; an upheld evaluation request is evaluated again by experts who have not seen it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from grants.models import Application, Evaluation, EvaluationStatus, MailMessage, RedressRequest
from grants.services import redress
from tests.scenario import Scenario
from workflows.errors import TransitionRefused
from workflows.voucher import AppState

Login = Callable[[FlaskClient, str], None]
ZAGREB = ZoneInfo("Europe/Zagreb")


def ineligible(scenario: Scenario, call_id: int | None = None, sme: int = 0) -> int:
    app_id = scenario.draft(sme, call_id=call_id)
    scenario.submit(app_id)
    scenario.check_eligibility(app_id, passed=False)
    assert scenario.status(app_id) == AppState.INELIGIBLE
    return app_id


def window(scenario: Scenario, app_id: int) -> redress.Window:
    def read(session: Session) -> redress.Window:
        found = redress.window_of(session, session.get_one(Application, app_id))
        assert found is not None
        return found

    return scenario.run(read)


def test_an_upheld_eligibility_request_goes_back_to_the_check_with_letters(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    app_id = ineligible(scenario)
    request_id = scenario.redress(app_id, "The registration date was misread.")
    kinds = [d.kind for d in scenario.documents_of(app_id)]
    assert "redress_acknowledgement" in kinds
    with sessions() as session:
        purposes = set(
            session.scalars(select(MailMessage.purpose).where(MailMessage.application_id == app_id))
        )
    assert {"redress_received", "redress_filed"} <= purposes

    officer = scenario.people.officer
    scenario.run(
        lambda s: redress.decide(
            s, officer, request_id, upheld=True, reasons="The register shows 2015."
        )
    )
    assert scenario.status(app_id) == AppState.SUBMITTED
    with sessions() as session:
        decided = session.get_one(RedressRequest, request_id)
        assert (decided.status, decided.reasons) == ("upheld", "The register shows 2015.")
        assert decided.decided_by_id == officer.user_id
    assert [e.action for e in scenario.events_of(app_id)][-3:] == [
        "request_redress",
        "uphold",
        "redress",
    ]
    assert [d.kind for d in scenario.documents_of(app_id)].count("redress_decision") == 1
    scenario.check_eligibility(app_id, passed=True)
    assert scenario.status(app_id) == AppState.ELIGIBLE


def test_a_rejected_request_leaves_the_decision_and_one_request_per_decision(
    scenario: Scenario,
) -> None:
    app_id = ineligible(scenario)
    request_id = scenario.redress(app_id, upheld=False, reasons="The figures were right.")
    assert scenario.status(app_id) == AppState.INELIGIBLE
    owner = scenario.owner(app_id)
    with pytest.raises(TransitionRefused, match="already filed"):
        scenario.run(lambda s: redress.file_request(s, owner, app_id, grounds="Again."))
    officer = scenario.people.officer
    with pytest.raises(TransitionRefused):  # decided once
        scenario.run(lambda s: redress.decide(s, officer, request_id, upheld=True, reasons="x"))


def test_the_window_ends_with_the_last_day_on_the_calls_clock(scenario: Scenario) -> None:
    call_id = scenario.add_call(timezone="Europe/Zagreb", redress_days=5)
    app_id = ineligible(scenario, call_id)
    found = window(scenario, app_id)
    decided_day = found.decision_at.astimezone(ZAGREB).date()
    assert found.closes_at.astimezone(ZAGREB) == datetime.combine(
        decided_day + timedelta(days=6), datetime.min.time(), ZAGREB
    )
    owner = scenario.owner(app_id)
    too_late = found.closes_at
    with pytest.raises(TransitionRefused) as refused:
        scenario.run(
            lambda s: redress.file_request(s, owner, app_id, grounds="Late.", now=too_late)
        )
    last_day = (decided_day + timedelta(days=5)).isoformat()
    assert f"closed at the end of {last_day} (Europe/Zagreb)" in str(refused.value)
    last_minute = found.closes_at - timedelta(seconds=1)
    scenario.run(
        lambda s: redress.file_request(s, owner, app_id, grounds="Just in time.", now=last_minute)
    )
    assert len(scenario.run(lambda s: redress.requests_of(s, app_id))) == 1


def test_only_the_applicant_files_and_only_an_officer_decides(scenario: Scenario) -> None:
    app_id = ineligible(scenario)
    stranger = scenario.people.applicants[1]
    with pytest.raises(TransitionRefused, match="applicant organisation"):
        scenario.run(lambda s: redress.file_request(s, stranger, app_id, grounds="Not mine."))
    request_id = scenario.redress(app_id)
    for someone in (scenario.people.auditor, scenario.people.finance[0], scenario.owner(app_id)):
        with pytest.raises(TransitionRefused):
            scenario.run(
                lambda s, a=someone: redress.decide(s, a, request_id, upheld=True, reasons="x")
            )
    officer = scenario.people.officer
    with pytest.raises(Exception, match="reasons"):
        scenario.run(lambda s: redress.decide(s, officer, request_id, upheld=True, reasons=" "))
    assert scenario.status(app_id) == AppState.INELIGIBLE


def test_an_upheld_evaluation_request_is_evaluated_again_by_new_experts(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    call_id = scenario.add_call(evaluators_per_application=1)
    app_id = scenario.draft(0, call_id=call_id)
    first, second = scenario.people.evaluators[:2]
    scenario.submit(app_id)
    scenario.check_eligibility(app_id)
    scenario.assign(app_id, [first])
    scenario.score(app_id, first, ("1", "1", "1"))
    scenario.close_evaluation(app_id, ("1", "1", "1"))
    scenario.rank(call_id)
    assert scenario.status(app_id) == AppState.REJECTED

    scenario.redress(app_id, "The expert ignored our certification.", upheld=True, reasons="Yes.")
    again = scenario.application(app_id)
    assert again.status == AppState.ELIGIBLE
    assert (again.consensus, again.rank, again.total_score) == (None, None, None)
    with sessions() as session:
        statuses = session.scalars(
            select(Evaluation.status).where(Evaluation.application_id == app_id)
        ).all()
    assert statuses == [EvaluationStatus.SUPERSEDED]
    with pytest.raises(Exception, match="already assigned"):
        scenario.assign(app_id, [first])  # who evaluated it before never evaluates it again
    scenario.assign(app_id, [second])
    scenario.score(app_id, second, ("4", "4", "4"))
    scenario.close_evaluation(app_id, ("4", "4", "4"))
    assert scenario.status(app_id) == AppState.EVALUATED


def test_the_applicant_files_and_the_officer_decides_on_the_application_page(
    app: Flask, login: Login, scenario: Scenario
) -> None:
    app_id = ineligible(scenario)
    applicant = app.test_client()
    login(applicant, scenario.people.emails["applicant0"])
    page = applicant.get(f"/applications/{app_id}").get_data(as_text=True)
    assert "You can ask until" in page and 'name="grounds"' in page
    empty = applicant.post(f"/applications/{app_id}/redress-request", data={"grounds": "  "})
    assert empty.status_code == 422
    assert "say why the decision should be reviewed" in empty.get_data(as_text=True)
    filed = applicant.post(
        f"/applications/{app_id}/redress-request",
        data={"grounds": "Our registration is older."},
        follow_redirects=True,
    )
    text = filed.get_data(as_text=True)
    assert "Your request for redress is filed" in text and "Our registration is older." in text
    assert 'name="grounds"' not in text  # one request per decision

    officer = app.test_client()
    login(officer, scenario.people.emails["officer"])
    waiting = officer.get("/dashboard").get_data(as_text=True)
    assert "Redress requests to decide" in waiting
    assert f'href="/applications/{app_id}#redress"' in waiting
    page = officer.get(f"/applications/{app_id}").get_data(as_text=True)
    request_id = scenario.run(lambda s: redress.requests_of(s, app_id))[0].id
    assert f'action="/redress/{request_id}/decide"' in page
    missing = officer.post(f"/redress/{request_id}/decide", data={"reasons": "x"})
    assert missing.status_code == 422
    decided = officer.post(
        f"/redress/{request_id}/decide",
        data={"outcome": "reject", "reasons": "The register shows 2026."},
        follow_redirects=True,
    )
    assert "Redress request rejected" in decided.get_data(as_text=True)
    assert scenario.status(app_id) == AppState.INELIGIBLE
    assert applicant.post(f"/redress/{request_id}/decide", data={}).status_code in (302, 403)
