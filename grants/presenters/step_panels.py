"""What each step's panel on the application page shows besides the application itself."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from grants.formatting import format_eur
from grants.models import Application, Instalment, User
from grants.presenters import eligibility as eligibility_page
from grants.services import (
    applications,
    awards,
    conflicts,
    eligibility,
    evaluation,
    payments,
    reporting,
)
from grants.services.actor import Actor
from grants.services.role_holders import people_holding
from workflows import scoring
from workflows.eligibility import MANUAL_CHECKS, OVERRIDE_REASON_MAX
from workflows.errors import TransitionRefused
from workflows.roles import Role


def active_evaluators(session: Session, exclude: set[int]) -> list[User]:
    """Experts who can take an application, by name; ``exclude`` those already on it."""
    users = session.scalars(people_holding(Role.EVALUATOR).order_by(User.full_name, User.id))
    return [u for u in users if u.id not in exclude]


def submit(session: Session, application: Application, who: Actor) -> dict[str, Any]:
    return {"missing": applications.missing_for_submission(application)}


def check_eligibility(session: Session, application: Application, who: Actor) -> dict[str, Any]:
    profile = eligibility.evidence_profile(application)
    return {
        "proposed_checks": eligibility.proposed_checks(application),
        "manual_checks": MANUAL_CHECKS,
        "profile_from_submission": profile.from_submission,
        "profile_figures": eligibility_page.profile_figures(profile),
        "override_reason_max": OVERRIDE_REASON_MAX,
    }


def assign_evaluators(session: Session, application: Application, who: Actor) -> dict[str, Any]:
    assigned = {e.evaluator_id for e in application.evaluations}
    # The officer assigning never evaluates the same application, whatever roles they hold.
    candidates = active_evaluators(session, assigned | {who.user_id or 0})
    found = conflicts.detected(session, application, [u.id for u in candidates])
    return {
        "evaluator_choices": [u for u in candidates if not found.get(u.id)],
        # Shown with the reasons, so the officer sees why an expert cannot be chosen.
        "evaluator_conflicts": [(u, found[u.id]) for u in candidates if found.get(u.id)],
    }


def close_evaluation(session: Session, application: Application, who: Actor) -> dict[str, Any]:
    criteria = evaluation.criteria_of(application)
    proposal = evaluation.consensus_proposal(application)
    return {
        "consensus_proposal": {k: scoring.plain(v) for k, v in proposal.items()},
        "divergences": scoring.divergences(
            criteria, evaluation.expert_scores(application), application.call.divergence_limit
        ),
        "score_options": {c.key: scoring.score_options(c) for c in criteria},
    }


def promote(session: Session, application: Application, who: Actor) -> dict[str, Any]:
    return {"budget_remaining": awards.budget_remaining(session, application.call)}


def approve_report(session: Session, application: Application, who: Actor) -> dict[str, Any]:
    return {"report_under_review": reporting.latest_report(application)}


def prepare_payment(session: Session, application: Application, who: Actor) -> dict[str, Any]:
    due: Decimal | None
    try:
        due = payments.balance_amount(application)
    except TransitionRefused:
        due = None
    return {"balance_due": due}


def authorise_payment(session: Session, application: Application, who: Actor) -> dict[str, Any]:
    balance = payments.instalment(application, Instalment.BALANCE)
    if balance is not None and balance.prepared_by_id == who.user_id:
        # Four-eyes: the panel explains instead of offering a button that would be refused.
        return {
            "blocked": f"You prepared this payment ({format_eur(balance.amount)}). "
            "Four-eyes rule: another finance officer must authorise it."
        }
    return {}
