"""What the eligibility panel and the bulk pages show beside the checks themselves."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _

from grants.services.eligibility import EvidenceProfile
from workflows.money import format_eur
from workflows.numbers import plain


def _eur(value: object) -> str:
    return format_eur(Decimal(str(value))) if value not in (None, "") else "—"


def profile_figures(profile: EvidenceProfile) -> list[tuple[str, str]]:
    """The profile figures the checks used, as label and value."""
    values: Mapping[str, Any] = profile.values
    headcount = values.get("headcount")
    aid = values.get("de_minimis_aid") or []
    related = values.get("related_enterprises") or []
    return [
        (_("Legal name"), str(values.get("legal_name") or "—")),
        (_("Country"), str(values.get("country") or "—")),
        (_("Registration number"), str(values.get("registration_number") or "—")),
        (_("VAT number"), str(values.get("vat_number") or "—")),
        (_("Registered on"), str(values.get("registered_on") or "—")),
        (
            _("Staff (annual work units)"),
            plain(Decimal(str(headcount))) if headcount not in (None, "") else "—",
        ),
        (_("Annual turnover"), _eur(values.get("turnover"))),
        (_("Balance-sheet total"), _eur(values.get("balance_sheet"))),
        (_("Partner and linked enterprises"), str(len(related))),
        (
            _("De minimis aid declared"),
            _(
                "%(count)d grant(s), %(total)s in all",
                count=len(aid),
                total=format_eur(sum((Decimal(str(a["amount"])) for a in aid), Decimal("0.00"))),
            ),
        ),
    ]
