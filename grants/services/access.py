"""Who may see which application: one place, used by every view, export and download."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from grants.db import utcnow
from grants.models import STEPPED_ASIDE, Application, Call, Document, Evaluation, Payment
from grants.services import conflicts
from grants.services.actor import Actor
from grants.services.workflow import NotFound, application_workflow
from workflows.call import CallState
from workflows.registry import application_states_where
from workflows.roles import Role

# Finance officers work on vouchers once an agreement exists (DOMAIN.md: payments).
FINANCE_STATES = application_states_where("finance_sees")


def visible_applications_query(actor: Actor) -> Select[tuple[Application]]:
    query = select(Application)
    match actor.role:
        case Role.OFFICER | Role.AUDITOR:
            pass
        case Role.APPLICANT:
            query = query.where(Application.organisation_id == actor.organisation_id)
        case Role.EVALUATOR:
            query = query.join(Evaluation).where(
                Evaluation.evaluator_id == actor.user_id,
                Evaluation.status.not_in(STEPPED_ASIDE),
            )
        case Role.FINANCE:
            query = query.where(Application.status.in_(FINANCE_STATES))
        case _:
            query = query.where(False)
    return query.order_by(Application.reference)


def can_view(actor: Actor, application: Application) -> bool:
    match actor.role:
        case Role.OFFICER | Role.AUDITOR:
            return True
        case Role.APPLICANT:
            return actor.organisation_id == application.organisation_id
        case Role.EVALUATOR:
            return any(
                e.evaluator_id == actor.user_id and e.status not in STEPPED_ASIDE
                for e in application.evaluations
            )
        case Role.FINANCE:
            return application.status in FINANCE_STATES
        case _:
            return False


def require_view(actor: Actor, application: Application) -> None:
    # Not "forbidden": an applicant must not even learn another SME's reference exists.
    if not can_view(actor, application):
        raise NotFound(f"no application {application.id}")


def can_view_documents(actor: Actor, application: Application) -> bool:
    # Evaluators judge the proposal, not the SME's payments or letters.
    return actor.role != Role.EVALUATOR and can_view(actor, application)


def can_view_document(actor: Actor, document: Document) -> bool:
    """A document of an application whose documents this person may see; the SME gets the
    Evaluation Summary Report with the result (ranking), as the page shows the consensus."""
    application = document.application
    if not can_view_documents(actor, application):
        return False
    if document.kind == "payment_order" and actor.role not in (Role.FINANCE, Role.AUDITOR):
        return False  # the bank's instruction carries the full IBAN: finance and auditors
    return not (
        actor.role == Role.APPLICANT
        and document.kind == "evaluation_summary_report"
        and not application_workflow(application).fact(application.status).results_out
    )


def conflict_detected(session: Session, actor: Actor, application: Application) -> bool:
    """Whether ``actor`` is an expert with a conflict detected with the application: one
    assigned before it came to light (a profile changed) no longer sees the application."""
    if actor.role != Role.EVALUATOR or actor.user_id is None:
        return False
    return bool(conflicts.detected_for(session, application, actor.user_id))


def visible_payment(session: Session, actor: Actor, payment_id: int) -> Payment:
    """A payment instalment of an application this person may see, or NotFound."""
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise NotFound(f"no payment {payment_id}")
    require_view(actor, payment.application)
    return payment


def visible_application(session: Session, actor: Actor, application_id: int) -> Application:
    """The application if this person may see it, else NotFound (never "forbidden")."""
    application = session.get(Application, application_id)
    if application is None:
        raise NotFound(f"no application {application_id}")
    require_view(actor, application)
    if conflict_detected(session, actor, application):
        raise NotFound(f"no application {application_id}")
    return application


def visible_document(session: Session, actor: Actor, document_id: str) -> Document:
    """A document this person may see; anyone else learns nothing, not even that it exists."""
    document = session.get(Document, document_id)
    if document is None or not can_view_document(actor, document):
        raise NotFound(f"no document {document_id}")
    return document


def own_evaluation(session: Session, actor: Actor, evaluation_id: int) -> Evaluation:
    """Only the expert it is assigned to may open an evaluation."""
    found = session.get(Evaluation, evaluation_id)
    if found is None or found.evaluator_id != actor.user_id:
        raise NotFound(f"no evaluation {evaluation_id}")
    if found.status not in STEPPED_ASIDE and conflict_detected(session, actor, found.application):
        raise NotFound(f"no evaluation {evaluation_id}")
    return found


def announced(call: Call, now: datetime) -> bool:
    """Whether the public sees the call: published, and its announcement time (if the
    builder set one) has come. A draft is the programme team's work in progress."""
    if call.status == CallState.DRAFT:
        return False
    return call.publish_at is None or call.publish_at <= now


def visible_call(
    session: Session, call_id: int, *, staff: bool, now: datetime | None = None
) -> Call:
    """The call, for staff always; for everyone else once it is announced."""
    call = session.get(Call, call_id)
    if call is None or (not staff and not announced(call, now or utcnow())):
        raise NotFound(f"no call {call_id}")
    return call


def own_application_in(
    session: Session, call_id: int, organisation_id: int | None
) -> Application | None:
    """The organisation's application to a call, if it has started one."""
    if organisation_id is None:
        return None
    return session.scalar(
        select(Application).where(
            Application.call_id == call_id, Application.organisation_id == organisation_id
        )
    )
