"""A call as a plain document (YAML-ready), so a consortium can keep its calls in version control.

The document holds what an officer sets, in the form they set it: times as wall-clock times
of the call's timezone ("2026-11-30 17:00"), amounts as text (no binary fractions), the form
as the form editor writes it. ``to_document`` and ``from_document`` are inverses: a document
read and written again is the same document.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from workflows import numbers
from workflows.call_rules import (
    CallRules,
    CostBasis,
    EligibilityRules,
    VoucherType,
    eligibility_rules_json,
)
from workflows.i18n import _

FORMAT = 1
WALL_FORMAT = "%Y-%m-%d %H:%M"

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)


class DocumentProblems(ValueError):
    """The document cannot be read; ``problems`` maps each path to what is wrong."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


def _wall(moment: datetime) -> str:
    return moment.strftime(WALL_FORMAT)


def _amount(value: Decimal) -> str:
    return numbers.plain(value)


def to_document(rules: CallRules, form: list[dict[str, Any]]) -> dict[str, Any]:
    """The call as a document; ``form`` is the call's form definition."""
    document: dict[str, Any] = {
        "cascade_call": FORMAT,
        "reference": rules.reference,
        "title": rules.title,
        "voucher_type": str(rules.voucher_type),
        "purpose": rules.purpose,
        "guidance": rules.guidance,
        "who_can_apply": rules.who_can_apply,
        "timezone": rules.timezone,
        "publication": None if rules.publication is None else _wall(rules.publication),
        "opening": _wall(rules.opening),
        "deadline": _wall(rules.deadline),
        "batch_ranking": rules.batch_ranking,
        "cutoffs": [_wall(cutoff) for cutoff in rules.cutoffs],
        "budget": _amount(rules.budget),
        "reserve": _amount(rules.reserve),
        "max_per_voucher": _amount(rules.max_per_voucher),
        "cumulative_cap": _amount(rules.cumulative_cap),
        "funding_rate": _amount(rules.funding_rate),
        "cost_basis": str(rules.cost_basis),
        "prefinancing_percent": _amount(rules.prefinancing_percent),
        "pay_provider_directly": rules.pay_provider_directly,
        "eligible_countries": list(rules.eligible_countries),
        "eligibility": eligibility_rules_json(rules.eligibility),
        "evaluation": {
            "criteria": [dict(criterion) for criterion in rules.criteria],
            "threshold_total": _amount(rules.threshold_total),
            "experts_per_application": rules.experts_per_application,
            "divergence_limit": _amount(rules.divergence_limit),
            "evaluators_from_other_countries": rules.evaluators_from_other_countries,
            "evaluation_days": rules.evaluation_days,
        },
        "redress_days": rules.redress_days,
        "acceptance_days": rules.acceptance_days,
        "report_window_days": rules.report_window_days,
        "form": form,
    }
    if rules.folds:
        document["folds"] = dict(sorted(rules.folds.items()))
    return document


class _Reader:
    """Reads a document's values, collecting every problem instead of stopping at the first."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.problems: dict[str, str] = {}

    def get(
        self, path: str, convert: Callable[[Any], T], default: T, *, optional: bool = False
    ) -> T:
        """The value at ``path`` converted; ``default`` (and a problem unless ``optional``)
        when it is missing or wrong."""
        node: Any = self.document
        for part in path.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is None:
            if not optional:
                self.problems.setdefault(path, _("missing"))
            return default
        try:
            return convert(node)
        except (ValueError, TypeError) as exc:
            self.problems[path] = str(exc) or _("not readable")
            return default


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(_("write it as text"))
    return value


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(_("write a whole number"))
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(_("write true or false"))
    return value


def _decimal(value: Any) -> Decimal:
    try:
        return numbers.parse_decimal(value, minimum=None)
    except numbers.NumberRefused as exc:
        raise ValueError(exc.message) from None


def _wall_time(value: Any) -> datetime:
    try:
        return datetime.strptime(str(value), WALL_FORMAT)
    except ValueError:
        raise ValueError(
            _("write a time as on a clock, e.g. 2026-11-30 17:00 (the call's timezone)")
        ) from None


def _optional_wall(value: Any) -> datetime | None:
    return _wall_time(value)


def _countries(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
        raise ValueError(_("write a list of country codes, e.g. [IT, FR]"))
    return tuple(code.strip().upper() for code in value)


def _walls(value: Any) -> tuple[datetime, ...]:
    if not isinstance(value, list):
        raise ValueError(_("write a list of times"))
    return tuple(_wall_time(item) for item in value)


def _criteria(value: Any) -> tuple[Mapping[str, object], ...]:
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise ValueError(_("write a list of criteria, each with key, name, max, threshold"))
    return tuple(dict(item) for item in value)


def _folds(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping) or not all(v in (0, 1) for v in value.values()):
        raise ValueError(_("write, per time, 0 for the first of the two instants or 1"))
    return {str(k): int(v) for k, v in value.items()}


def _choice(kind: type[E]) -> Callable[[Any], E]:
    def convert(value: Any) -> E:
        try:
            return kind(value)
        except ValueError:
            choices = ", ".join(str(member) for member in kind)
            raise ValueError(_("choose one of: %(choices)s", choices=choices)) from None

    return convert


def _form(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ValueError(_("write the form as a list of fields"))
    return [dict(item) if isinstance(item, Mapping) else item for item in value]


def from_document(document: Any) -> tuple[CallRules, list[dict[str, Any]]]:
    """The call's rules and form from a document, or DocumentProblems naming every mistake."""
    if not isinstance(document, Mapping):
        raise DocumentProblems({"": _("a call document is a mapping of names to values")})
    if document.get("cascade_call") != FORMAT:
        raise DocumentProblems(
            {"cascade_call": _("not a Cascade call document of format %(v)s", v=FORMAT)}
        )
    read = _Reader(document)
    known = {"cascade_call", *(f.name for f in fields(CallRules)), "evaluation", "form"}
    known -= {"criteria", "threshold_total", "experts_per_application", "divergence_limit"}
    known -= {"evaluators_from_other_countries", "evaluation_days"}
    for name in document:
        if name not in known:
            read.problems[str(name)] = _("unknown name")
    e = "eligibility."
    eligibility = EligibilityRules(
        min_registration_months=read.get(e + "min_registration_months", _whole, -1),
        de_minimis_check=read.get(e + "de_minimis_check", _flag, False),
        de_minimis_ceiling=read.get(e + "de_minimis_ceiling", _decimal, Decimal(0)),
        de_minimis_years=read.get(e + "de_minimis_years", _whole, 0),
        one_application_per_sme=read.get(e + "one_application_per_sme", _flag, False),
        partner_exclusion=read.get(e + "partner_exclusion", _flag, False),
        target_markets_outside_eu=read.get(e + "target_markets_outside_eu", _flag, False),
    )
    # "min_registration_months: null" turns the check off: present but empty.
    chosen = document.get("eligibility")
    if isinstance(chosen, Mapping) and chosen.get("min_registration_months", 0) is None:
        read.problems.pop(e + "min_registration_months", None)
        eligibility = replace(eligibility, min_registration_months=None)
    rules = CallRules(
        reference=read.get("reference", _text, ""),
        title=read.get("title", _text, ""),
        purpose=read.get("purpose", _text, ""),
        voucher_type=read.get("voucher_type", _choice(VoucherType), VoucherType.OTHER),
        timezone=read.get("timezone", _text, ""),
        opening=read.get("opening", _wall_time, datetime.min),
        deadline=read.get("deadline", _wall_time, datetime.min),
        budget=read.get("budget", _decimal, Decimal(0)),
        max_per_voucher=read.get("max_per_voucher", _decimal, Decimal(0)),
        guidance=read.get("guidance", _text, "", optional=True),
        who_can_apply=read.get("who_can_apply", _text, "", optional=True),
        batch_ranking=read.get("batch_ranking", _flag, False, optional=True),
        publication=read.get("publication", _optional_wall, None, optional=True),
        cutoffs=read.get("cutoffs", _walls, (), optional=True),
        reserve=read.get("reserve", _decimal, Decimal(0)),
        funding_rate=read.get("funding_rate", _decimal, Decimal(0)),
        cost_basis=read.get("cost_basis", _choice(CostBasis), CostBasis.COSTS),
        prefinancing_percent=read.get("prefinancing_percent", _decimal, Decimal(0)),
        # Optional: files written before this rule existed pay the SME.
        pay_provider_directly=read.get("pay_provider_directly", _flag, False, optional=True),
        cumulative_cap=read.get("cumulative_cap", _decimal, Decimal(0)),
        eligible_countries=read.get("eligible_countries", _countries, ()),
        eligibility=eligibility,
        criteria=read.get("evaluation.criteria", _criteria, ()),
        threshold_total=read.get("evaluation.threshold_total", _decimal, Decimal(0)),
        experts_per_application=read.get("evaluation.experts_per_application", _whole, 0),
        divergence_limit=read.get("evaluation.divergence_limit", _decimal, Decimal(0)),
        # Optional: files written before these rules existed read as the defaults.
        evaluators_from_other_countries=read.get(
            "evaluation.evaluators_from_other_countries", _flag, False, optional=True
        ),
        evaluation_days=read.get("evaluation.evaluation_days", _whole, 14, optional=True),
        redress_days=read.get("redress_days", _whole, 0),
        acceptance_days=read.get("acceptance_days", _whole, 0),
        report_window_days=read.get("report_window_days", _whole, 0),
        folds=read.get("folds", _folds, {}, optional=True),
    )
    form = read.get("form", _form, [])
    if read.problems:
        raise DocumentProblems(read.problems)
    return rules, form or []
