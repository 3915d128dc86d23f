"""Ranking, reserve promotion, offers, acceptance and decline."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from documents.kinds import DocumentKind
from documents.storage import DocumentStore
from grants import programme
from grants.db import utcnow
from grants.errors import NotFound
from grants.formatting import format_eur, local_time
from grants.models import Application, Call, Document, DocumentStatus, RankedList
from grants.services import bank_details, expectations, ledger
from grants.services.actor import Actor
from grants.services.applications import require_role
from grants.services.attachments import Scanner
from grants.services.workflow import (
    StepResult,
    apply,
    apply_with_reason,
    check,
    load_application,
    load_call,
    load_own_application,
)
from workflows import ranking
from workflows.call_rules import CostBasis
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
    """The ledger's available figure: budget - held back (the reserve is kept for a later
    call) - committed - paid; a recovery still owed is not available until it is repaid."""
    return ledger.available(session, call)


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


def _lock_for_award(session: Session, application_id: int) -> Application:
    """The application for an award step, with its SME's row locked first. The caller holds
    the call's row: call, organisation, application, the order every award step takes."""
    organisation_id = session.scalar(
        select(Application.organisation_id).where(Application.id == application_id)
    )
    if organisation_id is None:
        raise NotFound(f"no application {application_id}")
    ledger.lock_organisation(session, organisation_id)
    return load_application(session, application_id)


def award_facts(
    session: Session, call: Call, application: Application, amount: Decimal
) -> dict[str, object]:
    """The money limits of an award (call budget, voucher maximum, cumulative cap, de
    minimis headroom), read under the call's and the organisation's locks."""
    return ledger.award_facts(
        session,
        call,
        application.organisation,
        application,
        amount,
        organisation_awarded_total=organisation_awarded_total(session, application),
        today=utcnow().date(),
    )


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
        facts=award_facts(session, call, application, amount),
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
    application = _lock_for_award(session, application_id)
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
    again while one fits. Each promotion is the system's, naming ``cause``. A reserve whose
    SME another limit stops (cumulative cap, de minimis headroom) is passed over: it stays
    on the list, and the step that freed the budget is not refused for it."""
    promoted: list[StepResult] = []
    passed_over: set[int] = set()
    actor = system_actor()
    while True:
        reserves = [a for a in reserve_list(session, call.id) if a.id not in passed_over]
        chosen = ranking.reserve_to_promote(
            [(a.id, a.requested_amount or Decimal(0)) for a in reserves],
            budget_remaining(session, call),
        )
        if chosen is None:
            return promoted
        application = _lock_for_award(session, chosen)
        amount = application.requested_amount or Decimal(0)
        try:
            check(application, "promote", actor, award_facts(session, call, application, amount))
        except TransitionRefused:
            passed_over.add(chosen)
            continue
        promoted.append(
            _promote(
                session,
                actor,
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


def _balance_condition(call: Call) -> str:
    if call.pay_provider_directly:
        return (
            "to the service provider, once the SME confirms delivery and the final report "
            "is approved"
        )
    if call.cost_basis == CostBasis.LUMP_SUM:
        return "after approval of the final report, on the work delivered (lump sum)"
    return "after approval of the final report, on eligible costs"


def agreement_details(application: Application, officer: Actor) -> dict[str, object]:
    call = application.call
    award = application.awarded_amount or Decimal(0)
    pre = prefinancing_amount(award, call.prefinancing_percent)
    # The date the reminders count to (expectations.report_due), and the rule in words.
    terms = expectations.report_terms(application)
    report_by = f"by {terms['deadline']} ({terms['rule']})" if terms["deadline"] else terms["rule"]
    return {
        "lump_sum": call.cost_basis == CostBasis.LUMP_SUM,
        "reporting_deadline": terms["deadline"],
        "reporting_rule": terms["rule"],
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
                "condition": _balance_condition(call),
            },
        ],
        "obligations": [
            "Carry out the activities described in the application within the agreed period.",
            f"Submit the final report {report_by}, with "
            + (
                "evidence of delivery."
                if call.cost_basis == "lump_sum"
                else "the costs incurred and evidence of delivery."
            ),
            "Subcontract no more than 25% of the voucher budget.",
            "Do not receive other public funding for the same activity (no double funding).",
            'Display "Funded by the European Union" with the EU emblem on any communication.',
            "Keep all supporting documents for 5 years after the final payment "
            "(3 years for vouchers up to EUR 60,000) and give access to EU auditors.",
        ],
        "beneficiary": f"{programme.PROGRAMME_NAME} consortium",
        # The voucher goes to the service provider's account, once, on confirmed delivery.
        "pay_provider_directly": call.pay_provider_directly,
        # The programme officer who makes the offer signs for the beneficiary.
        "signatory": officer.name,
    }


def offer(session: Session, actor: Actor, application_id: int) -> StepResult:
    require_role(actor, Role.OFFICER)
    # The call's row, then the SME's, then the application: offers in one call queue on the
    # call (its budget), offers to one SME from different calls on the SME's row (cumulative
    # cap, de minimis), or each could pass a limit unseen by the other (READ COMMITTED).
    call = lock_call_of(session, application_id)
    application = _lock_for_award(session, application_id)
    now = utcnow()
    deadline = now + timedelta(days=application.call.offer_acceptance_days)
    details = agreement_details(application, actor)
    details["acceptance_deadline"] = local_time(deadline, application.call.timezone)
    return apply(
        session,
        actor,
        application,
        "offer",
        facts=award_facts(session, call, application, application.awarded_amount or Decimal(0)),
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


def current_agreement(application: Application) -> Document | None:
    """The latest voucher agreement produced for the application (rendered or not)."""
    agreements = [d for d in application.documents if d.kind == DocumentKind.VOUCHER_AGREEMENT]
    return agreements[-1] if agreements else None


def agreement_seen(application: Application, presented: str | None) -> Document | None:
    """The agreement whose sha256 the applicant was shown, if it is the current one.

    Refuses while the agreement is not rendered yet, and when the fingerprint is another
    one (an agreement re-issued since the page was opened, or a damaged form). Outside an
    offer, the workflow refuses the step with its own reason."""
    if presented is None or application.status != AppState.OFFERED:
        return None
    document = current_agreement(application)
    if document is None or document.status != DocumentStatus.READY or not document.sha256:
        raise TransitionRefused(_("the agreement is still being prepared, reload in a moment"))
    if presented.strip().lower() != document.sha256:
        raise TransitionRefused(
            _(
                "the voucher agreement you were shown is not the current one: reload the page, "
                "read the agreement and sign again"
            )
        )
    return document


def accept(
    session: Session,
    actor: Actor,
    application_id: int,
    *,
    iban: str,
    account_holder: str,
    signed: bool,
    bic: str = "",
    confirmation: bank_details.Upload | None = None,
    storage: DocumentStore | None = None,
    scanner: Scanner | None = None,
    agreement_sha256: str | None = None,
) -> StepResult:
    """The SME signs; its bank details (IBAN, BIC, holder, optionally the bank's
    confirmation) are kept unverified until finance verifies them (services/bank_details).

    ``agreement_sha256``: the fingerprint of the voucher agreement PDF the page showed (the
    acceptance form carries it); refused unless it is the current, rendered agreement, and
    recorded in the trail and on the signed acceptance. None: a caller that showed no
    document (scripts, the demo); the web form always sends it."""
    application = load_own_application(session, actor, application_id)
    # Only a signature needs the document it signs: unsigned, the guard says so first.
    seen = agreement_seen(application, agreement_sha256) if signed else None
    # Field errors first, all at once; a blank IBAN or holder is the guard's refusal.
    entry = bank_details.validated(iban, bic, account_holder, required=False)
    bank_details.check_confirmation(confirmation, required=False)
    compact = entry.iban if entry is not None else None
    now = utcnow()
    result = apply(
        session,
        actor,
        application,
        "accept",
        facts={
            "agreement_signed": signed,
            "iban_valid": entry is not None,
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
            "agreement_sha256": seen.sha256 if seen else "",
            "agreement_document_id": seen.id if seen else "",
        },
        audit_extra={
            "agreement_sha256": seen.sha256 if seen else None,
            "agreement_document_id": seen.id if seen else None,
        },
    )
    assert entry is not None  # the guard refused the step otherwise
    bank_details.enter_at_acceptance(
        session,
        actor,
        application,
        entry,
        confirmation=confirmation,
        storage=storage,
        scanner=scanner,
    )
    return result


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
