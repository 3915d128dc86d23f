"""PDF documents: written as outbox jobs in the step's transaction, rendered after commit."""

from __future__ import annotations

import io
import os
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pypdf
import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from documents.kinds import STEP_KINDS, TITLES, DocumentKind
from documents.render import render_outcome, render_pdf
from documents.storage import sha256_hex
from grants.db import unit_of_work
from grants.models import Application, Document, DocumentStatus
from grants.runtime import Runtime
from grants.services import applications, awards, documents, payment_stops, payments, recoveries
from grants.services.documents import (
    MAX_ATTEMPTS,
    PROCESS_DIED,
    DrainResult,
    RenderPool,
    drain,
)
from tests.scenario import Scenario, pending_documents_discarded
from workflows.money import format_eur
from workflows.voucher import AppState

AWARD = Decimal("8000.00")


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def squeeze(text: str) -> str:
    """Text without any whitespace: long identifiers may be wrapped across lines."""
    return "".join(text.split())


def run_drain(runtime: Runtime) -> DrainResult:
    return drain(runtime.sessions, runtime.storage)


def document(sessions: sessionmaker[Session], doc_id: str) -> Document:
    with sessions() as session:
        row = session.get(Document, doc_id)
        assert row is not None
        return row


def app_state(sessions: sessionmaker[Session], app_id: int) -> tuple[str, int]:
    with sessions() as session:
        app = session.get(Application, app_id)
        assert app is not None
        return app.status, app.version


def submitted_draft(scenario: Scenario) -> tuple[int, str]:
    """A submitted application and the id of its (pending) submission receipt."""
    app_id = scenario.draft()
    scenario.submit(app_id)
    (receipt,) = scenario.documents_of(app_id)
    assert receipt.kind == DocumentKind.SUBMISSION_RECEIPT
    assert receipt.status == DocumentStatus.PENDING and receipt.sha256 is None
    return app_id, receipt.id


# -- every kind, rendered and readable ---------------------------------------------------------


def test_every_document_kind_is_rendered_readable_and_fingerprinted(
    sessions: sessionmaker[Session], runtime: Runtime
) -> None:
    scenario = Scenario(sessions, smes=9)
    officer = scenario.people.officer
    closed, declined, withdrawn, redressed, terminated, expired, excluded = [
        scenario.draft(i) for i in range(7)
    ]
    withheld, cancelled = scenario.draft(7), scenario.draft(8)

    scenario.advance(closed, AppState.CONTRACTED)
    scenario.prefinancing(closed)
    scenario.advance(closed, AppState.CLOSED)

    scenario.advance(declined, AppState.OFFERED)
    owner = scenario.owner(declined)
    scenario.run(lambda s: awards.decline(s, owner, declined, reason="No trainer this year."))

    scenario.advance(expired, AppState.OFFERED)
    lapsed = scenario.application(expired).offer_deadline
    assert lapsed is not None
    scenario.run(lambda s: awards.expire_offer(s, expired, lapsed + timedelta(seconds=1)))

    scenario.advance(excluded, AppState.SELECTED)
    scenario.run(
        lambda s: awards.exclude(s, officer, excluded, reason="The same fair is funded twice.")
    )

    owner = scenario.owner(withdrawn)
    scenario.run(
        lambda s: applications.withdraw(s, owner, withdrawn, reason="Applying next cut-off.")
    )

    # Ranked before the redress: an application back in eligibility holds its batch.
    scenario.advance(terminated, AppState.CONTRACTED)
    scenario.prefinancing(terminated)
    for app_id in (withheld, cancelled):
        scenario.advance(app_id, AppState.CONTRACTED)

    scenario.submit(redressed)
    scenario.check_eligibility(redressed, passed=False)
    scenario.redress(redressed, "Please look again.", upheld=True, reasons="Upheld on appeal.")

    scenario.run(
        lambda s: payments.terminate(s, officer, terminated, reason="The SME stopped trading.")
    )
    # The termination's recovery order, partly repaid; a pre-financing withheld, one cancelled.
    (order,) = scenario.run(lambda s: recoveries.orders_of(s, terminated))
    f1 = scenario.people.finance[0]
    today = recoveries.local_today(scenario.application(terminated)).isoformat()
    scenario.run(
        lambda s: recoveries.record_repayment(
            s, f1, order.id, amount="1000", received_on=today, bank_reference="SEPA-BACK-1"
        )
    )
    stop = scenario.prefinancing(withheld, until="authorised")
    scenario.run(
        lambda s: payment_stops.withhold_instalment(s, officer, stop, reason="Subsidiary provider.")
    )
    stop = scenario.prefinancing(cancelled, until="prepared")
    scenario.run(lambda s: payment_stops.cancel_instalment(s, f1, stop, reason="IBAN mistyped."))

    result = run_drain(runtime)
    assert result.failed == 0

    pre = AWARD * Decimal(50) / Decimal(100)  # pre-financing at signature
    balance = AWARD - pre  # approved 8,000.00 at 100%, capped by the award, minus paid
    # Strings each kind must print besides its title and the application reference.
    expected: dict[str, list[str]] = {
        "submission_receipt": [format_eur(AWARD)],
        "withdrawal_confirmation": ["Applying next cut-off."],
        "eligibility_decision": ["checked in the register"],
        "redress_acknowledgement": ["Please look again."],
        "redress_decision": ["Upheld on appeal.", "Please look again."],
        "evaluation_assignment": [],
        "evaluation_summary_report": ["consensus"],
        "result_letter": [format_eur(AWARD)],
        "voucher_agreement": [format_eur(AWARD), format_eur(pre), format_eur(balance)],
        "signed_acceptance": [format_eur(AWARD)],
        "decline_confirmation": [format_eur(AWARD), "No trainer this year."],
        "exclusion_notice": [format_eur(AWARD), "The same fair is funded twice."],
        "report_acknowledgement": [format_eur(Decimal("8200.00"))],
        "report_review_decision": [format_eur(AWARD)],
        "payment_order": [format_eur(pre)],
        "remittance_advice": [format_eur(pre)],
        "closure_certificate": [format_eur(pre + balance)],
        "termination_notice": [format_eur(pre), "The SME stopped trading."],
        "offer_expiry_notice": [format_eur(AWARD)],
        "payment_withheld_notice": [format_eur(pre), "Subsidiary provider."],
        "payment_cancelled_notice": [format_eur(pre), "IBAN mistyped."],
        "recovery_order": [format_eur(pre), "The SME stopped trading.", order.reference],
        "repayment_receipt": [format_eur(Decimal("1000.00")), "SEPA-BACK-1", order.reference],
    }
    assert set(expected) == {str(k) for k in STEP_KINDS}

    seen: set[str] = set()
    everyone = (closed, declined, withdrawn, redressed, terminated, expired, excluded)
    for app_id in (*everyone, withheld, cancelled):
        reference = scenario.application(app_id).reference
        for doc in scenario.documents_of(app_id):
            seen.add(doc.kind)
            assert doc.status == DocumentStatus.READY, (doc.kind, doc.last_error)
            assert doc.storage_key and doc.rendered_at and doc.attempts == 1
            data = runtime.storage.read(doc.storage_key)
            assert data.startswith(b"%PDF-")
            assert sha256_hex(data) == doc.sha256 and len(data) == doc.size
            text = pdf_text(data)
            flat = squeeze(text)
            assert squeeze(TITLES[DocumentKind(doc.kind)]) in flat, doc.kind
            assert reference in text, doc.kind
            assert doc.id in flat, doc.kind  # every document carries its own id
            assert "FundedbytheEuropeanUnion" in flat, doc.kind
            for needle in expected[doc.kind]:
                assert squeeze(needle) in flat, (doc.kind, needle)
    assert seen == {str(k) for k in STEP_KINDS}

    # The balance order and its remittance carry the balance, the pre-financing ones theirs.
    orders = [d for d in scenario.documents_of(closed) if d.kind == "payment_order"]
    amounts = [d.snapshot["details"]["amount"] for d in orders]
    assert amounts == [format_eur(pre)] * 2 + [format_eur(balance)] * 2
    assert [d.snapshot["details"]["authorised_by"] for d in orders] == [
        "",
        scenario.people.finance[1].name,
        "",
        scenario.people.finance[1].name,
    ]


# -- the outbox ----------------------------------------------------------------------------------


def test_a_rolled_back_step_leaves_no_document_job(scenario: Scenario) -> None:
    app_id = scenario.draft()
    owner = scenario.owner(app_id)

    def submit_then_fail(s: Session) -> None:
        result = applications.submit(s, owner, app_id)
        assert result.document is not None  # the job existed inside the transaction
        raise RuntimeError("the request failed after the step")

    with pytest.raises(RuntimeError):
        scenario.run(submit_then_fail)
    assert scenario.documents_of(app_id) == []
    assert scenario.status(app_id) == AppState.DRAFT


def test_a_failed_render_stays_pending_and_the_next_drain_renders_it(
    scenario: Scenario,
    sessions: sessionmaker[Session],
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app_id, doc_id = submitted_draft(scenario)
    scenario.advance(app_id, AppState.ELIGIBLE)  # more jobs queued behind the receipt
    state = app_state(sessions, app_id)
    real_render = documents.render_pdf
    failures: list[str] = []

    def fail_once(kind: str, snapshot: dict[str, Any]) -> bytes:
        if snapshot["document"]["id"] == doc_id and not failures:
            failures.append(doc_id)
            raise OSError("disk full while rendering")
        return real_render(kind, snapshot)

    monkeypatch.setattr(documents, "render_pdf", fail_once)
    first = run_drain(runtime)
    assert failures == [doc_id] and first.failed == 1
    receipt = document(sessions, doc_id)
    assert receipt.status == DocumentStatus.PENDING
    assert receipt.attempts == 1
    assert receipt.last_error and "disk full while rendering" in receipt.last_error
    assert receipt.sha256 is None and receipt.storage_key is None
    # The others behind it were not held up, and the application never moved.
    assert all(
        d.status == DocumentStatus.READY for d in scenario.documents_of(app_id) if d.id != doc_id
    )
    assert app_state(sessions, app_id) == state

    second = run_drain(runtime)
    assert second.failed == 0 and second.rendered >= 1
    receipt = document(sessions, doc_id)
    assert receipt.status == DocumentStatus.READY
    assert (receipt.attempts, receipt.last_error) == (2, None)
    assert sha256_hex(runtime.storage.read(receipt.storage_key or "")) == receipt.sha256
    assert app_state(sessions, app_id) == state


def test_draining_again_changes_nothing(
    scenario: Scenario, sessions: sessionmaker[Session], runtime: Runtime
) -> None:
    app_id, _doc_id = submitted_draft(scenario)
    scenario.advance(app_id, AppState.ELIGIBLE)
    run_drain(runtime)
    before = [
        (d.id, d.status, d.sha256, d.rendered_at, d.attempts) for d in scenario.documents_of(app_id)
    ]
    files = {
        d.id: runtime.storage.path(d.storage_key or "").stat().st_mtime_ns
        for d in scenario.documents_of(app_id)
    }
    assert {status for _, status, *_ in before} == {DocumentStatus.READY}

    assert run_drain(runtime) == DrainResult(rendered=0, failed=0)
    after = [
        (d.id, d.status, d.sha256, d.rendered_at, d.attempts) for d in scenario.documents_of(app_id)
    ]
    assert after == before
    assert {
        d.id: runtime.storage.path(d.storage_key or "").stat().st_mtime_ns
        for d in scenario.documents_of(app_id)
    } == files


def test_a_job_that_keeps_failing_is_marked_failed_after_max_attempts(
    scenario: Scenario,
    sessions: sessionmaker[Session],
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app_id, doc_id = submitted_draft(scenario)
    state = app_state(sessions, app_id)
    real_render = documents.render_pdf

    def always_fail(kind: str, snapshot: dict[str, Any]) -> bytes:
        if snapshot["document"]["id"] == doc_id:
            raise ValueError("template bug")
        return real_render(kind, snapshot)

    monkeypatch.setattr(documents, "render_pdf", always_fail)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert run_drain(runtime).failed == 1
        receipt = document(sessions, doc_id)
        assert receipt.attempts == attempt
        assert "template bug" in (receipt.last_error or "")
        expected = DocumentStatus.FAILED if attempt == MAX_ATTEMPTS else DocumentStatus.PENDING
        assert receipt.status == expected
    # A failed job is left alone: no endless retries.
    assert run_drain(runtime) == DrainResult(rendered=0, failed=0)
    assert document(sessions, doc_id).attempts == MAX_ATTEMPTS
    assert app_state(sessions, app_id) == state
    with pytest.raises(LookupError):
        documents.read_pdf(runtime.storage, document(sessions, doc_id))


def test_a_tampered_file_is_not_served(
    scenario: Scenario, sessions: sessionmaker[Session], runtime: Runtime
) -> None:
    _app_id, doc_id = submitted_draft(scenario)
    with pytest.raises(LookupError, match="still being generated"):
        documents.read_pdf(runtime.storage, document(sessions, doc_id))
    run_drain(runtime)
    receipt = document(sessions, doc_id)
    data = documents.read_pdf(runtime.storage, receipt)
    path = runtime.storage.path(receipt.storage_key or "")
    try:
        path.write_bytes(data.replace(b"%%EOF", b"%%EOX", 1))
        with pytest.raises(LookupError, match="sha256"):
            documents.read_pdf(runtime.storage, receipt)
    finally:
        path.write_bytes(data)
    assert documents.read_pdf(runtime.storage, receipt) == data


def test_documents_are_rendered_from_the_snapshot_taken_at_their_step(
    scenario: Scenario, sessions: sessionmaker[Session], runtime: Runtime
) -> None:
    app_id, doc_id = submitted_draft(scenario)
    # The application moves on before the worker gets to the receipt.
    scenario.advance(app_id, AppState.SELECTED)
    run_drain(runtime)
    receipt = document(sessions, doc_id)
    assert receipt.snapshot["application"]["status"] == AppState.SUBMITTED
    text = pdf_text(runtime.storage.read(receipt.storage_key or ""))
    with sessions() as session:
        content_sha = session.scalar(
            select(Application.content_sha256).where(Application.id == app_id)
        )
    assert content_sha and content_sha in squeeze(text)


# -- batches, leases, render processes ---------------------------------------------------------


@pytest.fixture
def receipts(sessions: sessionmaker[Session]) -> Iterator[list[str]]:
    """Six submission receipts, pending, in the order a drain claims them."""
    with pending_documents_discarded(sessions):
        many = Scenario(sessions, smes=6)
        ids = []
        for sme in range(6):
            app_id = many.draft(sme)
            many.submit(app_id)
            (receipt,) = many.documents_of(app_id)
            ids.append(receipt.id)
        yield ids
        many.retire_finance()


def rows(sessions: sessionmaker[Session], ids: list[str]) -> list[Document]:
    with sessions() as session:
        found = {d.id: d for d in session.scalars(select(Document).where(Document.id.in_(ids)))}
    return [found[i] for i in ids]


def test_two_concurrent_drains_render_every_job_exactly_once(
    receipts: list[str],
    sessions: sessionmaker[Session],
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two drains at once (two workers): each job is claimed by one of them, rendered once.

    Each drain's first render waits until the other drain is rendering too, so both hold
    claimed jobs at the same moment. On PostgreSQL the drains exclude each other with row
    locks and advisory-lock leases; on SQLite with the process's lease set.
    """
    real_render = documents.render_pdf
    calls: Counter[str] = Counter()
    both_rendering = threading.Barrier(2, timeout=60)
    started = threading.local()

    def render_counting(kind: str, snapshot: dict[str, Any]) -> bytes:
        calls[snapshot["document"]["id"]] += 1
        if not getattr(started, "rendering", False):
            started.rendering = True
            both_rendering.wait()
        return real_render(kind, snapshot)

    monkeypatch.setattr(documents, "render_pdf", render_counting)
    with ThreadPoolExecutor(2) as threads:
        results = [
            future.result() for future in [threads.submit(run_drain, runtime) for _ in range(2)]
        ]

    assert all(result.rendered >= 1 and result.failed == 0 for result in results), results
    assert sum(result.rendered for result in results) == len(receipts)
    assert calls == Counter({doc_id: 1 for doc_id in receipts})
    for row in rows(sessions, receipts):
        assert (row.status, row.attempts, row.last_error) == (DocumentStatus.READY, 1, None)
        assert sha256_hex(runtime.storage.read(row.storage_key or "")) == row.sha256


def test_a_failing_job_inside_a_batch_does_not_stop_the_others_and_is_retried(
    receipts: list[str],
    sessions: sessionmaker[Session],
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failing = receipts[1]
    real_claim = documents._claim
    batches: list[list[str]] = []

    def recording_claim(*args: Any, **kwargs: Any) -> Any:
        claim = real_claim(*args, **kwargs)
        if claim.jobs:
            batches.append([job.id for job in claim.jobs])
        return claim

    def fail_one(kind: str, snapshot: dict[str, Any]) -> bytes:
        if snapshot["document"]["id"] == failing:
            raise OSError("font cache unreadable")
        return render_pdf(kind, snapshot)

    monkeypatch.setattr(documents, "_claim", recording_claim)
    monkeypatch.setattr(documents, "render_pdf", fail_one)
    first = run_drain(runtime)
    assert first == DrainResult(rendered=len(receipts) - 1, failed=1)
    # The failing job shared its claim with others, and they were rendered after it.
    assert batches[0] == receipts[: documents.BATCH_SIZE]
    assert failing in batches[0] and len(batches[0]) > 2
    by_id = {row.id: row for row in rows(sessions, receipts)}
    assert by_id[failing].status == DocumentStatus.PENDING
    assert by_id[failing].attempts == 1
    assert "font cache unreadable" in (by_id[failing].last_error or "")
    assert all(
        row.status == DocumentStatus.READY and row.attempts == 1
        for doc_id, row in by_id.items()
        if doc_id != failing
    )

    monkeypatch.setattr(documents, "render_pdf", render_pdf)
    assert run_drain(runtime) == DrainResult(rendered=1, failed=0)
    (retried,) = rows(sessions, [failing])
    assert (retried.status, retried.attempts, retried.last_error) == (DocumentStatus.READY, 2, None)


class WorkerKilled(BaseException):
    """What the drain sees when its process is told to stop in the middle of a render."""


def test_a_drain_stopped_mid_batch_leaves_its_jobs_claimable(
    receipts: list[str],
    sessions: sessionmaker[Session],
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def killed(kind: str, snapshot: dict[str, Any]) -> bytes:
        raise WorkerKilled

    monkeypatch.setattr(documents, "render_pdf", killed)
    with pytest.raises(WorkerKilled):
        run_drain(runtime)
    # The job under way counted an attempt; the rest of its batch was given back untouched.
    attempts = [row.attempts for row in rows(sessions, receipts)]
    assert attempts == [1] + [0] * (len(receipts) - 1)
    assert {row.status for row in rows(sessions, receipts)} == {DocumentStatus.PENDING}

    monkeypatch.setattr(documents, "render_pdf", render_pdf)
    assert run_drain(runtime) == DrainResult(rendered=len(receipts), failed=0)
    assert [row.attempts for row in rows(sessions, receipts)] == [a + 1 for a in attempts]


def test_a_job_whose_attempts_all_ended_without_result_is_given_up(
    receipts: list[str], sessions: sessionmaker[Session], runtime: Runtime
) -> None:
    # Five claims, no result recorded: each render took its worker down with it.
    crashing = receipts[0]
    with unit_of_work(sessions) as session:
        session.execute(
            update(Document).where(Document.id == crashing).values(attempts=MAX_ATTEMPTS)
        )
    assert run_drain(runtime) == DrainResult(rendered=len(receipts) - 1, failed=1)
    (given_up,) = rows(sessions, [crashing])
    assert given_up.status == DocumentStatus.FAILED and given_up.attempts == MAX_ATTEMPTS
    assert "ended without a result" in (given_up.last_error or "")
    assert given_up.sha256 is None


def test_the_worker_renders_with_a_pool_of_processes(
    app: Flask, receipts: list[str], sessions: sessionmaker[Session], runtime: Runtime
) -> None:
    """`cascade worker --once --processes 2`: spawned render processes, same bytes."""
    result = app.test_cli_runner().invoke(args=["worker", "--once", "--processes", "2"])
    assert result.exit_code == 0, result.output
    assert f"rendered {len(receipts)}, failed 0" in result.output
    for row in rows(sessions, receipts):
        assert (row.status, row.attempts, row.last_error) == (DocumentStatus.READY, 1, None)
        data = runtime.storage.read(row.storage_key or "")
        assert sha256_hex(data) == row.sha256 and len(data) == row.size
        # A render process gives the very bytes this process gives for the snapshot.
        assert data == render_pdf(row.kind, row.snapshot)


def test_a_job_failing_in_a_render_process_is_recorded_and_the_others_rendered(
    receipts: list[str], sessions: sessionmaker[Session], runtime: Runtime
) -> None:
    broken = receipts[2]
    with unit_of_work(sessions) as session:
        document = session.get(Document, broken)
        assert document is not None
        document.snapshot = {
            **document.snapshot,
            "application": {**document.snapshot["application"], "reference": ""},
        }
    with RenderPool(2) as pool:
        result = drain(runtime.sessions, runtime.storage, pool=pool)
    assert result == DrainResult(rendered=len(receipts) - 1, failed=1)
    by_id = {row.id: row for row in rows(sessions, receipts)}
    failed = by_id.pop(broken)
    assert (failed.status, failed.attempts) == (DocumentStatus.PENDING, 1)
    # The render process's own traceback comes back as the job's error.
    assert "SnapshotError" in (failed.last_error or "")
    assert "application.reference" in (failed.last_error or "")
    assert {row.status for row in by_id.values()} == {DocumentStatus.READY}


def render_or_die(kind: str, snapshot: dict[str, Any]) -> tuple[bytes | None, str | None]:
    """A render process's task that dies on a marked snapshot, as on a crash in Pango."""
    if snapshot["details"].get("die_while_rendering"):
        os._exit(70)
    return render_outcome(kind, snapshot)


def test_a_render_process_that_dies_fails_only_its_own_job(
    receipts: list[str], sessions: sessionmaker[Session], runtime: Runtime
) -> None:
    doomed = receipts[1]
    with unit_of_work(sessions) as session:
        document = session.get(Document, doomed)
        assert document is not None
        details = {**document.snapshot["details"], "die_while_rendering": True}
        document.snapshot = {**document.snapshot, "details": details}
    with RenderPool(2, task=render_or_die) as pool:
        result = drain(runtime.sessions, runtime.storage, pool=pool)
    # The jobs in flight with it died with its process; rendered again one at a time, only
    # the doomed one failed, and the others' single claim counted a single attempt.
    assert result == DrainResult(rendered=len(receipts) - 1, failed=1)
    by_id = {row.id: row for row in rows(sessions, receipts)}
    died = by_id.pop(doomed)
    assert (died.status, died.attempts, died.last_error) == (
        DocumentStatus.PENDING,
        1,
        PROCESS_DIED,
    )
    assert {(row.status, row.attempts) for row in by_id.values()} == {(DocumentStatus.READY, 1)}
