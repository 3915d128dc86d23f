"""What an applicant is expected to do next on an application, and by when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from grants.models import Application
from workflows.voucher import AppState

# DOMAIN.md: a redress request is made within the call's window, e.g. 5 calendar days.
REDRESS_DAYS = 5


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


def _decided_at(application: Application) -> datetime | None:
    raw = (application.eligibility or {}).get("decided_at")
    try:
        return datetime.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def next_step(application: Application, now: datetime) -> NextStep:
    state = AppState(application.status)
    call = application.call
    match state:
        case AppState.DRAFT if now < call.deadline:
            return NextStep(
                "Complete the form and submit it before the deadline", call.deadline, True
            )
        case AppState.DRAFT:
            return NextStep("The deadline has passed: this draft can no longer be submitted")
        case AppState.SUBMITTED | AppState.ELIGIBLE:
            return NextStep("Nothing for now: the programme is checking eligibility")
        case AppState.INELIGIBLE:
            decided = _decided_at(application)
            due = decided + timedelta(days=REDRESS_DAYS) if decided else None
            if due is not None and now > due:
                return NextStep("Not eligible; the window for a redress request has closed")
            return NextStep(
                "Not eligible: read the decision letter; you may ask the programme for redress",
                due,
                True,
            )
        case AppState.IN_EVALUATION | AppState.EVALUATED:
            return NextStep("Nothing for now: independent experts are evaluating the proposal")
        case AppState.RESERVE:
            return NextStep("On the reserve list: you are offered a voucher if budget frees up")
        case AppState.SELECTED:
            return NextStep("Selected: the voucher agreement will be sent to you")
        case AppState.OFFERED:
            return NextStep(
                "Read the voucher agreement, then accept and sign it, or decline", None, True
            )
        case AppState.CONTRACTED:
            returned = application.reports and application.reports[-1].outcome == "returned"
            end = _planned_end(application)
            if returned:
                return NextStep(
                    "Your final report was returned: revise and submit it again", None, True
                )
            return NextStep("Carry out the activity, then submit the final report", end, True)
        case AppState.REPORT_SUBMITTED:
            return NextStep("Nothing for now: the programme is reviewing your final report")
        case AppState.REPORT_APPROVED | AppState.PAYMENT_PREPARED | AppState.PAYMENT_AUTHORISED:
            return NextStep("Nothing for now: the balance payment is being processed")
        case AppState.PAID | AppState.CLOSED:
            return NextStep("Keep every supporting document: EU auditors may ask for them")
        case AppState.WITHDRAWN | AppState.DECLINED | AppState.REJECTED | AppState.TERMINATED:
            return NextStep("Nothing: this application is finished")
    return NextStep("")
