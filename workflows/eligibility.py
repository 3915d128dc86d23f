"""Eligibility checks of an application, each with the evidence shown to the officer.

The automatic checks are computed from what the applicant declared; the manual ones need
an officer's judgement and are recorded with the officer's evidence. The eligibility
letter lists every check, passed or not, so the applicant can see why.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal

from workflows.local_time import zone
from workflows.money import format_eur


@dataclass(frozen=True)
class CheckResult:
    """One eligibility check and the evidence it was decided on."""

    key: str
    name: str
    passed: bool
    evidence: str

    def as_dict(self) -> dict[str, object]:
        """The form stored in the application's JSON and read by the guards."""
        return asdict(self)


# SME status is decided from the profile kept at submission (``sme_check``); only what the
# data cannot show is left to the officer.
MANUAL_CHECKS: list[tuple[str, str]] = [
    ("no_double_funding", "No double funding of the same activity"),
]
# An officer overriding an automatic check says why, in at most this many characters.
OVERRIDE_REASON_MAX = 1000


def months_before(day: date, months: int) -> date:
    """Same day ``months`` calendar months earlier, clamped to month end (31 Aug -> 28 Feb)."""
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _country_check(country: str, eligible_countries: Sequence[str]) -> CheckResult:
    """Country codes are compared case- and space-insensitively (ISO 3166 alpha-2 expected)."""
    code = country.strip().upper()
    eligible = sorted({c.strip().upper() for c in eligible_countries})
    listed = ", ".join(eligible) or "none"
    if not code:
        return CheckResult(
            "country", "Established in an eligible country", False, "country not given"
        )
    passed = code in eligible
    verb = "is" if passed else "is not"
    return CheckResult(
        "country",
        "Established in an eligible country",
        passed,
        f"established in {code}, which {verb} eligible (eligible: {listed})",
    )


def _amount_check(requested: Decimal | None, maximum: Decimal) -> CheckResult:
    """The request must be a positive amount no higher than the voucher maximum."""
    name = "Requested amount within the voucher maximum"
    if requested is None:
        return CheckResult("amount", name, False, "requested amount not given")
    if requested <= 0:
        return CheckResult(
            "amount", name, False, f"requested {format_eur(requested)} is not a positive amount"
        )
    passed = requested <= maximum
    relation = "within" if passed else "above"
    return CheckResult(
        "amount",
        name,
        passed,
        f"requested {format_eur(requested)} is {relation} the maximum {format_eur(maximum)}",
    )


def _registration_check(registered_on: date | None, deadline: date, months: int) -> CheckResult:
    """Registered on or before the date N calendar months before the deadline."""
    name = f"Registered at least {months} months before the deadline"
    if registered_on is None:
        return CheckResult("registration", name, False, "registration date not given")
    latest = months_before(deadline, months)
    passed = registered_on <= latest
    relation = "on or before" if passed else "after"
    return CheckResult(
        "registration",
        name,
        passed,
        f"registered on {registered_on.isoformat()}, {relation} {latest.isoformat()} "
        f"({months} months before the deadline {deadline.isoformat()})",
    )


def years_before(day: date, years: int) -> date:
    """Same day ``years`` earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


@dataclass(frozen=True)
class DeMinimisRule:
    """The call's de minimis headroom check (Regulation 2023/2831): aid granted in a rolling
    period of ``years`` ending on ``on`` plus this voucher must stay within ``ceiling``."""

    ceiling: Decimal
    years: int
    on: date


def de_minimis_check(
    aid: Sequence[tuple[Decimal, date]], requested: Decimal | None, rule: DeMinimisRule
) -> CheckResult:
    """``aid``: the de minimis aid the organisation declared, as (amount, granted on)."""
    period = f"{rule.years} year" + ("" if rule.years == 1 else "s")
    name = f"De minimis aid within {format_eur(rule.ceiling)} over {period}"
    if requested is None:
        return CheckResult("de_minimis", name, False, "requested amount not given")
    start = years_before(rule.on, rule.years)
    counted = [amount for amount, granted_on in aid if start < granted_on <= rule.on]
    earlier = sum(counted, Decimal("0.00"))
    total = earlier + requested
    passed = total <= rule.ceiling
    relation = "within" if passed else "above"
    grants = f"{len(counted)} grant" + ("" if len(counted) == 1 else "s")
    return CheckResult(
        "de_minimis",
        name,
        passed,
        f"{format_eur(earlier)} of de minimis aid declared since {start.isoformat()} "
        f"({grants}) plus the {format_eur(requested)} requested makes {format_eur(total)}, "
        f"{relation} the ceiling of {format_eur(rule.ceiling)} "
        f"(headroom {format_eur(max(rule.ceiling - earlier, Decimal('0.00')))})",
    )


def _partner_check(partner: str | None, basis: str) -> CheckResult:
    """``partner``: the consortium partner the applicant was found to be, by its short name."""
    name = "Not a consortium partner"
    if partner is None:
        return CheckResult(
            "not_partner", name, True, "not a partner of the consortium running the call"
        )
    return CheckResult(
        "not_partner",
        name,
        False,
        f"is {partner}, a partner of the consortium running the call"
        + (f" ({basis})" if basis else ""),
    )


def _local(moment: datetime, timezone: str) -> str:
    return f"{moment.astimezone(zone(timezone)):%Y-%m-%d %H:%M:%S}"


def deadline_check(submitted_at: datetime | None, deadline: datetime, timezone: str) -> CheckResult:
    """Submitted no later than the call's deadline (the server's time of receipt)."""
    name = "Submitted before the deadline"
    if submitted_at is None:
        return CheckResult("deadline", name, False, "not submitted")
    passed = submitted_at <= deadline
    relation = "before" if passed else "after"
    return CheckResult(
        "deadline",
        name,
        passed,
        f"submitted at {_local(submitted_at, timezone)}, {relation} the deadline "
        f"{_local(deadline, timezone)} ({timezone})",
    )


@dataclass(frozen=True)
class RequiredFile:
    """A file the call's form requires, and the one attached (None: missing)."""

    label: str
    filename: str | None


def attachments_check(files: Sequence[RequiredFile]) -> CheckResult:
    name = "Required attachments present"
    missing = [f.label for f in files if f.filename is None]
    if missing:
        return CheckResult("attachments", name, False, "missing: " + "; ".join(missing))
    listed = "; ".join(f"{f.label}: {f.filename}" for f in files)
    return CheckResult("attachments", name, True, f"attached {listed}")


@dataclass(frozen=True)
class OtherApplication:
    """Another application in the call by an organisation with the same company numbers."""

    organisation: str
    reference: str
    basis: str  # "same registration number IT 01234567890"


def one_application_check(organisation: str, others: Sequence[OtherApplication]) -> CheckResult:
    """One application per SME per call: the same company registered twice is one SME."""
    name = "One application per SME in the call"
    if not others:
        return CheckResult(
            "one_application",
            name,
            True,
            f"the only application of {organisation} in the call: no other applicant "
            "organisation has its registration or VAT number",
        )
    found = "; ".join(f"{o.organisation} ({o.reference}): {o.basis}" for o in others)
    return CheckResult(
        "one_application",
        name,
        False,
        f"possibly the same SME applies again: {found}",
    )


def sme_check(
    category: str | None, is_sme: bool, rule: str, explanation: str | None
) -> CheckResult:
    """The SME test (Recommendation 2003/361/EC) run on the profile kept at submission;
    ``category`` None when it could not run (``explanation`` says why)."""
    name = "SME under Recommendation 2003/361/EC"
    if category is None:
        return CheckResult(
            "sme_status",
            name,
            False,
            explanation or "the profile lacks the staff, turnover or balance-sheet figures",
        )
    applied = f"(rule applied: {rule.replace('_', ' ')})" if rule else ""
    evidence = " ".join(part for part in (explanation, applied) if part)
    return CheckResult("sme_status", name, is_sme, evidence or category)


def automatic_checks(
    *,
    country: str,
    eligible_countries: Sequence[str],
    consortium_partner: str | None,
    partner_basis: str = "",
    declaration_signed: bool,
    requested_amount: Decimal | None,
    max_per_voucher: Decimal,
    registered_on: date | None,
    deadline: date,
    min_registration_months: int | None = 6,
    partner_exclusion: bool = True,
    de_minimis: DeMinimisRule | None = None,
    de_minimis_aid: Sequence[tuple[Decimal, date]] = (),
    submission: CheckResult | None = None,
    one_application: CheckResult | None = None,
    sme: CheckResult | None = None,
    attachments: CheckResult | None = None,
) -> list[CheckResult]:
    """The checks decided from the application data, in the order the letter shows them.

    ``consortium_partner`` is the short name of the partner the applicant organisation was
    found to be (None: none), ``partner_basis`` what it was recognised by. A call may leave
    out the registration-age check (``min_registration_months`` None) and the partner
    exclusion, and applies the de minimis headroom check only when it sets one
    (``de_minimis``); a check left out is not shown at all, rather than shown as passed.
    The checks built by the caller (``submission``: ``deadline_check``, ``one_application``,
    ``sme``, ``attachments``) take their place in the letter's order when given.
    """
    if min_registration_months is not None and min_registration_months < 0:
        raise ValueError("min_registration_months must not be negative")
    checks = [c for c in (submission,) if c is not None]
    checks.append(_country_check(country, eligible_countries))
    if partner_exclusion:
        checks.append(_partner_check(consortium_partner, partner_basis))
    checks.extend(c for c in (one_application, sme) if c is not None)
    return [
        *checks,
        CheckResult(
            "declaration",
            "Declaration of honour signed",
            declaration_signed,
            "declaration of honour signed"
            if declaration_signed
            else "declaration of honour not signed",
        ),
        _amount_check(requested_amount, max_per_voucher),
        *([] if attachments is None else [attachments]),
        *(
            []
            if min_registration_months is None
            else [_registration_check(registered_on, deadline, min_registration_months)]
        ),
        *(
            []
            if de_minimis is None
            else [de_minimis_check(de_minimis_aid, requested_amount, de_minimis)]
        ),
    ]
