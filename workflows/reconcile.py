"""What the audit trail says the business rows should hold: pure replay rules.

Replaying the trail event after event (in id order) gives, for every application,
evaluation, payment, bank account and redress request the trail knows, the value each
checked field should have now. ``grants.services.reconciliation`` compares that with the
database, row by row; a difference is a change made behind the application's back.

Which event sets which field:

- an event about an application (``entity_type`` "application", filed under its id) sets
  every checked application field its ``after`` names (``status`` from every step,
  ``requested_amount`` from ``save_draft``, ``content_sha256`` from ``submit``, ``rank`` and
  ``awarded_amount`` from ``rank``, ``promote``, ``close``, ``terminate``..., ``total_score``
  and ``consensus`` from ``close_evaluation``, ``eligibility`` from ``check_eligibility``),
  except ``content_sha256`` in ``save_draft``, which is the draft's fingerprint and not the
  submitted content's; ``create_draft`` creates it with every checked field empty;
- the same application events name bank accounts (``bank_account_id``: IBAN by its sha256,
  BIC, holder, ``bank_status``), the balance instalment prepared (``prepare_payment``:
  ``payment_id``, ``amount``, ``payee_name``, ``payee_iban_sha256``; it starts "prepared")
  and the evaluations an upheld redress set aside (``superseded_evaluations``);
- an event about an evaluation sets its ``status``, ``scores`` and ``total``;
  ``assign_evaluator`` creates it (assigned, no scores);
- an event about a payment sets its ``status``, ``amount``, ``payee_name`` and IBAN sha256;
  ``prepare_prefinancing`` creates it; ``authorise`` and ``mark_paid`` set who authorised and
  who paid (the event's actor) and ``mark_paid`` the payment reference;
- an event about a redress request sets its ``status``, ``reasons`` and ``decided_by_id``;
  ``request_redress`` creates it.

A field the trail never recorded for a row (events written before it was recorded) is not
checked; a row the trail never names at all is reported.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from workflows.i18n import N_, _
from workflows.payment import PaymentState

APPLICATIONS = "applications"
EVALUATIONS = "evaluations"
PAYMENTS = "payments"
BANK_ACCOUNTS = "bank_accounts"
REDRESS = "redress_requests"

# The fields checked per table, and how their values compare.
MONEY = "money"
TEXT = "text"
INTEGER = "integer"
DOCUMENT = "json"  # a JSON document: compared (and kept) as the sha256 of its canonical text
IBAN = "iban"  # the trail keeps the IBAN's sha256 only (never the IBAN itself)

FIELDS: dict[str, dict[str, str]] = {
    APPLICATIONS: {
        "status": TEXT,
        "requested_amount": MONEY,
        "content_sha256": TEXT,
        "eligibility": DOCUMENT,
        "consensus": DOCUMENT,
        "total_score": MONEY,
        "rank": INTEGER,
        "awarded_amount": MONEY,
    },
    EVALUATIONS: {"status": TEXT, "scores": DOCUMENT, "total": MONEY},
    PAYMENTS: {
        "status": TEXT,
        "amount": MONEY,
        "payee_name": TEXT,
        "iban": IBAN,
        "authorised_by_id": INTEGER,
        "paid_by_id": INTEGER,
        "payment_reference": TEXT,
    },
    BANK_ACCOUNTS: {"iban": IBAN, "bic": TEXT, "holder": TEXT, "status": TEXT},
    REDRESS: {"status": TEXT, "reasons": TEXT, "decided_by_id": INTEGER},
}

# Entity types whose events the replay reads (the others never touch a checked row).
ENTITY_TYPES = ("application", "evaluation", "payment", "redress")
# Fields an action names in its ``after`` without setting them on the row.
_NOT_SET_BY = {("application", "save_draft"): frozenset({"content_sha256"})}
# What a newly created row holds before any step changes it.
_CREATED_EMPTY: dict[str, dict[str, Any]] = {
    APPLICATIONS: {f: None for f in FIELDS[APPLICATIONS] if f != "status"},
    EVALUATIONS: {"scores": None, "total": None},
    PAYMENTS: {"authorised_by_id": None, "paid_by_id": None, "payment_reference": None},
    REDRESS: {"reasons": "", "decided_by_id": None},
}


def sha256_text(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def iban_digest(iban: str | None) -> str | None:
    """How the trail names an IBAN: the sha256 of its compact form (no spaces, upper case)."""
    if not iban:
        return None
    return sha256_text(iban.replace(" ", "").upper())


def normalise(kind: str, value: Any) -> Any:
    """A field's value in the form both sides are compared in."""
    if value is None:
        return None
    if kind == MONEY:
        try:
            return Decimal(str(value)).quantize(Decimal("0.01"))
        except InvalidOperation:
            return str(value)
    if kind == INTEGER:
        try:
            return int(value)
        except (TypeError, ValueError):
            return str(value)
    if kind == DOCUMENT:
        canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return sha256_text(canonical)
    return str(value)


@dataclass(frozen=True)
class EventView:
    """What the replay reads of an audit event."""

    id: int
    action: str
    entity_type: str
    entity_id: str
    application_id: int | None
    actor_id: int | None
    after: Mapping[str, Any]


@dataclass(frozen=True)
class Fact:
    """``field`` of the row ``table``/``row_id`` is ``value`` (normalised) according to the
    event ``event_id``; ``field`` None only says the event names (created) the row."""

    table: str
    row_id: int
    field: str | None
    value: Any
    event_id: int


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _set(table: str, row_id: int, event: EventView, values: Mapping[str, Any]) -> Iterator[Fact]:
    yield Fact(table, row_id, None, None, event.id)
    for name, value in values.items():
        kind = FIELDS[table][name]
        # An IBAN's sha256 is kept as it is: it already is the compared form.
        yield Fact(table, row_id, name, value if kind == IBAN else normalise(kind, value), event.id)


def _named(table: str, after: Mapping[str, Any], skip: frozenset[str] = frozenset()) -> dict:
    return {k: after[k] for k in FIELDS[table] if k in after and k not in skip}


# Keys of an application event's ``after`` naming another row's fields.
_BANK_KEYS = {"iban_sha256": "iban", "bic": "bic", "holder": "holder", "bank_status": "status"}
_BALANCE_KEYS = {"amount": "amount", "payee_name": "payee_name", "payee_iban_sha256": "iban"}


def _renamed(after: Mapping[str, Any], keys: Mapping[str, str]) -> dict[str, Any]:
    return {field: after[key] for key, field in keys.items() if key in after}


def _application_facts(event: EventView) -> Iterator[Fact]:
    after = event.after
    if event.application_id is not None:
        values: dict[str, Any] = {}
        if event.action == "create_draft":
            values.update(_CREATED_EMPTY[APPLICATIONS])
        skip = _NOT_SET_BY.get(("application", event.action), frozenset())
        values.update(_named(APPLICATIONS, after, skip))
        yield from _set(APPLICATIONS, event.application_id, event, values)
    if (account_id := _int(after.get("bank_account_id"))) is not None:
        yield from _set(BANK_ACCOUNTS, account_id, event, _renamed(after, _BANK_KEYS))
    payment_id = _int(after.get("payment_id"))
    if payment_id is not None and event.action == "prepare_payment":
        created = {**_CREATED_EMPTY[PAYMENTS], "status": PaymentState.PREPARED}
        yield from _set(PAYMENTS, payment_id, event, created | _renamed(after, _BALANCE_KEYS))
    for evaluation_id in after.get("superseded_evaluations") or []:
        if (row_id := _int(evaluation_id)) is not None:
            yield from _set(EVALUATIONS, row_id, event, {"status": "superseded"})


# What a step always does without its event saying so (events written before it was recorded).
_IMPLIED: dict[str, dict[str, Any]] = {
    "assign_evaluator": {"status": "assigned"},
    "reopen_scores": {"total": None},
}


def _evaluation_facts(event: EventView, row_id: int) -> Iterator[Fact]:
    values: dict[str, Any] = {}
    if event.action == "assign_evaluator":
        values.update(_CREATED_EMPTY[EVALUATIONS])
    values.update(_IMPLIED.get(event.action, {}))
    values.update(_named(EVALUATIONS, event.after))
    yield from _set(EVALUATIONS, row_id, event, values)


def _payment_facts(event: EventView, row_id: int) -> Iterator[Fact]:
    after = event.after
    values: dict[str, Any] = {}
    if event.action == "prepare_prefinancing":
        values.update(_CREATED_EMPTY[PAYMENTS])
    values.update(_named(PAYMENTS, after, frozenset({"iban"})))
    if "iban_sha256" in after:
        values["iban"] = after["iban_sha256"]
    if event.action == "authorise":
        values["authorised_by_id"] = event.actor_id
    if event.action == "mark_paid":
        values["paid_by_id"] = event.actor_id
    yield from _set(PAYMENTS, row_id, event, values)


def _redress_facts(event: EventView, row_id: int) -> Iterator[Fact]:
    values: dict[str, Any] = {}
    if event.action == "request_redress":
        values.update(_CREATED_EMPTY[REDRESS])
    values.update(_named(REDRESS, event.after))
    yield from _set(REDRESS, row_id, event, values)


def facts_of(event: EventView) -> Iterator[Fact]:
    """What one event says about the checked rows, in the order it says it."""
    if event.entity_type == "application":
        yield from _application_facts(event)
        return
    row_id = _int(event.entity_id)
    if row_id is None:
        return
    if event.entity_type == "evaluation":
        yield from _evaluation_facts(event, row_id)
    elif event.entity_type == "payment":
        yield from _payment_facts(event, row_id)
    elif event.entity_type == "redress":
        yield from _redress_facts(event, row_id)


@dataclass(frozen=True)
class Mismatch:
    """One field of one row that differs from the trail (``field`` "row": the row itself)."""

    table: str
    row_id: int
    field: str
    trail: str
    database: str

    def trail_text(self) -> str:
        return _(self.trail) if self.trail in _WORDS else self.trail

    def database_text(self) -> str:
        return _(self.database) if self.database in _WORDS else self.database

    def __str__(self) -> str:
        return _(
            "%(table)s %(id)s %(field)s: the trail says %(trail)s, the database holds %(database)s",
            table=self.table,
            id=self.row_id,
            field=self.field,
            trail=self.trail_text(),
            database=self.database_text(),
        )


# Fields whose empty text and absence mean the same (the trail writes a missing BIC as "").
_EMPTY_AS_NONE = frozenset({"bic"})
NO_EVENT = N_("no event (nothing in the trail created this row)")
NO_ROW = N_("no row (deleted behind the trail's back)")
A_ROW = N_("a row")
_WORDS = frozenset({NO_EVENT, NO_ROW, A_ROW})


class Replay:
    """The expected state of every row the trail names, built one event at a time. It
    holds one small dict per row (documents as their sha256), never the events."""

    def __init__(self) -> None:
        self.expected: dict[tuple[str, int], dict[str, Any]] = {}

    def add(self, event: EventView) -> None:
        for fact in facts_of(event):
            row = self.expected.setdefault((fact.table, fact.row_id), {})
            if fact.field is not None:
                row[fact.field] = fact.value

    def compare(self, table: str, row_id: int, actual: Mapping[str, Any]) -> list[Mismatch]:
        """The differences between the database row ``actual`` (raw column values) and the
        trail; the row is then settled (``leftovers`` no longer lists it)."""
        expected = self.expected.pop((table, row_id), None)
        if expected is None:
            return [Mismatch(table, row_id, "row", NO_EVENT, A_ROW)]
        found = []
        for name, kind in FIELDS[table].items():
            if name not in expected:
                continue
            want = expected[name]
            have = iban_digest(actual[name]) if kind == IBAN else normalise(kind, actual[name])
            if name in _EMPTY_AS_NONE:
                want, have = want or None, have or None
            if want != have:
                raw = actual[name]
                found.append(
                    Mismatch(table, row_id, name, shown(kind, want), shown(kind, have, raw))
                )
        return found

    def leftovers(self, tables: tuple[str, ...]) -> Iterator[Mismatch]:
        """Rows of ``tables`` the trail names that the database no longer holds."""
        for (table, row_id), _values in sorted(self.expected.items()):
            if table in tables:
                yield Mismatch(table, row_id, "row", A_ROW, NO_ROW)


def shown(kind: str, value: Any, raw: Any = None) -> str:
    """A compared value as a person reads it: IBANs masked, documents by their sha256."""
    if value is None:
        return "(empty)"
    if kind == IBAN:
        masked = f"{raw[:4]} **** **** {raw[-4:]} " if isinstance(raw, str) and raw else ""
        return f"{masked}(IBAN sha256 {value[:12]}…)"
    if kind == DOCUMENT:
        return f"a document with sha256 {value[:12]}…"
    return repr(str(value)) if kind == TEXT else str(value)
