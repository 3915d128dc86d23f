"""Independent evaluation: assignment, conflict-of-interest declarations, scores, consensus."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grants.db import utcnow
from grants.models import (
    STEPPED_ASIDE,
    Application,
    CallPoolMembership,
    Evaluation,
    EvaluationStatus,
    PoolStatus,
    User,
)
from grants.services import audit, conflicts, mail
from grants.services.actor import Actor
from grants.services.applications import ValidationFailed, require_role
from grants.services.workflow import (
    NotFound,
    StepResult,
    apply,
    flush_or_refuse,
    load_application,
)
from workflows import scoring
from workflows.conflicts import reasons
from workflows.errors import TransitionRefused
from workflows.i18n import _
from workflows.roles import Role
from workflows.voucher import AppState


def criteria_of(application: Application) -> list[scoring.Criterion]:
    return scoring.criteria_from_config(application.call.criteria)


def _active(application: Application) -> list[Evaluation]:
    return [e for e in application.evaluations if e.status not in STEPPED_ASIDE]


def workload(session: Session, call_id: int, evaluator_id: int) -> int:
    """How many of the call's applications the expert works on (stepped aside not counted)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Evaluation)
            .join(Application, Application.id == Evaluation.application_id)
            .where(
                Application.call_id == call_id,
                Evaluation.evaluator_id == evaluator_id,
                Evaluation.status.not_in(STEPPED_ASIDE),
            )
        )
        or 0
    )


def _check_availability(session: Session, application: Application, evaluator: User) -> None:
    """An expert who said in the call's pool how many applications they can take is never
    given more."""
    limit = session.scalar(
        select(CallPoolMembership.max_applications).where(
            CallPoolMembership.call_id == application.call_id,
            CallPoolMembership.user_id == evaluator.id,
            CallPoolMembership.status == PoolStatus.ACCEPTED,
        )
    )
    if limit is not None and workload(session, application.call_id, evaluator.id) >= limit:
        raise ValidationFailed(
            {
                "evaluators": _(
                    "%(name)s said they can take %(count)s applications of this call and "
                    "already has them",
                    name=evaluator.full_name,
                    count=limit,
                )
            }
        )


def _add_evaluator(
    session: Session, actor: Actor, application: Application, evaluator_id: int
) -> Evaluation:
    evaluator = session.get(User, evaluator_id)
    if evaluator is None or Role.EVALUATOR not in evaluator.roles or not evaluator.active:
        raise ValidationFailed(
            {"evaluators": _("user %(id)s is not an active evaluator", id=evaluator_id)}
        )
    if evaluator.id == actor.user_id:
        # Independence is a person's, not a role's: who manages the application never scores it.
        raise ValidationFailed(
            {"evaluators": _("you manage this application, so you cannot evaluate it")}
        )
    if any(e.evaluator_id == evaluator_id for e in application.evaluations):
        raise ValidationFailed(
            {"evaluators": _("%(name)s is already assigned", name=evaluator.full_name)}
        )
    found = conflicts.detected_for(session, application, evaluator_id)
    if found:
        raise ValidationFailed(
            {
                "evaluators": _(
                    "%(name)s cannot evaluate %(reference)s: %(reasons)s",
                    name=evaluator.full_name,
                    reference=application.reference,
                    reasons=reasons(found),
                )
            }
        )
    _check_availability(session, application, evaluator)
    now = utcnow()
    due = now + timedelta(days=application.call.evaluation_days)
    evaluation = Evaluation(application=application, evaluator_id=evaluator_id, due_at=due)
    session.add(evaluation)
    flush_or_refuse(session)
    audit.record(
        session,
        actor,
        "assign_evaluator",
        entity_type="evaluation",
        entity_id=evaluation.id,
        after={
            "status": evaluation.status,
            "evaluator_id": evaluator_id,
            "evaluator": evaluator.full_name,
            "due_at": due.isoformat(),
        },
        application_id=application.id,
    )
    return evaluation


def assign_evaluators(
    session: Session, actor: Actor, application_id: int, evaluator_ids: Sequence[int]
) -> StepResult:
    require_role(actor, Role.OFFICER)
    application = load_application(session, application_id)
    if application.status != AppState.ELIGIBLE:
        raise TransitionRefused(_("evaluators are assigned once an application is eligible"))
    for evaluator_id in dict.fromkeys(evaluator_ids):
        _add_evaluator(session, actor, application, evaluator_id)
    session.refresh(application, ["evaluations"])
    required = application.call.evaluators_per_application
    return apply(
        session,
        actor,
        application,
        "assign_evaluators",
        facts={"evaluators_assigned": len(_active(application)), "evaluators_required": required},
        audit_extra={"evaluator_ids": list(dict.fromkeys(evaluator_ids))},
        details={"evaluator_count": len(_active(application)), "deadline": ""},
    )


def _step_aside_detected(
    session: Session, actor: Actor, application: Application, evaluation_id: int
) -> None:
    """The evaluation ``evaluation_id`` of the application, whose expert has a conflict
    detected after the assignment, is marked conflicted: its expert steps aside (scores
    they may have given no longer count)."""
    evaluation = next((e for e in application.evaluations if e.id == evaluation_id), None)
    if evaluation is None or evaluation.status in STEPPED_ASIDE:
        raise TransitionRefused(_("that expert no longer works on this application"))
    found = conflicts.detected_for(session, application, evaluation.evaluator_id)
    if not found:
        raise TransitionRefused(
            _(
                "no conflict is detected for %(name)s: they stay on this application",
                name=evaluation.evaluator.full_name,
            )
        )
    before = evaluation.status
    evaluation.status = EvaluationStatus.CONFLICT
    evaluation.coi_statement = _("Conflict detected: %(reasons)s", reasons=reasons(found))
    flush_or_refuse(session)
    audit.record(
        session,
        actor,
        "conflict_detected",
        entity_type="evaluation",
        entity_id=evaluation.id,
        before={"status": before},
        after={"status": evaluation.status, "statement": evaluation.coi_statement},
        application_id=application.id,
    )


def replace_conflicted(
    session: Session,
    actor: Actor,
    application_id: int,
    evaluator_id: int,
    *,
    replaces: int | None = None,
) -> Evaluation:
    """An expert stepped aside (declared a conflict, declined) or has a conflict detected
    since the assignment (``replaces``: that evaluation's id): bring in another one."""
    require_role(actor, Role.OFFICER)
    application = load_application(session, application_id)
    if application.status != AppState.IN_EVALUATION:
        raise TransitionRefused(_("the application is not in evaluation"))
    if replaces is not None:
        _step_aside_detected(session, actor, application, replaces)
    return _add_evaluator(session, actor, application, evaluator_id)


def evaluation_of_call(
    session: Session, evaluation_id: int, call_id: int | None = None
) -> Evaluation:
    """An evaluation as the programme team sees it (of the call ``call_id`` when given)."""
    found = session.get(Evaluation, evaluation_id)
    if found is None or (call_id is not None and found.application.call_id != call_id):
        raise NotFound(f"no evaluation {evaluation_id}")
    return found


def _own_evaluation(session: Session, actor: Actor, evaluation_id: int) -> Evaluation:
    evaluation = session.scalars(
        select(Evaluation).where(Evaluation.id == evaluation_id).with_for_update()
    ).first()
    if evaluation is None or evaluation.evaluator_id != actor.user_id:
        raise NotFound(f"no evaluation {evaluation_id} assigned to you")
    if conflicts.detected_for(session, evaluation.application, evaluation.evaluator_id):
        # Said as to anyone else's: the application is closed to this expert.
        raise NotFound(f"no evaluation {evaluation_id} assigned to you")
    if evaluation.application.status != AppState.IN_EVALUATION:
        raise TransitionRefused(_("this application is not in evaluation any more"))
    return evaluation


def _parsed_scores(
    criteria: list[scoring.Criterion], scores: Mapping[str, object]
) -> dict[str, Decimal]:
    """The scores as typed, read per criterion; a refusal is the fields' errors."""
    try:
        return scoring.parse_scores(criteria, scores)
    except scoring.ScoreError as exc:
        raise ValidationFailed(exc.errors) from None


def _scored(
    criteria: list[scoring.Criterion], parsed: Mapping[str, Decimal], comments: Mapping[str, str]
) -> dict[str, dict[str, str]]:
    """Each criterion's score and comment, as an expert's scores and the consensus store them."""
    return {
        c.key: {"score": str(parsed[c.key]), "comment": comments.get(c.key, "").strip()}
        for c in criteria
    }


def declare_interest(
    session: Session, actor: Actor, evaluation_id: int, *, conflict: bool, statement: str
) -> Evaluation:
    """Declared before the proposal opens; a conflicted expert steps aside."""
    require_role(actor, Role.EVALUATOR)
    evaluation = _own_evaluation(session, actor, evaluation_id)
    if evaluation.status != EvaluationStatus.ASSIGNED:
        raise TransitionRefused(_("the declaration for this proposal was already made"))
    if conflict and not statement.strip():
        raise ValidationFailed({"statement": _("describe the conflict of interest")})
    evaluation.status = EvaluationStatus.CONFLICT if conflict else EvaluationStatus.ACCEPTED
    evaluation.coi_declared_at = utcnow()
    evaluation.coi_statement = statement.strip() or "I have no conflict of interest."
    flush_or_refuse(session)
    audit.record(
        session,
        actor,
        "declare_conflict" if conflict else "declare_no_conflict",
        entity_type="evaluation",
        entity_id=evaluation.id,
        before={"status": EvaluationStatus.ASSIGNED},
        after={"status": evaluation.status, "statement": evaluation.coi_statement},
        application_id=evaluation.application_id,
    )
    return evaluation


REASON_MAX = 2000


def _reason(text: str, missing: str) -> str:
    reason = text.strip()
    if not reason:
        raise ValidationFailed({"reason": missing})
    if len(reason) > REASON_MAX:
        raise ValidationFailed({"reason": _("use at most %(count)s characters", count=REASON_MAX)})
    return reason


def decline_assignment(
    session: Session, actor: Actor, evaluation_id: int, *, reason: str
) -> Evaluation:
    """The expert turns the assignment down before the proposal opens (busy, outside their
    field); the officer is offered a replacement."""
    require_role(actor, Role.EVALUATOR)
    evaluation = _own_evaluation(session, actor, evaluation_id)
    if evaluation.status != EvaluationStatus.ASSIGNED:
        raise TransitionRefused(_("only an assignment you have not answered yet can be declined"))
    evaluation.decline_reason = _reason(reason, _("say briefly why you decline"))
    evaluation.status = EvaluationStatus.DECLINED
    flush_or_refuse(session)
    audit.record(
        session,
        actor,
        "decline_assignment",
        entity_type="evaluation",
        entity_id=evaluation.id,
        before={"status": EvaluationStatus.ASSIGNED},
        after={"status": evaluation.status, "reason": evaluation.decline_reason},
        application_id=evaluation.application_id,
    )
    return evaluation


def reopen_scores(
    session: Session, actor: Actor, evaluation_id: int, *, reason: str, link: str = ""
) -> Evaluation:
    """Submitted scores are locked; the officer reopens them, saying why, and the expert
    submits again (the only way a score changes). The expert is told by mail (``link``:
    their evaluation page)."""
    require_role(actor, Role.OFFICER)
    evaluation = session.scalars(
        select(Evaluation).where(Evaluation.id == evaluation_id).with_for_update()
    ).first()
    if evaluation is None:
        raise NotFound(f"no evaluation {evaluation_id}")
    application = evaluation.application
    if application.status != AppState.IN_EVALUATION:
        raise TransitionRefused(
            _("scores can be reopened only while the application is in evaluation")
        )
    if evaluation.status != EvaluationStatus.SUBMITTED:
        raise TransitionRefused(_("only submitted scores can be reopened"))
    text = _reason(reason, _("say why the scores are reopened: the expert reads it"))
    before = {"status": evaluation.status, "scores": evaluation.scores, "total": evaluation.total}
    evaluation.status = EvaluationStatus.ACCEPTED
    evaluation.reopen_reason = text
    evaluation.submitted_at = None
    evaluation.total = None  # the scores stay as the form's starting point
    flush_or_refuse(session)
    audit.record(
        session,
        actor,
        "reopen_scores",
        entity_type="evaluation",
        entity_id=evaluation.id,
        before=before,
        after={"status": evaluation.status, "total": None, "reason": text},
        application_id=application.id,
    )
    expert = evaluation.evaluator
    mail.queue(
        session,
        to=expert.email,
        subject=_("Your scores for %(reference)s are reopened", reference=application.reference),
        body="\n\n".join(
            (
                _("Dear %(name)s,", name=expert.full_name),
                _(
                    "%(officer)s reopened your scores for %(reference)s (%(title)s), for this "
                    "reason:",
                    officer=actor.name,
                    reference=application.reference,
                    title=application.title,
                ),
                text,
                _("Please review them and submit them again:"),
                link or "",
            )
        ).strip()
        + "\n",
        purpose="scores_reopened",
        application_id=application.id,
    )
    return evaluation


def submit_scores(
    session: Session,
    actor: Actor,
    evaluation_id: int,
    *,
    scores: Mapping[str, object],
    comments: Mapping[str, str],
) -> Evaluation:
    require_role(actor, Role.EVALUATOR)
    evaluation = _own_evaluation(session, actor, evaluation_id)
    if evaluation.status != EvaluationStatus.ACCEPTED:
        raise TransitionRefused(
            _("declare that you have no conflict of interest before scoring")
            if evaluation.status == EvaluationStatus.ASSIGNED
            else _(
                "your scores are submitted and locked: only the programme officer can reopen them"
            )
            if evaluation.status == EvaluationStatus.SUBMITTED
            else _("you can no longer score this proposal")
        )
    criteria = criteria_of(evaluation.application)
    parsed = _parsed_scores(criteria, scores)
    missing_comments = {
        c.key: _("%(criterion)s needs a comment", criterion=c.name)
        for c in criteria
        if not comments.get(c.key, "").strip()
    }
    if missing_comments:
        raise ValidationFailed(missing_comments)
    resubmitted = evaluation.reopen_reason is not None
    evaluation.scores = _scored(criteria, parsed, comments)
    evaluation.total = scoring.total(parsed)
    evaluation.status = EvaluationStatus.SUBMITTED
    evaluation.submitted_at = utcnow()
    flush_or_refuse(session)
    audit.record(
        session,
        actor,
        "resubmit_scores" if resubmitted else "submit_scores",
        entity_type="evaluation",
        entity_id=evaluation.id,
        before={"status": EvaluationStatus.ACCEPTED},
        after={"status": evaluation.status, "scores": evaluation.scores, "total": evaluation.total},
        application_id=evaluation.application_id,
    )
    return evaluation


def expert_scores(application: Application) -> list[dict[str, Decimal]]:
    return [
        {key: Decimal(v["score"]) for key, v in (e.scores or {}).items()}
        for e in application.evaluations
        if e.status == EvaluationStatus.SUBMITTED
    ]


def consensus_proposal(application: Application) -> dict[str, Decimal]:
    return scoring.mean_scores(criteria_of(application), expert_scores(application))


def close_evaluation(
    session: Session,
    actor: Actor,
    application_id: int,
    *,
    scores: Mapping[str, object],
    comments: Mapping[str, str],
) -> StepResult:
    """The moderator records the consensus; the ESR is produced from it."""
    require_role(actor, Role.OFFICER)
    application = load_application(session, application_id)
    criteria = criteria_of(application)
    parsed = _parsed_scores(criteria, scores)
    submitted = expert_scores(application)
    passed, reasons = scoring.passes_thresholds(criteria, parsed, application.call.threshold_total)
    consensus: dict[str, Any] = {
        "criteria": _scored(criteria, parsed, comments),
        "total": str(scoring.total(parsed)),
        "ranking_total": str(scoring.weighted_total(criteria, parsed)),
        "passed": passed,
        "reasons": reasons,
        "divergences": scoring.divergences(criteria, submitted, application.call.divergence_limit),
        "moderator": actor.name,
    }
    return apply(
        session,
        actor,
        application,
        "close_evaluation",
        facts={
            "evaluations_submitted": len(submitted),
            "evaluators_required": application.call.evaluators_per_application,
            "consensus_recorded": True,
        },
        changes={"consensus": consensus, "total_score": scoring.total(parsed)},
        details={
            "criteria": [
                {
                    "name": c.name,
                    "score": str(parsed[c.key]),
                    "max": str(c.max),
                    "threshold": str(c.threshold),
                    "comment": consensus["criteria"][c.key]["comment"],
                }
                for c in criteria
            ],
            "total": consensus["total"],
            "max_total": str(sum((c.max for c in criteria), Decimal(0))),
            "threshold_total": str(application.call.threshold_total),
            "passed": passed,
            "divergence_flags": consensus["divergences"],
        },
    )
