"""The grant dossier: everything kept about a voucher (or a whole call) in one ZIP that an
auditor can check offline, without trusting Cascade or its database.

A dossier holds, per voucher (one folder named after its reference):

- every PDF of the voucher, from the document store (``documents/<kind>/<date>-<id>.pdf``);
- its audit events as CSV (for spreadsheets) and JSON (exact values);
- its form answers and final reports' answers (``answers.json``);
- its files: the application's and the final report's attachments (superseded ones too)
  and the bank's confirmations of its bank details;
- the SEPA entries that paid it (``sepa.json``);

and at its root ``MANIFEST.json`` (each file's path, size and sha256; each event's id,
prev_hash, hash and canonical payload), ``MANIFEST.sha256``, ``chain/links.csv`` (the
(seq, id, prev_hash, hash) of every event from the dossier's first event to the chain head,
which links the events to the anchor), a README and ``verify_dossier.py``, which checks the
whole ZIP with Python's standard library only.

The ZIP is written to a file object the caller gives (a temporary file): PDFs are read one
at a time and events are streamed, so a call of thousands of vouchers never sits in memory.
Every event is read up to one chain position fixed at the start, so all parts of the dossier
describe the same moment even while others keep working.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Row, and_, or_, select
from sqlalchemy.orm import Session

from documents.kinds import TITLES
from documents.storage import DocumentStore
from grants.config import Config
from grants.db import utcnow
from grants.models import (
    Application,
    Attachment,
    AuditEvent,
    BankAccount,
    Call,
    Document,
    DocumentStatus,
    Payment,
    Report,
    SepaBatch,
    SepaBatchItem,
)
from grants.services import audit
from grants.services.actor import Actor
from grants.services.workflow import NotFound
from workflows.i18n import _
from workflows.roles import Role

FORMAT = "cascade-dossier/1"
MANIFEST = "MANIFEST.json"
MANIFEST_SUM = "MANIFEST.sha256"
LINKS = "chain/links.csv"
VERIFIER = "verify_dossier.py"
VERIFIER_SOURCE = Path(__file__).resolve().parents[2] / "documents" / "verify_dossier.py"
_CHUNK = 1024 * 1024
# Who may take a dossier: it carries full IBANs (bank letters, payment orders, SEPA entries)
# and every answer, so it is the auditors' ("read everything, export"; DOMAIN.md).
DOSSIER_ROLES = frozenset({Role.AUDITOR})


class DossierRefused(NotFound):
    """Nothing to give this person (or no such voucher or call): they learn nothing more."""


@dataclass(frozen=True)
class Anchor:
    """The chain head the dossier's proof ends at.

    ``source`` is ``"anchor"`` for an anchor kept outside the database (``cascade audit
    anchor``), or ``"chain_head"`` when none was given: then the proof only shows that the
    events are linked up to the head as the database had it when the dossier was built.
    """

    count: int
    hash: str
    last_id: int | None = None
    at: str | None = None
    signature: str | None = None
    public_key: str | None = None
    signed_message: str | None = None
    source: str = "anchor"

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "count": self.count,
            "last_id": self.last_id,
            "hash": self.hash,
            "at": self.at,
            "signature": self.signature,
            "public_key": self.public_key,
            "signed_message": self.signed_message,
        }


def latest_anchor(config: Config) -> Anchor | None:
    """The last anchor written by ``cascade audit anchor``, or None when there is none (or
    this installation has no anchoring): the proof then ends at the chain head."""
    try:
        from grants.services import anchors  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return None
    found = anchors.latest(config)
    return None if found is None else anchor_from(found)


def anchor_from(found: Any) -> Anchor:
    """An anchor as ``grants.services.anchors`` gives it (an object or a mapping)."""

    def get(name: str) -> Any:
        if isinstance(found, dict):
            return found.get(name)
        return getattr(found, name, None)

    at = get("at")
    # The exact text the anchor's signature covers (``anchors.Anchor.signed_text``).
    message = get("signed_text") or get("signed_message")
    if callable(message):
        message = message()
    if isinstance(message, bytes):
        message = message.decode("utf-8")
    return Anchor(
        count=int(get("count")),
        hash=str(get("hash")),
        last_id=None if get("last_id") is None else int(get("last_id")),
        at=at.isoformat() if isinstance(at, datetime) else (None if at is None else str(at)),
        signature=get("signature") or None,
        public_key=get("public_key") or None,
        signed_message=message or None,
    )


@dataclass(frozen=True)
class DossierResult:
    """What was written: the download's name and what its audit event records."""

    scope: str  # "voucher" or "call"
    reference: str
    filename: str
    files: int
    events: int
    manifest_sha256: str
    anchor_count: int
    application_id: int | None = None


@dataclass
class _Group:
    """One folder of the dossier: a voucher's, or the call's own events."""

    kind: str  # "voucher" or "call"
    name: str
    folder: str
    application_id: int | None = None
    events: list[int] = field(default_factory=list)


@dataclass
class _Writer:
    """Writes the ZIP's entries, keeping each file's size and sha256 for the manifest."""

    archive: zipfile.ZipFile
    files: list[dict[str, Any]] = field(default_factory=list)
    unavailable: list[dict[str, Any]] = field(default_factory=list)
    paths: set[str] = field(default_factory=set)

    def unique(self, path: str) -> str:
        stem, dot, ext = path.rpartition(".")
        candidate, n = path, 1
        while candidate in self.paths:
            n += 1
            candidate = f"{stem}-{n}.{ext}" if dot else f"{path}-{n}"
        self.paths.add(candidate)
        return candidate

    def add(self, path: str, chunks: Iterable[bytes], **facts: Any) -> dict[str, Any]:
        path = self.unique(path)
        digest = hashlib.sha256()
        size = 0
        with self.archive.open(path, "w", force_zip64=True) as out:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        entry = {"path": path, "size": size, "sha256": digest.hexdigest(), **facts}
        self.files.append(entry)
        return entry

    def add_bytes(self, path: str, data: bytes, **facts: Any) -> dict[str, Any]:
        return self.add(path, [data], **facts)


# -- what the dossier covers -----------------------------------------------------------------


def may_take(actor: Actor) -> bool:
    return actor.role in DOSSIER_ROLES


def _require(actor: Actor) -> None:
    if not may_take(actor):
        raise DossierRefused("the grant dossier is for auditors")


def voucher_by_reference(session: Session, actor: Actor, reference: str) -> Application:
    _require(actor)
    found = session.scalar(select(Application).where(Application.reference == reference.strip()))
    if found is None:
        raise DossierRefused(f"no voucher {reference}")
    return found


def voucher_by_id(session: Session, actor: Actor, application_id: int) -> Application:
    _require(actor)
    found = session.get(Application, application_id)
    if found is None:
        raise DossierRefused(f"no application {application_id}")
    return found


def call_by_reference(session: Session, actor: Actor, reference: str) -> Call:
    _require(actor)
    found = session.scalar(select(Call).where(Call.reference == reference.strip()))
    if found is None:
        raise DossierRefused(f"no call {reference}")
    return found


def _head(session: Session) -> tuple[int, int | None, str]:
    table = AuditEvent.__table__
    row = session.execute(
        select(table.c.seq, table.c.id, table.c.hash)
        .where(table.c.seq.is_not(None))
        .order_by(table.c.seq.desc())
        .limit(1)
    ).first()
    return (0, None, audit.GENESIS_HASH) if row is None else (row.seq, row.id, row.hash)


def _voucher_filter(application_id: int, reference: str) -> Any:
    table = AuditEvent.__table__
    return or_(
        table.c.application_id == application_id,
        and_(table.c.entity_type == "application", table.c.entity_id == reference),
    )


def _call_filter(call_id: int, reference: str) -> Any:
    table = AuditEvent.__table__
    return and_(
        table.c.entity_type == "call",
        table.c.entity_id.in_([reference, str(call_id)]),
        table.c.application_id.is_(None),
    )


def _events(session: Session, where: Any, head_seq: int) -> Iterator[Row[Any]]:
    table = AuditEvent.__table__
    with session.execute(
        select(table)
        .where(where, table.c.seq.is_not(None), table.c.seq <= head_seq)
        .order_by(table.c.seq)
        .execution_options(yield_per=1000)
    ) as rows:
        yield from rows


def _group_filter(group: _Group, call_id: int | None) -> Any:
    if group.application_id is not None:
        return _voucher_filter(group.application_id, group.name)
    assert call_id is not None
    return _call_filter(call_id, group.name)


# -- writing ---------------------------------------------------------------------------------


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _safe(name: str, limit: int = 100) -> str:
    cleaned = _UNSAFE.sub("_", name).strip("._") or "file"
    return cleaned[:limit]


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _json_bytes(value: Any) -> bytes:
    return (
        json.dumps(_jsonable(value), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    ).encode("utf-8")


def _event_row(event: Row[Any]) -> dict[str, Any]:
    return {c.name: _jsonable(getattr(event, c.name)) for c in AuditEvent.__table__.columns}


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    # As the trail's own CSV export: JSON for structures, a leading apostrophe against
    # spreadsheet formulas (events.json keeps the exact values).
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_chunks(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=audit.EXPORT_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
        if buffer.tell() > _CHUNK:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def _json_array_chunks(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    yield b"["
    first = True
    for row in rows:
        text = json.dumps(row, ensure_ascii=False, sort_keys=True)
        yield (("\n" if first else ",\n") + text).encode("utf-8")
        first = False
    yield b"\n]\n"


def _write_events(
    writer: _Writer, session: Session, group: _Group, call_id: int | None, head_seq: int
) -> None:
    where = _group_filter(group, call_id)
    writer.add(
        f"{group.folder}/events.csv",
        _csv_chunks(_event_row(e) for e in _events(session, where, head_seq)),
        kind="events_csv",
        group=group.name,
    )

    def rows() -> Iterator[dict[str, Any]]:
        for event in _events(session, where, head_seq):
            group.events.append(event.id)
            yield _event_row(event)

    writer.add(
        f"{group.folder}/events.json",
        _json_array_chunks(rows()),
        kind="events_json",
        group=group.name,
    )


def _evidence(session: Session, group: _Group, head_seq: int) -> dict[str, int]:
    """sha256 → id of the voucher's first event that records it (an upload, a bank
    change): the verifier then checks the file against the hash-chained trail itself."""
    found: dict[str, int] = {}
    for event in _events(session, _group_filter(group, None), head_seq):
        for value in (event.after or {}).values():
            if isinstance(value, str) and len(value) == 64 and value not in found:
                found[value] = event.id
    return found


def _stored(
    writer: _Writer,
    storage: DocumentStore,
    path: str,
    key: str | None,
    recorded: str | None,
    facts: dict[str, Any],
) -> None:
    """One stored file into the ZIP; a missing one is listed as unavailable, with why."""
    if not key:
        writer.unavailable.append({**facts, "path": path, "reason": "no stored file"})
        return
    try:
        data = storage.read(key)
    except (OSError, ValueError) as exc:
        writer.unavailable.append({**facts, "path": path, "reason": f"not readable: {exc}"})
        return
    writer.add_bytes(path, data, recorded_sha256=recorded, **facts)


def _write_voucher(
    writer: _Writer,
    session: Session,
    storage: DocumentStore,
    group: _Group,
    head_seq: int,
) -> None:
    assert group.application_id is not None
    application = session.get(Application, group.application_id)
    assert application is not None
    folder = group.folder
    evidence = _evidence(session, group, head_seq)
    documents = sorted(
        session.scalars(select(Document).where(Document.application_id == application.id)),
        key=lambda d: (d.kind, d.created_at, d.id),
    )
    for document in documents:
        path = (
            f"{folder}/documents/{_safe(document.kind)}/"
            f"{document.created_at:%Y%m%d-%H%M%S}-{document.id[:8]}.pdf"
        )
        facts = {
            "kind": "document",
            "group": group.name,
            "document_id": document.id,
            "document_kind": document.kind,
            "title": TITLES.get(document.kind, document.kind),  # type: ignore[call-overload]
            "audit_event_id": document.audit_event_id,
        }
        if document.status != DocumentStatus.READY:
            writer.unavailable.append(
                {**facts, "path": path, "reason": f"document {document.status}"}
            )
            continue
        _stored(writer, storage, path, document.storage_key, document.sha256, facts)
    for attachment in session.scalars(
        select(Attachment)
        .where(Attachment.application_id == application.id)
        .order_by(Attachment.id)
    ):
        path = (
            f"{folder}/attachments/{_safe(attachment.form_kind)}/"
            f"{attachment.id}-{_safe(attachment.field_name, 40)}-{_safe(attachment.filename)}"
        )
        facts = {
            "kind": f"{attachment.form_kind}_attachment",
            "group": group.name,
            "attachment_id": attachment.id,
            "field": attachment.field_name,
            "filename": attachment.filename,
            "superseded": attachment.superseded_at is not None,
        }
        if attachment.sha256 in evidence:
            facts["evidence_event"] = evidence[attachment.sha256]
        _stored(writer, storage, path, attachment.storage_key, attachment.sha256, facts)
    for account in session.scalars(
        select(BankAccount)
        .where(BankAccount.application_id == application.id)
        .order_by(BankAccount.id)
    ):
        if not account.confirmation_key:
            continue
        name = _safe(account.confirmation_filename or "confirmation")
        path = f"{folder}/bank/{account.id}-{account.payee}-{name}"
        facts = {
            "kind": "bank_confirmation",
            "group": group.name,
            "bank_account_id": account.id,
            "payee": account.payee,
            "superseded": account.superseded_at is not None,
        }
        if account.confirmation_sha256 in evidence:
            facts["evidence_event"] = evidence[account.confirmation_sha256]
        _stored(writer, storage, path, account.confirmation_key, account.confirmation_sha256, facts)
    writer.add_bytes(
        f"{folder}/answers.json",
        _json_bytes(_answers(session, application)),
        kind="answers",
        group=group.name,
    )
    writer.add_bytes(
        f"{folder}/sepa.json",
        _json_bytes(_sepa_entries(session, application)),
        kind="sepa",
        group=group.name,
    )


def _answers(session: Session, application: Application) -> dict[str, Any]:
    reports = session.scalars(
        select(Report).where(Report.application_id == application.id).order_by(Report.id)
    )
    return {
        "reference": application.reference,
        "call": application.call.reference,
        "organisation": application.organisation.legal_name,
        "title": application.title,
        "status": application.status,
        "form_id": application.form_id,
        "submitted_at": application.submitted_at,
        "content_sha256": application.content_sha256,
        "requested_amount": application.requested_amount,
        "awarded_amount": application.awarded_amount,
        "answers": application.answers or {},
        "organisation_at_submission": application.organisation_snapshot,
        "eligibility": application.eligibility,
        "consensus": application.consensus,
        "reports": [
            {
                "report_id": r.id,
                "form_id": r.form_id,
                "submitted_at": r.submitted_at,
                "summary": r.summary,
                "claimed_costs": r.claimed_costs,
                "subcontracted_costs": r.subcontracted_costs,
                "answers": r.answers or {},
                "outcome": r.outcome,
                "approved_costs": r.approved_costs,
                "review_comments": r.review_comments,
                "reviewed_at": r.reviewed_at,
            }
            for r in reports
        ],
    }


def _sepa_entries(session: Session, application: Application) -> list[dict[str, Any]]:
    rows = session.execute(
        select(SepaBatchItem, SepaBatch, Payment)
        .join(SepaBatch, SepaBatchItem.batch_id == SepaBatch.id)
        .join(Payment, SepaBatchItem.payment_id == Payment.id)
        .where(Payment.application_id == application.id)
        .order_by(SepaBatch.id, SepaBatchItem.position)
    )
    return [
        {
            "batch": batch.reference,
            "batch_status": batch.status,
            "batch_file_sha256": batch.sha256,
            "execution_date": batch.execution_date,
            "value_date": batch.value_date,
            "bank_reference": batch.bank_reference,
            "position": item.position,
            "live": item.live,
            "end_to_end_id": item.end_to_end_id,
            "payment_id": payment.id,
            "instalment": payment.instalment,
            "payee_name": item.payee_name,
            "iban": item.iban,
            "amount": item.amount,
            "remittance": item.remittance,
        }
        for item, batch, payment in rows
    ]


def _links_chunks(session: Session, first_seq: int, last_seq: int) -> Iterator[bytes]:
    table = AuditEvent.__table__
    yield b"seq,id,prev_hash,hash\n"
    if first_seq > last_seq:
        return
    with closing(
        iter(
            session.execute(
                select(table.c.seq, table.c.id, table.c.prev_hash, table.c.hash)
                .where(table.c.seq >= first_seq, table.c.seq <= last_seq)
                .order_by(table.c.seq)
                .execution_options(yield_per=5000)
            )
        )
    ) as rows:
        lines: list[str] = []
        for row in rows:
            lines.append(f"{row.seq},{row.id},{row.prev_hash},{row.hash}\n")
            if len(lines) >= 5000:
                yield "".join(lines).encode("ascii")
                lines.clear()
        yield "".join(lines).encode("ascii")


def _readme(scope: str, reference: str, anchor: Anchor) -> bytes:
    paragraphs = [
        _("Grant dossier of %(scope)s %(reference)s", scope=scope, reference=reference),
        _(
            "Check it offline with Python 3 (standard library only): "
            "python3 verify_dossier.py THIS-FILE.zip — it prints every problem it finds and "
            "exits with status 1 if there is one."
        ),
        _(
            "What the check proves: every file has the size and sha256 written in "
            "MANIFEST.json; every audit event's hash is recomputed from its canonical payload "
            "(sha256 of the previous hash followed by the payload); the events are linked, "
            "hash to previous hash, without a gap through chain/links.csv up to the anchored "
            "chain head; files uploaded by the applicant and bank letters match the sha256 "
            "recorded in the hash-chained audit event that names them."
        ),
        _(
            "What it does not prove: events of other vouchers between this dossier's events "
            "appear only as hashes, so the check cannot tell whether one of them also "
            "concerned this voucher (that the dossier is complete is checked on the full "
            "trail with 'cascade audit verify'). PDFs are protected by the manifest and by the "
            "sha256 recorded in the documents table, not by the chain; the manifest's own "
            "sha256 is recorded in the audit event written when this dossier was issued. The "
            "anchor proves more than the database only if a copy of it was kept elsewhere."
        ),
        _(
            "Anchor: %(source)s, %(count)s events, head hash %(hash)s.",
            source=_("an anchor kept outside the database")
            if anchor.source == "anchor"
            else _("the chain head when this dossier was built (no anchor was given)"),
            count=anchor.count,
            hash=anchor.hash,
        ),
    ]
    return ("\n\n".join(str(p) for p in paragraphs) + "\n").encode("utf-8")


def _manifest_chunks(
    session: Session,
    *,
    scope: str,
    reference: str,
    generated_at: datetime,
    groups: list[_Group],
    call_id: int | None,
    head_seq: int,
    writer: _Writer,
    chain: dict[str, Any],
    anchor: Anchor,
) -> Iterator[bytes]:
    """MANIFEST.json, written piece by piece: its events list can be long for a call."""

    def dump(value: Any) -> str:
        return json.dumps(_jsonable(value), ensure_ascii=False, sort_keys=True)

    header = {
        "format": FORMAT,
        "scope": {"kind": scope, "reference": reference},
        "generated_at": generated_at,
        "hash_rule": "hash = sha256_hex(prev_hash + payload); the first prev_hash is 64 zeros",
        "anchor": anchor.as_json(),
        "chain": chain,
        "groups": [{"kind": g.kind, "name": g.name, "folder": g.folder} for g in groups],
    }
    # The header's closing brace is dropped: the long lists follow, then the object closes.
    yield (dump(header)[:-1] + ',\n"files": [\n').encode()
    yield ",\n".join(dump(f) for f in writer.files).encode("utf-8")
    yield f'\n],\n"unavailable": {dump(writer.unavailable)},\n"events": ['.encode()
    first = True
    for group in groups:
        wanted = set(group.events)
        for event in _events(session, _group_filter(group, call_id), head_seq):
            if event.id not in wanted:
                continue
            item = {
                "id": event.id,
                "seq": event.seq,
                "group": group.name,
                "prev_hash": event.prev_hash,
                "hash": event.hash,
                "payload": audit.canonical_payload(event),
            }
            yield (("\n" if first else ",\n") + dump(item)).encode("utf-8")
            first = False
    yield b"\n]\n}\n"


def _write(
    session: Session,
    storage: DocumentStore,
    out: IO[bytes],
    *,
    scope: str,
    reference: str,
    groups: list[_Group],
    call_id: int | None,
    anchor: Anchor | None,
) -> tuple[int, int, str, Anchor]:
    head_seq, head_id, head_hash = _head(session)
    if anchor is None:
        anchor = Anchor(
            count=head_seq,
            hash=head_hash,
            last_id=head_id,
            at=utcnow().isoformat(),
            source="chain_head",
        )
    generated_at = utcnow().replace(microsecond=0)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        writer = _Writer(archive)
        for group in groups:
            _write_events(writer, session, group, call_id, head_seq)
            if group.application_id is not None:
                _write_voucher(writer, session, storage, group, head_seq)
            session.expunge_all()  # what one voucher loaded is not kept for the next
        seqs = [
            e.seq
            for g in groups
            for e in session.execute(
                select(AuditEvent.__table__.c.seq)
                .where(_group_filter(g, call_id), AuditEvent.__table__.c.seq <= head_seq)
                .order_by(AuditEvent.__table__.c.seq)
                .limit(1)
            )
        ]
        first_seq = min(seqs) if seqs else head_seq + 1
        # The links run from the first event to the head as read at the start, which is at
        # or after the anchor (events after the anchor are linked to that head only).
        last_seq = head_seq
        writer.add(LINKS, _links_chunks(session, first_seq, last_seq), kind="chain_links")
        chain = {
            "links_file": LINKS,
            "first_seq": first_seq,
            "last_seq": last_seq,
            "head_seq": head_seq,
            "head_hash": head_hash,
        }
        writer.add_bytes("README.txt", _readme(scope, reference, anchor), kind="readme")
        writer.add_bytes(VERIFIER, VERIFIER_SOURCE.read_bytes(), kind="verifier")
        manifest_hash = hashlib.sha256()
        with archive.open(MANIFEST, "w", force_zip64=True) as manifest:
            for chunk in _manifest_chunks(
                session,
                scope=scope,
                reference=reference,
                generated_at=generated_at,
                groups=groups,
                call_id=call_id,
                head_seq=head_seq,
                writer=writer,
                chain=chain,
                anchor=anchor,
            ):
                manifest_hash.update(chunk)
                manifest.write(chunk)
        digest = manifest_hash.hexdigest()
        archive.writestr(MANIFEST_SUM, f"{digest}  {MANIFEST}\n")
    events = sum(len(g.events) for g in groups)
    return len(writer.files), events, digest, anchor


def write_voucher_dossier(
    session: Session,
    storage: DocumentStore,
    actor: Actor,
    application_id: int,
    out: IO[bytes],
    *,
    anchor: Anchor | None,
) -> DossierResult:
    """Write the voucher's dossier as a ZIP into ``out``. ``anchor``: the latest anchor
    (``latest_anchor(config)``); None proves the chain up to its current head only."""
    application = voucher_by_id(session, actor, application_id)
    reference = application.reference
    folder = _safe(reference)
    groups = [_Group("voucher", reference, folder, application.id)]
    files, events, digest, used = _write(
        session,
        storage,
        out,
        scope="voucher",
        reference=reference,
        groups=groups,
        call_id=None,
        anchor=anchor,
    )
    return DossierResult(
        "voucher",
        reference,
        f"{folder}-dossier.zip",
        files,
        events,
        digest,
        used.count,
        application_id=application_id,
    )


def write_call_dossier(
    session: Session,
    storage: DocumentStore,
    actor: Actor,
    call_reference: str,
    out: IO[bytes],
    *,
    anchor: Anchor | None,
) -> DossierResult:
    """Write a whole call's dossier: the call's own events, then one folder per voucher."""
    call = call_by_reference(session, actor, call_reference)
    reference = call.reference
    groups = [_Group("call", reference, "call")]
    for application_id, application_reference in session.execute(
        select(Application.id, Application.reference)
        .where(Application.call_id == call.id)
        .order_by(Application.reference)
    ):
        groups.append(
            _Group("voucher", application_reference, _safe(application_reference), application_id)
        )
    files, events, digest, used = _write(
        session,
        storage,
        out,
        scope="call",
        reference=reference,
        groups=groups,
        call_id=call.id,
        anchor=anchor,
    )
    return DossierResult(
        "call", reference, f"{_safe(reference)}-call-dossier.zip", files, events, digest, used.count
    )


def file_sha256(handle: IO[bytes]) -> str:
    handle.seek(0)
    digest = hashlib.sha256()
    while chunk := handle.read(_CHUNK):
        digest.update(chunk)
    handle.seek(0)
    return digest.hexdigest()


def record_issued(
    session: Session, actor: Actor, result: DossierResult, zip_sha256: str
) -> AuditEvent:
    """The audit event of a dossier handed out: it keeps the manifest's sha256, so a
    dossier produced later can be told from the one issued."""
    _require(actor)
    return audit.record(
        session,
        actor,
        "issue_dossier" if result.scope == "voucher" else "issue_call_dossier",
        entity_type="dossier",
        entity_id=result.reference,
        after={
            "scope": result.scope,
            "manifest_sha256": result.manifest_sha256,
            "zip_sha256": zip_sha256,
            "files": result.files,
            "events": result.events,
            "anchor_count": result.anchor_count,
        },
        application_id=result.application_id,
    )
