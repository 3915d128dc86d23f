"""Reconciliation and anchoring: every kind of tampering is detected and named.

Each tamper is made with raw SQL on the shared test database and put back in a ``finally``.
Reconciliation is scoped to the applications the test created (other tests' rows are none
of its business); the chain and the anchors are checked whole. The anchor file lives in the
test's own directory.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import bindparam, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from grants.db import utcnow
from grants.models import Application, AuditEvent, BankAccount, Evaluation, Payment
from grants.runtime import Runtime
from grants.services import anchors
from grants.services.anchors import Verification
from grants.services.audit import compute_hash
from tests.integration.test_audit import TAMPERABLE, tampered_value
from tests.scenario import (
    Scenario,
    audit_row,
    behind_the_append_only_trigger,
    insert_audit_event,
    pending_documents_discarded,
    rewrite_audit_events,
)
from workflows.reconcile import NO_EVENT, NO_ROW, iban_digest
from workflows.voucher import AppState

OTHER_IBAN = "NL91ABNA0417164300"


@pytest.fixture(autouse=True)
def _discard_unrendered_documents(sessions: sessionmaker[Session]) -> Iterator[None]:
    with pending_documents_discarded(sessions):
        yield


@pytest.fixture
def anchor_file(runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own anchor file, unsigned unless the test sets a key."""
    path = tmp_path / "anchors" / "audit-anchors.jsonl"
    monkeypatch.setattr(runtime.config, "anchor_file", path)
    monkeypatch.setattr(runtime.config, "anchor_key", None)
    return path


@pytest.fixture
def engine(runtime: Runtime) -> Engine:
    return runtime.engine


def check(runtime: Runtime, app_ids: list[int], public_key: Any = None) -> Verification:
    with runtime.sessions() as session:
        return anchors.verify_everything(
            session, runtime.config, public_key=public_key, application_ids=app_ids
        )


def assert_clean(runtime: Runtime, app_ids: list[int]) -> Verification:
    result = check(runtime, app_ids)
    assert result.ok, result.problems()
    return result


def paid_voucher(scenario: Scenario) -> int:
    """A voucher through every stage to paid: pre-financing and balance, scores, bank."""
    app_id = scenario.draft(0)
    scenario.advance(app_id, AppState.CONTRACTED)
    scenario.prefinancing(app_id)
    scenario.advance(app_id, AppState.PAID)
    return app_id


def raw_update(engine: Engine, table: Any, row_id: int, column: str, value: Any) -> None:
    statement = text(f'UPDATE {table.name} SET "{column}" = :value WHERE id = :row_id').bindparams(
        bindparam("value", type_=table.c[column].type)
    )
    with engine.begin() as conn:
        assert conn.execute(statement, {"value": value, "row_id": row_id}).rowcount == 1


def raw_value(engine: Engine, table: Any, row_id: int, column: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(table.c[column]).where(table.c.id == row_id)).scalar_one()


def named(result: Verification, table: str, row_id: int, field: str) -> list[str]:
    return [
        str(m)
        for m in result.reconciliation.mismatches
        if (m.table, m.row_id, m.field) == (table, row_id, field)
    ]


# -- an untouched database --------------------------------------------------------------------


def test_an_untouched_voucher_reconciles_and_events_carry_what_is_checked(
    scenario: Scenario, runtime: Runtime, anchor_file: Path
) -> None:
    app_id = paid_voucher(scenario)
    result = assert_clean(runtime, [app_id])
    # The application, two evaluations, two payments, one bank account.
    assert result.reconciliation.rows >= 6
    assert result.anchors.checked == 0 and not anchor_file.exists()
    events = scenario.events_of(app_id)
    prefinancing = next(e for e in events if e.action == "prepare_prefinancing")
    balance = next(e for e in events if e.action == "prepare_payment")
    iban = scenario.payments_of(app_id)[0].iban
    assert prefinancing.after["iban_sha256"] == iban_digest(iban)
    assert balance.after["payee_iban_sha256"] == iban_digest(iban)
    assert balance.after["payee_name"] and prefinancing.after["payee_name"]
    entered = next(e for e in events if e.action == "bank_details_entered")
    assert entered.after["iban_sha256"] == iban_digest(iban)
    assigned = next(e for e in events if e.action == "assign_evaluator")
    assert assigned.after["status"] == "assigned"


def test_reopened_scores_and_an_upheld_redress_reconcile(
    scenario: Scenario, runtime: Runtime, anchor_file: Path
) -> None:
    from grants.services import evaluation

    app_id = scenario.draft(0)
    scenario.advance(app_id, AppState.IN_EVALUATION)
    first = scenario.people.evaluators[0]
    scenario.score(app_id, first, ("3", "3", "3"))
    evaluation_id = scenario.evaluation_id(app_id, first)
    officer = scenario.people.officer
    scenario.run(
        lambda s: evaluation.reopen_scores(s, officer, evaluation_id, reason="Check impact.")
    )
    assert_clean(runtime, [app_id])
    rejected = scenario.draft(1)
    scenario.advance(rejected, AppState.SUBMITTED)
    scenario.check_eligibility(rejected, passed=False)
    scenario.redress(rejected, upheld=True)
    assert_clean(runtime, [app_id, rejected])


# -- silent edits of business rows -----------------------------------------------------------

Edit = tuple[Any, str, Callable[[Scenario, int], int], Callable[[Any], Any]]


def _payment(kind: str) -> Callable[[Scenario, int], int]:
    def find(scenario: Scenario, app_id: int) -> int:
        return next(p.id for p in scenario.payments_of(app_id) if p.instalment == kind)

    return find


def _application(_scenario: Scenario, app_id: int) -> int:
    return app_id


def _evaluation(scenario: Scenario, app_id: int) -> int:
    return scenario.application(app_id).evaluations[0].id


def _bank_account(scenario: Scenario, app_id: int) -> int:
    with scenario.sessions() as session:
        return session.scalars(
            select(BankAccount.id).where(BankAccount.application_id == app_id)
        ).one()


def _other_user(scenario: Scenario) -> int:
    return scenario.people.auditor.user_id


PAYMENTS = Payment.__table__
APPLICATIONS = Application.__table__
EVALUATIONS = Evaluation.__table__
BANK = BankAccount.__table__

EDITS: dict[str, Edit] = {
    "payment amount": (PAYMENTS, "amount", _payment("balance"), lambda v: v + Decimal("1000")),
    "pre-financing amount": (
        PAYMENTS,
        "amount",
        _payment("prefinancing"),
        lambda v: v + Decimal("0.01"),
    ),
    "payment IBAN": (PAYMENTS, "iban", _payment("balance"), lambda _v: OTHER_IBAN),
    "payee": (PAYMENTS, "payee_name", _payment("balance"), lambda v: v + " Ltd"),
    "payment status": (PAYMENTS, "status", _payment("balance"), lambda _v: "authorised"),
    "payment reference": (
        PAYMENTS,
        "payment_reference",
        _payment("balance"),
        lambda _v: "FORGED-1",
    ),
    "application status": (APPLICATIONS, "status", _application, lambda _v: "report_approved"),
    "awarded amount": (APPLICATIONS, "awarded_amount", _application, lambda v: v * 2),
    "requested amount": (APPLICATIONS, "requested_amount", _application, lambda v: v + 1),
    "rank": (APPLICATIONS, "rank", _application, lambda v: (v or 0) + 1),
    "total score": (APPLICATIONS, "total_score", _application, lambda v: v + Decimal("0.5")),
    "submitted content": (APPLICATIONS, "content_sha256", _application, lambda v: "0" * 64),
    "consensus": (
        APPLICATIONS,
        "consensus",
        _application,
        lambda v: {**v, "total": "15.0"},
    ),
    "expert's total": (EVALUATIONS, "total", _evaluation, lambda v: v + Decimal("1")),
    "expert's scores": (
        EVALUATIONS,
        "scores",
        _evaluation,
        lambda v: {**v, "impact": {"score": "5.0", "comment": "changed"}},
    ),
    "evaluation status": (EVALUATIONS, "status", _evaluation, lambda _v: "conflict"),
    "bank IBAN": (BANK, "iban", _bank_account, lambda _v: OTHER_IBAN),
    "bank BIC": (BANK, "bic", _bank_account, lambda _v: "ABNANL2A"),
    "bank holder": (BANK, "holder", _bank_account, lambda v: v + " (other)"),
    "bank status": (BANK, "status", _bank_account, lambda _v: "entered"),
}


@pytest.mark.parametrize("what", list(EDITS))
def test_a_silent_edit_of_a_business_row_is_named(
    scenario: Scenario, runtime: Runtime, engine: Engine, anchor_file: Path, what: str
) -> None:
    table, column, find, change = EDITS[what]
    app_id = paid_voucher(scenario)
    row_id = find(scenario, app_id)
    assert_clean(runtime, [app_id])
    original = raw_value(engine, table, row_id, column)
    raw_update(engine, table, row_id, column, change(original))
    try:
        result = check(runtime, [app_id])
        assert not result.ok
        assert result.chain.ok  # the trail itself is intact: only the row was changed
        found = named(result, table.name, row_id, column)
        assert len(found) == 1, result.problems()
        assert f"{table.name} {row_id} {column}: the trail says" in found[0]
        assert found[0] in result.problems()
    finally:
        raw_update(engine, table, row_id, column, original)
    assert_clean(runtime, [app_id])


def test_an_authoriser_changed_afterwards_is_named(
    scenario: Scenario, runtime: Runtime, engine: Engine, anchor_file: Path
) -> None:
    app_id = paid_voucher(scenario)
    payment_id = _payment("balance")(scenario, app_id)
    for column in ("authorised_by_id", "paid_by_id"):
        original = raw_value(engine, PAYMENTS, payment_id, column)
        raw_update(engine, PAYMENTS, payment_id, column, _other_user(scenario))
        try:
            assert named(check(runtime, [app_id]), "payments", payment_id, column)
        finally:
            raw_update(engine, PAYMENTS, payment_id, column, original)
    assert_clean(runtime, [app_id])


def _row(engine: Engine, table: Any, row_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(select(table).where(table.c.id == row_id)).mappings().one())


def _insert(conn: Connection, table: Any, row: dict[str, Any]) -> None:
    conn.execute(table.insert().values(**row))


def test_a_row_no_event_created_and_a_row_deleted_are_named(
    scenario: Scenario, runtime: Runtime, engine: Engine, anchor_file: Path
) -> None:
    app_id = scenario.draft(0)
    scenario.advance(app_id, AppState.CONTRACTED)
    payment_id = scenario.prefinancing(app_id, until="authorised")
    assert_clean(runtime, [app_id])
    # A second order slipped in by hand (cancelled, so the live-order index takes it).
    forged = {k: v for k, v in _row(engine, PAYMENTS, payment_id).items() if k != "id"}
    forged |= {"status": "cancelled", "authorised_by_id": None}
    with engine.begin() as conn:
        forged_id = conn.execute(PAYMENTS.insert().values(**forged)).inserted_primary_key[0]
    try:
        result = check(runtime, [app_id])
        assert named(result, "payments", forged_id, "row")
        assert NO_EVENT in str(result.reconciliation.mismatches[0])
    finally:
        with engine.begin() as conn:
            conn.execute(PAYMENTS.delete().where(PAYMENTS.c.id == forged_id))
    # The order the trail records, removed.
    original = _row(engine, PAYMENTS, payment_id)
    with engine.begin() as conn:
        conn.execute(PAYMENTS.delete().where(PAYMENTS.c.id == payment_id))
    try:
        result = check(runtime, [app_id])
        found = named(result, "payments", payment_id, "row")
        assert found and NO_ROW in found[0]
    finally:
        with engine.begin() as conn:
            _insert(conn, PAYMENTS, original)
    assert_clean(runtime, [app_id])


# -- the trail itself ----------------------------------------------------------------------


@pytest.mark.parametrize("column", TAMPERABLE)
def test_an_update_of_any_audit_column_is_named(
    scenario: Scenario, runtime: Runtime, engine: Engine, anchor_file: Path, column: str
) -> None:
    app_id = scenario.draft(0)
    scenario.advance(app_id, AppState.SUBMITTED)
    other = scenario.draft(1)
    event = next(e for e in scenario.events_of(app_id) if e.action == "submit")
    original = audit_row(engine, event.id)
    rewrite_audit_events(
        engine, [(event.id, {column: tampered_value(column, original, scenario, other)})]
    )
    try:
        result = check(runtime, [app_id])
        assert not result.ok and not result.chain.ok
        assert result.chain.first_bad_id == event.id
        assert result.problems()[0].startswith(f"audit chain broken at event {event.id}:")
    finally:
        rewrite_audit_events(engine, [(event.id, {column: original[column]})])
    assert_clean(runtime, [app_id, other])


def test_a_deleted_event_and_a_reorder_are_named(
    scenario: Scenario, runtime: Runtime, engine: Engine, anchor_file: Path
) -> None:
    app_id = scenario.draft(0)
    scenario.draft(1)
    save, create = (
        next(e for e in scenario.events_of(app_id) if e.action == action)
        for action in ("save_draft", "create_draft")
    )
    original = audit_row(engine, save.id)
    behind_the_append_only_trigger(
        engine,
        lambda conn: conn.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": save.id}),
    )
    try:
        result = check(runtime, [app_id])
        assert (
            not result.chain.ok and f"chain position {save.seq} is missing" in result.chain.problem
        )
        # The draft's amount is no longer explained by the trail either.
        assert named(result, "applications", app_id, "requested_amount")
    finally:
        with engine.begin() as conn:
            insert_audit_event(conn, original)
    a, b = audit_row(engine, create.id), audit_row(engine, save.id)
    content = list(TAMPERABLE)

    def swap(x: dict[str, Any], y: dict[str, Any]) -> None:
        rewrite_audit_events(
            engine,
            [
                (create.id, {"prev_hash": "p" * 64, "hash": "h" * 64}),
                (save.id, {c: x[c] for c in content}),
                (create.id, {c: y[c] for c in content}),
            ],
        )

    swap(a, b)
    try:
        result = check(runtime, [app_id])
        assert not result.chain.ok and result.chain.first_bad_seq == create.seq
    finally:
        swap(audit_row(engine, create.id), audit_row(engine, save.id))
    assert (audit_row(engine, create.id), audit_row(engine, save.id)) == (a, b)
    assert_clean(runtime, [app_id])


def _forged_tail(engine: Engine, sessions: sessionmaker[Session], **fields: Any) -> int:
    """A forged event appended to the chain by someone who computes hashes: its link and
    hash are right, so the chain alone accepts it."""
    with sessions() as session:
        head = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
        row = {c.name: getattr(head, c.name) for c in AuditEvent.__table__.columns}
    row |= {"id": row["id"] + 1000, "seq": head.seq + 1, "prev_hash": head.hash, **fields}
    row["hash"] = compute_hash(AuditEvent(**row))
    with engine.begin() as conn:
        insert_audit_event(conn, row)
    return row["id"]


def _remove_events(engine: Engine, ids: list[int]) -> None:
    behind_the_append_only_trigger(
        engine,
        lambda conn: conn.execute(
            text("DELETE FROM audit_events WHERE id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": ids},
        ),
    )


def test_an_inserted_forged_event_is_named(
    scenario: Scenario,
    runtime: Runtime,
    engine: Engine,
    sessions: sessionmaker[Session],
    anchor_file: Path,
) -> None:
    app_id = scenario.draft(0)
    scenario.advance(app_id, AppState.CONTRACTED)
    payment_id = scenario.prefinancing(app_id, until="prepared")
    # Forged with a correct link: the chain accepts it, the rows do not match it.
    forged_id = _forged_tail(
        engine,
        sessions,
        action="authorise",
        entity_type="payment",
        entity_id=str(payment_id),
        application_id=app_id,
        before={"status": "prepared"},
        after={"status": "authorised"},
    )
    try:
        result = check(runtime, [app_id])
        assert result.chain.ok
        assert named(result, "payments", payment_id, "status")
        assert named(result, "payments", payment_id, "authorised_by_id")
    finally:
        _remove_events(engine, [forged_id])
    # Forged without a link: the chain names it.
    with sessions() as session:
        head = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
        row = {c: getattr(head, c) for c in TAMPERABLE} | {"actor_name": "forged"}
    with engine.begin() as conn:
        insert_audit_event(conn, row | {"prev_hash": None, "hash": None})
    try:
        result = check(runtime, [app_id])
        assert not result.chain.ok and "not linked into the chain" in result.chain.problem
    finally:
        behind_the_append_only_trigger(
            engine,
            lambda conn: conn.execute(text("DELETE FROM audit_events WHERE seq IS NULL")),
        )
    assert_clean(runtime, [app_id])


# -- anchors -----------------------------------------------------------------------------------


def test_truncation_after_an_anchor_is_named(
    scenario: Scenario, runtime: Runtime, engine: Engine, anchor_file: Path
) -> None:
    app_id = scenario.draft(0)
    with runtime.sessions() as session:
        written = anchors.write_anchor(session, runtime.config)
    assert anchors.latest(runtime.config) == written
    assert_clean(runtime, [app_id])
    # The last events (this draft's: no document points at them) removed: the chain that
    # is left verifies on its own, the anchor says it was longer.
    tail = [e for e in scenario.events_of(app_id) if e.seq and e.seq > written.count - 2]
    assert [e.seq for e in tail] == [written.count - 1, written.count]
    rows = [audit_row(engine, e.id) for e in tail]
    _remove_events(engine, [e.id for e in tail])
    try:
        result = check(runtime, [])
        assert result.chain.ok
        assert any(
            p.startswith("truncated:") and f"ending with event {written.last_id}" in p
            for p in result.anchors.problems
        ), result.problems()
    finally:
        with engine.begin() as conn:
            for row in rows:
                insert_audit_event(conn, row)
    assert_clean(runtime, [app_id])


def test_a_rewritten_tail_after_an_anchor_is_named(
    scenario: Scenario, runtime: Runtime, engine: Engine, anchor_file: Path
) -> None:
    app_id = scenario.draft(0)
    with runtime.sessions() as session:
        written = anchors.write_anchor(session, runtime.config)
    last = audit_row(engine, written.last_id)
    # The forger changes the last event and recomputes its hash: the chain verifies.
    forged = {**last, "actor_name": "Someone Else"}
    forged_hash = compute_hash(AuditEvent(**forged))
    rewrite_audit_events(
        engine, [(written.last_id, {"actor_name": "Someone Else", "hash": forged_hash})]
    )
    try:
        result = check(runtime, [])
        assert result.chain.ok
        assert any(
            p.startswith("history rewritten:") and f"records event {written.last_id}" in p
            for p in result.anchors.problems
        ), result.problems()
        # And a new anchor is refused over a chain that no longer holds the last one.
        with runtime.sessions() as session, pytest.raises(anchors.AnchorError, match="broken"):
            anchors.write_anchor(session, runtime.config)
    finally:
        rewrite_audit_events(
            engine, [(written.last_id, {"actor_name": last["actor_name"], "hash": last["hash"]})]
        )
    assert_clean(runtime, [app_id])


def test_signed_anchors_verify_with_the_public_key_and_a_forged_line_does_not(
    scenario: Scenario,
    runtime: Runtime,
    anchor_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key_path = tmp_path / "keys" / "anchor.pem"
    public_text = anchors.generate_key_pair(key_path)
    with pytest.raises(anchors.AnchorError, match="never overwritten"):
        anchors.generate_key_pair(key_path)
    assert key_path.stat().st_mode & 0o777 == 0o600
    monkeypatch.setattr(runtime.config, "anchor_key", str(key_path))
    scenario.draft(0)
    with runtime.sessions() as session:
        first = anchors.write_anchor(session, runtime.config)
    scenario.draft(1)
    with runtime.sessions() as session:
        second = anchors.write_anchor(session, runtime.config)
    assert first.signature and second.signature and second.count > first.count
    lines = anchor_file.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["public_key"] == public_text
    public = anchors.load_public_key(public_text)
    assert (
        anchors.load_public_key(f"{key_path}.pub").public_bytes_raw() == public.public_bytes_raw()
    )
    result = check(runtime, [], public_key=public)
    assert result.anchors.signatures_checked == 2 and not result.anchors.problems

    # Another key: no line verifies.
    other = anchors.load_public_key(anchors.generate_key_pair(tmp_path / "other.pem"))
    problems = check(runtime, [], public_key=other).anchors.problems
    assert len(problems) == 2 and all("signature does not match" in p for p in problems)

    # A line edited by hand (an earlier time), and an unsigned line added.
    edited = json.loads(lines[0]) | {"at": "2020-01-01T00:00:00Z"}
    unsigned = {k: v for k, v in json.loads(lines[1]).items() if k not in ("signature",)}
    anchor_file.write_text(
        "\n".join([json.dumps(edited), lines[1], json.dumps(unsigned), "not json"]) + "\n"
    )
    problems = check(runtime, [], public_key=public).anchors.problems
    assert any("line 1: its signature does not match" in p for p in problems), problems
    assert any("line 3 is not signed" in p for p in problems), problems
    assert any("line 4 is not an anchor" in p for p in problems), problems
    assert not any("line 2" in p for p in problems)


def test_the_worker_anchors_when_due_and_the_chain_grew(
    scenario: Scenario, runtime: Runtime, anchor_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario.draft(0)
    now = utcnow()
    written = anchors.maybe_anchor(runtime, now=now)
    assert written is not None and anchors.latest(runtime.config) == written
    assert anchors.maybe_anchor(runtime, now=now + timedelta(minutes=5)) is None  # not due
    later = now + timedelta(minutes=61)
    assert anchors.maybe_anchor(runtime, now=later) is None  # due, but nothing new
    scenario.draft(1)
    again = anchors.maybe_anchor(runtime, now=later)
    assert again is not None and again.count > written.count
    assert len(anchor_file.read_text().splitlines()) == 2
    scenario.draft(2)
    monkeypatch.setattr(runtime.config, "anchor_every_minutes", 0)
    assert anchors.maybe_anchor(runtime, now=later + timedelta(days=1)) is None


# -- the command line and the pages -----------------------------------------------------------


@pytest.fixture
def cascade(app: Flask) -> Callable[..., Result]:
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


def test_the_commands_anchor_sign_and_verify(
    scenario: Scenario,
    runtime: Runtime,
    engine: Engine,
    anchor_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cascade: Callable[..., Result],
) -> None:
    app_id = paid_voucher(scenario)
    reference = scenario.application(app_id).reference
    key_path = tmp_path / "anchor-key.pem"
    made = cascade("audit", "anchor-key", "--output", str(key_path))
    assert made.exit_code == 0, made.output
    public = made.stdout.strip().splitlines()[-1]
    assert len(base64.b64decode(public)) == 32
    assert cascade("audit", "anchor-key", "--output", str(key_path)).exit_code == 1

    monkeypatch.setattr(runtime.config, "anchor_key", str(key_path))
    anchored = cascade("audit", "anchor")
    assert anchored.exit_code == 0, anchored.output
    assert "signed" in anchored.stdout and str(anchor_file) in anchored.stdout
    first_line = anchor_file.read_text()
    scenario.draft(1)
    assert cascade("audit", "anchor").exit_code == 0
    assert anchor_file.read_text().startswith(first_line)  # appended, never rewritten

    verified = cascade("audit", "verify", "--public-key", public, "--application", reference)
    assert verified.exit_code == 0, verified.output
    lines = verified.stdout.splitlines()
    assert lines[0].startswith("OK ") and lines[0].endswith(" events")
    assert "anchors: 2" in lines[1] and "2 signatures checked" in lines[1]

    payment_id = _payment("balance")(scenario, app_id)
    amount = raw_value(engine, PAYMENTS, payment_id, "amount")
    raw_update(engine, PAYMENTS, payment_id, "amount", amount + 1)
    try:
        failed = cascade("audit", "verify", "--application", reference)
        assert failed.exit_code == 1
        assert f"PROBLEM payments {payment_id} amount: the trail says" in failed.stderr
    finally:
        raw_update(engine, PAYMENTS, payment_id, "amount", amount)
    unknown = cascade("audit", "verify", "--application", "NO-SUCH-REF")
    assert unknown.exit_code == 1 and "no application NO-SUCH-REF" in unknown.output


def _logged_in(app: Flask, login: Callable[[FlaskClient, str], None], email: str) -> FlaskClient:
    client = app.test_client()
    login(client, email)
    return client


def test_the_auditor_page_names_problems_and_the_officer_sees_the_last_anchor(
    app: Flask,
    scenario: Scenario,
    runtime: Runtime,
    engine: Engine,
    anchor_file: Path,
    login: Callable[[FlaskClient, str], None],
) -> None:
    app_id = paid_voucher(scenario)
    officer = _logged_in(app, login, scenario.people.emails["officer"])
    dashboard = officer.get("/dashboard").get_data(as_text=True)
    assert "never anchored" in dashboard
    with runtime.sessions() as session:
        written = anchors.write_anchor(session, runtime.config)
    dashboard = officer.get("/dashboard").get_data(as_text=True)
    assert f"{written.count} events" in dashboard and "Not signed" in dashboard

    auditor = _logged_in(app, login, scenario.people.emails["auditor"])
    page = auditor.post("/audit/verify").get_data(as_text=True)
    assert "Audit chain OK" in page and "1 anchor checked" in page
    payment_id = _payment("balance")(scenario, app_id)
    amount = raw_value(engine, PAYMENTS, payment_id, "amount")
    raw_update(engine, PAYMENTS, payment_id, "amount", amount + 1)
    try:
        page = auditor.post("/audit/verify").get_data(as_text=True)
        assert "Records that differ from the audit trail" in page
        assert f'<th scope="row" class="num">{payment_id}</th>' in page
    finally:
        raw_update(engine, PAYMENTS, payment_id, "amount", amount)
