"""The hash-chained audit trail: it verifies, and any change to it is caught and located.

The database is shared by the whole run, so every test that tampers with a row puts it back
in a ``finally`` and checks that the chain verifies again. On PostgreSQL the rows are
protected by the ``audit_events_append_only`` trigger; tampering disables it for the one
statement that needs it.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from grants.db import unit_of_work
from grants.models import AuditEvent, Document
from grants.runtime import Runtime
from grants.services import audit
from grants.services.audit import ChainReport, compute_hash, verify_chain
from tests.scenario import (
    Scenario,
    audit_row,
    behind_the_append_only_trigger,
    insert_audit_event,
    pending_documents_discarded,
    rewrite_audit_events,
)
from workflows.voucher import AppState

TABLE = AuditEvent.__table__
# The row's name (id) and its chain position (seq, covered by the links) aside.
TAMPERABLE = [c.name for c in TABLE.columns if c.name not in ("id", "seq")]


@pytest.fixture(autouse=True)
def _discard_unrendered_documents(sessions: sessionmaker[Session]) -> Iterator[None]:
    with pending_documents_discarded(sessions):
        yield


@pytest.fixture
def engine(runtime: Runtime) -> Engine:
    return runtime.engine


# -- raw access to the table, around the application ---------------------------------------


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def assert_append_only(engine: Engine, event_id: int) -> None:
    """On PostgreSQL the database itself refuses to change or remove an audit row."""
    for statement in (
        "UPDATE audit_events SET actor_name = 'someone else' WHERE id = :id",
        "DELETE FROM audit_events WHERE id = :id",
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement), {"id": event_id})


def id_at(sessions: sessionmaker[Session], seq: int) -> int:
    """The row at a chain position: positions and row ids differ once a transaction that
    wrote an event rolled back."""
    with sessions() as session:
        row_id = session.scalar(select(AuditEvent.id).where(AuditEvent.seq == seq))
    assert row_id is not None
    return row_id


def verify(sessions: sessionmaker[Session]) -> ChainReport:
    with sessions() as session:
        return verify_chain(session)


def assert_intact(sessions: sessionmaker[Session]) -> ChainReport:
    report = verify(sessions)
    assert report.ok, report
    return report


def flip(value: str) -> str:
    """The same text with its last character changed: one byte of difference."""
    return value[:-1] + ("0" if value[-1] != "0" else "1")


# -- a chain to work on ----------------------------------------------------------------------


def walked(scenario: Scenario, target: AppState = AppState.SUBMITTED) -> int:
    app_id = scenario.draft(0)
    scenario.advance(app_id, target)
    return app_id


def test_the_chain_verifies_after_a_full_lifecycle(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    app_id = walked(scenario, AppState.CLOSED)
    report = assert_intact(sessions)
    with sessions() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        assert report.checked == len(events)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert events[0].prev_hash == audit.GENESIS_HASH
        for previous, event in itertools.pairwise(events):
            assert event.prev_hash == previous.hash
            assert event.occurred_at >= previous.occurred_at
        mine = [e for e in events if e.application_id == app_id]
    actions = [e.action for e in mine]
    assert actions[:3] == ["create_draft", "save_draft", "submit"]
    assert actions[-1] == "close"
    assert all(e.request_id == f"test-{scenario.tag}" for e in mine)
    assert all(e.actor_id is not None and e.actor_role for e in mine)
    submit = next(e for e in mine if e.action == "submit")
    assert (submit.before["status"], submit.after["status"]) == ("draft", "submitted")


def tampered_value(
    column: str, original: Mapping[str, Any], scenario: Scenario, other_app: int
) -> Any:
    value = original[column]
    match column:
        case "occurred_at":
            return value + timedelta(seconds=1)
        case "actor_id":
            return scenario.people.auditor.user_id
        case "application_id":
            return other_app
        case "actor_role":
            return "auditor"
        case "ip":
            return "203.0.113.7"
        case "before" | "after":
            return {**value, "status": "closed"}
        case _:
            return flip(value)


def test_every_column_but_the_id_and_position_is_covered() -> None:
    assert set(TAMPERABLE) == {
        "occurred_at",
        "actor_id",
        "actor_name",
        "actor_role",
        "action",
        "entity_type",
        "entity_id",
        "application_id",
        "before",
        "after",
        "request_id",
        "ip",
        "prev_hash",
        "hash",
    }


@pytest.mark.parametrize("column", TAMPERABLE)
def test_tampering_with_any_field_is_detected_and_located(
    scenario: Scenario, sessions: sessionmaker[Session], engine: Engine, column: str
) -> None:
    app_id = walked(scenario)
    other_app = scenario.draft(1)  # events follow the tampered one
    event = next(e for e in scenario.events_of(app_id) if e.action == "submit")
    event_id = event.id
    assert_intact(sessions)
    original = audit_row(engine, event_id)
    changed = tampered_value(column, original, scenario, other_app)
    assert changed != original[column]
    if is_postgres(engine):
        assert_append_only(engine, event_id)
    rewrite_audit_events(engine, [(event_id, {column: changed})])
    try:
        assert audit_row(engine, event_id)[column] == changed
        report = verify(sessions)
        assert not report.ok
        assert (report.first_bad_id, report.first_bad_seq) == (event_id, event.seq)
        expected = "previous-hash" if column == "prev_hash" else "does not match its hash"
        assert expected in report.problem
    finally:
        rewrite_audit_events(engine, [(event_id, {column: original[column]})])
    assert audit_row(engine, event_id) == original
    assert_intact(sessions)


def test_a_deleted_event_is_detected(
    scenario: Scenario, sessions: sessionmaker[Session], engine: Engine
) -> None:
    app_id = walked(scenario)
    scenario.draft(1)
    # save_draft produces no document, so nothing else points at it.
    event = next(e for e in scenario.events_of(app_id) if e.action == "save_draft")
    event_id, seq = event.id, event.seq
    with sessions() as session:
        assert session.scalar(select(func.count()).where(Document.audit_event_id == event_id)) == 0
    assert_intact(sessions)
    original = audit_row(engine, event_id)
    if is_postgres(engine):
        assert_append_only(engine, event_id)
    behind_the_append_only_trigger(
        engine,
        lambda conn: conn.execute(
            text("DELETE FROM audit_events WHERE id = :id"), {"id": event_id}
        ),
    )
    try:
        report = verify(sessions)
        assert not report.ok
        assert report.first_bad_seq == seq + 1
        assert f"chain position {seq} is missing" in report.problem
    finally:
        with engine.begin() as conn:  # inserting is what the table allows
            insert_audit_event(conn, original)
    assert audit_row(engine, event_id) == original
    assert_intact(sessions)


@pytest.mark.parametrize("distance", [1, 3])
def test_swapping_two_events_is_detected(
    scenario: Scenario, sessions: sessionmaker[Session], engine: Engine, distance: int
) -> None:
    app_id = walked(scenario, AppState.ELIGIBLE)
    scenario.draft(1)
    first_event = next(e for e in scenario.events_of(app_id) if e.action == "save_draft")
    first = first_event.id
    second = id_at(sessions, (first_event.seq or 0) + distance)
    assert_intact(sessions)
    a, b = audit_row(engine, first), audit_row(engine, second)
    content = TAMPERABLE

    def swap(x: Mapping[str, Any], y: Mapping[str, Any], x_id: int, y_id: int) -> None:
        # prev_hash and hash are unique: park one row's on placeholders first.
        rewrite_audit_events(
            engine,
            [
                (x_id, {"prev_hash": "p" * 64, "hash": "h" * 64}),
                (y_id, {c: x[c] for c in content}),
                (x_id, {c: y[c] for c in content}),
            ],
        )

    swap(a, b, first, second)
    try:
        assert audit_row(engine, first)["hash"] == b["hash"]
        report = verify(sessions)
        assert not report.ok
        assert report.first_bad_seq == first_event.seq
    finally:
        swap(audit_row(engine, first), audit_row(engine, second), first, second)
    assert (audit_row(engine, first), audit_row(engine, second)) == (a, b)
    assert_intact(sessions)


def test_a_recomputed_hash_still_breaks_the_link_to_the_next_event(
    scenario: Scenario, sessions: sessionmaker[Session], engine: Engine
) -> None:
    """A forger who fixes the tampered event's own hash is caught at the next event."""
    app_id = walked(scenario)
    scenario.draft(1)
    event = next(e for e in scenario.events_of(app_id) if e.action == "submit")
    event_id = event.id
    assert_intact(sessions)
    original = audit_row(engine, event_id)
    forged = AuditEvent(**{**original, "actor_name": "Someone Else"})
    forged_hash = compute_hash(forged)
    rewrite_audit_events(engine, [(event_id, {"actor_name": "Someone Else", "hash": forged_hash})])
    try:
        report = verify(sessions)
        assert not report.ok
        assert report.first_bad_seq == (event.seq or 0) + 1
        assert "previous-hash" in report.problem
    finally:
        rewrite_audit_events(
            engine, [(event_id, {"actor_name": original["actor_name"], "hash": original["hash"]})]
        )
    assert_intact(sessions)


# -- no fork -----------------------------------------------------------------------------------


def test_the_database_refuses_a_second_event_after_the_same_predecessor(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    walked(scenario)
    with sessions() as session:
        head = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
        fork = {c: getattr(head, c) for c in TAMPERABLE} | {"actor_name": "fork"}
    assert head.seq is not None
    for clash in ({"seq": head.seq + 1}, {"seq": head.seq}):  # same predecessor / same position
        row = AuditEvent(**{**fork, **clash})
        row.hash = compute_hash(row)
        with pytest.raises(IntegrityError), unit_of_work(sessions) as session:
            session.add(row)
            session.flush()
    assert_intact(sessions)


def _record_in_parallel(
    sessions: sessionmaker[Session], scenario: Scenario, writers: int, each: int
) -> list[BaseException]:
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []
    actor = scenario.people.officer

    def write(index: int) -> None:
        try:
            for n in range(each):
                with unit_of_work(sessions) as session:
                    if n == 0:
                        barrier.wait(timeout=10)
                    audit.record(
                        session,
                        actor,
                        "concurrency_probe",
                        entity_type="test",
                        entity_id=f"{scenario.tag}-{index}-{n}",
                        after={"writer": index, "n": n},
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()
    return errors


def probes(sessions: sessionmaker[Session], scenario: Scenario) -> int:
    with sessions() as session:
        return session.scalar(
            select(func.count()).where(
                AuditEvent.action == "concurrency_probe",
                AuditEvent.entity_id.like(f"{scenario.tag}-%"),
            )
        )


def test_concurrent_writers_extend_one_chain(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    errors = _record_in_parallel(sessions, scenario, writers=4, each=5)
    assert errors == []
    assert probes(sessions, scenario) == 20
    assert_intact(sessions)


def test_without_the_lock_a_racing_writer_fails_instead_of_forking(
    scenario: Scenario,
    sessions: sessionmaker[Session],
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Even if the chain lock were missed, the unique prev_hash and id keep the chain linear.

    With the lock gone, both writers are held after reading the chain head until the other
    has read it too, then both append. On PostgreSQL one of them must fail on the unique
    constraint. SQLite serialises whole write transactions (BEGIN IMMEDIATE), so the second
    writer cannot even read the head before the first commits: both succeed, in turn.
    """
    read_head = threading.Barrier(2)
    real_chained_hash = audit._chained_hash
    # On SQLite the other writer cannot get there while this one holds the write lock.
    patience = 10.0 if is_postgres(engine) else 0.2

    # Linking hashes each event right after reading the head: hold both writers there.
    def after_reading_the_head(prev: str, head: str, tail: str) -> str:
        with contextlib.suppress(threading.BrokenBarrierError):
            read_head.wait(timeout=patience)
        return real_chained_hash(prev, head, tail)

    monkeypatch.setattr(audit, "_lock_chain", lambda _session: None)
    monkeypatch.setattr(audit, "_chained_hash", after_reading_the_head)
    errors: list[BaseException] = []
    actor = scenario.people.officer

    def write(index: int) -> None:
        try:
            with unit_of_work(sessions) as session:
                audit.record(
                    session,
                    actor,
                    "concurrency_probe",
                    entity_type="test",
                    entity_id=f"{scenario.tag}-{index}",
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    monkeypatch.undo()
    assert all(isinstance(e, IntegrityError) for e in errors), errors
    assert len(errors) == (1 if is_postgres(engine) else 0)
    assert probes(sessions, scenario) == 2 - len(errors)
    assert_intact(sessions)


# -- linking at commit -------------------------------------------------------------------------


def probe(session: Session, scenario: Scenario, name: str) -> AuditEvent:
    return audit.record(
        session,
        scenario.people.officer,
        "concurrency_probe",
        entity_type="test",
        entity_id=f"{scenario.tag}-{name}",
    )


def test_an_open_transaction_does_not_hold_the_chain_for_others(
    scenario: Scenario, sessions: sessionmaker[Session], engine: Engine
) -> None:
    """A long transaction (a ranking) writes events unlinked; others append meanwhile, and
    its events join the chain when it commits, after theirs."""
    slow = sessions()
    try:
        slow.begin()
        written = probe(slow, scenario, "slow")
        row = slow.execute(select(TABLE.c.seq, TABLE.c.hash).where(TABLE.c.id == written.id))
        assert tuple(row.one()) == (None, None)  # written, not linked yet
        quick_seq: list[int | None] = []
        if is_postgres(engine):
            # SQLite has one writer at a time by design; PostgreSQL lets this one through.
            def quick() -> None:
                with unit_of_work(sessions) as session:
                    event = probe(session, scenario, "quick")
                quick_seq.append(event.seq)

            thread = threading.Thread(target=quick)
            thread.start()
            thread.join(timeout=30)
            assert not thread.is_alive(), "a writer waited for an open transaction's events"
            assert quick_seq and quick_seq[0] is not None
        slow.commit()
        assert written.seq is not None and written.hash is not None
        if quick_seq:
            assert written.seq == (quick_seq[0] or 0) + 1  # linked in commit order
    finally:
        slow.close()
    assert_intact(sessions)


def test_events_linked_together_hash_as_verify_computes_them(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    """Linking cuts each payload where the predecessor's hash goes before taking the lock;
    content that looks like that place (a nested prev_hash, quotes, other scripts) must
    hash exactly as ``compute_hash`` does, or verify would call the chain broken."""
    tricky = [
        {"prev_hash": "<prev>", "note": '"prev_hash":"<prev>"'},
        {"nested": {"prev_hash": audit.GENESIS_HASH}, "name": 'Šibenik Ω \\ "quoted"'},
        {},
    ]
    with unit_of_work(sessions) as session:
        events = [
            audit.new_event(
                scenario.people.officer,
                "concurrency_probe",
                entity_type="test",
                entity_id=f"{scenario.tag}-tricky-{i}",
                before=content,
                after={"status": "x", "request_id": '"prev_hash":"<prev>"'},
            )
            for i, content in enumerate(tricky)
        ]
        audit.append(session, events)
    for previous, event in itertools.pairwise(events):
        assert event.seq == (previous.seq or 0) + 1
        assert event.prev_hash == previous.hash
    with sessions() as session:
        stored = session.scalars(
            select(AuditEvent).where(AuditEvent.id.in_([e.id for e in events]))
        ).all()
        assert {e.hash for e in stored} == {compute_hash(e) for e in stored}
    assert_intact(sessions)


def test_a_rolled_back_transaction_leaves_no_event_and_no_gap(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    before = assert_intact(sessions).checked
    with pytest.raises(RuntimeError), unit_of_work(sessions) as session:
        probe(session, scenario, "rolled-back")
        raise RuntimeError("the step failed after writing its event")
    with unit_of_work(sessions) as session:
        kept = probe(session, scenario, "kept")
    assert kept.seq == before + 1
    assert assert_intact(sessions).checked == before + 1


def test_a_row_slipped_in_without_a_link_is_reported(
    scenario: Scenario, sessions: sessionmaker[Session], engine: Engine
) -> None:
    """Inserting is what the table allows: an event added outside the application, never
    linked, does not hide from verify."""
    walked(scenario)
    with sessions() as session:
        head = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
        row = {c: getattr(head, c) for c in TAMPERABLE} | {"actor_name": "slipped in"}
    row |= {"prev_hash": None, "hash": None}
    with engine.begin() as conn:
        insert_audit_event(conn, row)
    try:
        report = verify(sessions)
        assert not report.ok
        assert "not linked into the chain" in report.problem
        assert report.first_bad_id is not None and report.first_bad_seq is None
    finally:
        behind_the_append_only_trigger(
            engine,
            lambda conn: conn.execute(
                text("DELETE FROM audit_events WHERE seq IS NULL AND actor_name = 'slipped in'")
            ),
        )
    assert_intact(sessions)


def test_a_linked_event_cannot_be_linked_again(
    scenario: Scenario, sessions: sessionmaker[Session], engine: Engine
) -> None:
    """The one update the table takes is an unlinked event's link; a linked one keeps its
    place (on PostgreSQL the trigger refuses; elsewhere verify catches the move)."""
    app_id = walked(scenario)
    scenario.draft(1)
    event = next(e for e in scenario.events_of(app_id) if e.action == "submit")
    assert event.seq is not None
    moved = event.seq + 1_000_000
    if is_postgres(engine):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(
                text("UPDATE audit_events SET seq = :seq WHERE id = :id"),
                {"seq": moved, "id": event.id},
            )
    rewrite_audit_events(engine, [(event.id, {"seq": moved})])
    try:
        report = verify(sessions)
        assert not report.ok
        assert report.first_bad_seq == event.seq + 1
        assert f"chain position {event.seq} is missing" in report.problem
    finally:
        rewrite_audit_events(engine, [(event.id, {"seq": event.seq})])
    assert_intact(sessions)
