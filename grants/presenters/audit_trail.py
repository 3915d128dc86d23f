"""The auditor's trail browser: events filtered in the database, a page at a time, in words.

Filters (all optional, combinable, carried in the URL): the call, an application reference,
an organisation, the person who acted, their role, the action (the words people read, from
the step registry's ``done_label``), and a range of local dates in the programme's timezone.
Only the page shown is loaded; the count is one ``COUNT`` over the same filtered query.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import IO, Any
from zoneinfo import ZoneInfo

from flask_babel import gettext
from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlalchemy.orm import Session, joinedload

from documents.kinds import TITLES
from grants import programme
from grants.models import Application, AuditEvent, Call, Document, Organisation, User
from grants.presenters import audit_changes
from grants.services import access
from grants.services.actor import Actor
from grants.services.audit import GENESIS_HASH, compute_hash, write_csv
from workflows.roles import Role

PAGE_SIZE = 50
SPOOL_IN_MEMORY = 8 * 1024 * 1024
# The filters a trail page takes from its URL, in the order the form shows them.
FILTER_NAMES = (
    "call",
    "reference",
    "organisation",
    "actor",
    "role",
    "action",
    "date_from",
    "date_to",
)
# Steps of these workflows are recorded on their own entity; the others on the application.
_ENTITY_OF_WORKFLOW = {"payment": "payment", "call": "call", "redress": "redress"}
_MAX_TEXT = 200


# -- the action filter: one option per label people read --------------------------------------
@dataclass
class ActionOption:
    key: str  # the English words, slugged: stable in links, never a trigger name
    label: str
    # (workflow, action) of the steps, or (None, action) of other audited actions.
    members: list[tuple[str | None, str]] = field(default_factory=list)


def action_options() -> list[ActionOption]:
    """Every action the trail can hold, in words, alphabetically; equal words are one."""
    options: dict[str, ActionOption] = {}

    def add(key: str, label: str, member: tuple[str | None, str]) -> None:
        options.setdefault(key, ActionOption(key, label)).members.append(member)

    others = audit_changes.other_action_labels()
    for action, english in others.items():
        add(audit_changes.step_label_key(english), gettext(english), (None, action))
    for (workflow, trigger), label in audit_changes.step_labels().items():
        if trigger in others:
            continue  # read with the other words (event_label), so filtered by them
        key = audit_changes.step_label_key(label)
        text = str(label)
        if workflow == "payment":
            key = f"pre-financing-{key}"
            text = gettext("Pre-financing: %(step)s", step=text.lower())
        add(key, text, (workflow, trigger))
    return sorted(options.values(), key=lambda o: o.label.lower())


def _action_condition(option: ActionOption) -> ColumnElement[bool]:
    conditions = []
    for workflow, action in option.members:
        if workflow is None:
            conditions.append(AuditEvent.action == action)
        elif workflow in _ENTITY_OF_WORKFLOW:
            conditions.append(
                and_(
                    AuditEvent.action == action,
                    AuditEvent.entity_type == _ENTITY_OF_WORKFLOW[workflow],
                )
            )
        else:
            conditions.append(
                and_(
                    AuditEvent.action == action,
                    AuditEvent.entity_type.not_in(list(_ENTITY_OF_WORKFLOW.values())),
                )
            )
    return or_(*conditions) if conditions else false()


# -- filters from the URL ---------------------------------------------------------------------
@dataclass(frozen=True)
class TrailFilters:
    values: dict[str, str]  # what was asked, as typed (shown back in the form)
    errors: dict[str, str]
    date_from: date | None = None
    date_to: date | None = None

    def active(self) -> dict[str, str]:
        """The filters in force (not the ones refused), for links and the audit of views."""
        return {k: v for k, v in self.values.items() if v and k not in self.errors}

    def __bool__(self) -> bool:
        return bool(self.active())


def _local_date(raw: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def parse_filters(args: Mapping[str, str]) -> TrailFilters:
    """The URL's filters, trimmed; a date that is not one, or a range that ends before it
    starts, is named in ``errors`` and not applied (the rest still are)."""
    values = {name: (args.get(name) or "").strip()[:_MAX_TEXT] for name in FILTER_NAMES}
    errors: dict[str, str] = {}
    if values["role"] and values["role"] not in {str(r) for r in Role}:
        errors["role"] = gettext("Choose a role from the list.")
    if values["action"] and values["action"] not in {o.key for o in action_options()}:
        errors["action"] = gettext("Choose an action from the list.")
    dates: dict[str, date | None] = {}
    for name in ("date_from", "date_to"):
        dates[name] = _local_date(values[name])
        if values[name] and dates[name] is None:
            errors[name] = gettext("Enter a date as year-month-day, e.g. 2026-03-31.")
    if dates["date_from"] and dates["date_to"] and dates["date_to"] < dates["date_from"]:
        errors["date_to"] = gettext("The end date is before the start date.")
        dates["date_to"] = None
    return TrailFilters(values, errors, dates["date_from"], dates["date_to"])


def _start_of(day: date) -> datetime:
    """The UTC instant the local day begins, in the programme's timezone."""
    local = datetime.combine(day, time.min, tzinfo=ZoneInfo(programme.PROGRAMME_TIMEZONE))
    return local.astimezone(UTC)


def filtered_query(filters: TrailFilters) -> Select[tuple[AuditEvent]]:
    query = select(AuditEvent)
    asked = filters.active()
    if call_ref := asked.get("call"):
        call_ids = select(Call.id).where(Call.reference == call_ref)
        query = query.where(
            or_(
                AuditEvent.application_id.in_(
                    select(Application.id).where(Application.call_id.in_(call_ids))
                ),
                and_(
                    AuditEvent.entity_type == "call",
                    or_(
                        AuditEvent.entity_id == call_ref,
                        AuditEvent.entity_id.in_(
                            select(func.cast(Call.id, AuditEvent.entity_id.type)).where(
                                Call.reference == call_ref
                            )
                        ),
                    ),
                ),
            )
        )
    if reference := asked.get("reference"):
        matching = select(Application.id).where(
            func.lower(Application.reference).startswith(reference.lower(), autoescape=True)
        )
        query = query.where(
            or_(AuditEvent.application_id.in_(matching), AuditEvent.entity_id == reference)
        )
    if organisation := asked.get("organisation"):
        org_ids = select(Organisation.id).where(
            or_(
                func.lower(Organisation.legal_name).contains(organisation.lower(), autoescape=True),
                Organisation.registration_number == organisation,
            )
        )
        query = query.where(
            or_(
                AuditEvent.application_id.in_(
                    select(Application.id).where(Application.organisation_id.in_(org_ids))
                ),
                and_(
                    AuditEvent.entity_type == "organisation",
                    AuditEvent.entity_id.in_(
                        select(func.cast(Organisation.id, AuditEvent.entity_id.type)).where(
                            Organisation.id.in_(org_ids)
                        )
                    ),
                ),
            )
        )
    if person := asked.get("actor"):
        query = query.where(
            or_(
                func.lower(AuditEvent.actor_name).contains(person.lower(), autoescape=True),
                AuditEvent.actor_id.in_(
                    select(User.id).where(func.lower(User.email) == person.lower())
                ),
            )
        )
    if role := asked.get("role"):
        query = query.where(AuditEvent.actor_role == role)
    if action := asked.get("action"):
        option = next(o for o in action_options() if o.key == action)
        query = query.where(_action_condition(option))
    if filters.date_from and "date_from" not in filters.errors:
        query = query.where(AuditEvent.occurred_at >= _start_of(filters.date_from))
    if filters.date_to and "date_to" not in filters.errors:
        query = query.where(AuditEvent.occurred_at < _start_of(filters.date_to + timedelta(1)))
    return query


# -- one page ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DocumentLink:
    id: str
    title: str
    ready: bool
    downloadable: bool


@dataclass(frozen=True)
class EventRow:
    event: AuditEvent
    label: str  # what happened, in words
    reference: str  # the application's reference, if any
    concerns: str  # what the event is about, in words
    changes: list[audit_changes.ChangeRow]
    documents: list[DocumentLink]


@dataclass(frozen=True)
class TrailPage:
    rows: list[EventRow]
    page: int
    pages: int
    total: int  # events matching the filters
    first: int  # 1-based position of the page's first row among them (0: none)
    last: int


def _documents_of(
    session: Session, actor: Actor, event_ids: list[int]
) -> dict[int, list[DocumentLink]]:
    if not event_ids:
        return {}
    found: dict[int, list[DocumentLink]] = {}
    documents = session.scalars(
        select(Document)
        .where(Document.audit_event_id.in_(event_ids))
        .options(joinedload(Document.application))
        .order_by(Document.created_at, Document.id)
    )
    for doc in documents:
        title = gettext(TITLES[doc.kind]) if doc.kind in TITLES else doc.kind  # type: ignore[index]
        ready = doc.status == "ready"
        found.setdefault(doc.audit_event_id, []).append(
            DocumentLink(doc.id, title, ready, ready and access.can_view_document(actor, doc))
        )
    return found


def _rows(
    session: Session, actor: Actor, events: list[AuditEvent], *, full: bool
) -> list[EventRow]:
    app_ids = {e.application_id for e in events if e.application_id}
    references: dict[int, str] = {}
    if app_ids:
        found = select(Application.id, Application.reference).where(Application.id.in_(app_ids))
        references = {row.id: row.reference for row in session.execute(found)}
    documents = _documents_of(session, actor, [e.id for e in events])
    return [
        EventRow(
            event,
            audit_changes.action_label(event),
            references.get(event.application_id or 0, ""),
            audit_changes.entity_words(event),
            audit_changes.change_rows(event, str(actor.role), changed_only=not full),
            documents.get(event.id, []),
        )
        for event in events
    ]


def trail_page(session: Session, actor: Actor, filters: TrailFilters, page: int) -> TrailPage:
    query = filtered_query(filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(page, pages)
    events = list(
        session.scalars(
            query.order_by(AuditEvent.seq.desc(), AuditEvent.id.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
    )
    first = (page - 1) * PAGE_SIZE + 1 if events else 0
    return TrailPage(
        _rows(session, actor, events, full=False),
        page,
        pages,
        total,
        first,
        first + len(events) - 1 if events else 0,
    )


def choices(session: Session) -> dict[str, Any]:
    """What the filter form offers: calls, roles and actions (organisations and people are
    typed: there can be thousands)."""
    calls = session.execute(select(Call.reference, Call.title).order_by(Call.reference)).all()
    return {
        "calls": [(c.reference, c.title) for c in calls],
        "roles": [(str(r), gettext(r.label)) for r in Role],
        "actions": [(o.key, o.label) for o in action_options()],
    }


# -- one event --------------------------------------------------------------------------------
@dataclass(frozen=True)
class EventDetail:
    row: EventRow
    chain_length: int
    previous_id: int | None  # the event before it in the chain
    next_id: int | None
    hash_ok: bool  # its stored hash is the hash of its content
    link_ok: bool  # its prev_hash is the hash of the event before it


def event_detail(session: Session, actor: Actor, event_id: int) -> EventDetail | None:
    event = session.get(AuditEvent, event_id)
    if event is None:
        return None
    chain_length = (
        session.scalar(select(func.max(AuditEvent.seq)).where(AuditEvent.seq.is_not(None))) or 0
    )
    before = after = None
    if event.seq is not None:
        before = session.execute(
            select(AuditEvent.id, AuditEvent.hash).where(AuditEvent.seq == event.seq - 1)
        ).first()
        after = session.scalar(select(AuditEvent.id).where(AuditEvent.seq == event.seq + 1))
    linked = event.hash is not None and event.prev_hash is not None
    hash_ok = linked and compute_hash(event) == event.hash
    if event.seq == 1:
        link_ok = event.prev_hash == GENESIS_HASH
    else:
        link_ok = before is not None and before.hash == event.prev_hash
    return EventDetail(
        _rows(session, actor, [event], full=True)[0],
        chain_length,
        before.id if before is not None else None,
        after,
        hash_ok,
        link_ok,
    )


def spooled_csv(session: Session) -> IO[bytes]:
    """Write the export to a temporary file first: the database is read at its own pace, and
    a slow download then holds no transaction (on SQLite, that would block every writer)."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 (streamed)
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
    write_csv(session, text)
    text.flush()
    text.detach()
    spool.seek(0)
    return spool
