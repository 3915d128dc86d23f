"""The LEVIATAD consortium's four clusters, which calls each works on, and one cluster's staff
account that tries to apply (and is told it cannot)."""

from __future__ import annotations

from grants.demo.call_specs import INTERNATIONALISATION, UPSKILLING

# Form values of each partner, as an officer types them. The numbers are made up but valid
# for their country's scheme, and shared with no demo SME.
DEMO_PARTNERS: list[dict[str, str]] = [
    {
        "name": "Distretto Ligure delle Tecnologie Marine S.c.r.l.",
        "short_name": "DLTM",
        "country": "IT",
        "registration_number": "07654320105",
        "vat_number": "IT07654320105",
        "email_domain": "dltm.example",
    },
    {
        "name": "Toulon Var Technologies",
        "short_name": "TVT",
        "country": "FR",
        "registration_number": "823456785",
        "vat_number": "FR72823456785",
        "email_domain": "tvt.example",
    },
    {
        "name": "Stichting Blauwe Cluster",
        "short_name": "Blauwe Cluster",
        "country": "NL",
        "registration_number": "74125896",
        "vat_number": "NL860421375B01",
        "email_domain": "blauwecluster.example",
    },
    {
        "name": "Croatian Defence Industry Competitiveness Cluster",
        "short_name": "CDICC",
        "country": "HR",
        "registration_number": "36190274585",
        "vat_number": "HR36190274585",
        "email_domain": "cdicc.example",
    },
]

# Call reference -> (managing partner, the partners whose staff work on it), by short name.
DEMO_CALL_PARTNERS: dict[str, tuple[str, tuple[str, ...]]] = {
    UPSKILLING: ("DLTM", ("DLTM", "TVT", "CDICC")),
    INTERNATIONALISATION: ("TVT", ("DLTM", "TVT", "Blauwe Cluster", "CDICC")),
}

# DLTM's project office registered the cluster as an applicant organisation: starting an
# application is refused, since a partner cannot apply to the consortium's calls.
PARTNER_ACCOUNT = ("progetti@dltm.example", "Chiara Rossi")
PARTNER_PROFILE = {
    "legal_name": "Distretto Ligure delle Tecnologie Marine S.c.r.l.",
    "country": "IT",
    "registration_number": "076 543 201 05",
    "vat_number": "IT 07654320105",
    "address": "Viale Italia 1, 19121 La Spezia SP",
}
