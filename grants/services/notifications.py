"""Tell people what a workflow step means for them: one mail per recipient per step.

The registry (``grants/steps``) says which step notifies whom with which template; this
module finds the addresses, renders the template and queues the mail through the outbox in
the step's own transaction, so a rolled-back step sends nothing. Each mail carries a key
(the audit event and the address): the outbox's unique constraint makes "once per step"
hold even if the same event were processed twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from flask_babel import gettext, ngettext
from jinja2 import Environment, PackageLoader, StrictUndefined, Template
from sqlalchemy import select
from sqlalchemy.orm import Session

from grants import programme
from grants.formatting import format_eur, local_time, utc_time
from grants.models import (
    Application,
    AuditEvent,
    Document,
    Evaluation,
    EvaluationStatus,
    Instalment,
    Payment,
    Report,
    User,
)
from grants.services import mail
from grants.services.actor import Actor
from grants.services.expectations import report_due
from grants.services.role_holders import people_holding
from workflows.redress import CHALLENGEABLE, last_day
from workflows.roles import Role
from workflows.voucher import AppState

if TYPE_CHECKING:
    from grants.services.workflow import Subject
    from grants.steps import Notice, Step


@cache
def _environment() -> Environment:
    # Plain text mails: no HTML escaping; a missing variable is an error, not a blank.
    env = Environment(
        loader=PackageLoader("grants", "templates/mail"),
        extensions=["jinja2.ext.i18n"],
        autoescape=False,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # The request's language in the web; English (the source) from the command line.
    env.install_gettext_callables(gettext, ngettext, newstyle=True)
    env.filters["eur"] = format_eur
    env.filters["local_time"] = local_time
    env.filters["utc"] = utc_time
    env.filters["day"] = lambda d: d.isoformat() if isinstance(d, date) else ""
    return env


def template(name: str) -> Template:
    return _environment().get_template(f"{name}.txt")


def render(name: str, context: dict[str, Any]) -> tuple[str, str]:
    """Subject and body of mail template ``name``."""
    found = template(name)
    subject = "".join(found.blocks["subject"](found.new_context(context))).strip()
    return subject, found.render(context).strip() + "\n"


def applicant_addresses(session: Session, application: Application) -> list[tuple[str, str]]:
    """The SME's people who can log in, and its contact address, each once."""
    # Through the relationship: a batch of steps loads every SME's people in one query.
    people = sorted(application.organisation.users, key=lambda u: u.id)
    found = [(u.email, u.full_name) for u in people if u.active and u.email_confirmed_at]
    contact = (application.organisation.contact_email or "").strip()
    if contact:
        found.append((contact, application.organisation.contact_name or ""))
    return found


def _evaluator_addresses(session: Session, application: Application) -> list[tuple[str, str]]:
    """Experts assigned and not yet declared: the ones this assignment concerns."""
    people = session.scalars(
        select(User)
        .join(Evaluation, Evaluation.evaluator_id == User.id)
        .where(
            Evaluation.application_id == application.id,
            Evaluation.status == EvaluationStatus.ASSIGNED,
            User.active.is_(True),
        )
        .order_by(User.id)
    )
    return [(u.email, u.full_name) for u in people]


def _finance_addresses(session: Session, actor: Actor) -> list[tuple[str, str]]:
    """The other finance officers: the one who acted knows, and four-eyes needs another."""
    people = session.scalars(
        people_holding(Role.FINANCE).where(User.id != actor.user_id).order_by(User.id)
    )
    return [(u.email, u.full_name) for u in people]


def recipients(
    session: Session, actor: Actor, notice: Notice, application: Application
) -> list[tuple[str, str]]:
    from grants.steps import Recipient

    match notice.to:
        case Recipient.APPLICANT:
            found = applicant_addresses(session, application)
        case Recipient.EVALUATORS:
            found = _evaluator_addresses(session, application)
        case Recipient.FINANCE:
            found = _finance_addresses(session, actor)
    unique: dict[str, str] = {}
    for address, name in found:
        unique.setdefault(address.strip().lower(), name)
    return list(unique.items())


class _OnRead:
    """A mail value loaded only if the template reads it: most mails need neither the
    payment nor the report, and loading them costs a query each on every step."""

    def __init__(self, load: Callable[[], object]) -> None:
        self._load = load
        self._loaded = False
        self._value: object = None

    def _get(self) -> object:
        if not self._loaded:
            self._value, self._loaded = self._load(), True
        return self._value

    def __bool__(self) -> bool:
        return bool(self._get())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get(), name)


def _latest_report(application: Application) -> Report | None:
    return application.reports[-1] if application.reports else None


def _payment(subject: Subject) -> Payment | None:
    if isinstance(subject.entity, Payment):
        return subject.entity
    application = subject.application
    if application is None:
        return None
    # The latest balance order: an earlier one may have been cancelled and prepared again.
    return next(
        (p for p in reversed(application.payments) if p.instalment == Instalment.BALANCE), None
    )


def context_for(step: Step, subject: Subject, dest: str, event: AuditEvent) -> dict[str, Any]:
    """What every mail of the step can say; the recipient's ``name`` is added per mail."""
    application = subject.application
    assert application is not None
    call = application.call
    return {
        "step": step,
        "application": application,
        "call": call,
        "organisation": application.organisation,
        "state": subject.definition.fact(dest).label,
        "dest": dest,
        "payment": _OnRead(lambda: _payment(subject)),
        "event": event,
        "eligibility": application.eligibility or {},
        "report": _OnRead(lambda: _latest_report(application)),
        "report_due": report_due(application),
        "redress": subject.entity if subject.entity_type == "redress" else None,
        "redress_until": _redress_until(application, dest, event),
        "programme": programme.PROGRAMME_NAME,
    }


def _redress_until(application: Application, dest: str, event: AuditEvent) -> datetime | None:
    """The last moment of the redress window a decision letter opens (None: it opens none).
    The decision is this step's, so its time is the event's."""
    if dest not in CHALLENGEABLE:
        return None
    decided = (
        (application.eligibility or {}).get("decided_at") if dest == AppState.INELIGIBLE else None
    )
    moment = datetime.fromisoformat(decided) if decided else event.occurred_at
    return last_day(moment, application.call.redress_days, application.call.timezone)


def _key(event: AuditEvent, mail_name: str, address: str) -> str:
    # Addresses may be long; the key only has to tell recipients apart.
    digest = hashlib.sha256(address.encode()).hexdigest()[:16]
    return f"step:{event.id}:{mail_name}:{digest}"


def step_done(
    session: Session,
    actor: Actor,
    subject: Subject,
    trigger: str,
    dest: str,
    event: AuditEvent,
    document: Document | None,
    *,
    flush: bool = True,
) -> list[str]:
    """Queue the notices of the step just applied; returns the addresses written to."""
    # Imported here: the registry names the services that call this one.
    from grants.steps import find

    step = find(subject.definition.name, trigger)
    if step is None or subject.application is None:
        return []
    sent: list[str] = []
    notices = step.notices_for(dest)
    shared = context_for(step, subject, dest, event) if notices else {}
    for notice in notices:
        for address, name in recipients(session, actor, notice, subject.application):
            subject_line, body = render(notice.mail, {**shared, "name": name})
            mail.queue(
                session,
                to=address,
                subject=subject_line,
                body=body,
                purpose=notice.mail,
                application_id=subject.application.id,
                document_id=document.id if document is not None and notice.attach else None,
                dedupe_key=_key(event, notice.mail, address),
                flush=flush,
            )
            sent.append(address)
    return sent
