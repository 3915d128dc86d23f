"""The voucher workflow's steps: one entry each, everything a step needs beside its rules."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from grants.errors import ValidationFailed
from grants.presenters import final_report
from grants.presenters import step_panels as panels
from grants.services import (
    applications,
    awards,
    eligibility,
    evaluation,
    payment_stops,
    payments,
    reporting,
)
from grants.services.actor import Actor
from grants.services.workflow import load_application
from grants.steps import final_report as final_report_step
from grants.steps.bank import posted_confirmation
from grants.steps.model import Notice, Recipient, Step
from workflows import numbers
from workflows.eligibility import MANUAL_CHECKS
from workflows.i18n import _
from workflows.voucher import AppState

Form = MultiDict[str, str]
SME = Recipient.APPLICANT
FINANCE = Recipient.FINANCE


def _text(form: Form, name: str) -> str:
    return form.get(name, "").strip()


def _submit(s: Session, a: Actor, app_id: int, form: Form) -> object:
    return applications.submit(s, a, app_id, token=form.get("submission_token") or None)


def _withdraw(s: Session, a: Actor, app_id: int, form: Form) -> object:
    return applications.withdraw(s, a, app_id, reason=_text(form, "reason"))


def _check_eligibility(s: Session, a: Actor, app_id: int, form: Form) -> object:
    manual: dict[str, tuple[bool, str]] = {}
    errors: dict[str, str] = {}
    for key, _name in MANUAL_CHECKS:
        verdict = form.get(f"manual_{key}")
        if verdict not in ("passed", "failed"):
            errors[key] = _("choose passed or failed")
            continue
        manual[key] = (verdict == "passed", form.get(f"evidence_{key}", ""))
    if errors:
        raise ValidationFailed(errors)
    # An automatic check the officer turns: its box ticked, with the reason.
    turned = [
        name.removeprefix("override_")
        for name in form
        if name.startswith("override_") and not name.startswith("override_reason_")
    ]
    overrides = {key: form.get(f"override_reason_{key}", "") for key in turned}
    return eligibility.record_eligibility(
        s, a, app_id, manual=manual, reasons=_text(form, "reasons"), overrides=overrides
    )


# Fired inside an upheld redress request (grants/services/redress.py), whose letter and
# notice tell the applicant.
REDRESS_DECISION = "the redress request's decision on the application page"


def _assign_evaluators(s: Session, a: Actor, app_id: int, form: Form) -> object:
    try:
        ids = [numbers.parse_id(v) for v in form.getlist("evaluator_ids")]
    except numbers.NumberRefused:
        raise ValidationFailed({"evaluators": _("choose evaluators from the list")}) from None
    return evaluation.assign_evaluators(s, a, app_id, ids)


def _close_evaluation(s: Session, a: Actor, app_id: int, form: Form) -> object:
    # Locked now, as the service would lock it: the criteria cannot change meanwhile.
    criteria = evaluation.criteria_of(load_application(s, app_id))
    return evaluation.close_evaluation(
        s,
        a,
        app_id,
        scores={c.key: form.get(f"score_{c.key}", "") for c in criteria},
        comments={c.key: form.get(f"comment_{c.key}", "") for c in criteria},
    )


def _accept(s: Session, a: Actor, app_id: int, form: Form) -> object:
    return awards.accept(
        s,
        a,
        app_id,
        iban=_text(form, "iban"),
        account_holder=_text(form, "account_holder"),
        signed="signed" in form,
        bic=_text(form, "bic"),
        **posted_confirmation(),
        # The page always sends the fingerprint of the agreement it showed ("" if none).
        agreement_sha256=form.get("agreement_sha256", ""),
    )


def _submit_report(s: Session, a: Actor, app_id: int, form: Form) -> object:
    # Posted here by a client that is not the page (the page's panel posts to its own view,
    # which keeps the draft when the submission is refused): answers and files are saved
    # with the submission, all or nothing, and the form's rules apply in full.
    return final_report_step.save_and_submit(s, a, app_id, form)


def _approve_report(s: Session, a: Actor, app_id: int, form: Form) -> object:
    return reporting.approve_report(
        s,
        a,
        app_id,
        approved_costs=_text(form, "approved_costs"),
        comments=form.get("comments", ""),
    )


def _results(*states: AppState) -> frozenset[str]:
    return frozenset(str(s) for s in states)


STEPS = (
    Step(
        "voucher",
        "submit",
        done_label=_l("Application submitted"),
        done=_l("Application submitted. Your submission receipt is being generated."),
        perform=_submit,
        panel="applications/steps/submit.html",
        title=_l("Submit the application"),
        button=_l("Submit application"),
        context=panels.submit,
        notify=(Notice(SME, "submission_receipt"),),
    ),
    Step(
        "voucher",
        "withdraw",
        done_label=_l("Application withdrawn"),
        done=_l("Application withdrawn."),
        perform=_withdraw,
        panel="applications/steps/withdraw.html",
        title=_l("Withdraw the application"),
        button=_l("Withdraw application"),
        danger=True,
        confirm=_l("Withdraw this application? This cannot be undone."),
        notify=(Notice(SME, "withdrawal_confirmation"),),
    ),
    Step(
        "voucher",
        "check_eligibility",
        done_label=_l("Eligibility decided"),
        done=_l("Eligibility recorded: the application is {state}."),
        perform=_check_eligibility,
        panel="applications/steps/check_eligibility.html",
        title=_l("Record the eligibility checks"),
        button=_l("Record eligibility decision"),
        confirm=_l(
            "Record this eligibility decision? The application becomes eligible or "
            "ineligible as the checks say, and the applicant receives the decision letter."
        ),
        context=panels.check_eligibility,
        notify=(Notice(SME, "eligibility_decision"),),
    ),
    Step(
        "voucher",
        "redress",
        done_label=_l("Back to eligibility after redress"),
        performed_in=REDRESS_DECISION,
    ),
    Step(
        "voucher",
        "reevaluate",
        done_label=_l("Back to evaluation after redress"),
        performed_in=REDRESS_DECISION,
    ),
    Step(
        "voucher",
        "assign_evaluators",
        done_label=_l("Evaluators assigned"),
        done=_l("Evaluators assigned. They are asked to declare any conflict of interest."),
        perform=_assign_evaluators,
        panel="applications/steps/assign_evaluators.html",
        title=_l("Assign independent evaluators"),
        button=_l("Assign evaluators"),
        context=panels.assign_evaluators,
        notify=(Notice(Recipient.EVALUATORS, "evaluation_assignment", attach=False),),
    ),
    Step(
        "voucher",
        "close_evaluation",
        done_label=_l("Evaluation closed with the consensus"),
        done=_l("Evaluation closed. The Evaluation Summary Report is being generated."),
        perform=_close_evaluation,
        panel="applications/steps/close_evaluation.html",
        title=_l("Close the evaluation with the consensus"),
        button=_l("Record consensus and close evaluation"),
        context=panels.close_evaluation,
        # The SME hears the result with the ranking, not before.
    ),
    Step(
        "voucher",
        "rank",
        done_label=_l("Ranked"),
        performed_in="the officer dashboard: ranking is done for the whole call",
        notify=(Notice(SME, "result_letter"),),
    ),
    Step(
        "voucher",
        "promote",
        done_label=_l("Promoted from the reserve list"),
        done=_l("Promoted from the reserve list: the application is selected."),
        perform=lambda s, a, i, f: awards.promote(s, a, i),
        panel="applications/steps/promote.html",
        title=_l("Promote from the reserve list"),
        button=_l("Promote to selected"),
        context=panels.promote,
        notify=(Notice(SME, "result_letter"),),
    ),
    Step(
        "voucher",
        "offer",
        done_label=_l("Voucher agreement offered"),
        done=_l("Voucher agreement offered to the applicant."),
        perform=lambda s, a, i, f: awards.offer(s, a, i),
        panel="applications/steps/offer.html",
        title=_l("Offer the voucher agreement"),
        button=_l("Offer agreement"),
        notify=(Notice(SME, "voucher_offer"),),
    ),
    Step(
        "voucher",
        "accept",
        done_label=_l("Voucher agreement signed"),
        done=_l("Voucher agreement signed. Your signed acceptance is being generated."),
        perform=_accept,
        panel="applications/steps/accept.html",
        uploads=True,
        title=_l("Accept and sign the voucher agreement"),
        button=_l("Sign and accept"),
        notify=(
            Notice(SME, "agreement_signed"),
            Notice(FINANCE, "voucher_contracted", attach=False),
        ),
    ),
    Step(
        "voucher",
        "decline",
        done_label=_l("Voucher declined"),
        done=_l("You declined the voucher."),
        perform=lambda s, a, i, f: awards.decline(s, a, i, reason=_text(f, "reason")),
        panel="applications/steps/decline.html",
        title=_l("Decline the voucher"),
        button=_l("Decline voucher"),
        danger=True,
        confirm=_l("Decline this voucher? The budget goes to the next SME on the reserve list."),
        notify=(Notice(SME, "decline_confirmation"),),
    ),
    Step(
        "voucher",
        "exclude",
        done_label=_l("Excluded from the selection"),
        done=_l(
            "Excluded from the selection. The SME receives the notice; the budget went to the "
            "reserve list."
        ),
        perform=lambda s, a, i, f: awards.exclude(s, a, i, reason=_text(f, "reason")),
        panel="applications/steps/exclude.html",
        title=_l("Exclude from the selection"),
        button=_l("Exclude"),
        danger=True,
        confirm=_l(
            "Exclude this application from the selection? The SME receives the notice with "
            "your reasons and its budget goes to the next SME on the reserve list. This cannot "
            "be undone."
        ),
        notify=(Notice(SME, "exclusion_notice"),),
    ),
    Step(
        "voucher",
        "expire_offer",
        done_label=_l("Voucher offer expired"),
        performed_in="`cascade remind`: the system, once the acceptance deadline has passed",
        notify=(Notice(SME, "offer_expiry_notice"),),
    ),
    Step(
        "voucher",
        "submit_report",
        done_label=_l("Final report submitted"),
        done=_l("Final report submitted."),
        perform=_submit_report,
        panel="applications/steps/submit_report.html",
        uploads=True,
        endpoint="applications.final_report_form",
        context=final_report.panel,
        title=_l("Submit the final report"),
        button=_l("Submit final report"),
        notify=(Notice(SME, "report_acknowledgement"),),
    ),
    Step(
        "voucher",
        "approve_report",
        done_label=_l("Final report approved"),
        done=_l("Report approved. Finance can now prepare the balance payment."),
        perform=_approve_report,
        panel="applications/steps/approve_report.html",
        title=_l("Approve the final report"),
        button=_l("Approve report"),
        context=panels.approve_report,
        notify=(
            Notice(SME, "report_approved"),
            Notice(FINANCE, "balance_to_prepare", attach=False),
        ),
    ),
    Step(
        "voucher",
        "return_report",
        done_label=_l("Final report returned for revision"),
        done=_l("Report returned to the applicant for revision."),
        perform=lambda s, a, i, f: reporting.return_report(s, a, i, comments=f.get("comments", "")),
        panel="applications/steps/return_report.html",
        title=_l("Return the report for revision"),
        button=_l("Return report"),
        notify=(Notice(SME, "report_returned"),),
    ),
    Step(
        "voucher",
        "prepare_payment",
        done_label=_l("Balance payment prepared"),
        done=_l("Balance payment prepared. Another finance officer must authorise it."),
        perform=lambda s, a, i, f: payments.prepare_payment(s, a, i),
        panel="applications/steps/prepare_payment.html",
        title=_l("Prepare the balance payment"),
        button=_l("Prepare payment"),
        context=panels.prepare_payment,
        notify=(Notice(FINANCE, "payment_to_authorise", attach=False),),
    ),
    Step(
        "voucher",
        "authorise_payment",
        done_label=_l("Balance payment authorised"),
        done=_l("Balance payment authorised."),
        perform=lambda s, a, i, f: payments.authorise_payment(s, a, i),
        panel="applications/steps/authorise_payment.html",
        title=_l("Authorise the balance payment"),
        button=_l("Authorise payment"),
        confirm=_l("Authorise this payment? The bank will be instructed to pay it."),
        context=panels.authorise_payment,
        notify=(Notice(SME, "payment_authorised", attach=False),),
    ),
    Step(
        "voucher",
        "mark_paid",
        done_label=_l("Balance paid"),
        done=_l("Balance marked as paid. The remittance advice is being generated."),
        perform=lambda s, a, i, f: payments.mark_paid(
            s, a, i, payment_reference=_text(f, "payment_reference")
        ),
        panel="applications/steps/mark_paid.html",
        title=_l("Mark the balance as paid"),
        button=_l("Mark paid"),
        notify=(Notice(SME, "payment_paid"),),
    ),
    Step(
        "voucher",
        "withhold_payment",
        done_label=_l("Balance payment withheld"),
        done=_l(
            "Balance payment withheld. The SME is sent the notice with your reason; the "
            "agreement may now be terminated, or a new order prepared once the matter is settled."
        ),
        perform=lambda s, a, i, f: payment_stops.withhold_balance(
            s, a, i, reason=_text(f, "reason")
        ),
        panel="applications/steps/withhold_payment.html",
        title=_l("Withhold the balance payment"),
        button=_l("Withhold payment"),
        danger=True,
        confirm=_l("Withhold this payment? The order is stopped and the SME is told why."),
        notify=(Notice(SME, "payment_withheld"),),
    ),
    Step(
        "voucher",
        "cancel_payment",
        done_label=_l("Balance payment cancelled"),
        done=_l(
            "Balance payment order cancelled. The SME is sent the notice with your reason; a "
            "corrected order can now be prepared."
        ),
        perform=lambda s, a, i, f: payment_stops.cancel_balance(s, a, i, reason=_text(f, "reason")),
        panel="applications/steps/cancel_payment.html",
        title=_l("Cancel the balance payment order"),
        button=_l("Cancel order"),
        danger=True,
        confirm=_l("Cancel this payment order? It will not be paid; a new one can be prepared."),
        notify=(Notice(SME, "payment_cancelled"),),
    ),
    Step(
        "voucher",
        "close",
        done_label=_l("Voucher closed"),
        done=_l("Voucher closed. The closure certificate is being generated."),
        perform=lambda s, a, i, f: payments.close(s, a, i),
        panel="applications/steps/close.html",
        title=_l("Close the voucher"),
        button=_l("Close voucher"),
        confirm=_l("Close this voucher? Nothing more can be paid on it."),
        notify=(Notice(SME, "closure_certificate"),),
    ),
    Step(
        "voucher",
        "terminate",
        done_label=_l("Agreement terminated"),
        done=_l("Agreement terminated. The termination notice states any amount to recover."),
        perform=lambda s, a, i, f: payments.terminate(s, a, i, reason=_text(f, "reason")),
        panel="applications/steps/terminate.html",
        title=_l("Terminate the agreement"),
        button=_l("Terminate agreement"),
        danger=True,
        confirm=_l("Terminate this agreement? Open payments are withheld."),
        notify=(
            Notice(SME, "termination_notice"),
            Notice(FINANCE, "voucher_terminated", attach=False),
        ),
    ),
)
