"""What pages show of a voucher's bank details: per role (full IBAN for finance and auditors,
masked for everyone else), the reviewer's warnings, and finance's list to verify."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from grants.models import Application, BankAccount, BankStatus, PayeeKind, Payment, User
from grants.services import access, bank_details
from grants.services.actor import Actor
from workflows.roles import Role

# The dashboard shows the oldest first, at most this many (the count says how many wait).
FINANCE_LIST_SIZE = 50
_CHANGEABLE = bank_details.CHANGEABLE_STATES


@dataclass(frozen=True)
class AccountView:
    account: BankAccount
    iban: str  # as this reader may see it
    entered_by: str
    reviewed_by: str


def _names(session: Session, accounts: list[BankAccount]) -> dict[int, str]:
    ids = {a.entered_by_id for a in accounts} | {a.reviewed_by_id for a in accounts}
    return _names_of(session, ids)


def _view(account: BankAccount, role: Role, names: dict[int, str]) -> AccountView:
    return AccountView(
        account=account,
        iban=bank_details.iban_for(account.iban, role),
        entered_by=names.get(account.entered_by_id or 0, ""),
        reviewed_by=names.get(account.reviewed_by_id or 0, ""),
    )


def _payee_block(
    session: Session, application: Application, actor: Actor, payee: PayeeKind
) -> dict[str, Any]:
    """One payee's account: the current one, the earlier ones (for finance and auditors),
    and what this reader may do with it."""
    accounts = bank_details.history(session, application.id, payee)
    names = _names(session, accounts)
    current = next((a for a in accounts if a.superseded_at is None), None)
    own = actor.role == Role.APPLICANT and actor.organisation_id == application.organisation_id
    return {
        "current": _view(current, actor.role, names) if current else None,
        "earlier": [_view(a, actor.role, names) for a in accounts if a is not current]
        if actor.role in (Role.FINANCE, Role.AUDITOR)
        else [],
        "can_change": (own or actor.role == Role.FINANCE) and application.status in _CHANGEABLE,
        "can_review": actor.role == Role.FINANCE
        and current is not None
        and current.status == BankStatus.ENTERED
        and current.entered_by_id != actor.user_id,
        "can_download": current is not None
        and bool(current.confirmation_key)
        and bank_details.can_see_confirmation(actor, application),
    }


def for_application(session: Session, application: Application, actor: Actor) -> dict[str, Any]:
    """The application page's bank details block (and what payment panels show); on a call
    paying the service provider directly, ``provider`` is the provider's account block."""
    block = _payee_block(session, application, actor, PayeeKind.SME)
    current = block["current"]
    own = actor.role == Role.APPLICANT and actor.organisation_id == application.organisation_id
    shown = actor.role in (Role.FINANCE, Role.AUDITOR, Role.OFFICER) or own
    provider = (
        _payee_block(session, application, actor, PayeeKind.PROVIDER)
        if bank_details.pays_provider(application)
        else None
    )
    if provider is not None:
        provider["named"] = bank_details.provider_named(application)
    return {
        **block,
        "shown": shown and (current is not None or application.status in _CHANGEABLE),
        "provider": provider,
        "full": bank_details.sees_full_iban(actor.role),
        "payment_block": bank_details.payment_block(application)
        if actor.role == Role.FINANCE
        else None,
        # Why each open order may not go ahead (details changed after it was prepared).
        "payment_blocks": {
            p.id: bank_details.payment_block(application, p)
            for p in application.payments
            if p.status in ("prepared", "authorised")
        }
        if actor.role == Role.FINANCE
        else {},
    }


def review(session: Session, application: Application, actor: Actor) -> dict[str, Any]:
    """The bank details page: the current details, their history, the reviewer's warnings."""
    block = for_application(session, application, actor)
    block |= _checks(application, block["current"], actor)
    if block["provider"] is not None:
        block["provider"] |= _checks(application, block["provider"]["current"], actor)
    return block


def _checks(application: Application, current: AccountView | None, actor: Actor) -> dict[str, Any]:
    """The reviewer's warnings and the BIC registered for the IBAN (finance only)."""
    finance = current is not None and actor.role == Role.FINANCE
    return {
        "warnings": bank_details.review_warnings(application, current.account)
        if finance and current is not None
        else [],
        "derived_bic": bank_details.derived_bic(current.account.iban)
        if finance and current is not None
        else None,
    }


def payment_summary(session: Session, payment: Payment, actor: Actor) -> dict[str, Any]:
    """What a finance officer confirms before authorising or marking paid an order."""
    application = payment.application
    return {
        "payment": payment,
        "application": application,
        "iban": bank_details.iban_for(payment.iban, actor.role),
        **bank_details.order_details(session, payment),
        "block": bank_details.payment_block(application, payment),
        "preparer": _names_of(session, {payment.prepared_by_id}).get(payment.prepared_by_id, ""),
    }


def _names_of(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {u.id: u.full_name for u in session.scalars(select(User).where(User.id.in_(wanted)))}


def finance_list(session: Session, actor: Actor) -> dict[str, Any]:
    """ "Bank details to verify": the current, unverified details of vouchers finance works
    on, oldest first; changed ones (after the acceptance) are flagged."""
    waiting = (
        select(BankAccount)
        .join(Application, Application.id == BankAccount.application_id)
        .where(
            BankAccount.superseded_at.is_(None),
            BankAccount.status == BankStatus.ENTERED,
            Application.status.in_(access.FINANCE_STATES),
        )
    )
    total = session.scalar(select(func.count()).select_from(waiting.subquery())) or 0
    accounts = list(
        session.scalars(
            waiting.options(
                selectinload(BankAccount.application).selectinload(Application.organisation)
            )
            # Changed after acceptance first (payments wait on them), then the oldest.
            .order_by(BankAccount.changed.desc(), BankAccount.entered_at, BankAccount.id)
            .limit(FINANCE_LIST_SIZE)
        )
    )
    names = _names(session, accounts)
    return {
        "bank_to_verify": [_view(a, actor.role, names) for a in accounts],
        "bank_to_verify_total": total,
        "bank_changed_count": sum(1 for a in accounts if a.changed),
    }
