"""The append-only, hash-chained audit trail.

Each event's hash is sha256(previous hash + canonical JSON of the event). The chain head is
read under a lock (PostgreSQL advisory lock; SQLite's BEGIN IMMEDIATE already serialises
writers), and the unique ``prev_hash`` makes a fork impossible even if the lock were missed.
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

from sqlalchemy import Row, select, text
from sqlalchemy.orm import Session

from grants.db import utcnow
from grants.models import AuditEvent
from grants.services.actor import Actor

GENESIS_HASH = "0" * 64
# Any constant works; it only has to be the same for every writer of this database.
_CHAIN_LOCK_KEY = 0x43415343  # "CASC"


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


# An event as the ORM holds it, or a plain Core row of the audit table: verify and export
# read rows, which is several times cheaper than building an ORM object per event.
EventLike = AuditEvent | Row[Any]


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
    """Append one event to the chain inside the caller's transaction."""
    _lock_chain(session)
    head = session.execute(
        select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    event = AuditEvent(
        id=(head.id + 1) if head else 1,
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
        prev_hash=head.hash if head else GENESIS_HASH,
    )
    event.hash = compute_hash(event)
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: str = ""


def _events(session: Session) -> Iterator[Row[Any]]:
    # Streams Core rows in id order; an auditor's chain can be long. On PostgreSQL yield_per
    # uses a server-side cursor: close it even when the caller stops early (a broken chain).
    table = AuditEvent.__table__
    with session.execute(
        select(table).order_by(table.c.id).execution_options(yield_per=1000)
    ) as events:
        yield from events


def verify_chain(session: Session) -> ChainReport:
    """Recompute every hash; name the first event that was changed, removed or reordered."""
    expected_prev = GENESIS_HASH
    expected_id = 1
    checked = 0
    with closing(_events(session)) as events:
        for event in events:
            if event.id != expected_id:
                return ChainReport(
                    False,
                    checked,
                    event.id,
                    f"event {expected_id} is missing before event {event.id}",
                )
            if event.prev_hash != expected_prev:
                return ChainReport(
                    False,
                    checked,
                    event.id,
                    "its previous-hash link does not match the event before",
                )
            if compute_hash(event) != event.hash:
                return ChainReport(False, checked, event.id, "its content does not match its hash")
            expected_prev = event.hash
            expected_id += 1
            checked += 1
    return ChainReport(True, checked)


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
