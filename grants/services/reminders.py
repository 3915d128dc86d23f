"""Reminders of what an applicant must do by a date: accept an offer, submit a report.

``cascade remind`` (run from cron, e.g. hourly) calls ``send_due``. Each reminder goes out
once: its mail carries a key (kind, application, the due date, the address) and the outbox
refuses a second row with that key, even when two runs overlap. A new due date is a new
reminder.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grants import programme
from grants.models import Application, MailMessage
from grants.services import mail, notifications
from grants.services.expectations import due_date, due_moment
from workflows.registry import application_states_where
from workflows.states import DeadlineRule

# How long before the due date the first reminder goes out.
AHEAD = {
    DeadlineRule.OFFER_ACCEPTANCE: timedelta(days=3),
    DeadlineRule.REPORT_DUE: timedelta(days=7),
}
# The mail templates of each rule: (before the date, once it has passed).
TEMPLATES = {
    DeadlineRule.OFFER_ACCEPTANCE: ("offer_reminder", "offer_overdue"),
    DeadlineRule.REPORT_DUE: ("report_reminder", "report_overdue"),
}


@dataclass(frozen=True)
class Sent:
    reference: str
    mail: str
    to: str


def _key(mail_name: str, application: Application, due: datetime | date, address: str) -> str:
    digest = hashlib.sha256(address.encode()).hexdigest()[:16]
    return f"remind:{mail_name}:{application.id}:{due.isoformat()}:{digest}"


def _already_sent(session: Session, key: str) -> bool:
    return session.scalar(select(MailMessage.id).where(MailMessage.dedupe_key == key)) is not None


def _queue_once(
    session: Session, key: str, application: Application, to: str, subject: str, body: str
) -> bool:
    """Queue unless a message with ``key`` exists; a racing run loses at the constraint."""
    if _already_sent(session, key):
        return False
    purpose = key.split(":")[1]
    try:
        with session.begin_nested():
            mail.queue(
                session,
                to=to,
                subject=subject,
                body=body,
                purpose=purpose,
                application_id=application.id,
                dedupe_key=key,
            )
    except IntegrityError:
        return False
    return True


def send_due(session: Session, now: datetime) -> list[Sent]:
    """Queue every reminder that is due at ``now`` and not sent before."""
    sent: list[Sent] = []
    for rule, (before, after) in TEMPLATES.items():
        states = application_states_where("deadline", equals=rule)
        applications = session.scalars(
            select(Application).where(Application.status.in_(states)).order_by(Application.id)
        )
        for application in applications:
            due = due_date(application, rule)
            if due is None:
                continue
            moment = due_moment(application, due)
            if now >= moment:
                name = after
            elif now >= moment - AHEAD[rule]:
                name = before
            else:
                continue
            for address, person in notifications.applicant_addresses(session, application):
                subject, body = notifications.render(
                    name,
                    {
                        "name": person,
                        "application": application,
                        "call": application.call,
                        "organisation": application.organisation,
                        "due": due,
                        "programme": programme.PROGRAMME_NAME,
                    },
                )
                key = _key(name, application, due, address)
                queued = _queue_once(session, key, application, address, subject, body)
                if queued:
                    sent.append(Sent(application.reference, name, address))
    return sent
