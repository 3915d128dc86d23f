"""Redress: the applicant asks for the review of an eligibility or evaluation decision within
the call's window; an officer upholds or rejects it with reasons and a letter.

An upheld eligibility request sends the application back to the eligibility check; an upheld
evaluation request has it evaluated again by experts who have not evaluated it before (their
earlier evaluations are set aside, and the assignment refuses anyone who already evaluated
it), then ranked with the call's next ranking.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grants import programme
from grants.db import utcnow
from grants.formatting import local_time
from grants.models import Application, AuditEvent, Evaluation, EvaluationStatus, RedressRequest
from grants.services import audit, documents, mail, notifications
from grants.services.actor import Actor
from grants.services.applications import ValidationFailed, require_role
from grants.services.redress_window import window_of
from grants.services.role_holders import people_holding
from grants.services.workflow import (
    StepResult,
    apply,
    load_application,
    load_locked,
    load_own_application,
)
from workflows.errors import TransitionRefused
from workflows.i18n import _
from workflows.redress import (
    MAX_GROUNDS,
    RedressKind,
    RedressState,
    last_moment,
)
from workflows.roles import Role
from workflows.voucher import AppState


def requests_of(session: Session, application_id: int) -> list[RedressRequest]:
    return list(
        session.scalars(
            select(RedressRequest)
            .where(RedressRequest.application_id == application_id)
            .order_by(RedressRequest.id)
        )
    )


def pending(session: Session) -> list[RedressRequest]:
    """Requests waiting for an officer's decision, oldest first."""
    return list(
        session.scalars(
            select(RedressRequest)
            .where(RedressRequest.status == RedressState.REQUESTED)
            .order_by(RedressRequest.filed_at, RedressRequest.id)
        )
    )


def _text(raw: str, field: str, missing: str) -> str:
    text = (raw or "").strip()
    if not text:
        raise ValidationFailed({field: missing})
    if len(text) > MAX_GROUNDS:
        raise ValidationFailed(
            {field: _("use at most %(count)s characters", count=f"{MAX_GROUNDS:,}")}
        )
    return text


def file_request(
    session: Session,
    actor: Actor,
    application_id: int,
    *,
    grounds: str,
    now: datetime | None = None,
) -> RedressRequest:
    """The applicant's request, within the window; one per decision."""
    require_role(actor, Role.APPLICANT)
    now = now or utcnow()
    application = load_own_application(session, actor, application_id)
    window = window_of(session, application)
    if window is None:
        raise TransitionRefused(_("this application has no decision that can be challenged"))
    call = application.call
    if not window.open_at(now):
        raise TransitionRefused(
            _(
                "the window for a redress request closed at the end of %(date)s (%(timezone)s)",
                date=window.last_moment.astimezone(window.closes_at.tzinfo).date().isoformat(),
                timezone=call.timezone,
            )
        )
    text = _text(grounds, "grounds", _("say why the decision should be reviewed"))
    if any(r.decision_at == window.decision_at for r in requests_of(session, application.id)):
        raise TransitionRefused(_("a redress request against this decision was already filed"))
    request = RedressRequest(
        application_id=application.id,
        kind=window.kind,
        status=RedressState.REQUESTED,
        decision_at=window.decision_at,
        window_closes_at=window.closes_at,
        grounds=text,
        filed_by_id=actor.user_id,
        filed_at=now,
    )
    session.add(request)
    try:
        session.flush()
    except IntegrityError:  # the same request from a second tab, at the same moment
        raise TransitionRefused(
            _("a redress request against this decision was already filed")
        ) from None
    details = _details(request, application)
    event = audit.record(
        session,
        actor,
        "request_redress",
        entity_type="redress",
        entity_id=request.id,
        after={"status": request.status, "kind": request.kind, "grounds": text},
        application_id=application.id,
    )
    document = documents.enqueue(
        session,
        application=application,
        event=event,
        kind="redress_acknowledgement",
        step="Request for redress",
        details=details,
    )
    _tell(session, actor, application, request, event, document.id)
    return request


def _details(request: RedressRequest, application: Application) -> dict[str, object]:
    zone = application.call.timezone
    return {
        "kind": request.kind,
        "request": request.grounds,
        "filed_at": local_time(request.filed_at, zone),
        "decision_at": local_time(request.decision_at, zone),
        "window_closes": local_time(last_moment(request.window_closes_at), zone),
    }


def _tell(
    session: Session,
    actor: Actor,
    application: Application,
    request: RedressRequest,
    event: AuditEvent,
    document_id: str,
) -> None:
    """The applicant gets the acknowledgement; the programme officers learn a request waits."""
    context = {
        "application": application,
        "call": application.call,
        "redress": request,
        "programme": programme.PROGRAMME_NAME,
    }
    # Imported here: the step registry names the services that call this one.
    from grants.steps import Notice, Recipient

    to_applicant = Notice(Recipient.APPLICANT, "redress_received")
    for address, name in notifications.recipients(session, actor, to_applicant, application):
        subject, body = notifications.render("redress_received", {**context, "name": name})
        mail.queue(
            session,
            to=address,
            subject=subject,
            body=body,
            purpose="redress_received",
            application_id=application.id,
            document_id=document_id,
            dedupe_key=f"redress:{event.id}:{address.lower()}",
        )
    for officer in session.scalars(people_holding(Role.OFFICER)):
        subject, body = notifications.render(
            "redress_filed", {**context, "name": officer.full_name}
        )
        mail.queue(
            session,
            to=officer.email,
            subject=subject,
            body=body,
            purpose="redress_filed",
            application_id=application.id,
            dedupe_key=f"redress:{event.id}:{officer.email.lower()}",
        )


def decide(
    session: Session, actor: Actor, redress_id: int, *, upheld: bool, reasons: str
) -> StepResult:
    """The officer's decision with its reasons; the letter goes to the applicant."""
    require_role(actor, Role.OFFICER)
    request = load_locked(session, RedressRequest, redress_id, "redress request")
    # Locked in the order every application step takes: the application, then its rows.
    application = load_application(session, request.application_id)
    text = _text(reasons, "reasons", _("give the reasons for the decision"))
    now = utcnow()
    result = apply(
        session,
        actor,
        request,
        "uphold" if upheld else "reject",
        facts={"reason": text},
        changes={"reasons": text, "decided_by_id": actor.user_id, "decided_at": now},
        audit_extra={"kind": request.kind},
        details={**_details(request, application), "decision": text, "upheld": upheld},
    )
    if upheld:
        _reopen(session, actor, application, RedressKind(request.kind), text)
    return result


def _reopen(
    session: Session, actor: Actor, application: Application, kind: RedressKind, reasons: str
) -> None:
    """What an upheld request changes on the application, inside the decision."""
    if kind is RedressKind.ELIGIBILITY:
        if application.status != AppState.INELIGIBLE:
            raise TransitionRefused(_("the application is no longer ineligible"))
        apply(session, actor, application, "redress", facts={"reason": reasons}, inner=True)
        return
    if application.status not in (AppState.REJECTED, AppState.RESERVE):
        raise TransitionRefused(_("the application is no longer rejected or on the reserve list"))
    evaluations = session.scalars(
        select(Evaluation).where(
            Evaluation.application_id == application.id,
            Evaluation.status != EvaluationStatus.SUPERSEDED,
        )
    ).all()
    for evaluation in evaluations:
        evaluation.status = EvaluationStatus.SUPERSEDED
    apply(
        session,
        actor,
        application,
        "reevaluate",
        facts={"reason": reasons},
        changes={"consensus": None, "total_score": None, "rank": None, "awarded_amount": None},
        audit_extra={"superseded_evaluations": [e.id for e in evaluations]},
        inner=True,
    )
