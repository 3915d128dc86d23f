"""The default voucher workflow of DOMAIN.md, version 1."""

from enum import StrEnum
from typing import Any

from workflows.definition import TransitionDef, WorkflowDefinition
from workflows.i18n import N_
from workflows.roles import Role
from workflows.states import Badge, DeadlineRule, StateFacts


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
    EXPIRED = "expired"
    EXCLUDED = "excluded"
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


def _f(label: str, badge: Badge, next_step: str, **kw: Any) -> StateFacts:
    return StateFacts(label=label, badge=badge, applicant_next=next_step, **kw)


_WAIT = "Nothing for now: "
# Money limits, checked where money is awarded and where it is paid (the services gather
# the facts under row locks: call, then organisation, then application).
_AWARD_LIMITS = (
    "budget_available",
    "within_voucher_maximum",
    "within_cumulative_cap",
    "within_de_minimis_headroom",
)
PAYMENT_LIMITS = ("payment_within_award", "payment_within_call_budget")
_BUDGET = {"holds_budget": True}
_AGREEMENT = {"holds_budget": True, "awarded": True, "finance_sees": True, "results_out": True}

VOUCHER_FACTS: dict[str, StateFacts] = {
    S.DRAFT: _f(
        N_("Draft"),
        Badge.NEUTRAL,
        "Complete the form and submit it before the deadline",
        applicant_acts=True,
        deadline=DeadlineRule.CALL_DEADLINE,
        after_deadline="The deadline has passed: this draft can no longer be submitted",
    ),
    S.SUBMITTED: _f(
        N_("Submitted"),
        Badge.INFO,
        _WAIT + "the programme is checking eligibility",
        awaiting_decision=True,
    ),
    S.WITHDRAWN: _f(N_("Withdrawn"), Badge.NEUTRAL, "Nothing: this application is finished"),
    S.ELIGIBLE: _f(
        N_("Eligible"),
        Badge.INFO,
        _WAIT + "the programme is checking eligibility",
        awaiting_decision=True,
    ),
    S.INELIGIBLE: _f(
        N_("Ineligible"),
        Badge.BAD,
        "Not eligible: read the decision letter; you may ask the programme for redress",
        applicant_acts=True,
        deadline=DeadlineRule.REDRESS_WINDOW,
        after_deadline="Not eligible; the window for a redress request has closed",
    ),
    S.IN_EVALUATION: _f(
        N_("In evaluation"),
        Badge.INFO,
        _WAIT + "independent experts are evaluating the proposal",
        awaiting_decision=True,
    ),
    S.EVALUATED: _f(
        N_("Evaluated"), Badge.INFO, _WAIT + "independent experts are evaluating the proposal"
    ),
    S.SELECTED: _f(
        N_("Selected"),
        Badge.GOOD,
        "Selected: the voucher agreement will be sent to you",
        results_out=True,
        **_BUDGET,
    ),
    S.RESERVE: _f(
        N_("Reserve"),
        Badge.WARN,
        "On the reserve list: you are offered a voucher if budget frees up",
        results_out=True,
    ),
    S.REJECTED: _f(
        N_("Rejected"),
        Badge.BAD,
        "Not selected: read the result letter; you may ask for a review of the evaluation",
        applicant_acts=True,
        deadline=DeadlineRule.REDRESS_WINDOW,
        after_deadline="Not selected; the window for a redress request has closed",
        results_out=True,
    ),
    S.OFFERED: _f(
        N_("Offered"),
        Badge.GOOD,
        "Read the voucher agreement, then accept and sign it, or decline",
        applicant_acts=True,
        deadline=DeadlineRule.OFFER_ACCEPTANCE,
        after_deadline="The acceptance deadline has passed: contact the programme",
        results_out=True,
        awarded=True,
        **_BUDGET,
    ),
    S.CONTRACTED: _f(
        N_("Contracted"),
        Badge.GOOD,
        "Carry out the activity, then submit the final report",
        applicant_acts=True,
        deadline=DeadlineRule.REPORT_DUE,
        after_deadline="Your final report is overdue: submit it now",
        **_AGREEMENT,
    ),
    S.DECLINED: _f(
        N_("Declined"), Badge.NEUTRAL, "Nothing: this application is finished", results_out=True
    ),
    # The offer's acceptance deadline passed unanswered: its budget went back to the call.
    S.EXPIRED: _f(
        N_("Offer expired"),
        Badge.NEUTRAL,
        "Nothing: the offer was not accepted in time",
        results_out=True,
    ),
    # Taken out of the selection by the programme (e.g. double funding found): its budget
    # went back to the call.
    S.EXCLUDED: _f(
        N_("Excluded"),
        Badge.BAD,
        "Excluded from the selection: read the notice for the reasons",
        results_out=True,
    ),
    S.REPORT_SUBMITTED: _f(
        N_("Report submitted"),
        Badge.INFO,
        _WAIT + "the programme is reviewing your final report",
        **_AGREEMENT,
    ),
    S.REPORT_APPROVED: _f(
        N_("Report approved"),
        Badge.GOOD,
        _WAIT + "the balance payment is being processed",
        **_AGREEMENT,
    ),
    S.PAYMENT_PREPARED: _f(
        N_("Payment prepared"),
        Badge.WARN,
        _WAIT + "the balance payment is being processed",
        **_AGREEMENT,
    ),
    S.PAYMENT_AUTHORISED: _f(
        N_("Payment authorised"),
        Badge.WARN,
        _WAIT + "the balance payment is being processed",
        **_AGREEMENT,
    ),
    S.PAID: _f(
        N_("Paid"),
        Badge.GOOD,
        "Keep every supporting document: EU auditors may ask for them",
        **_AGREEMENT,
    ),
    S.CLOSED: _f(
        N_("Closed"),
        Badge.NEUTRAL,
        "Keep every supporting document: EU auditors may ask for them",
        **_AGREEMENT,
    ),
    # Holds what it kept: termination reduces the award to the justified payments.
    S.TERMINATED: _f(
        N_("Terminated"), Badge.BAD, "Nothing: this application is finished", **_AGREEMENT
    ),
}


VOUCHER_V1 = WorkflowDefinition(
    name="voucher",
    version=1,
    initial=S.DRAFT,
    states=tuple(str(s) for s in AppState),
    final_states=frozenset(
        # Rejected is not final: an upheld evaluation redress has it evaluated again.
        {S.WITHDRAWN, S.DECLINED, S.EXPIRED, S.EXCLUDED, S.CLOSED, S.TERMINATED}
    ),
    facts=VOUCHER_FACTS,
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
        # An upheld evaluation redress: evaluated again, by experts who have not seen it.
        _t(
            "reevaluate",
            (S.REJECTED, S.RESERVE),
            S.ELIGIBLE,
            OFFICER,
            "Evaluate again after redress",
            ("reason_given",),
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
            _AWARD_LIMITS,
            "result_letter",
        ),
        _t(
            "offer",
            (S.SELECTED,),
            S.OFFERED,
            OFFICER,
            "Offer voucher agreement",
            _AWARD_LIMITS,
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
        # A selected or offered SME found not to qualify after all (double funding, a false
        # declaration): out of the selection, its budget to the reserve list.
        _t(
            "exclude",
            (S.SELECTED, S.OFFERED),
            S.EXCLUDED,
            OFFICER,
            "Exclude from the selection",
            ("reason_given",),
            "exclusion_notice",
        ),
        # Run by `cascade remind` once the acceptance deadline has passed (the system acts).
        _t(
            "expire_offer",
            (S.OFFERED,),
            S.EXPIRED,
            OFFICER,
            "Offer expired",
            ("offer_deadline_passed",),
            "offer_expiry_notice",
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
            ("prefinancing_settled", *PAYMENT_LIMITS),
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
        # The balance order stopped before it was paid: the voucher is back where the order is
        # prepared. Withheld (a breach; finance or the officer): the officer terminates, or a
        # new order is prepared once the matter is settled. Cancelled (finance: a wrong
        # account or amount): a corrected order is prepared.
        _t(
            "withhold_payment",
            (S.PAYMENT_PREPARED, S.PAYMENT_AUTHORISED),
            S.REPORT_APPROVED,
            FINANCE | OFFICER,
            "Withhold balance payment",
            ("reason_given",),
            "payment_withheld_notice",
        ),
        _t(
            "cancel_payment",
            (S.PAYMENT_PREPARED, S.PAYMENT_AUTHORISED),
            S.REPORT_APPROVED,
            FINANCE,
            "Cancel balance payment",
            ("reason_given",),
            "payment_cancelled_notice",
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
