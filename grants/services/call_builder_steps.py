"""The call builder's pages (``Step``), the fields each one sets, and the words each field
reads with in an error summary and on its page. Reading a posted page is
``call_builder_input``; storing drafts ``call_builder_drafts``; the review and publishing
``call_builder_review`` (``call_builder`` gathers them for callers)."""

from __future__ import annotations

from enum import StrEnum

from workflows.i18n import N_, _


class Step(StrEnum):
    """The builder's pages, in order; each value is also the page's endpoint name."""

    BASICS = "basics"
    DATES = "dates"
    MONEY = "money"
    ELIGIBILITY = "eligibility"
    EVALUATION = "evaluation"
    FORM = "application_form"
    REVIEW = "review"


# The steps whose page is a form of CallRules fields (the application form has its editor).
EDITABLE_STEPS = (Step.BASICS, Step.DATES, Step.MONEY, Step.ELIGIBILITY, Step.EVALUATION)

# Which step sets each field: a problem's path starts with one of these, so every problem
# links to the page (and the field) where it is put right.
STEP_FIELDS: dict[Step, tuple[str, ...]] = {
    Step.BASICS: ("reference", "title", "voucher_type", "purpose", "guidance", "who_can_apply"),
    Step.DATES: ("timezone", "publication", "opening", "deadline", "batch_ranking", "cutoffs"),
    Step.MONEY: (
        "budget",
        "reserve",
        "max_per_voucher",
        "cumulative_cap",
        "funding_rate",
        "cost_basis",
        "prefinancing_percent",
        "pay_provider_directly",
    ),
    Step.ELIGIBILITY: ("eligible_countries", "eligibility"),
    Step.EVALUATION: (
        "criteria",
        "threshold_total",
        "experts_per_application",
        "divergence_limit",
        "evaluators_from_other_countries",
        "evaluation_days",
        "redress_days",
        "acceptance_days",
        "report_window_days",
    ),
    Step.FORM: ("form",),
}


def step_of(path: str) -> Step:
    head = path.split(".", 1)[0]
    return next((step for step, names in STEP_FIELDS.items() if head in names), Step.REVIEW)


# How each field reads in an error summary and on its page (one place for both).
LABELS: dict[str, str] = {
    "reference": N_("Reference"),
    "title": N_("Title"),
    "voucher_type": N_("Type of voucher"),
    "purpose": N_("What the call funds and why"),
    "guidance": N_("Guidance for applicants"),
    "who_can_apply": N_("Who can apply"),
    "timezone": N_("Timezone"),
    "publication": N_("Publication"),
    "opening": N_("Opening"),
    "deadline": N_("Deadline"),
    "batch_ranking": N_("Rank in batches at cut-off dates"),
    "cutoffs": N_("Cut-off dates"),
    "budget": N_("Budget (EUR)"),
    "reserve": N_("Reserve for a later call (EUR)"),
    "max_per_voucher": N_("Maximum per voucher (EUR)"),
    "cumulative_cap": N_("Cap per SME across the consortium's calls (EUR)"),
    "funding_rate": N_("Funding rate (%)"),
    "cost_basis": N_("How the voucher is paid"),
    "prefinancing_percent": N_("Pre-financing at signature (%)"),
    "pay_provider_directly": N_("Pay the service provider directly"),
    "eligible_countries": N_("Eligible countries"),
    "eligibility.min_registration_months": N_("Months registered before the deadline"),
    "eligibility.de_minimis_ceiling": N_("De minimis ceiling (EUR)"),
    "eligibility.de_minimis_years": N_("De minimis period (years)"),
    "eligibility.target_markets_outside_eu": N_("Target markets outside the EU"),
    "criteria": N_("Evaluation criteria"),
    "threshold_total": N_("Total threshold"),
    "experts_per_application": N_("Experts per application"),
    "divergence_limit": N_("Divergence limit (points)"),
    "evaluators_from_other_countries": N_("Experts from another country than the applicant"),
    "evaluation_days": N_("Days experts have to score"),
    "redress_days": N_("Days to ask for redress"),
    "acceptance_days": N_("Days to accept an offer"),
    "report_window_days": N_("Days to submit the final report"),
    "form": N_("Application form"),
}
CRITERION_PARTS: dict[str, str] = {
    "key": N_("key"),
    "name": N_("name"),
    "description": N_("description"),
    "max": N_("maximum"),
    "threshold": N_("threshold"),
    "weight": N_("weight"),
}


def label(path: str) -> str:
    """A field's words in an error summary (``cutoffs.1``: "Cut-off date 2")."""
    if path in LABELS:
        return _(LABELS[path])
    parts = path.split(".")
    if parts[0] == "cutoffs" and len(parts) == 2 and parts[1].isdigit():
        return _("Cut-off date %(number)s", number=int(parts[1]) + 1)
    if parts[0] == "criteria" and len(parts) == 3 and parts[1].isdigit():
        part = _(CRITERION_PARTS.get(parts[2], parts[2]))
        return _("Criterion %(number)s, %(part)s", number=int(parts[1]) + 1, part=part)
    return path
