"""The append-only, hash-chained audit trail.

Each event's hash is sha256(previous hash + canonical JSON of the event). Events are written
unlinked inside the caller's transaction and linked, all of a transaction's events in one
step, right before it commits: the chain head is read under a lock (PostgreSQL advisory
lock; SQLite's BEGIN IMMEDIATE already serialises writers) held only from linking to commit,
so a long transaction (a ranking) no longer holds every other writer. The unique ``seq`` and
``prev_hash`` make a fork impossible even if the lock were missed.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, bindparam, func, inspect, select, text, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from grants.db import utcnow
from grants.models import AuditEvent
from grants.services.actor import Actor

GENESIS_HASH = "0" * 64
# Any constant works; it only has to be the same for every writer of this database.
_CHAIN_LOCK_KEY = 0x43415343  # "CASC"
# The session's events written in its current transaction and not yet linked.
_UNLINKED = "cascade.audit.unlinked"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class _Linking:
    """An event as it will be linked: its stored fields with the predecessor's hash."""

    event: AuditEvent
    prev_hash: str

    def __getattr__(self, name: str) -> Any:
        return getattr(self.event, name)


# An event as the ORM holds it, or a plain Core row of the audit table: verify and export
# read rows, which is several times cheaper than building an ORM object per event.
EventLike = AuditEvent | Row[Any] | _Linking


def canonical_payload(event: EventLike) -> str:
    """Every stored field but the hash itself, in one stable text form."""
    body = {
        "id": event.id,
        "occurred_at": event.occurred_at.isoformat(),
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "actor_role": event.actor_role,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "application_id": event.application_id,
        "before": event.before,
        "after": event.after,
        "request_id": event.request_id,
        "ip": event.ip,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_hash(event: EventLike) -> str:
    return hashlib.sha256((event.prev_hash + canonical_payload(event)).encode("utf-8")).hexdigest()


def _lock_chain(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK_KEY})


def new_event(
    actor: Actor,
    action: str,
    *,
    entity_type: str,
    entity_id: str | int,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    application_id: int | None = None,
) -> AuditEvent:
    """An event as written, before it is linked: ``append`` writes it."""
    return AuditEvent(
        # Microseconds dropped: both backends then store and return exactly the same value.
        occurred_at=utcnow().replace(microsecond=0),
        actor_id=actor.user_id,
        actor_name=actor.name,
        actor_role=str(actor.role),
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        application_id=application_id,
        before=_jsonable(before or {}),
        after=_jsonable(after or {}),
        request_id=actor.request_id,
        ip=actor.ip,
    )


def append(session: Session, events: list[AuditEvent]) -> None:
    """Write events inside the caller's transaction (one INSERT for many); they join the
    chain, in this order, when it commits."""
    session.add_all(events)
    session.flush()  # their ids: documents and notices name the event
    session.info.setdefault(_UNLINKED, []).extend(events)


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    entity_type: str,
    entity_id: str | int,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    application_id: int | None = None,
) -> AuditEvent:
    """Write one event inside the caller's transaction; it joins the chain at commit."""
    event = new_event(
        actor,
        action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after=after,
        application_id=application_id,
    )
    append(session, [event])
    return event


_LINK = (
    update(AuditEvent.__table__)
    .where(AuditEvent.__table__.c.id == bindparam("event_id"))
    .values(seq=bindparam("seq"), prev_hash=bindparam("prev"), hash=bindparam("digest"))
)
# PostgreSQL links any number of events in one statement: the links travel as four arrays.
_LINK_ALL = text(
    "UPDATE audit_events SET seq = link.seq, prev_hash = link.prev, hash = link.digest "
    "FROM unnest(CAST(:event_ids AS integer[]), CAST(:seqs AS integer[]), "
    "CAST(:prevs AS varchar[]), CAST(:digests AS varchar[])) AS link(event_id, seq, prev, digest) "
    "WHERE audit_events.id = link.event_id"
)
_SLOT = "<prev>"
_SLOT_JSON = f'"prev_hash":"{_SLOT}"'


def _payload_around_prev(event: AuditEvent) -> tuple[str, str]:
    """The event's canonical payload, cut where its predecessor's hash goes. Encoded before
    the chain lock is taken, so that linking under the lock is a concatenation and a sha256
    per event. The top-level key is the last ``prev_hash`` in the text (only ``request_id``,
    a string, sorts after it), whatever the event's before and after hold."""
    head, found, tail = canonical_payload(_Linking(event, _SLOT)).rpartition(_SLOT_JSON)
    if not found:
        raise RuntimeError("the canonical payload has no prev_hash")
    return head, tail


def _chained_hash(prev: str, head: str, tail: str) -> str:
    """``compute_hash`` of the event whose payload is ``head`` + its prev_hash + ``tail``."""
    payload = f'{head}"prev_hash":"{prev}"{tail}'
    return hashlib.sha256((prev + payload).encode("utf-8")).hexdigest()


def link_pending(session: Session) -> int:
    """Link the transaction's unlinked events to the chain head, in the order written."""
    # An event rolled back with a savepoint is no longer persistent: it has nothing to link.
    pending = [e for e in session.info.pop(_UNLINKED, []) if inspect(e).persistent]
    if not pending:
        return 0
    session.flush()
    payloads = [_payload_around_prev(event) for event in pending]
    _lock_chain(session)
    table = AuditEvent.__table__
    head = session.execute(
        select(table.c.seq, table.c.hash)
        .where(table.c.seq.is_not(None))
        .order_by(table.c.seq.desc())
        .limit(1)
    ).first()
    seq, prev = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    links = []
    for event, (payload_head, payload_tail) in zip(pending, payloads, strict=True):
        seq += 1
        digest = _chained_hash(prev, payload_head, payload_tail)
        links.append({"event_id": event.id, "seq": seq, "prev": prev, "digest": digest})
        prev = digest
    _write_links(session, links)
    for event, link in zip(pending, links, strict=True):
        set_committed_value(event, "seq", link["seq"])
        set_committed_value(event, "prev_hash", link["prev"])
        set_committed_value(event, "hash", link["digest"])
    return len(links)


def _write_links(session: Session, links: list[dict[str, Any]]) -> None:
    if session.get_bind().dialect.name == "postgresql":
        # One statement, however many events: the lock is held for as short as can be.
        session.execute(
            _LINK_ALL,
            {
                "event_ids": [link["event_id"] for link in links],
                "seqs": [link["seq"] for link in links],
                "prevs": [link["prev"] for link in links],
                "digests": [link["digest"] for link in links],
            },
        )
    else:
        session.execute(_LINK, links)


@sa_event.listens_for(Session, "before_commit")
def _link_before_commit(session: Session) -> None:
    link_pending(session)


@sa_event.listens_for(Session, "after_rollback")
def _forget_unlinked(session: Session) -> None:
    session.info.pop(_UNLINKED, None)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    # The first bad event: its id (what documents and the trail call it) and chain position.
    first_bad_id: int | None = None
    first_bad_seq: int | None = None
    problem: str = ""


def _events(session: Session) -> Iterator[Row[Any]]:
    # Streams Core rows in chain order; an auditor's chain can be long. On PostgreSQL
    # yield_per uses a server-side cursor: close it even when the caller stops early.
    table = AuditEvent.__table__
    with session.execute(
        select(table)
        .where(table.c.seq.is_not(None))
        .order_by(table.c.seq)
        .execution_options(yield_per=1000)
    ) as events:
        yield from events


def _walk(session: Session) -> ChainReport:
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    with closing(_events(session)) as events:
        for event in events:
            if event.seq != expected_seq:
                return ChainReport(
                    False,
                    checked,
                    event.id,
                    event.seq,
                    f"the event at chain position {expected_seq} is missing "
                    f"(found position {event.seq} instead)",
                )
            if event.prev_hash != expected_prev:
                return ChainReport(
                    False,
                    checked,
                    event.id,
                    event.seq,
                    "its previous-hash link does not match the event before",
                )
            if compute_hash(event) != event.hash:
                return ChainReport(
                    False, checked, event.id, event.seq, "its content does not match its hash"
                )
            expected_prev = event.hash
            expected_seq += 1
            checked += 1
    return ChainReport(True, checked)


def verify_chain(session: Session) -> ChainReport:
    """Recompute every hash; name the first event that was changed, removed or reordered.

    A committed event is always linked (its transaction links it before committing), so a
    row outside the chain was put there behind the application's back.
    """
    report = _walk(session)
    if not report.ok:
        return report
    table = AuditEvent.__table__
    stray = session.scalar(
        select(func.min(table.c.id)).where(
            (table.c.seq.is_(None)) | (table.c.hash.is_(None)) | (table.c.prev_hash.is_(None))
        )
    )
    if stray is not None:
        return ChainReport(
            False,
            report.checked,
            stray,
            None,
            "it is not linked into the chain",
        )
    return report


def export_rows(session: Session) -> Iterator[dict[str, Any]]:
    """Every event as a plain dict, in chain order, for auditors' exports."""
    for event in _events(session):
        yield {c.name: _jsonable(getattr(event, c.name)) for c in AuditEvent.__table__.columns}


EXPORT_COLUMNS = [c.name for c in AuditEvent.__table__.columns]
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _spreadsheet_cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        # A leading apostrophe makes the cell text; the JSON-lines export keeps exact values.
        return "'" + value
    return value


def write_csv(session: Session, stream: Any) -> None:
    """The trail as CSV for spreadsheets, one row per event in chain order."""
    writer = csv.DictWriter(stream, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    for row in export_rows(session):
        writer.writerow({k: _spreadsheet_cell(v) for k, v in row.items()})
