"""When an application's decision can be challenged, and until when (the redress window).

Kept apart from the redress service so the applicant's "what next" can read it without
the service's mail and document dependencies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grants.models import Application, AuditEvent
from workflows.redress import CHALLENGEABLE, RedressKind, last_day, window_closes


@dataclass(frozen=True)
class Window:
    """The decision an application's applicant may challenge, and until when."""

    kind: RedressKind
    decision_at: datetime
    closes_at: datetime  # exclusive
    last_moment: datetime  # 23:59 on the last day, for people to read

    def open_at(self, now: datetime) -> bool:
        return now < self.closes_at


def _decision_at(session: Session, application: Application, kind: RedressKind) -> datetime | None:
    if kind is RedressKind.ELIGIBILITY:
        raw = (application.eligibility or {}).get("decided_at")
        return datetime.fromisoformat(raw) if raw else None
    # The evaluation result: when the result letter went out (the ranking or a promotion).
    return session.scalar(
        select(func.max(AuditEvent.occurred_at)).where(
            AuditEvent.application_id == application.id,
            AuditEvent.entity_type == "application",
            AuditEvent.action == "rank",
        )
    )


def window_of(session: Session, application: Application) -> Window | None:
    """The redress window of the application's current decision, if it can be challenged."""
    kind = CHALLENGEABLE.get(application.status)
    if kind is None:
        return None
    decided = _decision_at(session, application, kind)
    if decided is None:
        return None
    if decided.tzinfo is None:  # SQLite hands back naive UTC
        decided = decided.replace(tzinfo=UTC)
    days, zone = application.call.redress_days, application.call.timezone
    return Window(kind, decided, window_closes(decided, days, zone), last_day(decided, days, zone))
