"""Ranking, reserve promotion, offers, acceptance and decline."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grants import programme
from grants.db import utcnow
from grants.errors import NotFound
from grants.formatting import format_eur, local_time
from grants.models import Application, Call, Organisation, RankedList
from grants.services.actor import Actor
from grants.services.applications import ValidationFailed, require_role
from grants.services.workflow import (
    StepResult,
    apply,
    apply_with_reason,
    load_application,
    load_call,
    load_own_application,
)
from workflows import ranking
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


def rank_call(
    session: Session, actor: Actor, call_id: int, *, now: datetime | None = None
) -> list[ranking.Placement]:
    """Rank the call's current batch and approve it as it stands (commands, the demo, tests;
    officers go through the preview, ``ranking_lists.preview`` then ``approve``)."""
    from grants.services import ranking_lists  # it builds on this module's budget sums

    return ranking_lists.approve(session, actor, call_id, now=now).placements


def lock_call_of(session: Session, application_id: int) -> Call:
    """The application's call, locked: every change of a call's budget (ranking, promotion,
    decline, expiry, termination) queues here, always before the application row."""
    call_id = session.scalar(select(Application.call_id).where(Application.id == application_id))
    if call_id is None:
        raise NotFound(f"no application {application_id}")
    return load_call(session, call_id)


# The system acts for nobody: the trail names it and the cause instead of a person.
SYSTEM_NAME = "Cascade (automatic)"


def system_actor() -> Actor:
    return Actor(user_id=None, name=SYSTEM_NAME, role=Role.OFFICER)


def _promote(
    session: Session,
    actor: Actor,
    application: Application,
    call: Call,
    *,
    reason: str,
    audit_extra: dict[str, object] | None = None,
) -> StepResult:
    amount = application.requested_amount or Decimal(0)
    return apply(
        session,
        actor,
        application,
        "promote",
        facts={"amount": amount, "budget_remaining": budget_remaining(session, call)},
        changes={"awarded_amount": amount},
        audit_extra=audit_extra,
        details={
            "outcome": "selected",
            "rank": application.rank or "",
            "reserve_position": "",
            "total": (application.consensus or {}).get("total", ""),
            "amount": format_eur(amount),
            "reasons": reason,
        },
    )


def promote(session: Session, actor: Actor, application_id: int) -> StepResult:
    """A selected voucher was declined or budget was freed: the next on the reserve list."""
    require_role(actor, Role.OFFICER)
    call = lock_call_of(session, application_id)
    application = load_application(session, application_id)
    return _promote(
        session,
        actor,
        application,
        call,
        reason="Promoted from the reserve list after budget was released.",
    )


def reserve_list(session: Session, call_id: int) -> list[Application]:
    """The call's reserves in list order: the approved lists in turn, each in its order;
    reserves ranked before lists were kept come last, by rank."""
    order: dict[int, int] = {}
    for entries in session.scalars(
        select(RankedList.entries).where(RankedList.call_id == call_id).order_by(RankedList.id)
    ):
        for entry in entries:
            if entry["outcome"] == ranking.RESERVE:
                order.setdefault(int(entry["application_id"]), len(order))
    reserves = session.scalars(
        select(Application)
        .where(Application.call_id == call_id, Application.status == AppState.RESERVE)
        .order_by(Application.rank, Application.id)
    ).all()
    return sorted(reserves, key=lambda a: order.get(a.id, len(order)))


def promote_reserves(session: Session, call: Call, *, cause: str) -> list[StepResult]:
    """Budget came back to the (locked) call: promote the first reserve whose amount fits,
    again while one fits. Each promotion is the system's, naming ``cause``."""
    promoted: list[StepResult] = []
    while True:
        reserves = reserve_list(session, call.id)
        chosen = ranking.reserve_to_promote(
            [(a.id, a.requested_amount or Decimal(0)) for a in reserves],
            budget_remaining(session, call),
        )
        if chosen is None:
            return promoted
        application = load_application(session, chosen)
        promoted.append(
            _promote(
                session,
                system_actor(),
                application,
                call,
                reason=f"Promoted from the reserve list: {cause}.",
                audit_extra={"automatic": True, "cause": cause},
            )
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
    """The SME turns the voucher down; its budget goes to the reserve list at once."""
    call = lock_call_of(session, application_id)
    application = load_own_application(session, actor, application_id)
    result = apply_with_reason(
        session,
        actor,
        application,
        "decline",
        reason,
        audit_extra={"released": application.awarded_amount},
    )
    promote_reserves(session, call, cause=f"{application.reference} declined the voucher")
    return result


def exclude(session: Session, actor: Actor, application_id: int, *, reason: str) -> StepResult:
    """The officer takes a selected or offered SME out of the selection, with reasons (double
    funding found, a false declaration); its budget goes to the reserve list at once."""
    require_role(actor, Role.OFFICER)
    call = lock_call_of(session, application_id)
    application = load_application(session, application_id)
    result = apply_with_reason(
        session,
        actor,
        application,
        "exclude",
        reason,
        audit_extra={"released": application.awarded_amount},
    )
    promote_reserves(session, call, cause=f"{application.reference} was excluded")
    return result


def expire_offer(session: Session, application_id: int, now: datetime) -> StepResult | None:
    """The acceptance deadline passed unanswered: the system lets the offer expire and the
    budget goes to the reserve list. None when it was answered meanwhile."""
    call = lock_call_of(session, application_id)
    application = load_application(session, application_id)
    deadline = application.offer_deadline
    if application.status != AppState.OFFERED or deadline is None or now < deadline:
        return None
    result = apply(
        session,
        system_actor(),
        application,
        "expire_offer",
        facts={"offer_deadline": deadline},
        audit_extra={
            "automatic": True,
            "cause": "the acceptance deadline passed",
            "released": application.awarded_amount,
        },
        details={
            "acceptance_deadline": local_time(deadline, call.timezone),
            "amount": format_eur(application.awarded_amount),
        },
        now=now,
    )
    promote_reserves(session, call, cause=f"the offer to {application.reference} expired")
    return result


def expire_due_offers(session: Session, now: datetime) -> list[str]:
    """Every offer whose acceptance deadline has passed expires (``cascade remind``);
    returns the references of those that expired now."""
    due = session.scalars(
        select(Application.id)
        .where(Application.status == AppState.OFFERED, Application.offer_deadline <= now)
        .order_by(Application.id)
    ).all()
    expired = []
    for application_id in due:
        result = expire_offer(session, application_id, now)
        if result is not None:
            expired.append(result.event.entity_id)
    return expired
