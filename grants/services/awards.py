"""Ranking, reserve promotion, offers, acceptance and decline."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from grants import programme
from grants.db import utcnow
from grants.formatting import format_eur, local_time
from grants.models import Application, Call, Organisation
from grants.services.actor import Actor
from grants.services.applications import ValidationFailed, require_role
from grants.services.workflow import (
    PlannedStep,
    StepResult,
    apply,
    apply_many,
    apply_with_reason,
    load_application,
    load_call,
    load_own_application,
)
from workflows import ranking
from workflows.call import CallState
from workflows.errors import TransitionRefused
from workflows.i18n import _
from workflows.money import prefinancing_amount
from workflows.registry import application_states_where
from workflows.roles import Role
from workflows.voucher import AppState

# Read from the workflows' state facts, so a new state is counted where it belongs.
COMMITTED_STATES = application_states_where("holds_budget")
PENDING_STATES = application_states_where("awaiting_decision")
AWARDED_STATES = application_states_where("awarded")


def committed_budget(session: Session, call_id: int) -> Decimal:
    total = session.scalar(
        select(func.coalesce(func.sum(Application.awarded_amount), 0)).where(
            Application.call_id == call_id, Application.status.in_(COMMITTED_STATES)
        )
    )
    return Decimal(total).quantize(Decimal("0.01"))


def budget_remaining(session: Session, call: Call) -> Decimal:
    # The reserve is held back for a later call: this call's vouchers never use it.
    return ranking.budget_remaining(
        call.budget - call.reserve, [committed_budget(session, call.id)]
    )


def pending_count(session: Session, call_id: int) -> int:
    return (
        session.scalar(
            select(func.count(Application.id)).where(
                Application.call_id == call_id, Application.status.in_(PENDING_STATES)
            )
        )
        or 0
    )


def _result_details(application: Application, placement: ranking.Placement) -> dict[str, object]:
    consensus = application.consensus or {}
    reasons = "; ".join(consensus.get("reasons", [])) if placement.outcome == "rejected" else ""
    return {
        "outcome": placement.outcome,
        "rank": placement.rank or "",
        "reserve_position": placement.reserve_position or "",
        "total": consensus.get("total", ""),
        "amount": format_eur(application.requested_amount),
        "reasons": reasons,
    }


def rank_call(session: Session, actor: Actor, call_id: int) -> list[ranking.Placement]:
    """Rank every evaluated application of the call and fund down to the budget line."""
    require_role(actor, Role.OFFICER)
    call = load_call(session, call_id)
    batch = call.batch_ranking and call.status == CallState.PUBLISHED
    if call.status != CallState.EVALUATING and not batch:
        raise TransitionRefused(
            _("ranking happens once the call is closed and in evaluation")
            if call.batch_ranking
            else _(
                "ranking happens once the call is closed and in evaluation "
                "(this call has no cut-off batches)"
            )
        )
    pending = 0 if batch else pending_count(session, call.id)
    if pending:
        raise TransitionRefused(
            _(
                "%(count)s application(s) are still in eligibility or evaluation; "
                "finish them first",
                count=pending,
            )
        )
    evaluated = session.scalars(
        select(Application)
        .where(Application.call_id == call.id, Application.status == AppState.EVALUATED)
        .order_by(Application.id)
        .with_for_update(of=Application)
        # What the result letters and notices read, loaded for all in a few queries.
        .options(selectinload(Application.organisation).selectinload(Organisation.users))
    ).all()
    if not evaluated:
        raise TransitionRefused(_("no evaluated application is waiting to be ranked"))
    candidates = []
    for application in evaluated:
        consensus = application.consensus or {}
        assert application.submitted_at is not None and application.requested_amount is not None
        candidates.append(
            ranking.Candidate(
                application_id=application.id,
                scores={k: Decimal(v["score"]) for k, v in consensus["criteria"].items()},
                ranking_total=Decimal(consensus["ranking_total"]),
                passed=bool(consensus["passed"]),
                submitted_at=application.submitted_at,
                amount=application.requested_amount,
            )
        )
    placements = ranking.rank(candidates, budget_remaining(session, call))
    by_id = {a.id: a for a in evaluated}
    # One transaction (a ranking is all or nothing), written a batch at a time: a few
    # statements per batch whatever the number of applications.
    for start in range(0, len(placements), RANKING_BATCH):
        batch = placements[start : start + RANKING_BATCH]
        apply_many(session, actor, [_rank_step(by_id[p.application_id], p) for p in batch])
    return placements


RANKING_BATCH = 500


def _rank_step(application: Application, placement: ranking.Placement) -> PlannedStep:
    return PlannedStep(
        application,
        "rank",
        facts={"ranking_outcome": placement.outcome},
        changes={
            "rank": placement.rank,
            "awarded_amount": application.requested_amount
            if placement.outcome == ranking.SELECTED
            else None,
        },
        audit_extra={"reserve_position": placement.reserve_position},
        details=_result_details(application, placement),
    )


def promote(session: Session, actor: Actor, application_id: int) -> StepResult:
    """A selected voucher was declined or budget was freed: the next on the reserve list."""
    require_role(actor, Role.OFFICER)
    application = load_application(session, application_id)
    call = load_call(session, application.call_id)
    amount = application.requested_amount or Decimal(0)
    return apply(
        session,
        actor,
        application,
        "promote",
        facts={"amount": amount, "budget_remaining": budget_remaining(session, call)},
        changes={"awarded_amount": amount},
        details={
            "outcome": "selected",
            "rank": application.rank or "",
            "reserve_position": "",
            "total": (application.consensus or {}).get("total", ""),
            "amount": format_eur(amount),
            "reasons": "Promoted from the reserve list after budget was released.",
        },
    )


def organisation_awarded_total(session: Session, application: Application) -> Decimal:
    """What this SME already holds across every call of the consortium (cumulative cap)."""
    total = session.scalar(
        select(func.coalesce(func.sum(Application.awarded_amount), 0)).where(
            Application.organisation_id == application.organisation_id,
            Application.id != application.id,
            Application.status.in_(AWARDED_STATES),
        )
    )
    return Decimal(total)


def agreement_details(application: Application, officer: Actor) -> dict[str, object]:
    call = application.call
    award = application.awarded_amount or Decimal(0)
    pre = prefinancing_amount(award, call.prefinancing_percent)
    return {
        "amount": format_eur(award),
        "funding_rate": f"{call.funding_rate.normalize():f}%",
        "schedule": [
            {
                "label": "Pre-financing",
                "percent": f"{call.prefinancing_percent.normalize():f}%",
                "amount": format_eur(pre),
                "condition": "after signature of this agreement",
            },
            {
                "label": "Balance",
                "percent": f"{(100 - call.prefinancing_percent).normalize():f}%",
                "amount": format_eur(award - pre),
                "condition": "after approval of the final report, on eligible costs",
            },
        ],
        "obligations": [
            "Carry out the activities described in the application within the agreed period.",
            "Submit a final report with the costs incurred and evidence of delivery.",
            "Subcontract no more than 25% of the voucher budget.",
            "Do not receive other public funding for the same activity (no double funding).",
            'Display "Funded by the European Union" with the EU emblem on any communication.',
            "Keep all supporting documents for 5 years after the final payment "
            "(3 years for vouchers up to EUR 60,000) and give access to EU auditors.",
        ],
        "beneficiary": f"{programme.PROGRAMME_NAME} consortium",
        # The programme officer who makes the offer signs for the beneficiary.
        "signatory": officer.name,
    }


def offer(session: Session, actor: Actor, application_id: int) -> StepResult:
    require_role(actor, Role.OFFICER)
    application = load_application(session, application_id)
    # Offers to one SME from different calls queue on the SME's row: otherwise each could
    # pass the cumulative cap without seeing the other (PostgreSQL, READ COMMITTED).
    session.execute(
        select(Organisation.id)
        .where(Organisation.id == application.organisation_id)
        .with_for_update()
    )
    now = utcnow()
    deadline = now + timedelta(days=application.call.offer_acceptance_days)
    details = agreement_details(application, actor)
    details["acceptance_deadline"] = local_time(deadline, application.call.timezone)
    return apply(
        session,
        actor,
        application,
        "offer",
        facts={
            "amount": application.awarded_amount or Decimal(0),
            "organisation_awarded_total": organisation_awarded_total(session, application),
            "cumulative_cap": application.call.cumulative_cap,
        },
        changes={"offer_deadline": deadline},
        details=details,
        now=now,
    )


def normalise_iban(raw: str) -> str | None:
    try:
        return IBAN(raw).compact
    except (SchwiftyException, ValueError):
        return None


def mask_iban(iban: str | None) -> str:
    return "" if not iban else f"{iban[:4]} **** **** {iban[-4:]}"


def accept(
    session: Session,
    actor: Actor,
    application_id: int,
    *,
    iban: str,
    account_holder: str,
    signed: bool,
) -> StepResult:
    application = load_own_application(session, actor, application_id)
    compact = normalise_iban(iban)
    if iban.strip() and compact is None:
        raise ValidationFailed({"iban": _("this is not a valid IBAN (check digits or length)")})
    now = utcnow()
    return apply(
        session,
        actor,
        application,
        "accept",
        facts={
            "agreement_signed": signed,
            "iban_valid": compact is not None and bool(account_holder.strip()),
        },
        changes={
            "iban": compact,
            "account_holder": account_holder.strip(),
            "agreement_signed_at": now,
        },
        details={
            "signed_by": actor.name,
            "signed_at": local_time(now, application.call.timezone),
            "iban_masked": mask_iban(compact),
            "account_holder": account_holder.strip(),
            "amount": format_eur(application.awarded_amount),
        },
    )


def decline(session: Session, actor: Actor, application_id: int, *, reason: str) -> StepResult:
    """The SME turns the voucher down; its budget goes back to the call for the reserve list."""
    application = load_own_application(session, actor, application_id)
    return apply_with_reason(
        session,
        actor,
        application,
        "decline",
        reason,
        audit_extra={"released": application.awarded_amount},
    )
