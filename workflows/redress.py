"""Redress: an applicant asks for the review of an eligibility or evaluation decision.

A request runs through its own small machine (requested, then upheld or rejected by an
officer); the application keeps its state until a request is upheld. The window is counted
in calendar days in the call's timezone: a request may be filed until the end of the last
day, wherever the applicant is.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from workflows.definition import TransitionDef, WorkflowDefinition
from workflows.i18n import N_
from workflows.roles import Role
from workflows.states import Badge, StateFacts
from workflows.voucher import AppState


class RedressState(StrEnum):
    REQUESTED = "requested"
    UPHELD = "upheld"
    REJECTED = "rejected"


class RedressKind(StrEnum):
    ELIGIBILITY = "eligibility"  # against the eligibility decision
    EVALUATION = "evaluation"  # against the evaluation result (rejected or reserve list)


# The decision an application in each state may be challenged on.
CHALLENGEABLE: dict[str, RedressKind] = {
    AppState.INELIGIBLE: RedressKind.ELIGIBILITY,
    AppState.REJECTED: RedressKind.EVALUATION,
    AppState.RESERVE: RedressKind.EVALUATION,
}

MAX_GROUNDS = 10_000  # characters of an applicant's grounds or an officer's reasons


def window_closes(decided_at: datetime, days: int, timezone: str) -> datetime:
    """The instant the window closes: the end of the ``days``-th calendar day after the
    decision's day, on the call's clock (so the last day is a whole day in the call's
    timezone, also across a clock change)."""
    if days < 1:
        raise ValueError("a redress window is at least one day")
    if decided_at.tzinfo is None:
        raise ValueError("the decision time must carry its timezone")
    zone = ZoneInfo(timezone)
    last_day = decided_at.astimezone(zone).date() + timedelta(days=days)
    return datetime.combine(last_day + timedelta(days=1), time(), zone)


def last_moment(closes_at: datetime) -> datetime:
    """The last moment a request is accepted (23:59:59 on the last day), for people to read."""
    return closes_at - timedelta(seconds=1)


def last_day(decided_at: datetime, days: int, timezone: str) -> datetime:
    return last_moment(window_closes(decided_at, days, timezone))


R = RedressState
OFFICER = frozenset({Role.OFFICER})

REDRESS_V1 = WorkflowDefinition(
    name="redress",
    version=1,
    initial=R.REQUESTED,
    states=tuple(str(s) for s in RedressState),
    final_states=frozenset({R.UPHELD, R.REJECTED}),
    facts={
        R.REQUESTED: StateFacts(N_("Requested"), Badge.WARN),
        R.UPHELD: StateFacts(N_("Upheld"), Badge.GOOD),
        R.REJECTED: StateFacts(N_("Rejected"), Badge.BAD),
    },
    transitions=(
        TransitionDef(
            "uphold",
            (R.REQUESTED,),
            R.UPHELD,
            OFFICER,
            "Uphold the redress request",
            ("reason_given",),
            "redress_decision",
        ),
        TransitionDef(
            "reject",
            (R.REQUESTED,),
            R.REJECTED,
            OFFICER,
            "Reject the redress request",
            ("reason_given",),
            "redress_decision",
        ),
    ),
)
