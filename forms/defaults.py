"""The default voucher application form offered when a call is created.

Written for the LEVIATAD Eurocluster (naval and aero-naval defence) up-skilling vouchers: an
SME buys a service from a provider to adopt one of the strategic technologies of the cluster's
action plan. A call copies this list into its own form definition and may change it freely.
The project title and the requested amount are not here: every application has them as its
own columns (they appear on letters, rankings and payments), whatever the call's form. The
budget lines must add up to the requested amount: the default call funds 100% of the costs.
"""

from __future__ import annotations

__all__ = ["BUDGET_CATEGORIES", "STRATEGIC_TECHNOLOGIES", "VOUCHER_FORM"]

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

VOUCHER_FORM: list[dict] = [
    {
        "name": "summary",
        "label": "Project summary",
        "type": "long_text",
        "required": True,
        "max_words": 300,
        "help": "In plain language: what your company will do with the voucher, with which "
        "service provider, and why now. Evaluators read this first.",
    },
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
    {
        "name": "service_provider",
        "label": "Service provider",
        "type": "text",
        "required": True,
        "help": "Legal name of the organisation that will deliver the service (for example a "
        "technology centre, a university laboratory or a specialised company).",
    },
    {
        "name": "provider_country",
        "label": "Country where the service provider is established",
        "type": "country",
        "required": True,
        "help": "The provider's registered office, as on its quote or invoice.",
    },
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
    {
        "name": "start_date",
        "label": "Planned start date",
        "type": "date",
        "required": True,
        "help": "When you expect the activities to start.",
    },
    {
        "name": "end_date",
        "label": "Planned end date",
        "type": "date",
        "required": True,
        "not_before": "start_date",
        "help": "The activities and the final report must be completed within the duration "
        "set by the call.",
    },
    {
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
                "help": "For example: 5-day sonar processing course for 4 engineers.",
            },
            {
                "name": "category",
                "label": "Category",
                "type": "choice",
                "required": True,
                "options": list(BUDGET_CATEGORIES),
            },
            {"name": "cost", "label": "Cost (EUR)", "type": "money", "required": True},
        ],
        "totals": ["cost"],
        "must_equal": "requested_amount",
        "help": "One line per cost, excluding recoverable VAT. The lines must add up to the "
        "requested amount.",
    },
    {
        "name": "provider_quote",
        "label": "Quote from the service provider",
        "type": "file",
        "accept": ["pdf"],
        "max_mb": 10,
        "help": "Optional: the provider's signed quote or offer. It helps evaluators check "
        "that the costs are realistic.",
    },
    {
        "name": "no_double_funding",
        "label": "I declare that the activities in this application have not received, and "
        "will not receive, funding from any other EU or national grant (no double funding).",
        "type": "yes_no",
        "required": True,
        "help": "The same activity cannot be funded twice. Tick the box to confirm.",
    },
]
