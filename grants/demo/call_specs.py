"""The demo's two calls: their references and what they publish."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from forms.defaults import INTERNATIONALISATION_FORM, VOUCHER_FORM
from grants.services.calls import CallSpec
from workflows.call_rules import (
    CostBasis,
    EligibilityRules,
    VoucherType,
    eligibility_rules_json,
)

UPSKILLING = "LEV-UPS-2026"
INTERNATIONALISATION = "LEV-INT-2026"


def brussels_five_pm(day: datetime) -> datetime:
    """Deadlines are stated as 17:00 Brussels time (DOMAIN.md), stored in UTC."""
    local = datetime.combine(day.date(), time(17, 0), tzinfo=ZoneInfo("Europe/Brussels"))
    return local.astimezone(UTC)


def demo_calls(now: datetime) -> tuple[CallSpec, CallSpec]:
    """The demo's calls as of ``now``: up-skilling (opened 150 days ago, now past its
    deadline) and internationalisation (open)."""
    ups_open = now - timedelta(days=150)
    ups = CallSpec(
        reference=UPSKILLING,
        title="Up-skilling voucher for strategic technologies",
        description=(
            "Vouchers for SMEs of the naval and aero-naval defence value chain to train "
            "their staff in strategic technologies (autonomy, cyber security, advanced "
            "materials, sensors, green propulsion, digital twins) with an accredited "
            "training provider. The provider's invoice is reimbursed up to EUR 8,000 per "
            "SME, 100% funded; 50% pre-financing at signature, the balance on the costs "
            "approved after the final report."
        ),
        budget=Decimal("80000.00"),
        max_per_voucher=Decimal("8000.00"),
        eligible_applicants=(
            "SMEs of the naval and aero-naval defence value chain (shipyards, system "
            "integrators, sensor, software and materials suppliers) that want their "
            "staff trained in a strategic technology by an accredited provider."
        ),
        applicant_guide=(
            "Choose an accredited training provider from the LEVIATAD network and attach "
            "its quote. Describe the skills gap, who will be trained and how the new "
            "skills will be used in a defence project within a year. Budget lines must "
            "add up to the requested amount."
        ),
        opens_at=ups_open,
        deadline=brussels_five_pm(ups_open + timedelta(days=90)),
        form=list(VOUCHER_FORM),
        voucher_type=VoucherType.UPSKILLING,
    )
    int_open = now - timedelta(days=20)
    intl = CallSpec(
        reference=INTERNATIONALISATION,
        title="Internationalisation voucher for third-country markets",
        description=(
            "Lump-sum vouchers of up to EUR 2,000 for SMEs to approach defence markets "
            "outside the EU (trade fairs, market studies, certification for export). "
            "A cut-off call: applications are evaluated and ranked in monthly batches "
            "until the budget is used or the deadline passes."
        ),
        budget=Decimal("30000.00"),
        max_per_voucher=Decimal("2000.00"),
        eligible_applicants=(
            "SMEs of the naval defence value chain with a product or service ready for "
            "export, targeting a defence market outside the European Union."
        ),
        applicant_guide=(
            "Name the target country and the event, study or certification the voucher "
            "pays for. Export-control obligations remain the applicant's responsibility."
        ),
        opens_at=int_open,
        deadline=brussels_five_pm(int_open + timedelta(days=100)),
        batch_ranking=True,
        # The first cut-off is past (its batch ranked and approved), the second ahead.
        cutoffs=[brussels_five_pm(int_open + timedelta(days=days)) for days in (10, 60)],
        form=list(INTERNATIONALISATION_FORM),
        voucher_type=VoucherType.INTERNATIONALISATION,
        cost_basis=CostBasis.LUMP_SUM,
        eligibility_rules=eligibility_rules_json(EligibilityRules(target_markets_outside_eu=True)),
    )

    return ups, intl
