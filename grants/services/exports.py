"""Data exports for auditors and staff: audit events, applications, scores, awards and
payments, as CSV, JSON Lines or XLSX, in bounded memory.

Nothing here builds a list of rows. The database is read as a stream: on PostgreSQL one
SELECT through a server-side cursor (``yield_per``), which is a consistent snapshot and
blocks no writer; on SQLite, where every transaction takes the write lock at BEGIN (see
``grants.db``), in pages of ``BATCH`` rows by the dataset's unique key, each page its own
short transaction, so that a slow download never holds other writers. Rows become bytes in
``grants.services.export_formats`` and go out as they are made.

Every export is audited twice: ``export_started`` before the first byte, with who, which
dataset, format and call (so an export that is cut short or fails is still on record), and
``export_finished`` with the number of rows once the last row has been read (the count is
only known then; a download abandoned part-way has the first event and not the second).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from grants.db import utcnow
from grants.errors import NotFound, require_role
from grants.models import Application, AuditEvent, Call, Evaluation, Organisation, Payment, User
from grants.services import audit
from grants.services.actor import Actor
from grants.services.export_formats import FORMATS, Format, csv_chunks, jsonl_chunks, xlsx_chunks
from workflows import money
from workflows.i18n import N_, _
from workflows.payment import PaymentState
from workflows.roles import Role

# Rows per page (SQLite) or per fetch from the server-side cursor (PostgreSQL).
BATCH = 1000
_POSITION = "_position"  # the dataset's unique key, read with each row to page by it


@dataclass(frozen=True)
class Column:
    key: str  # the JSON Lines key: stable, never translated
    label: str  # the CSV/XLSX heading, in words (translated when shown)
    expression: Any
    kind: str = "text"  # text | integer | money | datetime | date | json


@dataclass(frozen=True)
class Dataset:
    name: str  # as in the URL and on the command line
    title: str
    description: str
    roles: frozenset[Role]
    columns: tuple[Column, ...]
    key: Any  # unique, rows come in its order
    joins: Callable[[Select[Any]], Select[Any]]
    for_call: Callable[[Select[Any], Call], Select[Any]]

    def keys(self) -> list[str]:
        return [c.key for c in self.columns]

    def labels(self) -> list[str]:
        return [_(c.label) for c in self.columns]


# -- the datasets ----------------------------------------------------------------------------

_AUDIT = AuditEvent.__table__.c
_evaluator = aliased(User)
_prepared_by = aliased(User)
_authorised_by = aliased(User)
_paid_by = aliased(User)

# Keys of the audit events are the stored fields' own names, so that an auditor can recompute
# each event's hash from the JSON Lines export (``audit.canonical_payload``) without us.
AUDIT_EVENTS = Dataset(
    name="audit-events",
    title=N_("Audit events"),
    description=N_("Every recorded change, in chain order, with its hashes."),
    roles=frozenset({Role.AUDITOR}),
    columns=(
        Column("id", N_("Event number"), _AUDIT.id, "integer"),
        Column("seq", N_("Chain position"), _AUDIT.seq, "integer"),
        Column("occurred_at", N_("Time (UTC)"), _AUDIT.occurred_at, "datetime"),
        Column("actor_id", N_("Actor account number"), _AUDIT.actor_id, "integer"),
        Column("actor_name", N_("Actor"), _AUDIT.actor_name),
        Column("actor_role", N_("Actor's role"), _AUDIT.actor_role),
        Column("action", N_("Action"), _AUDIT.action),
        Column("entity_type", N_("Record type"), _AUDIT.entity_type),
        Column("entity_id", N_("Record"), _AUDIT.entity_id),
        Column("application_id", N_("Application number"), _AUDIT.application_id, "integer"),
        Column("application_reference", N_("Application reference"), Application.reference),
        Column("before", N_("Before"), _AUDIT.before, "json"),
        Column("after", N_("After"), _AUDIT.after, "json"),
        Column("request_id", N_("Request"), _AUDIT.request_id),
        Column("ip", N_("IP address"), _AUDIT.ip),
        Column("prev_hash", N_("Previous event's hash"), _AUDIT.prev_hash),
        Column("hash", N_("Hash"), _AUDIT.hash),
    ),
    key=_AUDIT.seq,
    joins=lambda q: (
        q.select_from(AuditEvent.__table__)
        .outerjoin(Application, Application.id == _AUDIT.application_id)
        .where(_AUDIT.seq.is_not(None))
    ),
    for_call=lambda q, call: q.where(
        or_(
            Application.call_id == call.id,
            and_(_AUDIT.entity_type == "call", _AUDIT.entity_id == call.reference),
        )
    ),
)

APPLICATIONS = Dataset(
    name="applications",
    title=N_("Applications"),
    description=N_("Every application with its status, scores total, rank and amounts."),
    roles=frozenset({Role.AUDITOR, Role.OFFICER}),
    columns=(
        Column("reference", N_("Reference"), Application.reference),
        Column("call", N_("Call"), Call.reference),
        Column("title", N_("Title"), Application.title),
        Column("organisation", N_("Organisation"), Organisation.legal_name),
        Column("country", N_("Country"), Organisation.country),
        Column("sme_category", N_("SME category"), Organisation.sme_category),
        Column("status", N_("Status"), Application.status),
        Column("requested_amount", N_("Requested (EUR)"), Application.requested_amount, "money"),
        Column("submitted_at", N_("Submitted (UTC)"), Application.submitted_at, "datetime"),
        Column("content_sha256", N_("Submitted content SHA-256"), Application.content_sha256),
        Column("total_score", N_("Total score"), Application.total_score, "money"),
        Column("rank", N_("Rank"), Application.rank, "integer"),
        Column("awarded_amount", N_("Awarded (EUR)"), Application.awarded_amount, "money"),
        Column("created_at", N_("Started (UTC)"), Application.created_at, "datetime"),
        Column("updated_at", N_("Last changed (UTC)"), Application.updated_at, "datetime"),
    ),
    key=Application.id,
    joins=lambda q: (
        q.select_from(Application)
        .join(Call, Call.id == Application.call_id)
        .join(Organisation, Organisation.id == Application.organisation_id)
    ),
    for_call=lambda q, call: q.where(Application.call_id == call.id),
)

SCORES = Dataset(
    name="scores",
    title=N_("Scores"),
    description=N_("Each expert's evaluation: declaration, scores and comments per criterion."),
    roles=frozenset({Role.AUDITOR, Role.OFFICER}),
    columns=(
        Column("evaluation", N_("Evaluation number"), Evaluation.id, "integer"),
        Column("application", N_("Application reference"), Application.reference),
        Column("call", N_("Call"), Call.reference),
        Column("evaluator", N_("Evaluator"), _evaluator.full_name),
        Column("evaluator_id", N_("Evaluator account number"), Evaluation.evaluator_id, "integer"),
        Column("status", N_("Status"), Evaluation.status),
        Column(
            "declared_at", N_("Conflict declaration (UTC)"), Evaluation.coi_declared_at, "datetime"
        ),
        Column("scores", N_("Scores and comments by criterion"), Evaluation.scores, "json"),
        Column("total", N_("Total"), Evaluation.total, "money"),
        Column("submitted_at", N_("Submitted (UTC)"), Evaluation.submitted_at, "datetime"),
        Column("due_at", N_("Due (UTC)"), Evaluation.due_at, "datetime"),
    ),
    key=Evaluation.id,
    joins=lambda q: (
        q.select_from(Evaluation)
        .join(Application, Application.id == Evaluation.application_id)
        .join(Call, Call.id == Application.call_id)
        .join(_evaluator, _evaluator.id == Evaluation.evaluator_id)
    ),
    for_call=lambda q, call: q.where(Application.call_id == call.id),
)

_PAID_SO_FAR = (
    select(func.coalesce(func.sum(Payment.amount), 0))
    .where(Payment.application_id == Application.id, Payment.status == PaymentState.PAID)
    .correlate(Application)
    .scalar_subquery()
)

AWARDS = Dataset(
    name="awards",
    title=N_("Awards"),
    description=N_("Every voucher awarded: amount, agreement and what has been paid."),
    roles=frozenset({Role.AUDITOR, Role.OFFICER}),
    columns=(
        Column("reference", N_("Reference"), Application.reference),
        Column("call", N_("Call"), Call.reference),
        Column("organisation", N_("Organisation"), Organisation.legal_name),
        Column("country", N_("Country"), Organisation.country),
        Column("status", N_("Status"), Application.status),
        Column("rank", N_("Rank"), Application.rank, "integer"),
        Column("total_score", N_("Total score"), Application.total_score, "money"),
        Column("awarded_amount", N_("Awarded (EUR)"), Application.awarded_amount, "money"),
        Column(
            "agreement_signed_at",
            N_("Agreement signed (UTC)"),
            Application.agreement_signed_at,
            "datetime",
        ),
        Column("paid_so_far", N_("Paid so far (EUR)"), _PAID_SO_FAR, "money"),
    ),
    key=Application.id,
    joins=lambda q: (
        q.select_from(Application)
        .join(Call, Call.id == Application.call_id)
        .join(Organisation, Organisation.id == Application.organisation_id)
        .where(Application.awarded_amount.is_not(None))
    ),
    for_call=lambda q, call: q.where(Application.call_id == call.id),
)

PAYMENTS = Dataset(
    name="payments",
    title=N_("Payments"),
    description=N_("Every payment instalment: payee, account, who prepared, authorised, paid."),
    # The full IBAN: finance and auditors only (as the payment order).
    roles=frozenset({Role.AUDITOR, Role.FINANCE}),
    columns=(
        Column("payment", N_("Payment number"), Payment.id, "integer"),
        Column("application", N_("Application reference"), Application.reference),
        Column("call", N_("Call"), Call.reference),
        Column("instalment", N_("Instalment"), Payment.instalment),
        Column("status", N_("Status"), Payment.status),
        Column("amount", N_("Amount (EUR)"), Payment.amount, "money"),
        Column("payee", N_("Payee"), Payment.payee_name),
        Column("iban", N_("IBAN"), Payment.iban),
        Column("prepared_by", N_("Prepared by"), _prepared_by.full_name),
        Column("prepared_at", N_("Prepared (UTC)"), Payment.prepared_at, "datetime"),
        Column("authorised_by", N_("Authorised by"), _authorised_by.full_name),
        Column("authorised_at", N_("Authorised (UTC)"), Payment.authorised_at, "datetime"),
        Column("paid_by", N_("Marked paid by"), _paid_by.full_name),
        Column("paid_at", N_("Marked paid (UTC)"), Payment.paid_at, "datetime"),
        Column("payment_reference", N_("Bank reference"), Payment.payment_reference),
        Column("value_date", N_("Value date"), Payment.value_date, "date"),
    ),
    key=Payment.id,
    joins=lambda q: (
        q.select_from(Payment)
        .join(Application, Application.id == Payment.application_id)
        .join(Call, Call.id == Application.call_id)
        .join(_prepared_by, _prepared_by.id == Payment.prepared_by_id)
        .outerjoin(_authorised_by, _authorised_by.id == Payment.authorised_by_id)
        .outerjoin(_paid_by, _paid_by.id == Payment.paid_by_id)
    ),
    for_call=lambda q, call: q.where(Application.call_id == call.id),
)

DATASETS = {d.name: d for d in (AUDIT_EVENTS, APPLICATIONS, SCORES, AWARDS, PAYMENTS)}


def dataset(name: str) -> Dataset:
    if name not in DATASETS:
        raise NotFound(f"no dataset {name}")
    return DATASETS[name]


def export_format(name: str) -> Format:
    if name not in FORMATS:
        raise NotFound(f"no export format {name}")
    return FORMATS[name]


def datasets_for(role: Role) -> list[Dataset]:
    """What this role may export, in the order shown."""
    return [d for d in DATASETS.values() if role in d.roles]


def may_export(role: Role) -> bool:
    return bool(datasets_for(role))


def calls_to_filter(session: Session) -> list[tuple[str, str]]:
    """(reference, title) of every call, for the export filter."""
    return [
        (r.reference, r.title)
        for r in session.execute(select(Call.reference, Call.title).order_by(Call.reference))
    ]


# -- reading, in bounded memory --------------------------------------------------------------


def _query(ds: Dataset, call: Call | None) -> Select[Any]:
    columns = [c.expression.label(c.key) for c in ds.columns]
    query = ds.joins(select(*columns, ds.key.label(_POSITION)))
    return query if call is None else ds.for_call(query, call)


def _money(value: Any) -> str:
    return str(money.quantize(value if isinstance(value, Decimal) else Decimal(str(value))))


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "money": _money,
    "datetime": _utc,
    "date": date.isoformat,
}


def _converters(ds: Dataset) -> list[Callable[[Any], Any] | None]:
    return [_CONVERT.get(c.kind) for c in ds.columns]


def _database_rows(sessions: sessionmaker[Session], query: Select[Any], key: Any) -> Iterator[Any]:
    with sessions() as probe:
        backend = probe.get_bind().dialect.name
    if backend == "postgresql":
        # One statement, one snapshot; a server-side cursor hands rows over BATCH at a time.
        with (
            sessions() as session,
            session.begin(),
            session.execute(query.order_by(key).execution_options(yield_per=BATCH)) as result,
        ):
            yield from result
        return
    last = None
    while True:
        page_query = query if last is None else query.where(key > last)
        with sessions() as session, session.begin():
            page = session.execute(page_query.order_by(key).limit(BATCH)).all()
        yield from page
        if len(page) < BATCH:
            return
        last = page[-1]._mapping[_POSITION]
        del page


def rows(
    sessions: sessionmaker[Session], ds: Dataset, call: Call | None = None
) -> Iterator[dict[str, Any]]:
    """The dataset's rows as plain dicts of JSON-ready values (money as decimal strings,
    times ISO 8601 in UTC), one at a time, in the order of its key."""
    keys = ds.keys()
    converters = _converters(ds)
    for row in _database_rows(sessions, _query(ds, call), ds.key):
        yield {
            key: value if convert is None or value is None else convert(value)
            for key, convert, value in zip(keys, converters, row, strict=False)
        }


# -- an export, audited ----------------------------------------------------------------------


@dataclass(frozen=True)
class Export:
    """An export that has been authorised and recorded, ready to stream."""

    actor: Actor
    dataset: Dataset
    format: Format
    call_id: int | None
    call_reference: str | None
    filename: str
    started_event_id: int

    def facts(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset.name,
            "format": self.format.name,
            "call": self.call_reference,
            "started_event": self.started_event_id,
        }


def _find_call(session: Session, reference: str) -> Call:
    call = session.scalar(select(Call).where(Call.reference == reference.strip()))
    if call is None:
        raise NotFound(_("There is no call %(reference)s.", reference=reference.strip()))
    return call


def start(
    session: Session,
    actor: Actor,
    dataset_name: str,
    format_name: str,
    *,
    call_reference: str | None = None,
) -> Export:
    """Check that ``actor`` may export the dataset and record ``export_started`` with the
    dataset, format and call; the caller commits before streaming."""
    ds = dataset(dataset_name)
    fmt = export_format(format_name)
    require_role(actor, *ds.roles)
    call = (
        _find_call(session, call_reference) if call_reference and call_reference.strip() else None
    )
    event = audit.record(
        session,
        actor,
        "export_started",
        entity_type="export",
        entity_id=ds.name,
        after={
            "dataset": ds.name,
            "format": fmt.name,
            "call": call.reference if call else None,
        },
    )
    scope = re.sub(r"[^A-Za-z0-9-]", "", call.reference) if call else "all"
    filename = f"cascade-{ds.name}-{scope}-{utcnow():%Y%m%d-%H%M%S}.{fmt.extension}"
    return Export(
        actor=actor,
        dataset=ds,
        format=fmt,
        call_id=call.id if call else None,
        call_reference=call.reference if call else None,
        filename=filename,
        started_event_id=event.id,
    )


def _finish(sessions: sessionmaker[Session], export: Export, count: int) -> None:
    with sessions() as session, session.begin():
        audit.record(
            session,
            export.actor,
            "export_finished",
            entity_type="export",
            entity_id=export.dataset.name,
            after={**export.facts(), "rows": count},
        )


def stream(sessions: sessionmaker[Session], export: Export) -> Iterator[bytes]:
    """The export's bytes, produced as they are sent; ``export_finished`` (with the row
    count) is recorded once every row has been read."""
    ds = export.dataset
    call = None
    if export.call_id is not None:
        with sessions() as session:
            call = session.get(Call, export.call_id)
    counted = [0]

    def source() -> Iterator[dict[str, Any]]:
        for row in rows(sessions, ds, call):
            counted[0] += 1
            yield row

    def finished() -> None:
        _finish(sessions, export, counted[0])

    keys, labels = ds.keys(), ds.labels()
    if export.format.name == "xlsx":
        # The workbook is complete before its first byte leaves: the count is known then.
        yield from xlsx_chunks(_(ds.title), keys, labels, source(), written=finished)
        return
    if export.format.name == "csv":
        yield from csv_chunks(keys, labels, source())
    else:
        yield from jsonl_chunks(keys, source())
    finished()
