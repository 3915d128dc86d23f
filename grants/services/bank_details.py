"""Bank details of a voucher: entered by the SME, verified by finance, guarding payments.

- The SME gives the IBAN, the BIC (derived from the IBAN where the bank registry knows it),
  the account holder and the bank's confirmation (a letter or a statement header: PDF, PNG
  or JPEG, checked and stored as attachments are) with its acceptance, and may change them
  while money is still to be paid. Every entry or change is a ``BankAccount`` row of its
  own; a change supersedes the previous row (kept) and is audited with both IBANs masked.
- A finance officer verifies the current row (or rejects it with reasons, and the SME is
  told by mail). Four-eyes: whoever entered or changed the details never verifies them;
  the database holds that too.
- ``payment_block`` says why no payment may be prepared, authorised or marked paid: the
  details are not verified, or the order was prepared for other details than the current
  verified ones. The payment services refuse with that reason; exports ask it too.
- Finance and auditors see the full IBAN; everyone else a masked one.
- A call may pay the service provider directly (``Call.pay_provider_directly``): the SME
  then also gives the provider's account (``PayeeKind.PROVIDER``: the provider's name, IBAN,
  BIC and the provider's confirmation of it), verified by finance under the same rules; the
  balance is paid to it and ``payment_block`` checks that account for it.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from documents.storage import DocumentStore, sha256_hex
from forms.display import human_size
from grants.db import utcnow
from grants.errors import NotFound, ValidationFailed, require_own, require_role
from grants.models import (
    Application,
    BankAccount,
    BankSource,
    BankStatus,
    Instalment,
    PayeeKind,
    Payment,
)
from grants.services import audit, mail, notifications
from grants.services.actor import Actor
from grants.services.attachments import (
    NoScanner,
    ScanFailed,
    Scanner,
    safe_filename,
    sniff,
    storage_key,
)
from grants.services.workflow import flush_or_refuse, load_application
from workflows.errors import TransitionRefused
from workflows.i18n import _
from workflows.reconcile import iban_digest
from workflows.registry import application_states_where
from workflows.roles import Role
from workflows.voucher import AppState

log = logging.getLogger(__name__)

# The bank's confirmation: a scan or a PDF, at most 10 MB.
CONFIRMATION_FIELD = "bank_confirmation"
CONFIRMATION_KINDS = {"pdf": "application/pdf", "png": "image/png", "jpeg": "image/jpeg"}
CONFIRMATION_MAX_BYTES = 10 * 1024 * 1024
# While money may still be paid, the SME (or finance, on its written request) may change them.
CHANGEABLE_STATES = tuple(
    s
    for s in application_states_where("finance_sees")
    if s not in (AppState.PAID, AppState.CLOSED, AppState.TERMINATED)
)
# Who reads the full IBAN; everyone else reads it masked.
FULL_IBAN_ROLES = frozenset({Role.FINANCE, Role.AUDITOR})


# -- showing an IBAN -------------------------------------------------------------------------


def format_iban(iban: str | None) -> str:
    """The IBAN in groups of four, as banks print it."""
    compact = (iban or "").replace(" ", "")
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def mask_iban(iban: str | None) -> str:
    compact = (iban or "").replace(" ", "")
    return "" if not compact else f"{compact[:4]} **** **** {compact[-4:]}"


def sees_full_iban(role: Role | str) -> bool:
    return role in FULL_IBAN_ROLES


def iban_for(iban: str | None, role: Role | str) -> str:
    return format_iban(iban) if sees_full_iban(role) else mask_iban(iban)


# -- what was typed --------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    iban: str  # compact
    bic: str  # compact, 8 or 11 characters
    holder: str


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


def _iban(raw: str) -> IBAN | None:
    try:
        return IBAN(raw)
    except (SchwiftyException, ValueError):
        return None


def derived_bic(iban: str) -> str | None:
    """The BIC the bank registry gives for the IBAN's bank, if it knows it."""
    parsed = _iban(iban)
    bic = parsed.bic if parsed is not None else None
    return str(bic.compact) if bic else None


def _bic(bic: str, parsed: IBAN | None, errors: dict[str, str]) -> str:
    """The BIC typed, else the one derived from the IBAN; an error when neither."""
    if bic:
        try:
            return str(BIC(bic).compact)
        except (SchwiftyException, ValueError):
            errors["bic"] = _(
                "this is not a valid BIC (8 or 11 characters: bank, country, location, branch)"
            )
            return ""
    if parsed is None:
        return ""
    derived = derived_bic(str(parsed.compact))
    if not derived:
        errors["bic"] = _(
            "give the BIC (SWIFT code) of the bank: it cannot be found from this IBAN"
        )
    return derived or ""


def validated(iban: str, bic: str, holder: str, *, required: bool = True) -> Entry | None:
    """The entry, or ``ValidationFailed`` naming each field typed wrong. With
    ``required=False`` a blank IBAN or holder gives None (the acceptance's guard refuses)."""
    errors: dict[str, str] = {}
    iban, bic, holder = iban.strip(), bic.strip(), " ".join(holder.split())
    parsed = _iban(iban) if iban else None
    if not iban:
        if required:
            errors["iban"] = _("give the IBAN of the account to be paid")
    elif parsed is None:
        errors["iban"] = _("this is not a valid IBAN (check digits or length)")
    if not holder:
        if required:
            errors["account_holder"] = _("give the name of the account holder")
    elif len(holder) > 200:
        errors["account_holder"] = _("the account holder's name is longer than 200 characters")
    compact_bic = _bic(bic, parsed, errors)
    if errors:
        raise ValidationFailed(errors)
    if parsed is None or not holder:
        return None
    return Entry(iban=str(parsed.compact), bic=compact_bic, holder=holder)


def check_confirmation(
    upload: Upload | None, *, required: bool, payee: PayeeKind = PayeeKind.SME
) -> str | None:
    """The kind of the bank's confirmation, or ``ValidationFailed`` saying what is wrong."""
    if upload is None or not upload.filename:
        if required:
            missing = (
                _(
                    "upload the service provider's confirmation of its account (its invoice "
                    "header or a bank letter showing the IBAN and the provider's name)"
                )
                if payee == PayeeKind.PROVIDER
                else _(
                    "upload the bank's confirmation of the account (a letter or a "
                    "statement header showing the IBAN and the holder)"
                )
            )
            raise ValidationFailed({CONFIRMATION_FIELD: missing})
        return None
    if not upload.data:
        raise ValidationFailed({CONFIRMATION_FIELD: _("The file is empty; choose the file again.")})
    if len(upload.data) > CONFIRMATION_MAX_BYTES:
        raise ValidationFailed(
            {
                CONFIRMATION_FIELD: _(
                    "The file is %(size)s; files here may be at most %(limit)s MB.",
                    size=human_size(len(upload.data)),
                    limit=CONFIRMATION_MAX_BYTES // (1024 * 1024),
                )
            }
        )
    kind = sniff(upload.data)
    if kind not in CONFIRMATION_KINDS:
        raise ValidationFailed(
            {
                CONFIRMATION_FIELD: _(
                    "This file is not a PDF, PNG or JPEG file (checked from its content, not "
                    "its name). Save the bank's confirmation in one of those formats."
                )
            }
        )
    return kind


def _store(
    account: BankAccount, upload: Upload, kind: str, storage: DocumentStore, scanner: Scanner
) -> None:
    try:
        verdict = scanner.scan(upload.data, upload.filename)
    except ScanFailed:
        raise ValidationFailed(
            {
                CONFIRMATION_FIELD: _(
                    "The virus check is not available right now, so the file was not kept. "
                    "Try again in a few minutes."
                )
            }
        ) from None
    if verdict.status == "infected":
        log.warning("infected bank confirmation refused: %s", verdict.detail)
        raise ValidationFailed(
            {CONFIRMATION_FIELD: _("The virus check found a threat in this file; it was not kept.")}
        )
    digest = sha256_hex(upload.data)
    key = storage_key(digest)
    if not storage.exists(key) and storage.put(key, upload.data) != digest:  # pragma: no cover
        raise TransitionRefused(_("the file could not be stored; try again"))
    account.confirmation_filename = safe_filename(upload.filename, kind)
    account.confirmation_content_type = CONFIRMATION_KINDS[kind]
    account.confirmation_size = len(upload.data)
    account.confirmation_sha256 = digest
    account.confirmation_key = key
    account.confirmation_scan = verdict.status


# -- reading ---------------------------------------------------------------------------------


def current(
    session: Session, application_id: int, payee: PayeeKind = PayeeKind.SME
) -> BankAccount | None:
    """The voucher's current account of ``payee`` (the SME's unless said)."""
    return session.scalars(
        select(BankAccount).where(
            BankAccount.application_id == application_id,
            BankAccount.payee == payee,
            BankAccount.superseded_at.is_(None),
        )
    ).first()


def pays_provider(application: Application) -> bool:
    return bool(application.call.pay_provider_directly)


def payee_of(application: Application, instalment: str | None = None) -> PayeeKind:
    """Whose account an instalment of the voucher is paid to (``None``: the voucher's next
    payment): the service provider's for the balance of a call paying it directly, the
    SME's otherwise."""
    if pays_provider(application) and instalment in (None, Instalment.BALANCE):
        return PayeeKind.PROVIDER
    return PayeeKind.SME


def paid_account(session: Session, application: Application, instalment: str) -> BankAccount | None:
    """The current account an instalment is paid to."""
    return current(session, application.id, payee_of(application, instalment))


def application_of(session: Session, account_id: int) -> Application:
    account = session.get(BankAccount, account_id)
    if account is None:
        raise NotFound(f"no bank account {account_id}")
    return account.application


def is_provider_account(session: Session, account_id: int) -> bool:
    return session.scalar(select(BankAccount.payee).where(BankAccount.id == account_id)) == (
        PayeeKind.PROVIDER
    )


def history(
    session: Session, application_id: int, payee: PayeeKind = PayeeKind.SME
) -> list[BankAccount]:
    """Every entry of the voucher's bank details of ``payee``, newest first."""
    return list(
        session.scalars(
            select(BankAccount)
            .where(BankAccount.application_id == application_id, BankAccount.payee == payee)
            .order_by(BankAccount.id.desc())
        )
    )


def _facts(account: BankAccount | None) -> dict[str, object]:
    """What the audit trail keeps of an account: never the full IBAN."""
    if account is None:
        return {}
    return {
        "bank_account_id": account.id,
        "payee": account.payee,
        "iban_masked": mask_iban(account.iban),
        # What reconciliation compares the stored IBAN with (the trail never keeps it).
        "iban_sha256": iban_digest(account.iban),
        "bic": account.bic or "",
        "holder": account.holder,
        "bank_status": account.status,
        "confirmation_sha256": account.confirmation_sha256 or "",
    }


def payment_block(
    application: Application, payment: Payment | None = None, *, instalment: str | None = None
) -> str | None:
    """Why no payment may be made to the voucher now (or ``payment``, an order already
    prepared, may not go ahead; or an order of ``instalment`` be prepared), or None when
    the current bank details of its payee are verified and the order is for them. The
    payee is the SME, or the service provider for the balance of a call paying it
    directly."""
    kind = payee_of(application, payment.instalment if payment is not None else instalment)
    session = object_session(application)
    account = current(session, application.id, kind) if session is not None else None
    return block_reason(account, payment, payee=kind)


def current_accounts(
    session: Session, application_ids: Collection[int], payee: PayeeKind = PayeeKind.SME
) -> dict[int, BankAccount]:
    """The current bank details of ``payee`` of many vouchers at once (lists), by
    application id."""
    if not application_ids:
        return {}
    return {
        account.application_id: account
        for account in session.scalars(
            select(BankAccount).where(
                BankAccount.application_id.in_(application_ids),
                BankAccount.payee == payee,
                BankAccount.superseded_at.is_(None),
            )
        )
    }


def payment_blocks(session: Session, payments: Collection[Payment]) -> dict[int, str | None]:
    """``payment_block`` of many payment orders at once (lists), by payment id."""
    ids = {p.application_id for p in payments}
    accounts = {kind: current_accounts(session, ids, kind) for kind in PayeeKind}
    blocks = {}
    for payment in payments:
        kind = payee_of(payment.application, payment.instalment)
        account = accounts[kind].get(payment.application_id)
        blocks[payment.id] = block_reason(account, payment, payee=kind)
    return blocks


def _provider_block_reason(account: BankAccount | None) -> str | None:
    if account is None:
        return _(
            "the voucher is paid directly to the service provider, whose bank details are "
            "not given yet: the SME must enter them first"
        )
    if account.status == BankStatus.REJECTED:
        return _(
            "the service provider's bank details were rejected by finance: the SME must "
            "enter correct ones, which another finance officer then verifies"
        )
    if account.status != BankStatus.VERIFIED:
        return _(
            "the service provider's bank details are not verified yet: a finance officer "
            "other than the one who entered them must verify them first"
        )
    return None


def block_reason(
    account: BankAccount | None,
    payment: Payment | None = None,
    *,
    payee: PayeeKind = PayeeKind.SME,
) -> str | None:
    """``payment_block`` for a voucher whose current bank details of the payee are
    ``account``."""
    if payee == PayeeKind.PROVIDER:
        reason = _provider_block_reason(account)
        if reason is not None:
            return reason
    if account is None:
        return _("the voucher has no bank details: the SME must enter them first")
    if account.status == BankStatus.REJECTED:
        return _(
            "the bank details were rejected by finance: the SME must enter correct ones, "
            "which another finance officer then verifies"
        )
    if account.status != BankStatus.VERIFIED:
        if account.changed:
            return _(
                "the bank details were changed and are not verified yet: a finance officer "
                "other than the one who entered them must verify them first"
            )
        return _(
            "the bank details are not verified yet: a finance officer other than the one "
            "who entered them must verify them first"
        )
    if payment is not None and (
        payment.iban.replace(" ", "") != account.iban or payment.payee_name != account.holder
    ):
        return _(
            "the bank details changed after this order was prepared: it is not for the "
            "current verified account; cancel the order and prepare it again"
        )
    return None


def order_details(session: Session, payment: Payment) -> dict[str, object]:
    """What the bank needs to execute a payment order: payee, full IBAN, BIC, currency and
    the remittance information (voucher reference and instalment)."""
    application = payment.application
    account = paid_account(session, application, payment.instalment)
    bic = account.bic if account is not None and account.iban == payment.iban else None
    if bic is None:
        bic = derived_bic(payment.iban)
    instalment = "pre-financing" if payment.instalment == "prefinancing" else "balance"
    return {
        "iban": format_iban(payment.iban),
        "bic": bic or "",
        "currency": "EUR",
        "remittance": f"{application.reference} {instalment}",
    }


def require_payable(
    application: Application, payment: Payment | None = None, *, instalment: str | None = None
) -> None:
    reason = payment_block(application, payment, instalment=instalment)
    if reason is not None:
        raise TransitionRefused(reason)


# -- entering and changing -------------------------------------------------------------------


def _sync(application: Application, account: BankAccount) -> None:
    # The application keeps the current details too (payments and pages read them there).
    application.iban = account.iban
    application.account_holder = account.holder


def _new_row(
    session: Session,
    actor: Actor,
    application: Application,
    entry: Entry,
    *,
    source: BankSource,
    previous: BankAccount | None,
    now: datetime,
    payee: PayeeKind = PayeeKind.SME,
) -> BankAccount:
    if previous is not None:
        previous.superseded_at = now
        flush_or_refuse(session)  # before the new row: one current account per payee
    account = BankAccount(
        application_id=application.id,
        payee=payee,
        iban=entry.iban,
        bic=entry.bic,
        holder=entry.holder,
        source=source,
        changed=previous is not None
        and (previous.iban, previous.bic, previous.holder) != (entry.iban, entry.bic, entry.holder),
        status=BankStatus.ENTERED,
        entered_by_id=actor.user_id,
        entered_role=str(actor.role),
        entered_at=now,
    )
    session.add(account)
    return account


def enter_at_acceptance(
    session: Session,
    actor: Actor,
    application: Application,
    entry: Entry,
    *,
    confirmation: Upload | None = None,
    storage: DocumentStore | None = None,
    scanner: Scanner | None = None,
) -> BankAccount:
    """The details given with the acceptance (``awards.accept``, which locked the row)."""
    kind = check_confirmation(confirmation, required=False)
    now = utcnow()
    account = _new_row(
        session,
        actor,
        application,
        entry,
        source=BankSource.ACCEPTANCE,
        previous=current(session, application.id),
        now=now,
    )
    if confirmation is not None and kind is not None:
        if storage is None:
            raise ValueError("a confirmation upload needs a document store")
        _store(account, confirmation, kind, storage, scanner or NoScanner())
    flush_or_refuse(session)
    _sync(application, account)
    audit.record(
        session,
        actor,
        "bank_details_entered",
        entity_type="application",
        entity_id=application.reference,
        after=_facts(account),
        application_id=application.id,
    )
    return account


def _may_change(actor: Actor, application: Application) -> None:
    if actor.role != Role.FINANCE:
        require_own(actor, application)
    if application.status not in CHANGEABLE_STATES:
        raise TransitionRefused(
            _("bank details can be changed only while the voucher still has payments to come")
        )


def change(
    session: Session,
    actor: Actor,
    storage: DocumentStore,
    application_id: int,
    *,
    iban: str,
    bic: str,
    holder: str,
    confirmation: Upload | None,
    scanner: Scanner | None = None,
) -> BankAccount:
    """New bank details for a contracted voucher (the SME's, or finance's on its written
    request): they start unverified and block payments until another finance officer
    verifies them. Uploading the confirmation missing from unverified details, the details
    themselves unchanged, completes those details instead of starting new ones."""
    application = load_application(session, application_id)
    _may_change(actor, application)
    return _change(
        session,
        actor,
        storage,
        application,
        PayeeKind.SME,
        entry=validated(iban, bic, holder),
        confirmation=confirmation,
        scanner=scanner,
    )


def change_provider(
    session: Session,
    actor: Actor,
    storage: DocumentStore,
    application_id: int,
    *,
    iban: str,
    bic: str,
    name: str,
    confirmation: Upload | None,
    scanner: Scanner | None = None,
) -> BankAccount:
    """The service provider's account, on a call paying it directly: given (or changed) by
    the SME after acceptance (or by finance on its written request) with the provider's
    confirmation of it (its invoice header or a bank letter). It starts unverified and
    blocks the balance until another finance officer verifies it, as the SME's own does."""
    application = load_application(session, application_id)
    if not pays_provider(application):
        raise TransitionRefused(
            _("this call pays the SME: there is no service provider's account to give")
        )
    _may_change(actor, application)
    # Every mistake at once: the account's fields and the confirmation.
    errors: dict[str, str] = {}
    entry = None
    try:
        entry = validated(iban, bic, name)
    except ValidationFailed as exc:
        errors.update(exc.errors)
        if "account_holder" in errors and not " ".join(name.split()):
            errors["account_holder"] = _("give the service provider's name, as on its account")
        if "iban" in errors and not iban.strip():
            errors["iban"] = _("give the IBAN of the service provider's account")
    try:
        check_confirmation(confirmation, required=True, payee=PayeeKind.PROVIDER)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    return _change(
        session,
        actor,
        storage,
        application,
        PayeeKind.PROVIDER,
        entry=entry,
        confirmation=confirmation,
        scanner=scanner,
    )


def _change(
    session: Session,
    actor: Actor,
    storage: DocumentStore,
    application: Application,
    payee: PayeeKind,
    *,
    entry: Entry | None,
    confirmation: Upload | None,
    scanner: Scanner | None,
) -> BankAccount:
    previous = current(session, application.id, payee)
    assert entry is not None
    same = previous is not None and (previous.iban, previous.bic, previous.holder) == (
        entry.iban,
        entry.bic,
        entry.holder,
    )
    kind = check_confirmation(confirmation, required=True, payee=payee)
    assert confirmation is not None and kind is not None
    if previous is not None and same and previous.status == BankStatus.VERIFIED:
        raise ValidationFailed(
            {"iban": _("these are the bank details already verified: nothing changed")}
        )
    now = utcnow()
    if previous is not None and same and previous.status == BankStatus.ENTERED:
        before = _facts(previous)
        _store(previous, confirmation, kind, storage, scanner or NoScanner())
        flush_or_refuse(session)
        audit.record(
            session,
            actor,
            "bank_confirmation_added",
            entity_type="application",
            entity_id=application.reference,
            before=before,
            after=_facts(previous),
            application_id=application.id,
        )
        return previous
    account = _new_row(
        session,
        actor,
        application,
        entry,
        source=BankSource.CHANGE,
        previous=previous,
        now=now,
        payee=payee,
    )
    _store(account, confirmation, kind, storage, scanner or NoScanner())
    flush_or_refuse(session)
    if payee == PayeeKind.SME:
        _sync(application, account)
    # The provider's first account is entered, not changed: it is given after acceptance.
    first_provider = payee == PayeeKind.PROVIDER and previous is None
    audit.record(
        session,
        actor,
        "bank_details_entered" if first_provider else "bank_details_changed",
        entity_type="application",
        entity_id=application.reference,
        before=_facts(previous),
        after={**_facts(account), "changed_after_acceptance": True},
        application_id=application.id,
    )
    return account


# -- verification ----------------------------------------------------------------------------


def _load_current_for_review(
    session: Session, actor: Actor, account_id: int
) -> tuple[Application, BankAccount]:
    require_role(actor, Role.FINANCE)
    application_id = session.scalar(
        select(BankAccount.application_id).where(BankAccount.id == account_id)
    )
    if application_id is None:
        raise NotFound(f"no bank account {account_id}")
    # The application first: changes and payments of the voucher queue on it.
    application = load_application(session, application_id)
    account = session.get(BankAccount, account_id, populate_existing=True)
    assert account is not None
    if account.superseded_at is not None:
        raise TransitionRefused(
            _("these bank details were changed meanwhile: check the new ones instead")
        )
    if account.status != BankStatus.ENTERED:
        raise TransitionRefused(_("these bank details were already reviewed"))
    if account.entered_by_id is not None and account.entered_by_id == actor.user_id:
        raise TransitionRefused(
            _(
                "you entered these bank details: under the four-eyes rule another finance "
                "officer must review them"
            )
        )
    return application, account


def verify(session: Session, actor: Actor, account_id: int) -> BankAccount:
    application, account = _load_current_for_review(session, actor, account_id)
    missing = []
    if not account.confirmation_key:
        missing.append(_("the bank's confirmation document (the SME uploads it)"))
    if not account.bic:
        missing.append(_("the BIC (the SME gives it by changing the bank details)"))
    if missing:
        raise TransitionRefused(
            _("these bank details cannot be verified yet, they lack"), reasons=tuple(missing)
        )
    before = _facts(account)
    account.status = BankStatus.VERIFIED
    account.reviewed_by_id = actor.user_id
    account.reviewed_at = utcnow()
    flush_or_refuse(session)
    audit.record(
        session,
        actor,
        "bank_details_verified",
        entity_type="application",
        entity_id=application.reference,
        before=before,
        after=_facts(account),
        application_id=application.id,
    )
    return account


def reject(session: Session, actor: Actor, account_id: int, *, reason: str) -> BankAccount:
    """The details do not match the bank's confirmation (or the SME): the SME is told why
    and enters them again."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed({"reason": _("say why the bank details are rejected")})
    application, account = _load_current_for_review(session, actor, account_id)
    before = _facts(account)
    account.status = BankStatus.REJECTED
    account.reviewed_by_id = actor.user_id
    account.reviewed_at = utcnow()
    account.rejection_reason = reason
    flush_or_refuse(session)
    event = audit.record(
        session,
        actor,
        "bank_details_rejected",
        entity_type="application",
        entity_id=application.reference,
        before=before,
        after={**_facts(account), "reason": reason},
        application_id=application.id,
    )
    _tell_rejected(session, application, account, event.id)
    return account


def _tell_rejected(
    session: Session, application: Application, account: BankAccount, event_id: int
) -> None:
    from grants import programme

    for address, name in notifications.applicant_addresses(session, application):
        subject, body = notifications.render(
            "bank_details_rejected",
            {
                "application": application,
                "programme": programme.PROGRAMME_NAME,
                "name": name,
                "iban_masked": mask_iban(account.iban),
                "reason": account.rejection_reason or "",
                "provider": account.payee == PayeeKind.PROVIDER,
                "holder": account.holder,
            },
        )
        digest = hashlib.sha256(address.strip().lower().encode()).hexdigest()[:16]
        mail.queue(
            session,
            to=address,
            subject=subject,
            body=body,
            purpose="bank_details_rejected",
            application_id=application.id,
            dedupe_key=f"bank:{event_id}:rejected:{digest}",
        )


# -- the confirmation document ---------------------------------------------------------------


def can_see_confirmation(actor: Actor, application: Application) -> bool:
    """The bank's letter shows the full IBAN: finance, auditors and the SME itself."""
    if actor.role in FULL_IBAN_ROLES:
        from grants.services import access

        return access.can_view(actor, application)
    return actor.role == Role.APPLICANT and actor.organisation_id == application.organisation_id


def confirmation_for_download(
    session: Session, actor: Actor, storage: DocumentStore, account_id: int
) -> tuple[BankAccount, bytes]:
    account = session.get(BankAccount, account_id)
    if (
        account is None
        or not account.confirmation_key
        or not can_see_confirmation(actor, account.application)
    ):
        raise NotFound(f"no bank confirmation {account_id}")
    data = storage.read(account.confirmation_key)
    if sha256_hex(data) != account.confirmation_sha256:
        raise LookupError("the stored file does not match its recorded sha256")
    return account, data


# -- warnings for the reviewer ---------------------------------------------------------------


def _plain(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", name.casefold())


_LEGAL_FORMS = re.compile(
    r"\b(s\.?r\.?l|s\.?p\.?a|s\.?a\.?s|s\.?a|b\.?v|n\.?v|d\.?o\.?o|gmbh|ltd|sas|sarl|inc)\b\.?",
    re.IGNORECASE,
)


def holder_mismatch(legal_name: str, holder: str) -> bool:
    """The account holder does not look like the organisation's legal name."""
    a = _plain(_LEGAL_FORMS.sub(" ", legal_name))
    b = _plain(_LEGAL_FORMS.sub(" ", holder))
    if not a or not b:
        return True
    return a not in b and b not in a


PROVIDER_ANSWER = "service_provider"  # the application form's question naming the provider


def provider_named(application: Application) -> str:
    """The service provider the application names (empty when its form asks none)."""
    named = (application.answers or {}).get(PROVIDER_ANSWER)
    return " ".join(named.split()) if isinstance(named, str) else ""


def _provider_warnings(application: Application, account: BankAccount) -> list[str]:
    warnings = []
    named = provider_named(application)
    if named and holder_mismatch(named, account.holder):
        warnings.append(
            _(
                "The account holder (%(holder)s) differs from the service provider named in "
                "the application (%(name)s): check that the account belongs to the provider.",
                holder=account.holder,
                name=named,
            )
        )
    if not holder_mismatch(application.organisation.legal_name, account.holder):
        warnings.append(
            _(
                "The account holder looks like the SME itself (%(name)s), not the service "
                "provider.",
                name=application.organisation.legal_name,
            )
        )
    session = object_session(application)
    own = current(session, application.id) if session is not None else None
    if own is not None and own.iban == account.iban:
        warnings.append(_("This is the IBAN of the SME's own account, not the provider's."))
    return warnings


def review_warnings(application: Application, account: BankAccount) -> list[str]:
    warnings = []
    if account.payee == PayeeKind.PROVIDER:
        warnings.extend(_provider_warnings(application, account))
    elif holder_mismatch(application.organisation.legal_name, account.holder):
        warnings.append(
            _(
                "The account holder (%(holder)s) differs from the organisation's legal name "
                "(%(name)s): check that the account belongs to the SME.",
                holder=account.holder,
                name=application.organisation.legal_name,
            )
        )
    derived = derived_bic(account.iban)
    if account.bic and derived and account.bic[:8] != derived[:8]:
        warnings.append(
            _(
                "The BIC given (%(given)s) is not the one registered for the IBAN's bank "
                "(%(derived)s).",
                given=account.bic,
                derived=derived,
            )
        )
    if not account.confirmation_key:
        warnings.append(_("The SME has not uploaded the bank's confirmation yet."))
    elif account.confirmation_scan == "unscanned":
        warnings.append(_("The confirmation document was not virus-checked."))
    if not account.bic:
        warnings.append(_("No BIC was given."))
    return warnings
