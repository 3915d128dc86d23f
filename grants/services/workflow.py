"""Apply one workflow step: status, audit event, document job and notices together.

Every state change of an application, a call or a payment goes through ``apply`` (no
``status = ...`` elsewhere). It asks ``workflows`` whether the step is allowed, then writes
the new status, one audit event, the document job and the step's notices, all in the
caller's transaction: the step fully happens or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.interfaces import ORMOption

from grants.db import Base, utcnow
from grants.errors import NotFound, require_own
from grants.models import Application, AuditEvent, Call, Document, Payment, RedressRequest
from grants.services import audit, documents, notifications
from grants.services.actor import Actor
from workflows import engine
from workflows.call import CALL_V1
from workflows.definition import WorkflowDefinition
from workflows.errors import TransitionRefused
from workflows.guards import TransitionContext
from workflows.i18n import _
from workflows.payment import PAYMENT_V1
from workflows.redress import REDRESS_V1

M = TypeVar("M", bound=Base)
# What a step moves: each has a status run by a workflow.
Entity = Application | Call | Payment | RedressRequest


def application_workflow(application: Application) -> WorkflowDefinition:
    return application.workflow


def load_locked(
    session: Session,
    model: type[M],
    row_id: int,
    what: str,
    *,
    also: Sequence[ORMOption] = (),
) -> M:
    """Load a row to change it: locked on PostgreSQL, so a racing writer waits and then sees
    the winner's state (SQLite serialises writers at BEGIN IMMEDIATE). ``also`` loads what
    the step reads beside the row in the same round trip; only the row itself is locked."""
    row = session.scalars(
        select(model).where(model.__table__.c.id == row_id).options(*also).with_for_update(of=model)
    ).first()
    if row is None:
        raise NotFound(f"no {what} {row_id}")
    return row


def load_application(
    session: Session, application_id: int, *, also: Sequence[ORMOption] = ()
) -> Application:
    return load_locked(session, Application, application_id, "application", also=also)


def load_own_application(
    session: Session, actor: Actor, application_id: int, *, also: Sequence[ORMOption] = ()
) -> Application:
    """The application its applicant organisation changes: locked, refused to anyone else."""
    application = load_application(session, application_id, also=also)
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

    entity: Entity
    definition: WorkflowDefinition
    entity_type: str
    entity_id: str
    application: Application | None


def subject_of(entity: Entity) -> Subject:
    if isinstance(entity, Application):
        return Subject(
            entity, application_workflow(entity), "application", entity.reference, entity
        )
    if isinstance(entity, Payment):
        return Subject(entity, PAYMENT_V1, "payment", str(entity.id), entity.application)
    if isinstance(entity, RedressRequest):
        return Subject(entity, REDRESS_V1, "redress", str(entity.id), entity.application)
    return Subject(entity, CALL_V1, "call", entity.reference, None)


@dataclass(frozen=True)
class PlannedStep:
    """One step to apply: what ``apply`` takes, for ``apply_many``."""

    entity: Entity
    trigger: str
    facts: Mapping[str, Any] | None = None
    changes: Mapping[str, Any] | None = None
    details: dict[str, Any] | None = None
    audit_extra: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class _Moved:
    step: PlannedStep
    subject: Subject
    outcome: engine.Outcome
    event: AuditEvent


def _move(actor: Actor, step: PlannedStep, now: datetime | None) -> _Moved:
    """Ask the workflow, set the new status and changes, and build the (unwritten) event."""
    entity = step.entity
    subject = subject_of(entity)
    ctx = TransitionContext(
        actor_id=actor.user_id, now=now or utcnow(), facts=dict(step.facts or {})
    )
    outcome = engine.fire(subject.definition, entity.status, step.trigger, actor.role, ctx)
    changes = dict(step.changes or {})
    before: dict[str, Any] = {"status": entity.status}
    before.update({k: _audit_value(getattr(entity, k)) for k in changes})
    entity.status = outcome.dest
    for name, value in changes.items():
        setattr(entity, name, value)
    after: dict[str, Any] = {"status": outcome.dest}
    after.update({k: _audit_value(v) for k, v in changes.items()})
    after.update(step.audit_extra or {})
    application = subject.application
    event = audit.new_event(
        actor,
        step.trigger,
        entity_type=subject.entity_type,
        entity_id=subject.entity_id,
        before=before,
        after=after,
        application_id=application.id if application else None,
    )
    return _Moved(step, subject, outcome, event)


def _follow_up(
    session: Session, actor: Actor, moved: _Moved, *, inner: bool, flush: bool
) -> StepResult:
    """The step's document and notices, once its event has an id."""
    application = moved.subject.application
    document = None
    kind = moved.outcome.transition.document
    if kind and application is not None and not inner:
        document = documents.enqueue(
            session,
            application=application,
            event=moved.event,
            kind=kind,
            step=moved.outcome.transition.label,
            details=moved.step.details or {},
            flush=flush,
        )
    if not inner:
        notifications.step_done(
            session,
            actor,
            moved.subject,
            moved.step.trigger,
            moved.outcome.dest,
            moved.event,
            document,
            flush=flush,
        )
    return StepResult(event=moved.event, dest=moved.outcome.dest, document=document)


def apply(
    session: Session,
    actor: Actor,
    entity: Entity,
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
    step = PlannedStep(entity, trigger, facts, changes, details, audit_extra)
    moved = _move(actor, step, now)
    flush_or_refuse(session)
    audit.append(session, [moved.event])
    return _follow_up(session, actor, moved, inner=inner, flush=True)


def _write_moves(session: Session, steps: Sequence[PlannedStep]) -> None:
    """The new statuses and changes in one executemany UPDATE, with the version check the
    ORM makes per row (it cannot batch updates of versioned rows)."""
    if not steps:
        return
    model = type(steps[0].entity)
    names = ["status", *sorted(steps[0].changes or {})]
    if any(
        type(s.entity) is not model or ["status", *sorted(s.changes or {})] != names for s in steps
    ):
        raise ValueError("a batch of steps moves rows of one kind with the same changes")
    table = model.__table__
    now = utcnow()
    rows = [
        {
            "b_id": s.entity.id,
            "b_version": s.entity.version,
            "version": s.entity.version + 1,
            "updated_at": now,
            **{name: getattr(s.entity, name) for name in names},
        }
        for s in steps
    ]
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.version == bindparam("b_version"))
        .values({name: bindparam(name) for name in [*names, "version", "updated_at"]})
    )
    result = session.connection().execute(statement, rows)
    if result.rowcount != len(rows):
        raise TransitionRefused(
            _("someone else changed this at the same time; reload the page and try again")
        )
    for s, row in zip(steps, rows, strict=True):
        for name in [*names, "version", "updated_at"]:
            set_committed_value(s.entity, name, row[name])


def apply_many(
    session: Session, actor: Actor, steps: Sequence[PlannedStep], *, now: datetime | None = None
) -> list[StepResult]:
    """``apply`` for many rows at once (a ranking): the same checks, events, documents and
    notices, written with a few statements for the whole batch instead of several per row.
    Load the rows with what their documents and notices read (call, organisation and its
    people) first, or each row still costs a query. A refused step refuses the batch."""
    moved = [_move(actor, step, now) for step in steps]
    _write_moves(session, [m.step for m in moved])
    audit.append(session, [m.event for m in moved])
    results = [_follow_up(session, actor, m, inner=False, flush=False) for m in moved]
    session.flush()
    return results


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
