"""Who may see which application: one place, used by every view, export and download."""

from __future__ import annotations

from sqlalchemy import Select, select

from grants.models import Application, Document, Evaluation, EvaluationStatus
from grants.services.actor import Actor
from grants.services.workflow import NotFound
from workflows.roles import Role
from workflows.voucher import AppState

# Finance officers work on vouchers once an agreement exists (DOMAIN.md: payments).
FINANCE_STATES = (
    AppState.CONTRACTED,
    AppState.REPORT_SUBMITTED,
    AppState.REPORT_APPROVED,
    AppState.PAYMENT_PREPARED,
    AppState.PAYMENT_AUTHORISED,
    AppState.PAID,
    AppState.CLOSED,
    AppState.TERMINATED,
)


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
                Evaluation.status != EvaluationStatus.CONFLICT,
            )
        case Role.FINANCE:
            query = query.where(Application.status.in_([str(s) for s in FINANCE_STATES]))
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
                e.evaluator_id == actor.user_id and e.status != EvaluationStatus.CONFLICT
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
    return not (
        actor.role == Role.APPLICANT
        and document.kind == "evaluation_summary_report"
        and application.status == AppState.EVALUATED
    )
