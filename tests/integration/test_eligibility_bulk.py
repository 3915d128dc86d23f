"""Eligibility for a selection of a call's applications, run by the worker: each decided
once, all or none, one job per start."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from grants.models import Application, AuditEvent, EligibilityJob, JobStatus
from grants.services import eligibility, eligibility_jobs
from tests.scenario import Scenario
from workflows.errors import TransitionRefused
from workflows.voucher import AppState

Login = Callable[[FlaskClient, str], None]
EVIDENCE = "No other public funding found in the national aid register"


def _submitted(scenario: Scenario, count: int = 3) -> list[int]:
    ids = [scenario.draft(i) for i in range(count)]
    for app_id in ids:
        scenario.submit(app_id)
    return ids


def _start(scenario: Scenario, ids: list[int], token: str | None = None) -> int:
    return scenario.run(
        lambda s: (
            eligibility_jobs.start_job(
                s,
                scenario.people.officer,
                scenario.call_id,
                ids,
                evidence=EVIDENCE,
                token=token or secrets.token_urlsafe(24),
            ).id
        )
    )


def _decisions(scenario: Scenario, app_id: int) -> int:
    return scenario.run(
        lambda s: s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.application_id == app_id, AuditEvent.action == "check_eligibility")
        )
    )


def _job(scenario: Scenario, job_id: int) -> EligibilityJob:
    return scenario.run(lambda s: s.get_one(EligibilityJob, job_id))


def test_a_job_decides_each_selected_application_once(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    passing, other = _submitted(scenario, 2)
    failing = scenario.draft(2)

    def move_abroad(session: Session) -> None:
        session.get_one(Application, failing).organisation.country = "DE"

    scenario.run(move_abroad)
    scenario.submit(failing)
    job_id = _start(scenario, [passing, other, failing])
    assert _job(scenario, job_id).status == JobStatus.PENDING

    assert eligibility_jobs.run_pending_jobs(sessions) >= 1
    job = _job(scenario, job_id)
    assert job.status == JobStatus.DONE
    assert (job.eligible, job.ineligible, job.skipped) == (2, 1, 0)
    assert scenario.status(passing) == scenario.status(other) == AppState.ELIGIBLE
    assert scenario.status(failing) == AppState.INELIGIBLE
    decided = scenario.application(passing).eligibility
    funding = next(c for c in decided["checks"] if c["key"] == "no_double_funding")
    assert funding["evidence"] == EVIDENCE
    assert all(r["document_id"] for r in job.results)

    # Running the worker again finds nothing to do: nothing is decided twice.
    eligibility_jobs.run_pending_jobs(sessions)
    assert [_decisions(scenario, i) for i in (passing, other, failing)] == [1, 1, 1]


def test_an_application_decided_by_hand_meanwhile_is_skipped(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    first, second, _third = _submitted(scenario)
    job_id = _start(scenario, [first, second])
    scenario.check_eligibility(first)  # an officer decides it before the worker runs
    eligibility_jobs.run_pending_jobs(sessions)
    job = _job(scenario, job_id)
    assert (job.eligible, job.skipped) == (1, 1)
    assert _decisions(scenario, first) == 1 and _decisions(scenario, second) == 1


def test_a_failure_half_way_leaves_none_decided(
    scenario: Scenario, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, broken, last = _submitted(scenario)
    decide = eligibility.record_eligibility

    def failing(session: Session, actor: Any, app_id: int, **kwargs: Any) -> Any:
        if app_id == broken:
            raise RuntimeError("the register did not answer")
        return decide(session, actor, app_id, **kwargs)

    monkeypatch.setattr(eligibility_jobs.eligibility, "record_eligibility", failing)
    job_id = _start(scenario, [first, broken, last])
    eligibility_jobs.run_pending_jobs(sessions)

    job = _job(scenario, job_id)
    assert job.status == JobStatus.FAILED
    reference = scenario.application(broken).reference
    assert reference in (job.error or "") and "no application of the selection was decided" in (
        job.error or ""
    )
    assert [scenario.status(i) for i in (first, broken, last)] == [AppState.SUBMITTED] * 3
    assert [_decisions(scenario, i) for i in (first, broken, last)] == [0, 0, 0]
    # The failed job no longer holds the call: a new one can start.
    monkeypatch.undo()
    again = _start(scenario, [first, broken, last])
    eligibility_jobs.run_pending_jobs(sessions)
    assert _job(scenario, again).status == JobStatus.DONE


def test_a_double_start_makes_one_job(scenario: Scenario) -> None:
    ids = _submitted(scenario, 2)
    token = secrets.token_urlsafe(24)
    assert _start(scenario, ids, token) == _start(scenario, ids, token)
    with pytest.raises(TransitionRefused, match="already being recorded"):
        _start(scenario, ids)  # another tab, another token: refused while one waits
    jobs = scenario.run(
        lambda s: s.scalar(
            select(func.count())
            .select_from(EligibilityJob)
            .where(EligibilityJob.call_id == scenario.call_id)
        )
    )
    assert jobs == 1


def test_the_officer_selects_confirms_and_follows_the_job_on_the_web(
    scenario: Scenario, app: Flask, login: Login, sessions: sessionmaker[Session]
) -> None:
    ids = _submitted(scenario)
    officer = app.test_client()
    login(officer, scenario.people.emails["officer"])
    page = officer.get(f"/calls/{scenario.call_id}/eligibility").get_data(as_text=True)
    assert "Record eligibility for 3 applications? Each gets its decision letter." in page
    token = re.search(r'name="token" value="([^"]+)"', page)
    assert token is not None

    form = {"application_ids": [str(i) for i in ids], "token": token.group(1)}
    missing = officer.post(f"/calls/{scenario.call_id}/eligibility/jobs", data=form)
    assert missing.status_code == 422
    assert "give the evidence for the no-double-funding check" in missing.get_data(as_text=True)

    form["evidence"] = EVIDENCE
    started = officer.post(f"/calls/{scenario.call_id}/eligibility/jobs", data=form)
    twice = officer.post(f"/calls/{scenario.call_id}/eligibility/jobs", data=form)
    assert started.status_code == twice.status_code == 302
    assert started.headers["Location"] == twice.headers["Location"]
    waiting = officer.get(started.headers["Location"]).get_data(as_text=True)
    assert "<progress" in waiting and "data-refresh-seconds" in waiting

    eligibility_jobs.run_pending_jobs(sessions)
    done = officer.get(started.headers["Location"]).get_data(as_text=True)
    assert "Done: 3 eligible, 0 ineligible." in done
    assert "Decision letters ready: 0 of 3" in done
    for app_id in ids:
        assert f"/applications/{app_id}" in done


def test_only_officers_start_bulk_eligibility(scenario: Scenario, app: Flask, login: Login) -> None:
    ids = _submitted(scenario, 1)
    job_id = _start(scenario, ids)
    form = {"application_ids": [str(ids[0])], "evidence": EVIDENCE, "token": "x" * 32}
    for person in ("applicant0", "evaluator1", "finance1", "auditor", "admin"):
        client = app.test_client()
        login(client, scenario.people.emails[person])
        assert client.post(
            f"/calls/{scenario.call_id}/eligibility/jobs", data=form
        ).status_code in (
            403,
            404,
        ), person
        assert client.get(f"/calls/{scenario.call_id}/eligibility").status_code in (403, 404)
    auditor = app.test_client()
    login(auditor, scenario.people.emails["auditor"])
    assert auditor.get(f"/calls/{scenario.call_id}/eligibility/jobs/{job_id}").status_code == 200
