"""The demo's people and organisations: one user per role, a dozen SMEs and their profiles."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from grants.db import utcnow
from workflows.roles import Role

DEMO_PASSWORD = "leviatad-demo"

# (email, full name, role, country)
DEMO_USERS: list[tuple[str, str, str, str]] = [
    ("applicant@leviatad.example", "Giulia Parodi", Role.APPLICANT, "IT"),
    ("officer@leviatad.example", "Marco Bianchi", Role.OFFICER, "IT"),
    ("evaluator1@leviatad.example", "Pieter de Vries", Role.EVALUATOR, "NL"),
    ("evaluator2@leviatad.example", "Ivana Horvat", Role.EVALUATOR, "HR"),
    ("finance1@leviatad.example", "Claire Martin", Role.FINANCE, "FR"),
    ("finance2@leviatad.example", "Luca Ferrari", Role.FINANCE, "IT"),
    ("auditor@leviatad.example", "Sophie Janssens", Role.AUDITOR, "BE"),
    ("admin@leviatad.example", "Ana Kovač", Role.ADMIN, "HR"),
]

# (legal name, country, registration number, city, registered on, demo IBAN). The numbers
# are made up but valid for their country's scheme (check digits included): partita IVA,
# SIREN, KvK number, Belgian enterprise number, OIB.
DEMO_SMES: list[tuple[str, str, str, str, date, str]] = [
    (
        "Ligure Sonar Systems S.r.l.",
        "IT",
        "02654310107",
        "Genova",
        date(2015, 3, 2),
        "IT60X0542811101000000123456",
    ),
    (
        "Tigullio Composites S.r.l.",
        "IT",
        "01987650106",
        "Chiavari",
        date(2011, 6, 20),
        "IT22E0306909606100000063186",
    ),
    (
        "Spezia Naval Robotics S.r.l.",
        "IT",
        "01456780111",
        "La Spezia",
        date(2019, 9, 9),
        "IT40S0542811101000000123456",
    ),
    (
        "Var Hydrographie SAS",
        "FR",
        "803452127",
        "Toulon",
        date(2014, 1, 15),
        "FR1420041010050500013M02606",
    ),
    (
        "Rade Cyber Défense SAS",
        "FR",
        "844556670",
        "La Seyne-sur-Mer",
        date(2018, 11, 5),
        "FR7630006000011234567890189",
    ),
    (
        "Méditerranée Propulsion Verte SARL",
        "FR",
        "512345679",
        "Hyères",
        date(2012, 4, 30),
        "FR7630004000031234567890143",
    ),
    (
        "Den Helder Maritime Sensors B.V.",
        "NL",
        "64387215",
        "Den Helder",
        date(2016, 2, 1),
        "NL91ABNA0417164300",
    ),
    (
        "Vlissingen Digital Twin B.V.",
        "NL",
        "78120943",
        "Vlissingen",
        date(2020, 5, 18),
        "NL02ABNA0123456789",
    ),
    (
        "Antwerp Naval Coatings BV",
        "BE",
        "0456789034",
        "Antwerpen",
        date(2013, 8, 12),
        "BE68539007547034",
    ),
    (
        "Jadranski Autonomni Sustavi d.o.o.",
        "HR",
        "48573029164",
        "Split",
        date(2017, 3, 14),
        "HR1210010051863000160",
    ),
    (
        "Pula Brodogradnja Inženjering d.o.o.",
        "HR",
        "72618493054",
        "Pula",
        date(2010, 10, 1),
        "HR1723600001101234565",
    ),
    (
        "Rijeka Marine Electronics d.o.o.",
        "HR",
        "59382716403",
        "Rijeka",
        date(2021, 1, 11),
        "HR6924840081105234567",
    ),
]


def _aid(authority: str, amount: str, days_ago: int) -> dict[str, str]:
    granted = utcnow().date() - timedelta(days=days_ago)
    return {"granting_authority": authority, "amount": amount, "granted_on": granted.isoformat()}


def _related(
    name: str, relation: str, share: str, staff: str, turnover: str, balance: str
) -> dict[str, str]:
    return {
        "name": name,
        "relation": relation,
        "share_percent": share,
        "headcount": staff,
        "turnover": turnover,
        "balance_sheet": balance,
    }


def demo_profiles() -> list[dict[str, Any]]:
    """Each demo SME's profile (DEMO_SMES order): figures that make every SME category and
    every kind of enterprise appear, and de minimis aid granted some days before today."""
    return [
        {  # small, autonomous
            "vat_number": "IT02654310107",
            "address": "Via al Molo Giano 5, 16128 Genova GE",
            "contact_phone": "+39 010 246 8100",
            "headcount": "24",
            "turnover": "3800000",
            "balance_sheet": "2900000",
            "de_minimis_aid": [
                _aid("Regione Liguria (PR FESR 2021-2027)", "45000", 520),
                _aid("Camera di Commercio di Genova", "8000", 280),
            ],
        },
        {  # micro alone, small with its 30% partner (10.8 staff)
            "vat_number": "IT01987650106",
            "address": "Corso Dante 112, 16043 Chiavari GE",
            "contact_phone": "+39 0185 30 2211",
            "headcount": "9",
            "turnover": "1200000",
            "balance_sheet": "800000",
            "enterprise_type": "partner",
            "related_enterprises": [
                _related(
                    "Tigullio Partecipazioni S.r.l.", "partner", "30", "6", "900000", "2500000"
                )
            ],
        },
        {  # micro; a university holds 40%: an exempt investor, not counted
            "vat_number": "IT01456780111",
            "address": "Viale San Bartolomeo 400, 19126 La Spezia SP",
            "contact_phone": "+39 0187 50 3344",
            "headcount": "7",
            "turnover": "950000",
            "balance_sheet": "600000",
            "related_enterprises": [
                {
                    **_related("Università di Genova", "partner", "40", "6500", "0", "0"),
                    "holder_type": "university",
                }
            ],
            "de_minimis_aid": [_aid("Invitalia (Smart&Start Italia)", "120000", 700)],
        },
        {  # small alone, medium with its parent company counted in full
            "vat_number": "FR95803452127",
            "address": "Technopôle de la Mer, 83500 La Seyne-sur-Mer",
            "contact_phone": "+33 4 94 10 20 30",
            "headcount": "38",
            "turnover": "6500000",
            "balance_sheet": "4100000",
            "enterprise_type": "linked",
            "related_enterprises": [
                _related("Groupe Hydro Sud SAS", "linked", "100", "45", "7000000", "9000000")
            ],
        },
        {  # small
            "vat_number": "FR49844556670",
            "address": "12 avenue de l'Europe, 83500 La Seyne-sur-Mer",
            "contact_phone": "+33 4 94 55 66 77",
            "headcount": "15",
            "turnover": "2400000",
            "balance_sheet": "1100000",
        },
        {  # over the small ceilings last year only: stays small; de minimis close to the ceiling
            "vat_number": "FR75512345679",
            "address": "ZA Saint-Martin, 83400 Hyères",
            "contact_phone": "+33 4 94 12 34 56",
            "accounts_year": str(utcnow().year - 1),
            "headcount": "62",
            "turnover": "11500000",
            "balance_sheet": "8200000",
            "previous_headcount": "46",
            "previous_turnover": "9400000",
            "previous_balance_sheet": "7100000",
            "held_category": "small",
            "de_minimis_aid": [
                _aid("Bpifrance", "200000", 610),
                _aid("Région Provence-Alpes-Côte d'Azur", "90000", 150),
            ],
        },
        {  # small alone (48 staff), medium with its 25% partner
            "vat_number": "NL859123455B01",
            "address": "Het Nieuwe Diep 21, 1781 AC Den Helder",
            "contact_phone": "+31 223 61 22 33",
            "headcount": "48",
            "turnover": "9200000",
            "balance_sheet": "7500000",
            "enterprise_type": "partner",
            "related_enterprises": [
                _related("Noordzee Ventures B.V.", "partner", "25", "20", "4000000", "3000000")
            ],
        },
        {  # micro
            "vat_number": "NL812345678B01",
            "address": "Edisonweg 2, 4382 NW Vlissingen",
            "contact_phone": "+31 118 42 10 00",
            "headcount": "6",
            "turnover": "700000",
            "balance_sheet": "400000",
        },
        {  # small
            "vat_number": "BE0456789034",
            "address": "Noorderlaan 139, 2030 Antwerpen",
            "contact_phone": "+32 3 545 12 12",
            "headcount": "31",
            "turnover": "5900000",
            "balance_sheet": "4400000",
            "de_minimis_aid": [_aid("VLAIO (Agentschap Innoveren & Ondernemen)", "60000", 400)],
        },
        {  # small
            "vat_number": "HR48573029164",
            "address": "Put Brodarice 6, 21000 Split",
            "contact_phone": "+385 21 555 010",
            "headcount": "12",
            "turnover": "1600000",
            "balance_sheet": "1300000",
        },
        {  # medium
            "vat_number": "HR72618493054",
            "address": "Flaciusova 1, 52100 Pula",
            "contact_phone": "+385 52 375 200",
            "headcount": "140",
            "turnover": "22000000",
            "balance_sheet": "18000000",
            "de_minimis_aid": [_aid("HAMAG-BICRO", "25000", 900)],
        },
        {  # micro
            "vat_number": "HR59382716403",
            "address": "Milutina Barača 26, 51000 Rijeka",
            "contact_phone": "+385 51 600 300",
            "headcount": "4",
            "turnover": "350000",
            "balance_sheet": "250000",
        },
    ]


# A second account registered Ligure Sonar Systems again, under another name: officers see
# the two flagged as possible duplicates on their dashboard.
DUPLICATE_ACCOUNT = ("acquisti@liguresonar.example", "Marco Repetto")
DUPLICATE_PROFILE = {
    "legal_name": "Ligure Sonar Sistemi S.r.l.",
    "country": "IT",
    "registration_number": "IT 026 543 101 07",
    "address": "Via al Molo Giano 5, 16128 Genova GE",
}
