"""Apply one workflow step to an application: status, audit event and document job together.

Every application state change in Cascade goes through ``apply`` (no ``status = ...``
elsewhere). It asks ``workflows`` whether the step is allowed, then writes the new status,
one audit event and, when the step produces one, a document job, all in the caller's
transaction: the step fully happens or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from grants.db import Base, utcnow
from grants.models import Application, AuditEvent, Call, Document, Payment
from grants.services import audit, documents
from grants.services.actor import Actor
from workflows import engine
from workflows.definition import WorkflowDefinition
from workflows.errors import TransitionRefused
from workflows.guards import TransitionContext
from workflows.registry import get_workflow

M = TypeVar("M", bound=Base)


class NotFound(LookupError):
    """The thing asked for does not exist, or this person may not know it exists."""


def application_workflow(application: Application) -> WorkflowDefinition:
    # The call pins the version it opened with, so a newer workflow never changes it.
    return get_workflow(application.call.workflow_name, application.call.workflow_version)


def load_locked(session: Session, model: type[M], row_id: int, what: str) -> M:
    """Load a row to change it: locked on PostgreSQL, so a racing writer waits and then sees
    the winner's state (SQLite serialises writers at BEGIN IMMEDIATE)."""
    row = session.scalars(
        select(model).where(model.__table__.c.id == row_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"no {what} {row_id}")
    return row


def load_application(session: Session, application_id: int) -> Application:
    return load_locked(session, Application, application_id, "application")


def load_call(session: Session, call_id: int) -> Call:
    return load_locked(session, Call, call_id, "call")


def load_payment(session: Session, payment_id: int) -> Payment:
    return load_locked(session, Payment, payment_id, "payment")


def _audit_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@dataclass(frozen=True)
class StepResult:
    event: AuditEvent
    dest: str
    document: Document | None = None

    def set_document_details(self, details: dict[str, Any]) -> None:
        """For documents whose content is known only after the step (who authorised, when)."""
        if self.document is not None:
            self.document.snapshot = {**self.document.snapshot, "details": details}


def check(
    application: Application,
    trigger: str,
    actor: Actor,
    facts: Mapping[str, Any],
    now: datetime | None = None,
) -> None:
    """Ask the workflow without changing anything, before creating rows a step needs."""
    ctx = TransitionContext(actor_id=actor.user_id, now=now or utcnow(), facts=dict(facts))
    engine.fire(application_workflow(application), application.status, trigger, actor.role, ctx)


def flush_or_refuse(session: Session) -> None:
    """A concurrent writer changed the row first: refuse instead of overwriting its work."""
    try:
        session.flush()
    except StaleDataError as exc:
        raise TransitionRefused(
            "someone else changed this at the same time; reload the page and try again"
        ) from exc


def apply(
    session: Session,
    actor: Actor,
    application: Application,
    trigger: str,
    *,
    facts: Mapping[str, Any] | None = None,
    changes: Mapping[str, Any] | None = None,
    details: dict[str, Any] | None = None,
    audit_extra: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> StepResult:
    """Fire ``trigger``; on success set ``changes`` on the application, audit, queue the PDF.

    ``facts`` feed the guards, ``details`` the document, ``audit_extra`` the event's "after".
    """
    ctx = TransitionContext(actor_id=actor.user_id, now=now or utcnow(), facts=dict(facts or {}))
    outcome = engine.fire(
        application_workflow(application), application.status, trigger, actor.role, ctx
    )
    changes = dict(changes or {})
    before: dict[str, Any] = {"status": application.status}
    before.update({k: _audit_value(getattr(application, k)) for k in changes})
    application.status = outcome.dest
    for name, value in changes.items():
        setattr(application, name, value)
    flush_or_refuse(session)
    after: dict[str, Any] = {"status": outcome.dest}
    after.update({k: _audit_value(v) for k, v in changes.items()})
    after.update(audit_extra or {})
    event = audit.record(
        session,
        actor,
        trigger,
        entity_type="application",
        entity_id=application.reference,
        before=before,
        after=after,
        application_id=application.id,
    )
    document = None
    if outcome.transition.document:
        document = documents.enqueue(
            session,
            application=application,
            event=event,
            kind=outcome.transition.document,
            details=details or {},
        )
    return StepResult(event=event, dest=outcome.dest, document=document)


def fire_other(
    session: Session,
    actor: Actor,
    definition: WorkflowDefinition,
    entity: Call | Payment,
    trigger: str,
    *,
    entity_type: str,
    entity_id: str,
    facts: Mapping[str, Any] | None = None,
    audit_extra: Mapping[str, Any] | None = None,
    application: Application | None = None,
    details: dict[str, Any] | None = None,
    with_document: bool = True,
    now: datetime | None = None,
) -> StepResult:
    """The same discipline for the call and payment-instalment machines.

    A payment step is filed under its ``application`` (timeline and document); the balance
    instalment passes ``with_document=False`` because the application's own step already
    produces the order or remittance.
    """
    ctx = TransitionContext(actor_id=actor.user_id, now=now or utcnow(), facts=dict(facts or {}))
    outcome = engine.fire(definition, entity.status, trigger, actor.role, ctx)
    before = entity.status
    entity.status = outcome.dest
    flush_or_refuse(session)
    event = audit.record(
        session,
        actor,
        trigger,
        entity_type=entity_type,
        entity_id=entity_id,
        before={"status": before},
        after={"status": outcome.dest, **(audit_extra or {})},
        application_id=application.id if application else None,
    )
    document = None
    if outcome.transition.document and application is not None and with_document:
        document = documents.enqueue(
            session,
            application=application,
            event=event,
            kind=outcome.transition.document,
            details=details or {},
        )
    return StepResult(event=event, dest=outcome.dest, document=document)


def available_triggers(application: Application, role: str) -> list[str]:
    return engine.available_triggers(application_workflow(application), application.status, role)
