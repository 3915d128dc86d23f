"""documents/: every kind renders to a readable PDF/A; storage is atomic and confined."""

from __future__ import annotations

import copy
import hashlib
import io
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pypdf
import pytest

from documents import render
from documents.kinds import STEP_KINDS, TITLES, DocumentKind
from documents.render import (
    STYLESHEET,
    SnapshotError,
    _DataOnlyURLFetcher,
    render_html,
    render_outcome,
    render_pdf,
)
from documents.storage import DocumentStorage, sha256_hex

DOCUMENT_ID = "6f1c1f0e-2b7a-4a57-9a51-3c1f7e0b2d11"
APPLICATION_REFERENCE = "LEV-UPS-2026-0042"
EU_STATEMENT = "Funded by the European Union"
DISCLAIMER = (
    "Funded by the European Union. Views and opinions expressed are however those of the "
    "author(s) only and do not necessarily reflect those of the European Union or the European "
    "Innovation Council and SMEs Executive Agency (EISMEA). Neither the European Union nor the "
    "granting authority can be held responsible for them."
)

# Each kind's details, with amounts distinct from those in the common sections so that the
# test proves the kind-specific amount is printed, not a lookalike from elsewhere.
DETAILS: dict[DocumentKind, dict[str, Any]] = {
    DocumentKind.SUBMISSION_RECEIPT: {
        "submitted_at": "2026-11-20 14:02 CET",
        "content_sha256": hashlib.sha256(b"submitted content").hexdigest(),
        "answers": [
            {"label": "Training need", "value": "Composite repair of hulls.\nTwo technicians."},
            {"label": "Provider", "value": "Accredited training centre <Genova> & partners"},
        ],
    },
    DocumentKind.WITHDRAWAL_CONFIRMATION: {"reason": "The company was acquired."},
    DocumentKind.ELIGIBILITY_DECISION: {
        "outcome": "ineligible",
        "checks": [
            {"name": "SME status", "passed": True, "evidence": "48 staff, turnover EUR 6M"},
            {"name": "Registered 6 months before deadline", "passed": False, "evidence": ""},
        ],
        "reasons": "The company was registered on 2026-09-01, after the cut-off date.",
    },
    DocumentKind.REDRESS_DECISION: {
        "request": "The registration date was misread.",
        "decision": "Upheld: the application returns to the submitted state.",
    },
    DocumentKind.EVALUATION_ASSIGNMENT: {"evaluator_count": 2, "deadline": "2027-01-15"},
    DocumentKind.EVALUATION_SUMMARY_REPORT: {
        "criteria": [
            {"name": "Excellence", "score": 4.5, "max": 5, "threshold": 3, "comment": "Clear."},
            {"name": "Impact", "score": 4, "max": 5, "threshold": 3, "comment": "Credible."},
            {"name": "Implementation", "score": 3.5, "max": 5, "threshold": 3, "comment": "OK."},
        ],
        "total": 12,
        "max_total": 15,
        "threshold_total": 10,
        "passed": True,
        "divergence_flags": ["Impact: experts differed by 2 points"],
    },
    DocumentKind.RESULT_LETTER: {
        "outcome": "selected",
        "rank": 3,
        "reserve_position": "",
        "total": 42,
        "amount": "EUR 7,900.00",
        "reasons": "Ranked above the funding line.",
    },
    DocumentKind.VOUCHER_AGREEMENT: {
        "amount": "EUR 7,800.00",
        "funding_rate": "100%",
        "schedule": [
            {
                "label": "Pre-financing",
                "percent": 50,
                "amount": "EUR 3,900.00",
                "condition": "At signature",
            },
            {
                "label": "Balance",
                "percent": "50%",
                "amount": "EUR 3,900.00",
                "condition": "After approval of the final report",
            },
        ],
        "obligations": ["Display the EU emblem and funding statement.", "Keep records."],
        "beneficiary": "Distretto Ligure delle Tecnologie Marine",
        "signatory": "Marco Bianchi",
    },
    DocumentKind.SIGNED_ACCEPTANCE: {
        "signed_by": "Anna Rossi",
        "signed_at": "2027-02-01 09:30 CET",
        "iban_masked": "IT60 **** **** **** **** **** 123",
        "account_holder": "Cantiere Navale Ligure S.r.l.",
        "amount": "EUR 7,700.00",
    },
    DocumentKind.DECLINE_CONFIRMATION: {"reason": "Capacity no longer available."},
    DocumentKind.REPORT_ACKNOWLEDGEMENT: {
        "claimed_costs": "EUR 7,650.00",
        "summary": "Two technicians trained, certificates attached.",
        "submitted_at": "2027-06-30 16:00 CEST",
    },
    DocumentKind.REPORT_REVIEW_DECISION: {
        "outcome": "approved",
        "approved_costs": "EUR 7,550.00",
        "comments": "One invoice outside the eligibility period was excluded.",
    },
    DocumentKind.PAYMENT_ORDER: {
        "instalment": "balance",
        "amount": "EUR 3,650.00",
        "payee": "Cantiere Navale Ligure S.r.l.",
        "iban_masked": "IT60 **** **** **** **** **** 123",
        "prepared_by": "Paolo Verdi",
        "authorised_by": "",
        "status": "prepared",
    },
    DocumentKind.REMITTANCE_ADVICE: {
        "instalment": "pre-financing",
        "amount": "EUR 3,850.00",
        "paid_at": "2027-02-10",
        "payee": "Cantiere Navale Ligure S.r.l.",
        "iban_masked": "IT60 **** **** **** **** **** 123",
        "payment_reference": "LEV-PAY-2027-0007",
    },
    DocumentKind.CLOSURE_CERTIFICATE: {
        "total_paid": "EUR 7,450.00",
        "closed_at": "2027-08-01",
        "retention_until": "2030-08-01",
    },
    DocumentKind.TERMINATION_NOTICE: {
        "reason": "The training did not take place.",
        "total_paid": "EUR 3,900.00",
        "approved_costs": "EUR 2,550.00",
        "recovery_amount": "EUR 1,350.00",
    },
    DocumentKind.PAYMENT_WITHHELD_NOTICE: {
        "instalment": "pre-financing",
        "amount": "EUR 3,750.00",
        "payee": "Cantiere Navale Ligure S.r.l.",
        "iban_masked": "IT60 **** **** **** **** **** 123",
        "reason": "The training provider is the SME's own subsidiary.",
    },
    DocumentKind.PAYMENT_CANCELLED_NOTICE: {
        "instalment": "balance",
        "amount": "EUR 3,350.00",
        "payee": "Cantiere Navale Ligure S.r.l.",
        "iban_masked": "IT60 **** **** **** **** **** 123",
        "reason": "The bank details changed.",
    },
    DocumentKind.RECOVERY_ORDER: {
        "reference": "LEV-2026-0007-REC-1",
        "amount": "EUR 1,250.00",
        "total_paid": "EUR 3,900.00",
        "approved_costs": "",
        "due_on": "2027-09-30",
        "reason": "The activity was abandoned.",
        "account_holder": "LEVIATAD Eurocluster",
        "account_iban": "BE71 0961 2345 6769",
        "account_bic": "GKCCBEBB",
    },
    DocumentKind.REPAYMENT_RECEIPT: {
        "reference": "LEV-2026-0007-REC-1",
        "amount": "EUR 1,150.00",
        "received_on": "2027-09-15",
        "bank_reference": "SEPA-BACK-1",
        "order_amount": "EUR 1,250.00",
        "repaid_total": "EUR 1,150.00",
        "outstanding": "EUR 100.00",
        "due_on": "2027-09-30",
        "settled": False,
    },
}

# The amount a reader looks for first in each kind; kinds without one are absent.
MAIN_AMOUNT: dict[DocumentKind, str] = {
    DocumentKind.SUBMISSION_RECEIPT: "EUR 8,000.00",  # application.requested_amount
    DocumentKind.RESULT_LETTER: "EUR 7,900.00",
    DocumentKind.VOUCHER_AGREEMENT: "EUR 7,800.00",
    DocumentKind.SIGNED_ACCEPTANCE: "EUR 7,700.00",
    DocumentKind.REPORT_ACKNOWLEDGEMENT: "EUR 7,650.00",
    DocumentKind.REPORT_REVIEW_DECISION: "EUR 7,550.00",
    DocumentKind.PAYMENT_ORDER: "EUR 3,650.00",
    DocumentKind.REMITTANCE_ADVICE: "EUR 3,850.00",
    DocumentKind.CLOSURE_CERTIFICATE: "EUR 7,450.00",
    DocumentKind.TERMINATION_NOTICE: "EUR 1,350.00",
    DocumentKind.PAYMENT_WITHHELD_NOTICE: "EUR 3,750.00",
    DocumentKind.PAYMENT_CANCELLED_NOTICE: "EUR 3,350.00",
    DocumentKind.RECOVERY_ORDER: "EUR 1,250.00",
    DocumentKind.REPAYMENT_RECEIPT: "EUR 1,150.00",
}


def make_snapshot(kind: DocumentKind, **details: Any) -> dict[str, Any]:
    """A snapshot as grants/ builds it; keyword arguments override the kind's details."""
    return {
        "document": {
            "id": DOCUMENT_ID,
            "kind": kind.value,
            "title": TITLES[kind],
            "generated_at": "2026-11-26 10:15 UTC",
        },
        "programme": {
            "name": "LEVIATAD Eurocluster",
            "funding_statement": EU_STATEMENT,
            "disclaimer": DISCLAIMER,
        },
        "call": {
            "reference": "LEV-UPS-2026",
            "title": "Up-skilling voucher for strategic technologies",
            "timezone": "Europe/Brussels",
            "deadline": "2026-12-15 17:00 CET",
            "max_per_voucher": "EUR 10,000.00",
            "funding_rate": "100%",
        },
        "application": {
            "reference": APPLICATION_REFERENCE,
            "title": "Composite hull repair training for naval SMEs",
            "status": "submitted",
            "requested_amount": "EUR 8,000.00",
            "awarded_amount": "EUR 7,500.00",
            "submitted_at": "2026-11-20 14:02 CET",
        },
        "organisation": {
            "legal_name": "Cantiere Navale Ligure S.r.l.",
            "country": "Italy",
            "registration_number": "GE-123456",
            "address": "Via del Porto 12\n16126 Genova",
        },
        "event": {
            "seq": 17,
            "action": "submit",
            "actor": "Anna Rossi",
            "role": "applicant",
            "at": "2026-11-20 13:02 UTC",
        },
        "details": {**copy.deepcopy(DETAILS.get(kind, {})), **details},
    }


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def weasyprint_log() -> Iterator[list[logging.LogRecord]]:
    # WeasyPrint reports unsupported CSS and failed fetches through logging, not warnings,
    # so collect them to catch a template silently losing its layout.
    handler = _Collect()
    logger = logging.getLogger("weasyprint")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


@pytest.fixture(scope="module")
def rendered(weasyprint_log: list[logging.LogRecord]) -> dict[DocumentKind, bytes]:
    # Rendering takes ~0.1 s per document; do each kind once for the whole module.
    return {kind: render_pdf(kind, make_snapshot(kind)) for kind in STEP_KINDS}


def test_kinds_have_titles_and_templates() -> None:
    assert set(TITLES) == set(DocumentKind)
    templates = Path(__file__).resolve().parents[2] / "documents" / "templates"
    for kind in DocumentKind:
        assert (templates / f"{kind.value}.html").is_file(), kind


@pytest.mark.parametrize("kind", sorted(STEP_KINDS), ids=str)
def test_every_kind_renders_a_readable_pdf(
    kind: DocumentKind, rendered: dict[DocumentKind, bytes]
) -> None:
    data = rendered[kind]
    assert data.startswith(b"%PDF")
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert reader.metadata is not None
    assert reader.metadata.title == f"{TITLES[kind]} {APPLICATION_REFERENCE}"
    text = pdf_text(data)
    assert APPLICATION_REFERENCE in text
    assert DOCUMENT_ID in text
    assert EU_STATEMENT in text
    assert "LEV-UPS-2026" in text
    assert TITLES[kind] in text
    assert "Generated 2026-11-26 10:15 UTC" in text
    assert f"page 1 of {len(reader.pages)}" in text
    if kind in MAIN_AMOUNT:
        assert MAIN_AMOUNT[kind] in text


@pytest.mark.parametrize("kind", sorted(STEP_KINDS), ids=str)
def test_every_page_carries_header_and_footer(
    kind: DocumentKind, rendered: dict[DocumentKind, bytes]
) -> None:
    reader = pypdf.PdfReader(io.BytesIO(rendered[kind]))
    pages = len(reader.pages)
    for number, page in enumerate(reader.pages, start=1):
        text = page.extract_text()
        assert EU_STATEMENT in text
        assert DOCUMENT_ID in text
        assert APPLICATION_REFERENCE in text
        assert f"page {number} of {pages}" in text
        # The disclaimer may wrap across lines in the footer; its end is on one line.
        assert "held responsible for them." in text


def test_pdf_declares_pdf_a_3b(rendered: dict[DocumentKind, bytes]) -> None:
    reader = pypdf.PdfReader(io.BytesIO(rendered[DocumentKind.SUBMISSION_RECEIPT]))
    root = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data()
    assert b'pdfaid:part="3"' in xmp
    assert b'pdfaid:conformance="B"' in xmp
    assert "/OutputIntents" in root


def test_rendering_logs_no_weasyprint_warnings(
    rendered: dict[DocumentKind, bytes], weasyprint_log: list[logging.LogRecord]
) -> None:
    assert [record.getMessage() for record in weasyprint_log] == []


def test_rerendering_a_snapshot_gives_identical_bytes(
    rendered: dict[DocumentKind, bytes],
) -> None:
    # Document jobs are re-run after crashes; the same snapshot must give the same file
    # (and so the same sha256) for that to be harmless.
    kind = DocumentKind.REMITTANCE_ADVICE
    assert render_pdf(kind, make_snapshot(kind)) == rendered[kind]


def test_reused_stylesheet_and_fonts_keep_the_bytes_identical(
    rendered: dict[DocumentKind, bytes],
) -> None:
    """The parsed stylesheet and the FontConfiguration serve every render of a thread: the
    module fixture rendered every kind with them; a kind rendered again after all the others,
    and once more in a new thread (fresh ones, as in a new worker process), gives the same
    bytes."""
    kind = DocumentKind.SUBMISSION_RECEIPT
    font_config, stylesheets = render._shared().font_config, render._shared().stylesheets
    assert render_pdf(kind, make_snapshot(kind)) == rendered[kind]
    assert render._shared().font_config is font_config
    assert render._shared().stylesheets is stylesheets

    fresh: dict[str, Any] = {}

    def in_a_new_thread() -> None:
        fresh["pdf"] = render_pdf(kind, make_snapshot(kind))
        fresh["font_config"] = render._shared().font_config

    thread = threading.Thread(target=in_a_new_thread)
    thread.start()
    thread.join()
    assert fresh["font_config"] is not font_config
    assert fresh["pdf"] == rendered[kind]


def test_the_html_carries_the_stylesheet_the_pdf_is_printed_with() -> None:
    # render_pdf passes the stylesheet parsed; the HTML alone (previews) inlines it.
    kind = DocumentKind.PAYMENT_ORDER
    html = render_html(kind, make_snapshot(kind))
    assert html.count("<style>") == 1
    assert STYLESHEET.read_text(encoding="utf-8") in html
    assert "<style>" not in render._html(kind, make_snapshot(kind), inline_stylesheet=False)


def test_render_outcome_gives_bytes_or_the_error_as_text() -> None:
    # What a render process sends back to its worker: nothing that could fail to unpickle.
    kind = DocumentKind.REMITTANCE_ADVICE
    pdf, error = render_outcome(kind, make_snapshot(kind))
    assert error is None and pdf is not None and pdf.startswith(b"%PDF")
    snapshot = make_snapshot(kind)
    del snapshot["call"]["reference"]
    pdf, error = render_outcome(kind, snapshot)
    assert pdf is None
    assert error is not None and "SnapshotError" in error and "call.reference" in error


def test_submission_receipt_shows_hash_and_answers(rendered: dict[DocumentKind, bytes]) -> None:
    text = pdf_text(rendered[DocumentKind.SUBMISSION_RECEIPT])
    assert hashlib.sha256(b"submitted content").hexdigest() in text
    assert "Training need" in text
    assert "Accredited training centre <Genova> & partners" in text


def test_snapshot_text_is_escaped() -> None:
    kind = DocumentKind.WITHDRAWAL_CONFIRMATION
    html = render_html(kind, make_snapshot(kind, reason='<img src="http://evil.test/x">'))
    assert '<img src="http://evil.test/x">' not in html
    assert "&lt;img" in html


@pytest.mark.parametrize("kind", sorted(STEP_KINDS), ids=str)
def test_missing_optional_keys_render_as_empty(kind: DocumentKind) -> None:
    snapshot = make_snapshot(kind)
    snapshot["details"] = {}
    del snapshot["organisation"]
    del snapshot["event"]
    snapshot["application"]["awarded_amount"] = None  # a JSON null must not print "None"
    html = render_html(kind, snapshot)
    assert APPLICATION_REFERENCE in html
    assert "None" not in html
    assert "Undefined" not in html


def test_pdf_with_missing_optional_detail_keys() -> None:
    kind = DocumentKind.VOUCHER_AGREEMENT
    snapshot = make_snapshot(kind)
    del snapshot["details"]["schedule"]
    del snapshot["details"]["amount"]
    snapshot["details"]["signatory"] = None
    text = pdf_text(render_pdf(kind, snapshot))
    assert APPLICATION_REFERENCE in text
    assert "No schedule recorded." in text


def test_required_fields_are_enforced() -> None:
    kind = DocumentKind.SUBMISSION_RECEIPT
    snapshot = make_snapshot(kind)
    del snapshot["application"]["reference"]
    snapshot["programme"]["disclaimer"] = "  "
    with pytest.raises(SnapshotError) as refused:
        render_html(kind, snapshot)
    assert "application.reference" in str(refused.value)
    assert "programme.disclaimer" in str(refused.value)


def test_unknown_or_mismatched_kind_is_refused() -> None:
    snapshot = make_snapshot(DocumentKind.SUBMISSION_RECEIPT)
    with pytest.raises(SnapshotError, match="unknown document kind"):
        render_html("../base", snapshot)
    with pytest.raises(SnapshotError, match="snapshot is for"):
        render_html(DocumentKind.PAYMENT_ORDER, snapshot)


def test_url_fetcher_allows_only_data_uris() -> None:
    fetcher = _DataOnlyURLFetcher()
    for url in ("file:///etc/hostname", "http://example.com/x.png", "https://example.com/"):
        with pytest.raises(ValueError, match="data: URIs"):
            fetcher.fetch(url)
    response = fetcher.fetch("data:text/plain;base64,aGk=")
    try:
        assert response.read() == b"hi"
    finally:
        response.close()


def test_storage_round_trip(tmp_path: Path) -> None:
    storage = DocumentStorage(tmp_path / "documents")
    data = b"%PDF-1.7 fake"
    key = "2026/LEV-UPS-2026-0042/receipt.pdf"
    assert not storage.exists(key)
    digest = storage.put(key, data)
    assert digest == hashlib.sha256(data).hexdigest() == sha256_hex(data)
    assert storage.exists(key)
    assert storage.read(key) == data
    assert storage.path(key) == (tmp_path / "documents" / key).resolve()
    # Re-running a job replaces the file; no temporary file is left behind.
    assert storage.put(key, b"second") == sha256_hex(b"second")
    assert storage.read(key) == b"second"
    assert sorted(p.name for p in storage.path(key).parent.iterdir()) == ["receipt.pdf"]


@pytest.mark.parametrize(
    "key",
    ["../outside.pdf", "a/../../outside.pdf", "a/..", "/etc/passwd", "", "a//b", "./a", "a\\b"],
)
def test_storage_refuses_keys_outside_the_root(tmp_path: Path, key: str) -> None:
    storage = DocumentStorage(tmp_path)
    with pytest.raises(ValueError):
        storage.path(key)
    with pytest.raises(ValueError):
        storage.put(key, b"x")


def test_storage_refuses_symlink_escape(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(ValueError):
        DocumentStorage(root).path("link/secret.pdf")


def call_guide_snapshot() -> dict[str, Any]:
    snapshot = make_snapshot(DocumentKind.CALL_GUIDE)
    snapshot["application"] = {}
    snapshot["organisation"] = {}
    snapshot["details"] = {
        "purpose": "Vouchers to train staff in strategic technologies.",
        "deadline": "2026-12-15 17:00 CET",
        "deadline_utc": "2026-12-15 16:00 UTC",
        "budget": "EUR 80,000.00",
        "eligible_countries": ["Italy", "France"],
        "criteria": [{"name": "Excellence", "max": "5", "threshold": "3"}],
        "max_total": "15",
        "threshold_total": "10",
        "evaluators": 2,
        "form_fields": [{"label": "Project summary", "required": True, "help": "300 words"}],
    }
    return snapshot


def test_the_call_guide_needs_no_application() -> None:
    data = render_pdf(DocumentKind.CALL_GUIDE, call_guide_snapshot())
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert reader.metadata is not None
    assert reader.metadata.title == "Guide for applicants LEV-UPS-2026"
    text = pdf_text(data)
    for expected in ("Excellence", "Project summary", "Italy, France", "EUR 80,000.00"):
        assert expected in text
    assert "Application" not in text.split("Guide for applicants")[1][:200]


def test_a_step_document_still_requires_its_application() -> None:
    snapshot = make_snapshot(DocumentKind.RESULT_LETTER)
    snapshot["application"] = {}
    with pytest.raises(SnapshotError, match=r"application\.reference"):
        render_pdf(DocumentKind.RESULT_LETTER, snapshot)
