"""What an applicant is expected to do next on an application, and by when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import object_session

from grants.models import Application
from grants.services.redress_window import window_of
from workflows.states import DeadlineRule


@dataclass(frozen=True)
class NextStep:
    text: str
    due: datetime | date | None = None
    # True when the applicant must act (as opposed to waiting for the programme).
    action: bool = False


def _planned_end(application: Application) -> date | None:
    raw = (application.answers or {}).get("end_date")
    try:
        return date.fromisoformat(str(raw)) if raw else None
    except ValueError:
        return None


def due_date(application: Application, rule: DeadlineRule) -> datetime | date | None:
    match rule:
        case DeadlineRule.CALL_DEADLINE:
            return application.call.deadline
        case DeadlineRule.REDRESS_WINDOW:
            session = object_session(application)
            window = window_of(session, application) if session is not None else None
            return window.last_moment if window else None
        case DeadlineRule.OFFER_ACCEPTANCE:
            return application.offer_deadline
        case DeadlineRule.REPORT_DUE:
            return report_due(application)
    return None


def report_due(application: Application) -> date | None:
    """The final report is due the call's reporting window after the planned end date."""
    end = _planned_end(application)
    if end is None:
        return None
    return end + timedelta(days=application.call.report_window_days)


def due_moment(application: Application, due: datetime | date) -> datetime:
    """When a due date passes: a date is due at its end, in the call's timezone."""
    if isinstance(due, datetime):
        return due
    zone = ZoneInfo(application.call.timezone)
    return datetime.combine(due + timedelta(days=1), time(), zone)


def _report_returned(application: Application) -> bool:
    return bool(application.reports) and application.reports[-1].outcome == "returned"


def next_step(application: Application, now: datetime) -> NextStep:
    """From the state's facts (workflows/): its text, and its deadline computed from data."""
    facts = application.workflow.fact(application.status)
    text = facts.applicant_next
    if facts.deadline is DeadlineRule.REPORT_DUE and _report_returned(application):
        text = "Your final report was returned: revise and submit it again"
    due = due_date(application, facts.deadline) if facts.deadline else None
    if due is not None and facts.after_deadline and now >= due_moment(application, due):
        return NextStep(facts.after_deadline)
    return NextStep(text, due, facts.applicant_acts)


def report_terms(application: Application) -> dict[str, str]:
    """The reporting deadline as an agreement states it, by the rule the reminders use
    (``report_due``): the call's reporting window after the planned end of the activity.
    ``deadline`` is the date (ISO) when the planned end date is known, else empty."""
    days = application.call.report_window_days
    end = _planned_end(application)
    due = report_due(application)
    rule = (
        f"within {days} days after the end of the activity"
        if end is None
        else f"within {days} days after the planned end of the activity ({end.isoformat()})"
    )
    return {"rule": rule, "deadline": due.isoformat() if due else "", "days": str(days)}
