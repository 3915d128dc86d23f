"""PDF documents: written as outbox jobs in the step's transaction, rendered after commit."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pypdf
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from documents.kinds import STEP_KINDS, TITLES, DocumentKind
from documents.storage import sha256_hex
from grants.models import Application, Document, DocumentStatus
from grants.runtime import Runtime
from grants.services import applications, awards, documents, eligibility, payments
from grants.services.documents import MAX_ATTEMPTS, DrainResult, drain
from tests.scenario import Scenario
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
    scenario = Scenario(sessions, smes=5)
    officer = scenario.people.officer
    closed, declined, withdrawn, redressed, terminated = [scenario.draft(i) for i in range(5)]

    scenario.advance(closed, AppState.CONTRACTED)
    scenario.prefinancing(closed)
    scenario.advance(closed, AppState.CLOSED)

    scenario.advance(declined, AppState.OFFERED)
    owner = scenario.owner(declined)
    scenario.run(lambda s: awards.decline(s, owner, declined, reason="No trainer this year."))

    owner = scenario.owner(withdrawn)
    scenario.run(
        lambda s: applications.withdraw(s, owner, withdrawn, reason="Applying next cut-off.")
    )

    scenario.submit(redressed)
    scenario.check_eligibility(redressed, passed=False)
    scenario.run(
        lambda s: eligibility.uphold_redress(
            s, officer, redressed, request="Please look again.", decision="Upheld on appeal."
        )
    )

    scenario.advance(terminated, AppState.CONTRACTED)
    scenario.prefinancing(terminated)
    scenario.run(
        lambda s: payments.terminate(s, officer, terminated, reason="The SME stopped trading.")
    )

    result = run_drain(runtime)
    assert result.failed == 0

    pre = AWARD * Decimal(50) / Decimal(100)  # pre-financing at signature
    balance = AWARD - pre  # approved 8,000.00 at 100%, capped by the award, minus paid
    # Strings each kind must print besides its title and the application reference.
    expected: dict[str, list[str]] = {
        "submission_receipt": [format_eur(AWARD)],
        "withdrawal_confirmation": ["Applying next cut-off."],
        "eligibility_decision": ["checked in the register"],
        "redress_decision": ["Upheld on appeal."],
        "evaluation_assignment": [],
        "evaluation_summary_report": ["consensus"],
        "result_letter": [format_eur(AWARD)],
        "voucher_agreement": [format_eur(AWARD), format_eur(pre), format_eur(balance)],
        "signed_acceptance": [format_eur(AWARD)],
        "decline_confirmation": [format_eur(AWARD), "No trainer this year."],
        "report_acknowledgement": [format_eur(Decimal("8200.00"))],
        "report_review_decision": [format_eur(AWARD)],
        "payment_order": [format_eur(pre)],
        "remittance_advice": [format_eur(pre)],
        "closure_certificate": [format_eur(pre + balance)],
        "termination_notice": [format_eur(pre), "The SME stopped trading."],
    }
    assert set(expected) == {str(k) for k in STEP_KINDS}

    seen: set[str] = set()
    for app_id in (closed, declined, withdrawn, redressed, terminated):
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
