"""The default voucher application forms offered when a call is created.

Written for the LEVIATAD Eurocluster (naval and aero-naval defence), whose action plan funds
two kinds of vouchers:

- ``VOUCHER_FORM``, up-skilling: an SME buys a service from a provider to adopt one of the
  strategic technologies of the cluster's action plan;
- ``INTERNATIONALISATION_FORM``: an SME buys a service (market study, trade fair, business
  mission, certification for export) to enter defence markets outside the EU.

A call copies one of these lists into its own form definition and may change it freely. Both
are built from the same questions where they ask the same thing (the summary, the provider,
the dates, the budget, the quote, the declaration), so a wording fixed once is fixed in both.
The project title and the requested amount are not here: every application has them as its
own columns (they appear on letters, rankings and payments), whatever the call's form. The
budget lines must add up to the requested amount: the default calls fund 100% of the costs.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = [
    "BUDGET_CATEGORIES",
    "INTERNATIONALISATION_BUDGET_CATEGORIES",
    "INTERNATIONALISATION_FORM",
    "STRATEGIC_TECHNOLOGIES",
    "VOUCHER_FORM",
]

STRATEGIC_TECHNOLOGIES: tuple[str, ...] = (
    "Autonomous and unmanned systems",
    "Cyber security for naval platforms",
    "Advanced materials and coatings",
    "Sensors and C4ISR",
    "Green propulsion and energy",
    "Digital twins and simulation",
    "Additive manufacturing",
)

BUDGET_CATEGORIES: tuple[str, ...] = (
    "Service provider fees",
    "Training and certification",
    "Testing and qualification",
    "Travel for the activities",
    "Other costs",
)

INTERNATIONALISATION_BUDGET_CATEGORIES: tuple[str, ...] = (
    "Service provider fees",
    "Market study",
    "Trade fair or business mission",
    "Certification and compliance for export",
    "Travel for the activities",
    "Other costs",
)

# -- questions both forms ask ------------------------------------------------------------------
_SUMMARY: dict[str, Any] = {
    "name": "summary",
    "label": "Project summary",
    "type": "long_text",
    "required": True,
    "max_words": 300,
    "help": "In plain language: what your company will do with the voucher, with which "
    "service provider, and why now. Evaluators read this first.",
}

_SERVICE_PROVIDER: dict[str, Any] = {
    "name": "service_provider",
    "label": "Service provider",
    "type": "text",
    "required": True,
    "help": "Legal name of the organisation that will deliver the service (for example a "
    "technology centre, a university laboratory or a specialised company).",
}

_PROVIDER_COUNTRY: dict[str, Any] = {
    "name": "provider_country",
    "label": "Country where the service provider is established",
    "type": "country",
    "required": True,
    "help": "The provider's registered office, as on its quote or invoice.",
}

_START_DATE: dict[str, Any] = {
    "name": "start_date",
    "label": "Planned start date",
    "type": "date",
    "required": True,
    "help": "When you expect the activities to start.",
}

# The final report falls due a set time after this date (grants.services.expectations).
_END_DATE: dict[str, Any] = {
    "name": "end_date",
    "label": "Planned end date",
    "type": "date",
    "required": True,
    "not_before": "start_date",
    "help": "The activities and the final report must be completed within the duration "
    "set by the call.",
}

_PROVIDER_QUOTE: dict[str, Any] = {
    "name": "provider_quote",
    "label": "Quote from the service provider",
    "type": "file",
    "accept": ["pdf"],
    "max_mb": 10,
    "help": "Optional: the provider's signed quote or offer. It helps evaluators check "
    "that the costs are realistic.",
}

_NO_DOUBLE_FUNDING: dict[str, Any] = {
    "name": "no_double_funding",
    "label": "I declare that the activities in this application have not received, and "
    "will not receive, funding from any other EU or national grant (no double funding).",
    "type": "yes_no",
    "required": True,
    "help": "The same activity cannot be funded twice. Tick the box to confirm.",
}


def _budget_lines(example: str, categories: tuple[str, ...]) -> dict[str, Any]:
    """The budget: one line per cost, adding up to the requested amount (the call funds 100%
    of the costs). Only the example and the categories differ from one voucher to the other."""
    return {
        "name": "budget_lines",
        "label": "Budget",
        "type": "group",
        "required": True,
        "min_items": 1,
        "max_items": 10,
        "fields": [
            {
                "name": "item",
                "label": "Cost item",
                "type": "text",
                "required": True,
                "help": example,
            },
            {
                "name": "category",
                "label": "Category",
                "type": "choice",
                "required": True,
                "options": list(categories),
            },
            {"name": "cost", "label": "Cost (EUR)", "type": "money", "required": True},
        ],
        "totals": ["cost"],
        "must_equal": "requested_amount",
        "help": "One line per cost, excluding recoverable VAT. The lines must add up to the "
        "requested amount.",
    }


def _form(*fields: dict[str, Any]) -> list[dict]:
    # Copies, so that the two forms never share a dict: a change made to one list (a test, a
    # call spec) cannot leak into the other.
    return [copy.deepcopy(f) for f in fields]


# -- up-skilling -------------------------------------------------------------------------------
VOUCHER_FORM: list[dict] = _form(
    _SUMMARY,
    {
        "name": "objectives",
        "label": "Objectives",
        "type": "long_text",
        "required": True,
        "max_words": 200,
        "help": "What your company will be able to do at the end of the project that it cannot "
        "do today. Make each objective specific and, where possible, measurable.",
    },
    {
        "name": "strategic_technology",
        "label": "Strategic technology targeted",
        "type": "choice",
        "required": True,
        "options": list(STRATEGIC_TECHNOLOGIES),
        "help": "The technology area of the LEVIATAD action plan your project mainly "
        "contributes to. Choose the closest one.",
    },
    {
        "name": "other_technologies",
        "label": "Other strategic technologies concerned",
        "type": "multi_choice",
        "options": list(STRATEGIC_TECHNOLOGIES),
        "max_choices": 3,
        "help": "Optional: further technology areas the project also touches.",
    },
    _SERVICE_PROVIDER,
    _PROVIDER_COUNTRY,
    {
        "name": "work_plan",
        "label": "Planned activities and work plan",
        "type": "long_text",
        "required": True,
        "max_words": 500,
        "help": "The main activities, who carries each out (your staff or the service "
        "provider), what each delivers, and when.",
    },
    {
        "name": "expected_impact",
        "label": "Expected impact",
        "type": "long_text",
        "required": True,
        "max_words": 300,
        "help": "How the project strengthens your position in the naval defence value chain: "
        "new capabilities, products, customers or partners, and how you will measure them.",
    },
    _START_DATE,
    _END_DATE,
    _budget_lines("For example: 5-day sonar processing course for 4 engineers.", BUDGET_CATEGORIES),
    _PROVIDER_QUOTE,
    _NO_DOUBLE_FUNDING,
)

# -- internationalisation ----------------------------------------------------------------------
INTERNATIONALISATION_FORM: list[dict] = _form(
    _SUMMARY,
    {
        "name": "target_markets",
        "label": "Target markets outside the EU",
        "type": "country_list",
        "required": True,
        "exclude_countries": ["EU"],
        "max_choices": 5,
        "help": "The countries outside the European Union where you want to sell: at least "
        "one and at most five. Choose the ones the voucher's activities are aimed at; you "
        "explain your choice in the next question.",
    },
    {
        "name": "market_analysis",
        "label": "Why these markets",
        "type": "long_text",
        "required": True,
        "max_words": 400,
        "help": "For each target market: who would buy your product or service there (navy, "
        "coast guard, shipyards, prime contractors, system integrators), what they need that "
        "you can offer, who you compete with, and what you already know of the market. "
        "Mention the rules you must follow to sell there, such as export licences, offset "
        "obligations or the need for a local partner. Say where your information comes from.",
    },
    {
        "name": "market_entry_plan",
        "label": "Market-entry plan",
        "type": "long_text",
        "required": True,
        "max_words": 500,
        "help": "The activities the voucher pays for (for example a market study, a stand at a "
        "defence trade fair, meetings with buyers, certification for export), who carries out "
        "each one (your staff or the service provider), and a timeline with milestones you "
        "can show at the final report, such as 'month 3: study delivered'.",
    },
    {
        **_SERVICE_PROVIDER,
        "help": "Legal name of the organisation that will deliver the service (for example an "
        "export consultancy, a chamber of commerce abroad or a specialised market-research "
        "company).",
    },
    _PROVIDER_COUNTRY,
    {
        "name": "provider_expertise",
        "label": "The service provider's expertise in the target markets",
        "type": "long_text",
        "required": True,
        "max_words": 300,
        "help": "Why this provider can open these markets for you: similar services it has "
        "delivered there and for whom, its contacts with buyers and authorities, and its own "
        "presence or partners in the countries. Give two or three references evaluators may "
        "contact.",
    },
    {
        "name": "expected_results",
        "label": "Expected results",
        "type": "long_text",
        "required": True,
        "max_words": 300,
        "help": "What you expect at the end of the voucher and within two years, with figures "
        "you can check at the final report: for example meetings with buyers, offers "
        "submitted, an agent or partner signed, first export sales.",
    },
    _START_DATE,
    _END_DATE,
    _budget_lines(
        "For example: shared stand at IMDEX Asia in Singapore, 3 days.",
        INTERNATIONALISATION_BUDGET_CATEGORIES,
    ),
    _PROVIDER_QUOTE,
    _NO_DOUBLE_FUNDING,
)
