"""The `cascade` command, run through Flask's CLI runner against the run's database."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pypdf
import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from documents.storage import DocumentStorage, sha256_hex
from grants import steps
from grants.db import unit_of_work
from grants.demo import INTERNATIONALISATION, UPSKILLING
from grants.models import (
    Application,
    Attachment,
    AuditEvent,
    Call,
    Document,
    DocumentStatus,
    MailMessage,
    Payment,
)
from grants.runtime import Runtime
from grants.services import documents
from grants.services.documents import DrainResult
from tests.scenario import Scenario, audit_row, pending_documents_discarded, rewrite_audit_events
from workflows.voucher import AppState

Invoke = Callable[..., Result]


@pytest.fixture(autouse=True)
def _own_anchor_file(runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`audit verify` checks the anchors: this test's own (empty) file, not instance/'s."""
    monkeypatch.setattr(runtime.config, "anchor_file", tmp_path / "audit-anchors.jsonl")
    monkeypatch.setattr(runtime.config, "anchor_key", None)


@pytest.fixture
def cascade(app: Flask) -> Invoke:
    """`cascade <args>` with the fixtures' app, so it runs against this run's database."""
    runner = app.test_cli_runner()

    def invoke(*args: str) -> Result:
        return runner.invoke(args=list(args))

    return invoke


def event_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def test_audit_verify_reports_ok_with_the_number_of_events(
    cascade: Invoke, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    with pending_documents_discarded(sessions):
        app_id = scenario.draft()
        scenario.submit(app_id)
    # The business rows reconciled are this test's (the run's other tests share the database).
    reference = scenario.application(app_id).reference
    result = cascade("audit", "verify", "--application", reference)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"OK {event_count(sessions)} events"


def test_audit_verify_names_a_tampered_event_and_fails(
    cascade: Invoke, scenario: Scenario, sessions: sessionmaker[Session], runtime: Runtime
) -> None:
    app_id = scenario.draft()
    event = next(e for e in scenario.events_of(app_id) if e.action == "save_draft")
    event_id = event.id
    scenario.draft(1)  # not the last event of the chain
    reference = scenario.application(app_id).reference
    original = audit_row(runtime.engine, event_id)
    name = original["actor_name"]
    one_byte = name[:-1] + ("X" if name[-1] != "X" else "Y")
    rewrite_audit_events(runtime.engine, [(event_id, {"actor_name": one_byte})])
    try:
        result = cascade("audit", "verify", "--application", reference)
        assert result.exit_code == 1
        assert re.search(rf"\bevent {event_id}\b", result.stderr), result.output
        assert "OK" not in result.stdout
    finally:
        rewrite_audit_events(runtime.engine, [(event_id, {"actor_name": name})])
    assert audit_row(runtime.engine, event_id) == original
    assert cascade("audit", "verify", "--application", reference).exit_code == 0


def demo_footprint(sessions: sessionmaker[Session]) -> dict[str, Any]:
    with sessions() as session:
        demo_apps = (
            select(Application.id, Application.status, Application.version)
            .join(Call)
            .where(Call.reference.in_([UPSKILLING, INTERNATIONALISATION]))
            .order_by(Application.id)
        )
        return {
            "applications": session.scalar(select(func.count()).select_from(Application)),
            "audit_events": session.scalar(select(func.count()).select_from(AuditEvent)),
            "documents": session.scalar(select(func.count()).select_from(Document)),
            "demo": [(row.id, row.status, row.version) for row in session.execute(demo_apps)],
        }


def assert_every_step_walked_was_mailed(
    sessions: sessionmaker[Session], application_ids: list[int]
) -> None:
    """After `cascade demo` the outbox holds the notices of every step the demo walked."""
    with sessions() as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.application_id.in_(application_ids))
            .order_by(AuditEvent.id)
        ).all()
        keys = set(
            session.scalars(
                select(MailMessage.dedupe_key).where(
                    MailMessage.application_id.in_(application_ids)
                )
            )
        )
        balance_rows = {
            str(p.id)
            for p in session.scalars(
                select(Payment).where(
                    Payment.application_id.in_(application_ids), Payment.instalment == "balance"
                )
            )
        }
    walked = 0
    for event in events:
        workflow = {"payment": "payment", "application": "voucher"}.get(event.entity_type)
        step = steps.find(workflow, event.action) if workflow else None
        if step is None or (workflow == "payment" and event.entity_id in balance_rows):
            continue
        for notice in step.notices_for(event.after["status"]):
            walked += 1
            prefix = f"step:{event.id}:{notice.mail}:"
            assert any(k and k.startswith(prefix) for k in keys), (
                f"{event.entity_id} {event.action}: no {notice.mail} in the outbox"
            )
    assert walked > 50


SAMPLE = 3  # documents the demo command renders for real in this test, per run


def test_demo_twice_changes_nothing_and_shows_every_state(
    cascade: Invoke,
    sessions: sessionmaker[Session],
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`cascade demo` loads once; a second run finds it and changes nothing.

    The demo queues ~140 PDFs, about 30 s of WeasyPrint per backend. The command's drain is
    limited to a sample here (rendering every kind is test_documents_outbox's job) and the
    jobs left pending are discarded afterwards, so later drains do not pay for them either.
    """
    real_drain = documents.drain
    drains: list[DrainResult] = []

    def sampled_drain(factory: sessionmaker[Session], storage: DocumentStorage) -> DrainResult:
        result = real_drain(factory, storage, limit=SAMPLE)
        drains.append(result)
        return result

    monkeypatch.setattr(documents, "drain", sampled_drain)
    # The sampled drain takes the oldest pending jobs: set aside those earlier tests of this
    # worker left, so that the sample is the demo's own documents.
    with unit_of_work(sessions) as session:
        session.execute(
            update(Document)
            .where(Document.status == DocumentStatus.PENDING)
            .values(status=DocumentStatus.FAILED, last_error="not rendered: left by a test")
        )
    with pending_documents_discarded(sessions):
        first = cascade("demo")
        assert first.exit_code == 0, first.output
        assert re.match(r"demo (loaded|already present); ", first.output), first.output
        assert f"{drains[0].rendered} documents rendered, 0 failed" in first.output
        after_first = demo_footprint(sessions)

        second = cascade("demo")
        assert second.exit_code == 0, second.output
        assert second.output.startswith("demo already present;")
        assert f"{drains[1].rendered} documents rendered, 0 failed" in second.output
        assert demo_footprint(sessions) == after_first
        assert len(drains) == 2 and all(d.failed == 0 for d in drains)

        demo_states = {status for _id, status, _version in after_first["demo"]}
        assert demo_states == {str(s) for s in AppState}
        assert_every_step_walked_was_mailed(sessions, [i for i, _s, _v in after_first["demo"]])
        with sessions() as session:
            rendered = session.execute(
                select(Document.storage_key, Application.reference)
                .join(Application)
                .join(Call)
                .where(
                    Call.reference.in_([UPSKILLING, INTERNATIONALISATION]),
                    Document.status == DocumentStatus.READY,
                )
            ).all()
        assert rendered
        for key, reference in rendered[:SAMPLE]:
            text = "".join(
                page.extract_text()
                for page in pypdf.PdfReader(io.BytesIO(runtime.storage.read(key))).pages
            )
            assert reference in text
        # Every demo application carries the provider's quote, a real PDF on disk.
        with sessions() as session:
            quotes = session.execute(
                select(Attachment.storage_key, Attachment.sha256, Attachment.content_type)
                .join(Application)
                .join(Call)
                .where(Call.reference.in_([UPSKILLING, INTERNATIONALISATION]))
            ).all()
        assert len(quotes) == len(after_first["demo"])
        for key, digest, content_type in quotes:
            data = runtime.storage.read(key)
            assert content_type == "application/pdf" and sha256_hex(data) == digest
            assert pypdf.PdfReader(io.BytesIO(data)).pages
    verified = cascade("audit", "verify", "--call", UPSKILLING, "--call", INTERNATIONALISATION)
    assert verified.exit_code == 0, verified.output


def test_worker_once_renders_pending_documents(
    cascade: Invoke, scenario: Scenario, runtime: Runtime
) -> None:
    app_id = scenario.draft()
    scenario.submit(app_id)
    (receipt,) = scenario.documents_of(app_id)
    assert receipt.status == DocumentStatus.PENDING

    result = cascade("worker", "--once")
    assert result.exit_code == 0, result.output
    rendered = re.fullmatch(r"rendered (\d+), failed 0\n", result.output)
    assert rendered and int(rendered.group(1)) >= 1
    (receipt,) = scenario.documents_of(app_id)
    assert receipt.status == DocumentStatus.READY
    assert runtime.storage.read(receipt.storage_key or "").startswith(b"%PDF-")

    again = cascade("worker", "--once")  # nothing left: nothing done, nothing said
    assert (again.exit_code, again.output) == (0, "")


def test_audit_export_writes_one_json_line_per_event(
    cascade: Invoke, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    with pending_documents_discarded(sessions):
        app_id = scenario.draft()
        scenario.submit(app_id)
    result = cascade("audit", "export", "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == event_count(sessions)
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    columns = {c.name for c in AuditEvent.__table__.columns}
    assert all(set(r) == columns for r in rows)
    for previous, row in itertools.pairwise(rows):
        assert row["prev_hash"] == previous["hash"]
    submit = next(r for r in rows if r["action"] == "submit" and r["application_id"] == app_id)
    assert submit["after"]["status"] == "submitted" and submit["before"]["status"] == "draft"

    as_csv = cascade("audit", "export")
    assert as_csv.exit_code == 0
    records = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [int(r["id"]) for r in records] == [r["id"] for r in rows]
    assert [r["hash"] for r in records] == [r["hash"] for r in rows]
