"""The whole voucher lifecycle through the services, with its audit trail and documents."""

from __future__ import annotations

from collections.abc import Callable

import pypdf
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from documents.storage import sha256_hex
from grants.models import AuditEvent, Document, DocumentStatus
from grants.runtime import Runtime
from grants.services.audit import verify_chain
from grants.services.documents import DrainResult
from tests.scenario import Scenario
from workflows.voucher import AppState


def test_an_application_walks_from_draft_to_closed(
    scenario: Scenario,
    sessions: sessionmaker[Session],
    render_documents: Callable[[], DrainResult],
    runtime: Runtime,
) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.CLOSED)

    assert scenario.status(app_id) == AppState.CLOSED
    with sessions() as session:
        actions = session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.application_id == app_id)
            .order_by(AuditEvent.id)
        ).all()
        steps = [
            a
            for a in actions
            if a
            not in {
                "create_draft",
                "save_draft",
                "assign_evaluator",
                "declare_no_conflict",
                "submit_scores",
            }
        ]
        assert steps == [
            "submit",
            "check_eligibility",
            "assign_evaluators",
            "close_evaluation",
            "rank",
            "offer",
            "accept",
            # The bank details given with the acceptance, their confirmation, verified.
            "bank_details_entered",
            "bank_confirmation_added",
            "bank_details_verified",
            "submit_report",
            "approve_report",
            "prepare_payment",
            "authorise_payment",
            "authorise",
            "mark_paid",
            "mark_paid",
            "close",
        ]
        assert verify_chain(session).ok

    result = render_documents()
    assert result.failed == 0
    reference = scenario.application(app_id).reference
    with sessions() as session:
        docs = session.scalars(
            select(Document).where(Document.application_id == app_id).order_by(Document.created_at)
        ).all()
        assert [d.kind for d in docs] == [
            "submission_receipt",
            "eligibility_decision",
            "evaluation_assignment",
            "evaluation_summary_report",
            "result_letter",
            "voucher_agreement",
            "signed_acceptance",
            "report_acknowledgement",
            "report_review_decision",
            "payment_order",
            "payment_order",
            "remittance_advice",
            "closure_certificate",
        ]
        for doc in docs:
            assert doc.status == DocumentStatus.READY
            assert doc.storage_key is not None
            data = runtime.storage.read(doc.storage_key)
            assert sha256_hex(data) == doc.sha256 and len(data) == doc.size
            text = "".join(
                page.extract_text()
                for page in pypdf.PdfReader(__import__("io").BytesIO(data)).pages
            )
            assert reference in text
