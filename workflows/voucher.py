"""The default voucher workflow of DOMAIN.md, version 1."""

from enum import StrEnum

from workflows.definition import TransitionDef, WorkflowDefinition
from workflows.roles import Role


class AppState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    WITHDRAWN = "withdrawn"
    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"
    IN_EVALUATION = "in_evaluation"
    EVALUATED = "evaluated"
    SELECTED = "selected"
    RESERVE = "reserve"
    REJECTED = "rejected"
    OFFERED = "offered"
    CONTRACTED = "contracted"
    DECLINED = "declined"
    REPORT_SUBMITTED = "report_submitted"
    REPORT_APPROVED = "report_approved"
    PAYMENT_PREPARED = "payment_prepared"
    PAYMENT_AUTHORISED = "payment_authorised"
    PAID = "paid"
    CLOSED = "closed"
    TERMINATED = "terminated"


S = AppState
APPLICANT = frozenset({Role.APPLICANT})
OFFICER = frozenset({Role.OFFICER})
FINANCE = frozenset({Role.FINANCE})


def _t(
    trigger: str,
    sources: tuple[AppState, ...],
    dest: AppState,
    roles: frozenset[Role],
    label: str,
    guards: tuple[str, ...] = (),
    document: str | None = None,
) -> TransitionDef:
    return TransitionDef(
        trigger=trigger,
        sources=tuple(str(s) for s in sources),
        dest=str(dest),
        roles=roles,
        label=label,
        guards=guards,
        document=document,
    )


VOUCHER_V1 = WorkflowDefinition(
    name="voucher",
    version=1,
    initial=S.DRAFT,
    states=tuple(str(s) for s in AppState),
    final_states=frozenset({S.WITHDRAWN, S.REJECTED, S.DECLINED, S.CLOSED, S.TERMINATED}),
    transitions=(
        _t(
            "submit",
            (S.DRAFT,),
            S.SUBMITTED,
            APPLICANT,
            "Submit application",
            ("call_open", "before_deadline", "form_complete", "declaration_signed"),
            "submission_receipt",
        ),
        _t(
            "withdraw",
            (S.DRAFT, S.SUBMITTED),
            S.WITHDRAWN,
            APPLICANT,
            "Withdraw application",
            ("reason_given",),
            "withdrawal_confirmation",
        ),
        _t(
            "check_eligibility",
            (S.SUBMITTED,),
            S.ELIGIBLE,
            OFFICER,
            "Record eligibility checks",
            ("eligibility_checks_recorded", "all_eligibility_checks_passed"),
            "eligibility_decision",
        ),
        _t(
            "check_eligibility",
            (S.SUBMITTED,),
            S.INELIGIBLE,
            OFFICER,
            "Record eligibility checks",
            ("eligibility_checks_recorded", "an_eligibility_check_failed"),
            "eligibility_decision",
        ),
        _t(
            "redress",
            (S.INELIGIBLE,),
            S.SUBMITTED,
            OFFICER,
            "Uphold redress request",
            ("reason_given",),
            "redress_decision",
        ),
        _t(
            "assign_evaluators",
            (S.ELIGIBLE,),
            S.IN_EVALUATION,
            OFFICER,
            "Assign evaluators",
            ("enough_evaluators_assigned",),
            "evaluation_assignment",
        ),
        _t(
            "close_evaluation",
            (S.IN_EVALUATION,),
            S.EVALUATED,
            OFFICER,
            "Close evaluation with consensus",
            ("evaluations_complete", "consensus_recorded"),
            "evaluation_summary_report",
        ),
        _t(
            "rank",
            (S.EVALUATED,),
            S.SELECTED,
            OFFICER,
            "Rank",
            ("ranked_selected",),
            "result_letter",
        ),
        _t(
            "rank", (S.EVALUATED,), S.RESERVE, OFFICER, "Rank", ("ranked_reserve",), "result_letter"
        ),
        _t(
            "rank",
            (S.EVALUATED,),
            S.REJECTED,
            OFFICER,
            "Rank",
            ("ranked_rejected",),
            "result_letter",
        ),
        _t(
            "promote",
            (S.RESERVE,),
            S.SELECTED,
            OFFICER,
            "Promote from reserve list",
            ("budget_available",),
            "result_letter",
        ),
        _t(
            "offer",
            (S.SELECTED,),
            S.OFFERED,
            OFFICER,
            "Offer voucher agreement",
            ("within_cumulative_cap",),
            "voucher_agreement",
        ),
        _t(
            "accept",
            (S.OFFERED,),
            S.CONTRACTED,
            APPLICANT,
            "Accept and sign agreement",
            ("agreement_signed", "bank_account_valid"),
            "signed_acceptance",
        ),
        _t(
            "decline",
            (S.OFFERED,),
            S.DECLINED,
            APPLICANT,
            "Decline the voucher",
            ("reason_given",),
            "decline_confirmation",
        ),
        _t(
            "submit_report",
            (S.CONTRACTED,),
            S.REPORT_SUBMITTED,
            APPLICANT,
            "Submit final report",
            ("report_complete",),
            "report_acknowledgement",
        ),
        _t(
            "approve_report",
            (S.REPORT_SUBMITTED,),
            S.REPORT_APPROVED,
            OFFICER,
            "Approve report",
            ("approved_costs_valid",),
            "report_review_decision",
        ),
        _t(
            "return_report",
            (S.REPORT_SUBMITTED,),
            S.CONTRACTED,
            OFFICER,
            "Return report for revision",
            ("reason_given",),
            "report_review_decision",
        ),
        _t(
            "prepare_payment",
            (S.REPORT_APPROVED,),
            S.PAYMENT_PREPARED,
            FINANCE,
            "Prepare balance payment",
            ("prefinancing_settled",),
            "payment_order",
        ),
        _t(
            "authorise_payment",
            (S.PAYMENT_PREPARED,),
            S.PAYMENT_AUTHORISED,
            FINANCE,
            "Authorise balance payment",
            ("four_eyes",),
            "payment_order",
        ),
        _t(
            "mark_paid",
            (S.PAYMENT_AUTHORISED,),
            S.PAID,
            FINANCE,
            "Mark balance paid",
            (),
            "remittance_advice",
        ),
        _t("close", (S.PAID,), S.CLOSED, OFFICER, "Close", (), "closure_certificate"),
        _t(
            "terminate",
            (S.CONTRACTED, S.REPORT_SUBMITTED, S.REPORT_APPROVED),
            S.TERMINATED,
            OFFICER,
            "Terminate agreement",
            ("reason_given",),
            "termination_notice",
        ),
    ),
)
