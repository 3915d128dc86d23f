"""An officer runs a call of 200 applications from eligibility to an approved ranking in the
browser: bulk eligibility run by the worker, the proposed assignment confirmed, the experts'
scores (one through the expert's own pages), the ranked list previewed and approved, and the
result letters queued only then. Every step is audited and has its document."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from decimal import Decimal

from flask import Flask
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grants.db import utcnow
from grants.models import (
    Application,
    AuditEvent,
    Call,
    Document,
    Evaluation,
    MailMessage,
    RankedList,
)
from grants.services import eligibility_jobs, expert_pool
from tests.e2e.test_browser import log_in
from tests.scenario import KEYS, Scenario, pending_documents_discarded
from workflows.voucher import AppState

APPLICATIONS = 200


def count(session: Session, query: object) -> int:
    return int(session.scalar(query) or 0)  # type: ignore[arg-type]


def statuses(scenario: Scenario, call_id: int) -> dict[str, int]:
    with scenario.sessions() as session:
        rows = session.execute(
            select(Application.status, func.count())
            .where(Application.call_id == call_id)
            .group_by(Application.status)
        ).all()
    return {status: n for status, n in rows}


def accept_dialogs(page: Page) -> None:
    page.on("dialog", lambda dialog: dialog.accept())


def test_an_officer_runs_a_call_of_200_applications_to_an_approved_ranking(
    live_app: tuple[Flask, str], browser: Browser
) -> None:
    app, base = live_app
    sessions = app.extensions["cascade"].sessions
    scenario = Scenario(sessions, smes=APPLICATIONS)
    now = utcnow()
    call_id = scenario.add_call(
        budget=Decimal("100000.00"),
        opens_at=now - timedelta(days=30),
        deadline=now + timedelta(days=1),
        evaluators_per_application=2,
    )
    officer, experts = scenario.people.officer, scenario.people.evaluators
    with pending_documents_discarded(sessions):  # the PDFs are counted, not rendered here
        app_ids = [scenario.draft(i, call_id=call_id) for i in range(APPLICATIONS)]
        for app_id in app_ids:
            scenario.submit(app_id)
        scenario.run(
            lambda s: expert_pool.invite_to_pool(
                s, officer, call_id, [e.user_id for e in experts if e.user_id], link="-"
            )
        )
        for expert in experts:
            scenario.run(lambda s, e=expert: expert_pool.answer_invitation(s, e, call_id, True))

        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        accept_dialogs(page)
        log_in(page, base, scenario.people.emails["officer"])

        # Eligibility in bulk: all 200 ticked, one evidence text, run by the worker.
        page.goto(f"{base}/calls/{call_id}/eligibility")
        expect(
            page.get_by_text(f"{APPLICATIONS} of the {APPLICATIONS} applications")
        ).to_be_visible()
        page.locator("#bulk-evidence").fill("Checked against the ECAS and national registers.")
        page.get_by_role("button", name="Record eligibility for the selected applications").click()
        expect(page.locator("progress").first).to_be_visible()
        assert eligibility_jobs.run_pending_jobs(sessions) == 1  # what `cascade worker` does
        # The page's own refresh (every 3 s while the job runs) may navigate at that moment.
        with contextlib.suppress(PlaywrightError):
            page.reload()
        expect(page.get_by_text(f"{APPLICATIONS} eligible", exact=False).first).to_be_visible()
        assert statuses(scenario, call_id) == {AppState.ELIGIBLE: APPLICATIONS}

        # The proposed assignment, confirmed at once: two experts each, the work spread evenly.
        page.goto(f"{base}/calls/{call_id}/assignment")
        page.get_by_role("button", name="Confirm the assignment").click()
        expect(page.locator(".flash-success")).to_be_visible()
        assert statuses(scenario, call_id) == {AppState.IN_EVALUATION: APPLICATIONS}
        with sessions() as session:
            loads = session.execute(
                select(Evaluation.evaluator_id, func.count())
                .join(Application)
                .where(Application.call_id == call_id)
                .group_by(Evaluation.evaluator_id)
            ).all()
        assert sum(n for _e, n in loads) == 2 * APPLICATIONS
        assert max(n for _e, n in loads) - min(n for _e, n in loads) <= 1

        # One expert scores one proposal through their own pages; the rest through the service.
        first = app_ids[0]
        expert_page = browser.new_context().new_page()
        email = next(
            scenario.people.emails[f"evaluator{i}"]
            for i, e in enumerate(experts, start=1)
            if e.user_id == next(iter(scenario.application(first).evaluations)).evaluator_id
        )
        log_in(expert_page, base, email)
        evaluation_id = next(iter(scenario.application(first).evaluations)).id
        expert_page.goto(f"{base}/evaluations/{evaluation_id}")
        expert_page.get_by_label("No, I have no conflict of interest").check()
        expert_page.get_by_role("button", name="Sign the declaration").click()
        for key in KEYS:
            expert_page.locator(f"#score-{key}").select_option("4.5")
            expert_page.locator(f"#comment-{key}").fill(f"Scored in the browser: {key}.")
        expert_page.get_by_role("button", name="Submit my scores").click()
        expect(expert_page.get_by_text("Submitted", exact=False).first).to_be_visible()

        for index, app_id in enumerate(app_ids):
            score = ("4.5", "4.5", "4.5") if index == 0 else (str(2 + index % 6 / 2),) * 3
            for evaluation in scenario.application(app_id).evaluations:
                if evaluation.submitted_at is None:
                    expert = next(e for e in experts if e.user_id == evaluation.evaluator_id)
                    scenario.score(app_id, expert, score)  # type: ignore[arg-type]
            scenario.close_evaluation(app_id, score)  # type: ignore[arg-type]
        assert statuses(scenario, call_id) == {AppState.EVALUATED: APPLICATIONS}

        # The deadline passes; the officer previews the ranking, then approves it.
        with sessions.begin() as session:
            session.get_one(Call, call_id).deadline = utcnow() - timedelta(minutes=1)
        page.goto(f"{base}/calls/{call_id}/ranking")
        expect(page.get_by_role("heading", name="Ranked list", exact=True)).to_be_visible()
        with sessions() as session:
            letters = (
                select(func.count())
                .select_from(MailMessage)
                .where(
                    MailMessage.purpose == "result_letter",
                    MailMessage.application_id.in_(app_ids),
                )
            )
            assert count(session, letters) == 0  # the preview sends nothing
        page.get_by_role("button", name="Approve the ranked list").click()
        expect(page.locator(".flash-success")).to_be_visible()

        funded = statuses(scenario, call_id)
        assert funded[AppState.SELECTED] == 12  # EUR 100,000 at EUR 8,000 each
        assert sum(funded.values()) == APPLICATIONS
        assert set(funded) <= {AppState.SELECTED, AppState.RESERVE, AppState.REJECTED}
        with sessions() as session:
            assert count(session, letters) >= APPLICATIONS  # to every applicant, after approval
            assert (
                count(
                    session,
                    select(func.count())
                    .select_from(RankedList)
                    .where(RankedList.call_id == call_id),
                )
                == 1
            )
            for action, kind in (
                ("check_eligibility", "eligibility_decision"),
                ("assign_evaluators", "evaluation_assignment"),
                ("close_evaluation", "evaluation_summary_report"),
                ("rank", "result_letter"),
            ):
                events = (
                    select(func.count())
                    .select_from(AuditEvent)
                    .where(AuditEvent.action == action, AuditEvent.application_id.in_(app_ids))
                )
                documents = (
                    select(func.count())
                    .select_from(Document)
                    .where(Document.kind == kind, Document.application_id.in_(app_ids))
                )
                assert count(session, events) == APPLICATIONS, action
                assert count(session, documents) == APPLICATIONS, kind
            approvals = (
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "approve_ranking")
            )
            assert count(session, approvals) == 1
