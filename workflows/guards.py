"""Named guards: pure checks on facts the service gathered before a transition.

A guard never reads the database or the clock itself; the service puts what it needs into
``TransitionContext.facts``, so a guard gives the same answer in a test and in production.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from workflows import ledger
from workflows.eligibility import CheckResult, de_minimis_check
from workflows.i18n import N_, _
from workflows.money import format_eur


@dataclass(frozen=True)
class TransitionContext:
    actor_id: int | None
    now: datetime
    facts: Mapping[str, Any] = field(default_factory=dict)

    def fact(self, name: str, default: Any = None) -> Any:
        return self.facts.get(name, default)


@dataclass(frozen=True)
class Guard:
    name: str
    check: Callable[[TransitionContext], bool]
    message: str
    detail: Callable[[TransitionContext], str] | None = None

    def explain(self, ctx: TransitionContext) -> str:
        message = _(self.message)
        return f"{message} ({self.detail(ctx)})" if self.detail else message


def _has_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _deadline_not_passed(ctx: TransitionContext) -> bool:
    deadline = ctx.fact("deadline")
    return deadline is not None and ctx.now < deadline


def _deadline_passed(ctx: TransitionContext) -> bool:
    deadline = ctx.fact("deadline")
    return deadline is not None and ctx.now >= deadline


def _offer_deadline_passed(ctx: TransitionContext) -> bool:
    deadline = ctx.fact("offer_deadline")
    return deadline is not None and ctx.now >= deadline


def _four_eyes(ctx: TransitionContext) -> bool:
    preparer = ctx.fact("prepared_by_id")
    return preparer is not None and ctx.actor_id is not None and preparer != ctx.actor_id


def _approved_costs_valid(ctx: TransitionContext) -> bool:
    if ctx.fact("lump_sum", False):
        return True  # a lump sum is paid on the work accepted, not on costs
    approved = ctx.fact("approved_costs")
    claimed = ctx.fact("claimed_costs")
    return (
        isinstance(approved, Decimal)
        and isinstance(claimed, Decimal)
        and Decimal(0) <= approved <= claimed
    )


def _within_cumulative_cap(ctx: TransitionContext) -> bool:
    already = ctx.fact("organisation_awarded_total", Decimal(0))
    amount = ctx.fact("amount", Decimal(0))
    cap = ctx.fact("cumulative_cap")
    return cap is not None and already + amount <= cap


def _within_voucher_maximum(ctx: TransitionContext) -> bool:
    maximum = ctx.fact("max_per_voucher")
    return maximum is not None and ctx.fact("amount", Decimal(0)) <= maximum


def _voucher_maximum_detail(ctx: TransitionContext) -> str:
    return _(
        "%(amount)s against a maximum of %(maximum)s",
        amount=format_eur(ctx.fact("amount", Decimal(0))),
        maximum=format_eur(ctx.fact("max_per_voucher") or Decimal(0)),
    )


def _de_minimis(ctx: TransitionContext) -> CheckResult | None:
    """The call's de minimis headroom check on the SME's declared aid, None when the call
    does not apply it (fact ``de_minimis``: a ``DeMinimisRule`` or None; ``de_minimis_aid``:
    (amount, granted on) pairs)."""
    rule = ctx.fact("de_minimis")
    if rule is None:
        return None
    return de_minimis_check(ctx.fact("de_minimis_aid", ()), ctx.fact("amount"), rule)


def _within_de_minimis(ctx: TransitionContext) -> bool:
    found = _de_minimis(ctx)
    return found is None or found.passed


def _de_minimis_detail(ctx: TransitionContext) -> str:
    found = _de_minimis(ctx)
    return found.evidence if found else ""


def _payment_within_award(ctx: TransitionContext) -> bool:
    award = ctx.fact("award")
    return award is not None and ledger.within(
        ctx.fact("payment_amount", Decimal(0)), ctx.fact("voucher_payments", Decimal(0)), award
    )


def _payment_award_detail(ctx: TransitionContext) -> str:
    return _(
        "%(amount)s on top of %(already)s paid or in payment, against an award of %(award)s",
        amount=format_eur(ctx.fact("payment_amount", Decimal(0))),
        already=format_eur(ctx.fact("voucher_payments", Decimal(0))),
        award=format_eur(ctx.fact("award") or Decimal(0)),
    )


def _payment_within_call_budget(ctx: TransitionContext) -> bool:
    budget = ctx.fact("call_budget")
    return budget is not None and ledger.within(
        ctx.fact("payment_amount", Decimal(0)), ctx.fact("call_payments", Decimal(0)), budget
    )


def _payment_call_detail(ctx: TransitionContext) -> str:
    return _(
        "%(amount)s on top of %(already)s paid or in payment in the call, against its budget "
        "of %(budget)s",
        amount=format_eur(ctx.fact("payment_amount", Decimal(0))),
        already=format_eur(ctx.fact("call_payments", Decimal(0))),
        budget=format_eur(ctx.fact("call_budget") or Decimal(0)),
    )


GUARDS: dict[str, Guard] = {
    g.name: g
    for g in (
        Guard(
            "call_open", lambda c: c.fact("call_status") == "published", N_("the call is not open")
        ),
        Guard(
            "before_deadline",
            _deadline_not_passed,
            N_("the call's deadline has passed"),
        ),
        Guard("deadline_passed", _deadline_passed, N_("the call's deadline has not passed yet")),
        Guard(
            "form_complete",
            lambda c: not c.fact("missing_fields"),
            N_("the application form is incomplete"),
            lambda c: _("missing: %(fields)s", fields=", ".join(c.fact("missing_fields", []))),
        ),
        Guard(
            "declaration_signed",
            lambda c: bool(c.fact("declaration_signed")),
            N_("the declaration of honour has not been signed"),
        ),
        Guard("reason_given", lambda c: _has_text(c.fact("reason")), N_("a reason is required")),
        Guard(
            "eligibility_checks_recorded",
            lambda c: bool(c.fact("eligibility_checks")),
            N_("no eligibility checks were recorded"),
        ),
        Guard(
            "all_eligibility_checks_passed",
            lambda c: all(check["passed"] for check in c.fact("eligibility_checks", [])),
            N_("an eligibility check failed"),
        ),
        Guard(
            "an_eligibility_check_failed",
            lambda c: any(not check["passed"] for check in c.fact("eligibility_checks", [])),
            N_("every eligibility check passed"),
        ),
        Guard(
            "enough_evaluators_assigned",
            lambda c: c.fact("evaluators_assigned", 0) >= c.fact("evaluators_required", 2),
            N_("not enough independent evaluators are assigned"),
        ),
        Guard(
            "evaluations_complete",
            lambda c: c.fact("evaluations_submitted", 0) >= c.fact("evaluators_required", 2),
            N_("not every assigned evaluator has submitted a score"),
        ),
        Guard(
            "consensus_recorded",
            lambda c: bool(c.fact("consensus_recorded")),
            N_("the consensus scores are not recorded"),
        ),
        Guard(
            "ranked_selected",
            lambda c: c.fact("ranking_outcome") == "selected",
            N_("the ranking did not place it within the funding line"),
        ),
        Guard(
            "ranked_reserve",
            lambda c: c.fact("ranking_outcome") == "reserve",
            N_("the ranking did not place it on the reserve list"),
        ),
        Guard(
            "ranked_rejected",
            lambda c: c.fact("ranking_outcome") == "rejected",
            N_("the ranking did not reject it"),
        ),
        Guard(
            "budget_available",
            lambda c: c.fact("amount", Decimal(0)) <= c.fact("budget_remaining", Decimal(0)),
            N_("the call's remaining budget cannot cover this voucher"),
        ),
        Guard(
            "offer_deadline_passed",
            _offer_deadline_passed,
            N_("the offer's acceptance deadline has not passed yet"),
        ),
        Guard(
            "within_cumulative_cap",
            _within_cumulative_cap,
            N_("the SME would exceed its cumulative cap across the consortium's calls"),
        ),
        Guard(
            "within_voucher_maximum",
            _within_voucher_maximum,
            N_("the amount is above the call's maximum per voucher"),
            _voucher_maximum_detail,
        ),
        Guard(
            "within_de_minimis_headroom",
            _within_de_minimis,
            N_("the SME's de minimis headroom cannot take this voucher"),
            _de_minimis_detail,
        ),
        Guard(
            "payment_within_award",
            _payment_within_award,
            N_("the voucher's payments would exceed its award"),
            _payment_award_detail,
        ),
        Guard(
            "payment_within_call_budget",
            _payment_within_call_budget,
            N_("the call's payments would exceed its budget"),
            _payment_call_detail,
        ),
        Guard(
            "agreement_signed",
            lambda c: bool(c.fact("agreement_signed")),
            N_("the voucher agreement has not been signed"),
        ),
        Guard(
            "bank_account_valid",
            lambda c: bool(c.fact("iban_valid")),
            N_("a valid IBAN and account holder are required"),
        ),
        Guard(
            "report_complete",
            lambda c: not c.fact("report_missing"),
            N_("the final report is incomplete"),
            lambda c: _("missing: %(fields)s", fields=", ".join(c.fact("report_missing", []))),
        ),
        Guard(
            "approved_costs_valid",
            _approved_costs_valid,
            N_("approved costs must be between zero and the costs claimed"),
        ),
        Guard(
            "prefinancing_settled",
            lambda c: not c.fact("open_instalments"),
            N_("another instalment is still being processed"),
        ),
        Guard(
            "four_eyes",
            _four_eyes,
            N_("the finance officer who prepared a payment cannot authorise it"),
        ),
        Guard(
            "call_configured",
            lambda c: not c.fact("call_problems"),
            N_("the call is not ready to publish"),
            lambda c: "; ".join(c.fact("call_problems", [])),
        ),
        Guard(
            "no_pending_applications",
            lambda c: not c.fact("pending_applications"),
            N_("applications are still in eligibility or evaluation"),
        ),
    )
}


def failed_guards(names: tuple[str, ...], ctx: TransitionContext) -> list[Guard]:
    return [GUARDS[name] for name in names if not GUARDS[name].check(ctx)]
