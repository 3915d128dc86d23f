"""Assigning a call's experts: the automatic proposal, its confirmation in one transaction,
replacements for experts who stepped aside, and evaluations past their due date.

The proposal is ``workflows.assignment`` over the experts who accepted the call's pool,
with the conflicts ``conflicts`` detects; an application's keywords are the officers'
keyword labels found in its title and answers. Confirming assigns every application of the
proposal through ``evaluation.assign_evaluators`` (each refuses a conflict or an expert
over their availability), so either all of them are assigned, or none.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from grants.db import utcnow
from grants.errors import ValidationFailed, require_role
from grants.models import (
    STEPPED_ASIDE,
    Application,
    Call,
    Evaluation,
    EvaluationStatus,
    Organisation,
)
from grants.services import conflicts, evaluation
from grants.services.actor import Actor
from grants.services.expert_pool import ExpertCard, suggested_experts
from grants.services.experts import list_keywords
from grants.services.workflow import NotFound, load_call
from workflows import assignment
from workflows.conflicts import Conflict
from workflows.errors import TransitionRefused
from workflows.i18n import _
from workflows.roles import Role
from workflows.voucher import AppState

# Evaluations still waiting for the expert's scores.
OPEN = (EvaluationStatus.ASSIGNED, EvaluationStatus.ACCEPTED)


@dataclass(frozen=True)
class Row:
    """One application of the proposal: the experts proposed, those the officer may choose
    instead, and the experts left out for a conflict (with the reasons)."""

    application: Application
    keywords: frozenset[str]
    proposed: list[int]
    choices: list[ExpertCard]
    conflicted: list[tuple[ExpertCard, list[Conflict]]]
    short: str | None


@dataclass(frozen=True)
class Replacement:
    """An evaluation whose expert stepped aside (or has a conflict detected since), and the
    expert proposed in their place (None: nobody is available, ``why``)."""

    evaluation: Evaluation
    reason: str
    detected: bool
    proposed: ExpertCard | None
    why: str


@dataclass
class CallAssignment:
    call: Call
    experts: list[ExpertCard]
    loads: dict[int, int]
    rows: list[Row] = field(default_factory=list)
    replacements: list[Replacement] = field(default_factory=list)
    overdue: list[Evaluation] = field(default_factory=list)

    @property
    def complete_rows(self) -> list[Row]:
        return [r for r in self.rows if r.short is None]

    @property
    def short_rows(self) -> list[Row]:
        return [r for r in self.rows if r.short is not None]

    def expert(self, user_id: int) -> ExpertCard | None:
        return next((e for e in self.experts if e.user_id == user_id), None)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def application_keywords(application: Application, labels: Sequence[str]) -> frozenset[str]:
    """The keyword labels found in the application's title and answers."""
    text = "\n".join([application.title, *_strings(application.answers or {})])
    return assignment.keywords_in(text, labels)


def _loads(session: Session, call_id: int) -> dict[int, int]:
    rows = session.execute(
        select(Evaluation.evaluator_id, func.count())
        .join(Application, Application.id == Evaluation.application_id)
        .where(Application.call_id == call_id, Evaluation.status.not_in(STEPPED_ASIDE))
        .group_by(Evaluation.evaluator_id)
        .order_by(Evaluation.evaluator_id)
    )
    return {expert_id: count for expert_id, count in rows}


def _candidates(experts: Sequence[ExpertCard], loads: Mapping[int, int]) -> list[Any]:
    return [
        assignment.Candidate(
            expert_id=e.user_id,
            keywords=frozenset(e.keywords),
            load=loads.get(e.user_id, 0),
            capacity=None
            if e.max_applications is None
            else max(e.max_applications - loads.get(e.user_id, 0), 0),
        )
        for e in experts
    ]


def _applications(session: Session, call_id: int, states: Sequence[str]) -> list[Application]:
    return list(
        session.scalars(
            select(Application)
            .where(Application.call_id == call_id, Application.status.in_(states))
            .options(
                selectinload(Application.organisation).selectinload(Organisation.users),
                selectinload(Application.evaluations).selectinload(Evaluation.evaluator),
            )
            .order_by(Application.reference)
        )
    )


def _call(session: Session, call_id: int) -> Call:
    call = session.get(Call, call_id)
    if call is None:
        raise NotFound(f"no call {call_id}")
    return call


def _step_aside_reason(e: Evaluation) -> str:
    if e.status == EvaluationStatus.DECLINED:
        return _("declined: %(reason)s", reason=e.decline_reason or "")
    return _("conflict of interest: %(statement)s", statement=e.coi_statement or "")


def _replacements(
    session: Session,
    call: Call,
    experts: list[ExpertCard],
    loads: dict[int, int],
    labels: Sequence[str],
) -> list[Replacement]:
    """For each application in evaluation short of experts (someone declined or declared
    a conflict) or with a conflict detected since the assignment: who steps aside, and the
    expert proposed instead."""
    applications = _applications(session, call.id, [AppState.IN_EVALUATION])
    ids = [e.user_id for e in experts]
    assigned_ids = {e.evaluator_id for a in applications for e in a.evaluations}
    found = conflicts.detected_matrix(session, applications, set(ids) | assigned_ids)
    candidates = _candidates(experts, loads)
    needs: list[tuple[Application, Evaluation, str, bool]] = []
    for application in applications:
        active = [e for e in application.evaluations if e.status not in STEPPED_ASIDE]
        for e in active:
            hits = found.get((application.id, e.evaluator_id))
            if hits:
                needs.append((application, e, "; ".join(c.reason for c in hits), True))
        missing = call.evaluators_per_application - len(active)
        aside = [e for e in application.evaluations if e.status in STEPPED_ASIDE]
        for e in aside[: max(missing, 0)]:
            needs.append((application, e, _step_aside_reason(e), False))
    result = []
    for application, stepped, reason, detected in needs:
        slot = assignment.Slot(
            application_id=application.id,
            needed=1,
            keywords=application_keywords(application, labels),
            taken=frozenset(e.evaluator_id for e in application.evaluations),
        )
        proposal = assignment.propose([slot], candidates, found.keys())
        chosen = proposal.chosen.get(application.id) or []
        card = next((x for x in experts if chosen and x.user_id == chosen[0]), None)
        result.append(
            Replacement(stepped, reason, detected, card, proposal.short.get(application.id, ""))
        )
    return result


def overdue(session: Session, call_id: int, now: datetime | None = None) -> list[Evaluation]:
    """Evaluations of the call past their due date without scores, oldest due first."""
    return list(
        session.scalars(
            select(Evaluation)
            .join(Application, Application.id == Evaluation.application_id)
            .where(
                Application.call_id == call_id,
                Application.status == AppState.IN_EVALUATION,
                Evaluation.status.in_(OPEN),
                Evaluation.due_at.is_not(None),
                Evaluation.due_at < (now or utcnow()),
            )
            .options(selectinload(Evaluation.evaluator), selectinload(Evaluation.application))
            .order_by(Evaluation.due_at, Evaluation.id)
        )
    )


def call_assignment(
    session: Session, officer: Actor, call_id: int, *, now: datetime | None = None
) -> CallAssignment:
    """The proposal for the call's eligible applications, the replacements to confirm and
    the overdue evaluations."""
    require_role(officer, Role.OFFICER)
    call = _call(session, call_id)
    # The officer who assigns never evaluates, whatever roles they hold.
    experts = [e for e in suggested_experts(session, call.id) if e.user_id != officer.user_id]
    loads = _loads(session, call.id)
    labels = [k.label for k in list_keywords(session, active_only=True)]
    applications = _applications(session, call.id, [AppState.ELIGIBLE])
    found = conflicts.detected_matrix(session, applications, [e.user_id for e in experts])
    slots = []
    for application in applications:
        taken = frozenset(e.evaluator_id for e in application.evaluations)
        active = [e for e in application.evaluations if e.status not in STEPPED_ASIDE]
        slots.append(
            assignment.Slot(
                application_id=application.id,
                needed=max(call.evaluators_per_application - len(active), 0),
                keywords=application_keywords(application, labels),
                taken=taken,
            )
        )
    proposal = assignment.propose(slots, _candidates(experts, loads), found.keys())
    result = CallAssignment(call=call, experts=experts, loads=proposal.loads)
    for application, slot in zip(applications, slots, strict=True):
        result.rows.append(
            Row(
                application=application,
                keywords=slot.keywords,
                proposed=proposal.chosen.get(application.id, []),
                choices=[
                    e
                    for e in experts
                    if (application.id, e.user_id) not in found and e.user_id not in slot.taken
                ],
                conflicted=[
                    (e, found[application.id, e.user_id])
                    for e in experts
                    if (application.id, e.user_id) in found
                ],
                short=proposal.short.get(application.id),
            )
        )
    result.replacements = _replacements(session, call, experts, loads, labels)
    result.overdue = overdue(session, call.id, now)
    return result


def confirm_assignment(
    session: Session, officer: Actor, call_id: int, chosen: Mapping[int, Sequence[int]]
) -> list[int]:
    """Assign the experts chosen for each application (application id → expert ids) in the
    caller's transaction: every application is assigned, or, on the first refusal, none
    (the refusal names the application and the reason). The applications assigned."""
    require_role(officer, Role.OFFICER)
    call = load_call(session, call_id)
    if not chosen:
        raise TransitionRefused(_("no application of this call is ready to be assigned"))
    pool = {e.user_id for e in suggested_experts(session, call.id)}
    for application_id, expert_ids in sorted(chosen.items()):
        application = session.get(Application, application_id)
        if application is None or application.call_id != call.id:
            raise NotFound(f"no application {application_id} in call {call_id}")
        wanted = list(dict.fromkeys(expert_ids))
        problem = None
        if len(wanted) < len(expert_ids):
            problem = _("the same expert is chosen twice")
        elif len(wanted) < call.evaluators_per_application:
            problem = _("choose %(count)s different experts", count=call.evaluators_per_application)
        elif set(wanted) - pool:
            problem = _("choose experts who accepted the call's pool")
        if problem:
            raise ValidationFailed({f"application-{application_id}": problem})
        try:
            evaluation.assign_evaluators(session, officer, application_id, wanted)
        except ValidationFailed as exc:
            raise ValidationFailed(
                {f"application-{application_id}": "; ".join(exc.errors.values())}
            ) from None
        except TransitionRefused as exc:
            raise TransitionRefused(
                _("%(reference)s: %(reason)s", reference=application.reference, reason=str(exc))
            ) from None
    return sorted(chosen)
