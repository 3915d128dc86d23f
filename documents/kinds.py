"""The kinds of document the voucher workflow produces, one per documented step."""

from __future__ import annotations

from enum import StrEnum


class DocumentKind(StrEnum):
    # The values double as template names (documents/templates/<value>.html) and are
    # stored in the `documents` table, so renaming one is a data migration.
    SUBMISSION_RECEIPT = "submission_receipt"
    WITHDRAWAL_CONFIRMATION = "withdrawal_confirmation"
    ELIGIBILITY_DECISION = "eligibility_decision"
    REDRESS_ACKNOWLEDGEMENT = "redress_acknowledgement"
    REDRESS_DECISION = "redress_decision"
    EVALUATION_ASSIGNMENT = "evaluation_assignment"
    EVALUATION_SUMMARY_REPORT = "evaluation_summary_report"
    RESULT_LETTER = "result_letter"
    VOUCHER_AGREEMENT = "voucher_agreement"
    SIGNED_ACCEPTANCE = "signed_acceptance"
    DECLINE_CONFIRMATION = "decline_confirmation"
    EXCLUSION_NOTICE = "exclusion_notice"
    REPORT_ACKNOWLEDGEMENT = "report_acknowledgement"
    REPORT_REVIEW_DECISION = "report_review_decision"
    PAYMENT_ORDER = "payment_order"
    REMITTANCE_ADVICE = "remittance_advice"
    CLOSURE_CERTIFICATE = "closure_certificate"
    TERMINATION_NOTICE = "termination_notice"
    OFFER_EXPIRY_NOTICE = "offer_expiry_notice"
    PAYMENT_WITHHELD_NOTICE = "payment_withheld_notice"
    PAYMENT_CANCELLED_NOTICE = "payment_cancelled_notice"
    # Issued by a termination that finds more paid than justified; a receipt per repayment.
    RECOVERY_ORDER = "recovery_order"
    REPAYMENT_RECEIPT = "repayment_receipt"
    # Not a workflow step: the call's guide for applicants, rendered from the call alone.
    CALL_GUIDE = "call_guide"
    # Not an application's step: a call batch's approved ranking, from its ranked_lists row.
    RANKED_LIST = "ranked_list"


TITLES: dict[DocumentKind, str] = {
    DocumentKind.SUBMISSION_RECEIPT: "Submission receipt",
    DocumentKind.WITHDRAWAL_CONFIRMATION: "Withdrawal confirmation",
    DocumentKind.ELIGIBILITY_DECISION: "Eligibility decision",
    DocumentKind.REDRESS_ACKNOWLEDGEMENT: "Acknowledgement of a request for redress",
    DocumentKind.REDRESS_DECISION: "Redress decision",
    DocumentKind.EVALUATION_ASSIGNMENT: "Evaluation assignment notice",
    DocumentKind.EVALUATION_SUMMARY_REPORT: "Evaluation Summary Report",
    DocumentKind.RESULT_LETTER: "Result of the evaluation",
    DocumentKind.VOUCHER_AGREEMENT: "Voucher agreement",
    DocumentKind.SIGNED_ACCEPTANCE: "Signed acceptance of the voucher agreement",
    DocumentKind.DECLINE_CONFIRMATION: "Confirmation of declined voucher",
    DocumentKind.EXCLUSION_NOTICE: "Exclusion from the selection",
    DocumentKind.REPORT_ACKNOWLEDGEMENT: "Acknowledgement of final report",
    DocumentKind.REPORT_REVIEW_DECISION: "Final report review decision",
    DocumentKind.PAYMENT_ORDER: "Payment order",
    DocumentKind.REMITTANCE_ADVICE: "Remittance advice",
    DocumentKind.CLOSURE_CERTIFICATE: "Closure certificate",
    DocumentKind.TERMINATION_NOTICE: "Termination and recovery notice",
    DocumentKind.OFFER_EXPIRY_NOTICE: "Notice of expired voucher offer",
    DocumentKind.PAYMENT_WITHHELD_NOTICE: "Notice of withheld payment",
    DocumentKind.PAYMENT_CANCELLED_NOTICE: "Notice of cancelled payment order",
    DocumentKind.RECOVERY_ORDER: "Recovery order",
    DocumentKind.REPAYMENT_RECEIPT: "Receipt of repayment",
    DocumentKind.CALL_GUIDE: "Guide for applicants",
    DocumentKind.RANKED_LIST: "Approved ranked list",
}

# The documents the workflow's steps produce (everything but the call guide).
STEP_KINDS: frozenset[DocumentKind] = frozenset(DocumentKind) - {
    DocumentKind.CALL_GUIDE,
    DocumentKind.RANKED_LIST,
}
