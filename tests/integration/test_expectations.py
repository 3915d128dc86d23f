"""What the applicant is told to do next, and by when."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from grants.models import Application
from grants.services.expectations import NextStep, next_step
from tests.scenario import Scenario
from workflows.voucher import AppState


def test_a_draft_must_be_submitted_by_the_deadline(scenario: Scenario) -> None:
    app = scenario.application(scenario.draft())
    step = next_step(app, app.call.deadline - timedelta(seconds=1))
    assert step.action and step.due == app.call.deadline
    late = next_step(app, app.call.deadline)
    assert not late.action and "deadline has passed" in late.text


def test_an_ineligible_applicant_has_the_calls_redress_window(scenario: Scenario) -> None:
    call_id = scenario.add_call(redress_days=9, timezone="Europe/Zagreb")
    app_id = scenario.draft(call_id=call_id)
    scenario.submit(app_id)
    scenario.check_eligibility(app_id, passed=False)

    def steps(session: Session) -> tuple[NextStep, NextStep, datetime]:
        app = session.get_one(Application, app_id)
        assert app.status == AppState.INELIGIBLE
        step = next_step(app, app.submitted_at)  # type: ignore[arg-type]
        assert isinstance(step.due, datetime)
        after = next_step(app, step.due + timedelta(seconds=1))
        decided = datetime.fromisoformat(app.eligibility["decided_at"])  # type: ignore[index]
        return step, after, decided

    step, after, decided = scenario.run(steps)
    assert step.action and "redress" in step.text
    assert not after.action and "closed" in after.text
    # Until the end of the ninth day after the decision's day, on the call's clock.
    zagreb = ZoneInfo("Europe/Zagreb")
    last_day = decided.astimezone(zagreb).date() + timedelta(days=9)
    assert step.due == datetime.combine(last_day, time(23, 59, 59), zagreb)


def test_a_contracted_voucher_reports_within_the_window_after_the_planned_end(
    scenario: Scenario,
) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.CONTRACTED)
    app = scenario.application(app_id)
    step = next_step(app, app.updated_at)
    assert step.action and "final report" in step.text
    end = date.fromisoformat(app.answers["end_date"])
    assert step.due == end + timedelta(days=app.call.report_window_days)
    overdue = next_step(app, datetime.combine(step.due + timedelta(days=1), time(), UTC))
    assert "overdue" in overdue.text and overdue.due is None


def test_waiting_states_ask_nothing(scenario: Scenario) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.IN_EVALUATION)
    app = scenario.application(app_id)
    assert not next_step(app, app.updated_at).action
