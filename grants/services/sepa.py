"""SEPA credit transfer batches: authorised instalments exported as one pain.001 file,
then marked paid together (or the batch cancelled, which frees them for another file).

Money goes to the right account, once: an instalment goes into a file only when it is
authorised, its bank details are not blocked and it is in no other live batch (exported
or paid). The payments are locked while the batch is made, and a partial unique index on
the batch items holds the rule in the database too, so two finance officers exporting
overlapping selections at the same moment make one file holding each instalment once.
The file is validated against the pain.001.001.03 schema and read back (number of
transactions, control sum, every amount) before it is stored; an invalid file is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from documents.sepa import Debtor, SepaFileError, Transfer, build_credit_transfer, check_matches
from documents.storage import DocumentStore, sha256_hex
from grants.config import Config
from grants.db import utcnow
from grants.errors import NotFound, ValidationFailed, require_role
from grants.models import Application, Instalment, Payment, SepaBatch, SepaBatchItem
from grants.services import audit, bank_details, payments
from grants.services.actor import Actor
from grants.services.workflow import flush_or_refuse, load_locked
from workflows import engine
from workflows.errors import TransitionRefused
from workflows.guards import TransitionContext
from workflows.i18n import _
from workflows.payment import PAYMENT_V1, PaymentState
from workflows.roles import Role
from workflows.sepa_batch import (
    SEPA_BATCH_V1,
    TARGET_TIMEZONE,
    SepaBatchState,
    next_business_day,
    target_closed,
)

MAX_REFERENCE = 60


def today() -> date:
    """Today on the TARGET2 calendar (Brussels)."""
    return utcnow().astimezone(ZoneInfo(TARGET_TIMEZONE)).date()


def default_execution_date(now: date | None = None) -> date:
    return next_business_day(now or today())


def debtor_of(config: Config) -> Debtor:
    """The account every file debits, from the settings; refused when it is not valid."""
    name = config.sepa_debtor_name.strip()
    if not name:
        raise TransitionRefused(
            _("the debtor account has no name: set CASCADE_SEPA_DEBTOR_NAME before exporting")
        )
    try:
        iban = IBAN(config.sepa_debtor_iban)
    except SchwiftyException as exc:
        raise TransitionRefused(
            _(
                "the debtor IBAN in the settings (CASCADE_SEPA_DEBTOR_IBAN) is not valid: "
                "%(error)s; no file was made",
                error=str(exc),
            )
        ) from exc
    try:
        bic = BIC(config.sepa_debtor_bic)
    except SchwiftyException as exc:
        raise TransitionRefused(
            _(
                "the debtor BIC in the settings (CASCADE_SEPA_DEBTOR_BIC) is not valid: "
                "%(error)s; no file was made",
                error=str(exc),
            )
        ) from exc
    return Debtor(name=name, iban=iban.compact, bic=bic.compact)


def instalment_label(payment: Payment) -> str:
    return _("pre-financing") if payment.instalment == Instalment.PREFINANCING else _("balance")


def _live_item(payment_id: object) -> object:
    return exists().where(SepaBatchItem.payment_id == payment_id, SepaBatchItem.live)


def exportable_payments(session: Session) -> list[Payment]:
    """Authorised instalments in no live batch, by voucher reference (with application)."""
    return list(
        session.scalars(
            select(Payment)
            .join(Application, Payment.application_id == Application.id)
            .where(Payment.status == PaymentState.AUTHORISED, ~_live_item(Payment.id))
            .options(selectinload(Payment.application))
            .order_by(Application.reference, Payment.instalment, Payment.id)
        )
    )


def exportable_summary(session: Session) -> tuple[int, Decimal]:
    """How many authorised instalments wait for a file, and their total."""
    count, total = session.execute(
        select(func.count(Payment.id), func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.status == PaymentState.AUTHORISED, ~_live_item(Payment.id)
        )
    ).one()
    return int(count), Decimal(total)


def live_batch_of(session: Session, payment_id: int) -> SepaBatch | None:
    return session.scalars(
        select(SepaBatch)
        .join(SepaBatchItem, SepaBatchItem.batch_id == SepaBatch.id)
        .where(SepaBatchItem.payment_id == payment_id, SepaBatchItem.live)
    ).first()


def _end_to_end_id(application: Application, payment: Payment, batch_id: int) -> str:
    kind = "PRE" if payment.instalment == Instalment.PREFINANCING else "BAL"
    wanted = f"{application.reference}-{kind}-{batch_id}"
    return wanted if len(wanted) <= 35 else f"CASC-{payment.id}-{batch_id}"


def _remittance(application: Application, payment: Payment) -> str:
    # Bank text, read by the SME on its statement: the voucher and which instalment.
    kind = "pre-financing" if payment.instalment == Instalment.PREFINANCING else "balance"
    return f"Voucher {application.reference} {kind} instalment"[:140]


def _check_execution_date(execution_date: date | None, now: date) -> date:
    if execution_date is None:
        raise ValidationFailed({"execution_date": _("give the requested execution date")})
    if execution_date < now:
        raise ValidationFailed({"execution_date": _("the requested execution date is in the past")})
    if target_closed(execution_date):
        raise ValidationFailed(
            {
                "execution_date": _(
                    "the banks do not execute transfers on that day (a weekend or a TARGET2 "
                    "holiday); choose a business day"
                )
            }
        )
    return execution_date


def _refusals(session: Session, chosen: Sequence[Payment]) -> list[str]:
    """Why each chosen instalment may not go into a file (nothing: all may)."""
    reasons = []
    for payment in chosen:
        application = payment.application
        name = f"{application.reference} ({instalment_label(payment)})"
        if payment.status != PaymentState.AUTHORISED:
            status = _(PAYMENT_V1.fact(payment.status).label).lower()
            reasons.append(
                _(
                    "%(name)s is not authorised for payment (it is %(status)s)",
                    name=name,
                    status=status,
                )
            )
            continue
        live = live_batch_of(session, payment.id)
        if live is not None:
            reasons.append(
                _("%(name)s is already in SEPA batch %(batch)s", name=name, batch=live.reference)
            )
            continue
        blocked = bank_details.payment_block(application, payment)
        if blocked:
            reasons.append(
                _("%(name)s: bank details blocked: %(reason)s", name=name, reason=blocked)
            )
            continue
        if payment.amount <= 0:
            reasons.append(_("%(name)s has nothing to pay", name=name))
    return reasons


def _lock_payments(session: Session, payment_ids: Sequence[int]) -> list[Payment]:
    """The chosen payments, locked in id order (two exports never wait on each other in a
    cycle); a racing export waits here, then sees the winner's batch items."""
    rows = list(
        session.scalars(
            select(Payment)
            .where(Payment.id.in_(payment_ids))
            .order_by(Payment.id)
            .with_for_update(of=Payment)
            # Fresh rows: another transaction may have moved them since this session read.
            .execution_options(populate_existing=True)
        )
    )
    missing = set(payment_ids) - {p.id for p in rows}
    if missing:
        raise NotFound(f"no payment {min(missing)}")
    return rows


@dataclass(frozen=True)
class ExportRequest:
    payment_ids: tuple[int, ...]
    execution_date: date | None


def export_batch(
    session: Session,
    actor: Actor,
    storage: DocumentStore,
    debtor: Debtor,
    request: ExportRequest,
    *,
    now: date | None = None,
) -> SepaBatch:
    """One pain.001.001.03 file for the chosen authorised instalments, validated, checked
    against the selection, stored with its sha256 and audited; refused as a whole when any
    instalment may not be paid this way."""
    require_role(actor, Role.FINANCE)
    ids = tuple(dict.fromkeys(request.payment_ids))
    if not ids:
        raise ValidationFailed({"payment_ids": _("choose at least one instalment to pay")})
    execution_date = _check_execution_date(request.execution_date, now or today())
    chosen = _lock_payments(session, ids)
    reasons = _refusals(session, chosen)
    if reasons:
        raise TransitionRefused(
            _("no file was made; these instalments cannot be exported"), reasons=tuple(reasons)
        )
    chosen.sort(key=lambda p: (p.application.reference, p.instalment, p.id))
    created = utcnow()
    batch = SepaBatch(
        reference=f"PENDING-{created:%H%M%S%f}-{actor.user_id}"[:35],
        status=SepaBatchState.EXPORTED,
        created_by_id=actor.user_id,
        execution_date=execution_date,
        count=len(chosen),
        control_sum=sum((p.amount for p in chosen), Decimal(0)),
        debtor_name=debtor.name,
        debtor_iban=debtor.iban,
        sha256="",
        size=0,
        storage_key="",
        created_at=created,
    )
    session.add(batch)
    session.flush()  # its id names the batch
    batch.reference = f"SEPA-{created:%Y}-{batch.id:05d}"
    items = [
        SepaBatchItem(
            batch=batch,
            payment_id=p.id,
            position=index,
            live=True,
            end_to_end_id=_end_to_end_id(p.application, p, batch.id),
            payee_name=p.payee_name,
            iban=p.iban,
            amount=p.amount,
            remittance=_remittance(p.application, p),
        )
        for index, p in enumerate(chosen, start=1)
    ]
    transfers = [
        Transfer(i.end_to_end_id, i.payee_name, i.iban, i.amount, i.remittance) for i in items
    ]
    try:
        xml = build_credit_transfer(
            debtor, transfers, execution_date=execution_date, message_id=batch.reference
        )
        check_matches(xml, transfers, execution_date=execution_date, message_id=batch.reference)
    except (SepaFileError, ValueError, KeyError) as exc:
        raise TransitionRefused(
            _("the SEPA file failed its checks and was not stored: %(error)s", error=str(exc))
        ) from exc
    batch.sha256 = sha256_hex(xml)
    batch.size = len(xml)
    batch.storage_key = f"sepa/{created:%Y}/{batch.reference}-{batch.sha256[:12]}.xml"
    session.add_all(items)
    try:
        session.flush()
    except IntegrityError as exc:  # the partial unique index: a racing export won
        raise TransitionRefused(
            _("another SEPA batch took some of these instalments at the same time; reload")
        ) from exc
    audit.record(
        session,
        actor,
        "export_sepa_batch",
        entity_type="sepa_batch",
        entity_id=batch.reference,
        after={
            "status": batch.status,
            "count": batch.count,
            "control_sum": batch.control_sum,
            "sha256": batch.sha256,
            "execution_date": execution_date.isoformat(),
            "payment_ids": [p.id for p in chosen],
            "end_to_end_ids": [i.end_to_end_id for i in items],
            "debtor_iban": debtor.iban,
            "storage_key": batch.storage_key,
        },
    )
    # Last: a refused export stores nothing. The file is written before the commit, so a
    # committed batch always has its file (a failed commit leaves an unreferenced file).
    if storage.put(batch.storage_key, xml) != batch.sha256:
        raise TransitionRefused(_("the SEPA file was not stored intact; try again"))
    return batch


def _fire(batch: SepaBatch, trigger: str, actor: Actor, facts: Mapping[str, object]) -> str:
    ctx = TransitionContext(actor_id=actor.user_id, now=utcnow(), facts=dict(facts))
    return engine.fire(SEPA_BATCH_V1, batch.status, trigger, actor.role, ctx).dest


def _load_batch(session: Session, batch_id: int) -> SepaBatch:
    return load_locked(
        session, SepaBatch, batch_id, "SEPA batch", also=(selectinload(SepaBatch.items),)
    )


def _reference(raw: str, field: str) -> str:
    text = (raw or "").strip()
    if not text:
        raise ValidationFailed({field: _("give the bank's payment reference")})
    if len(text) > MAX_REFERENCE:
        raise ValidationFailed({field: _("at most %(count)s characters", count=MAX_REFERENCE)})
    return text


@dataclass(frozen=True)
class PaidRequest:
    bank_reference: str
    value_date: date | None
    # Per payment id, the reference of its instalment (empty or missing: the batch's).
    references: Mapping[int, str]


def _paid_inputs(
    batch: SepaBatch, request: PaidRequest, now: date
) -> tuple[str, date, dict[int, str]]:
    errors: dict[str, str] = {}
    bank_reference = ""
    try:
        bank_reference = _reference(request.bank_reference, "bank_reference")
    except ValidationFailed as exc:
        errors.update(exc.errors)
    value_date = request.value_date
    if value_date is None:
        errors["value_date"] = _("give the value date from the bank statement")
    elif value_date > now:
        errors["value_date"] = _("the value date cannot be in the future")
    elif value_date < batch.created_at.date():
        errors["value_date"] = _("the value date is before the file was exported")
    references: dict[int, str] = {}
    for item in batch.items:
        raw = request.references.get(item.payment_id, "").strip() or bank_reference
        try:
            references[item.payment_id] = _reference(raw, f"reference_{item.payment_id}")
        except ValidationFailed as exc:
            if bank_reference:
                errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    assert value_date is not None
    return bank_reference, value_date, references


def mark_batch_paid(
    session: Session,
    actor: Actor,
    batch_id: int,
    request: PaidRequest,
    *,
    now: date | None = None,
) -> SepaBatch:
    """The bank executed the file: every instalment in it is marked paid through its own
    step (pre-financing on its own, the balance with its application, which moves to paid
    and gets its remittance advice), with its reference and the value date. All of them or
    none: the first that cannot be paid refuses the whole batch."""
    require_role(actor, Role.FINANCE)
    batch = _load_batch(session, batch_id)
    dest = _fire(batch, "mark_paid", actor, {})
    bank_reference, value_date, references = _paid_inputs(batch, request, now or today())
    for item in batch.items:
        payment = session.get(Payment, item.payment_id)
        assert payment is not None
        reference = references[item.payment_id]
        label = f"{payment.application.reference} ({instalment_label(payment)})"
        try:
            if payment.instalment == Instalment.PREFINANCING:
                payments.mark_instalment_paid(
                    session, actor, payment.id, payment_reference=reference, paying_batch=batch.id
                )
            else:
                payments.mark_paid(
                    session,
                    actor,
                    payment.application_id,
                    payment_reference=reference,
                    paying_batch=batch.id,
                )
        except TransitionRefused as exc:
            raise TransitionRefused(
                _(
                    "nothing was marked paid: %(name)s cannot be marked paid (%(reason)s)",
                    name=label,
                    reason=str(exc),
                )
            ) from exc
        payment.value_date = value_date
        flush_or_refuse(session)
    before = {"status": batch.status}
    batch.status = dest
    batch.bank_reference = bank_reference
    batch.value_date = value_date
    batch.paid_by_id = actor.user_id
    batch.paid_at = utcnow()
    flush_or_refuse(session)
    audit.record(
        session,
        actor,
        "mark_sepa_batch_paid",
        entity_type="sepa_batch",
        entity_id=batch.reference,
        before=before,
        after={
            "status": dest,
            "bank_reference": bank_reference,
            "value_date": value_date.isoformat(),
            "count": batch.count,
            "control_sum": batch.control_sum,
            "payment_references": {str(k): v for k, v in references.items()},
        },
    )
    return batch


def cancel_batch(session: Session, actor: Actor, batch_id: int, *, reason: str) -> SepaBatch:
    """The file will not be executed (the bank refused it, it was never sent): its
    instalments are free for another file. A paid batch cannot be cancelled."""
    require_role(actor, Role.FINANCE)
    batch = _load_batch(session, batch_id)
    reason = (reason or "").strip()
    if batch.status == SepaBatchState.PAID:
        raise TransitionRefused(_("a paid batch cannot be cancelled: the bank has executed it"))
    if batch.status == SepaBatchState.EXPORTED and not reason:
        raise ValidationFailed({"reason": _("say why the batch is cancelled")})
    dest = _fire(batch, "cancel", actor, {"reason": reason})
    before = {"status": batch.status}
    batch.status = dest
    batch.cancelled_by_id = actor.user_id
    batch.cancelled_at = utcnow()
    batch.cancel_reason = reason
    for item in batch.items:
        item.live = False
    flush_or_refuse(session)
    audit.record(
        session,
        actor,
        "cancel_sepa_batch",
        entity_type="sepa_batch",
        entity_id=batch.reference,
        before=before,
        after={
            "status": dest,
            "reason": reason,
            "payment_ids": [i.payment_id for i in batch.items],
        },
    )
    return batch


# -- reading ---------------------------------------------------------------------------------


def batches(session: Session) -> list[SepaBatch]:
    return list(
        session.scalars(
            select(SepaBatch)
            .options(selectinload(SepaBatch.created_by))
            .order_by(SepaBatch.created_at.desc(), SepaBatch.id.desc())
        )
    )


def batches_waiting(session: Session) -> int:
    """Files sent to the bank and not yet marked paid."""
    return (
        session.scalar(
            select(func.count(SepaBatch.id)).where(SepaBatch.status == SepaBatchState.EXPORTED)
        )
        or 0
    )


def batch(session: Session, batch_id: int) -> SepaBatch:
    found = session.scalars(
        select(SepaBatch)
        .where(SepaBatch.id == batch_id)
        .options(
            selectinload(SepaBatch.created_by),
            selectinload(SepaBatch.items)
            .selectinload(SepaBatchItem.payment)
            .selectinload(Payment.application),
        )
    ).first()
    if found is None:
        raise NotFound(f"no SEPA batch {batch_id}")
    return found


def read_file(storage: DocumentStore, found: SepaBatch) -> bytes:
    """The stored file, checked against its recorded sha256."""
    data = storage.read(found.storage_key)
    if sha256_hex(data) != found.sha256:
        raise LookupError("the stored SEPA file does not match its recorded sha256")
    return data
