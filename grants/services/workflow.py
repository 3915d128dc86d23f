"""Apply one workflow step: status, audit event, document job and notices together.

Every state change of an application, a call or a payment goes through ``apply`` (no
``status = ...`` elsewhere). It asks ``workflows`` whether the step is allowed, then writes
the new status, one audit event, the document job and the step's notices, all in the
caller's transaction: the step fully happens or not at all.
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
from grants.errors import NotFound, require_own
from grants.models import Application, AuditEvent, Call, Document, Payment
from grants.services import audit, documents, notifications
from grants.services.actor import Actor
from workflows import engine
from workflows.call import CALL_V1
from workflows.definition import WorkflowDefinition
from workflows.errors import TransitionRefused
from workflows.guards import TransitionContext
from workflows.i18n import _
from workflows.payment import PAYMENT_V1

M = TypeVar("M", bound=Base)


def application_workflow(application: Application) -> WorkflowDefinition:
    return application.workflow


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


def load_own_application(session: Session, actor: Actor, application_id: int) -> Application:
    """The application its applicant organisation changes: locked, refused to anyone else."""
    application = load_application(session, application_id)
    require_own(actor, application)
    return application


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
            _("someone else changed this at the same time; reload the page and try again")
        ) from exc


@dataclass(frozen=True)
class Subject:
    """What a step moves: the row, its workflow, how the trail names it, its application."""

    entity: Application | Call | Payment
    definition: WorkflowDefinition
    entity_type: str
    entity_id: str
    application: Application | None


def subject_of(entity: Application | Call | Payment) -> Subject:
    if isinstance(entity, Application):
        return Subject(
            entity, application_workflow(entity), "application", entity.reference, entity
        )
    if isinstance(entity, Payment):
        return Subject(entity, PAYMENT_V1, "payment", str(entity.id), entity.application)
    return Subject(entity, CALL_V1, "call", entity.reference, None)


def apply(
    session: Session,
    actor: Actor,
    entity: Application | Call | Payment,
    trigger: str,
    *,
    facts: Mapping[str, Any] | None = None,
    changes: Mapping[str, Any] | None = None,
    details: dict[str, Any] | None = None,
    audit_extra: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    inner: bool = False,
) -> StepResult:
    """Fire ``trigger`` on an application, a call or a payment instalment.

    On success: ``changes`` are set on the row, one audit event is written (filed under the
    application, if any), the step's PDF is queued and its notices are queued, all in the
    caller's transaction. ``facts`` feed the guards, ``details`` the document,
    ``audit_extra`` the event's "after". ``inner`` marks a step fired inside another one
    (the balance instalment inside the application's payment steps): the outer step
    produces the document and tells people, so this one only moves and is audited.
    """
    subject = subject_of(entity)
    ctx = TransitionContext(actor_id=actor.user_id, now=now or utcnow(), facts=dict(facts or {}))
    outcome = engine.fire(subject.definition, entity.status, trigger, actor.role, ctx)
    changes = dict(changes or {})
    before: dict[str, Any] = {"status": entity.status}
    before.update({k: _audit_value(getattr(entity, k)) for k in changes})
    entity.status = outcome.dest
    for name, value in changes.items():
        setattr(entity, name, value)
    flush_or_refuse(session)
    after: dict[str, Any] = {"status": outcome.dest}
    after.update({k: _audit_value(v) for k, v in changes.items()})
    after.update(audit_extra or {})
    application = subject.application
    event = audit.record(
        session,
        actor,
        trigger,
        entity_type=subject.entity_type,
        entity_id=subject.entity_id,
        before=before,
        after=after,
        application_id=application.id if application else None,
    )
    document = None
    if outcome.transition.document and application is not None and not inner:
        document = documents.enqueue(
            session,
            application=application,
            event=event,
            kind=outcome.transition.document,
            step=outcome.transition.label,
            details=details or {},
        )
    if not inner:
        notifications.step_done(session, actor, subject, trigger, outcome.dest, event, document)
    return StepResult(event=event, dest=outcome.dest, document=document)


def apply_with_reason(
    session: Session,
    actor: Actor,
    application: Application,
    trigger: str,
    reason: str,
    *,
    audit_extra: Mapping[str, Any] | None = None,
) -> StepResult:
    """A step whose input is a person's reason: its guard checks that one is given, and the
    audit event and the step's document keep it."""
    return apply(
        session,
        actor,
        application,
        trigger,
        facts={"reason": reason},
        audit_extra={"reason": reason, **(audit_extra or {})},
        details={"reason": reason},
    )


def available_triggers(application: Application, role: str) -> list[str]:
    return engine.available_triggers(application_workflow(application), application.status, role)
