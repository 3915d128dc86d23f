"""Evaluation criteria and the rules for scores: validation, thresholds, divergence, consensus.

Scores are given in half points (0, 0.5, ... max) as on the Horizon Europe evaluation form.
Thresholds apply to the plain scores; weights, where a call sets them, only affect ranking.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from workflows import numbers
from workflows.i18n import _
from workflows.numbers import plain

HALF = Decimal("0.5")
ONE_DECIMAL = Decimal("0.1")
# Criteria numbers (max, threshold, weight) are small; this only keeps the text bounded.
CONFIG_MAX = Decimal(1000)


@dataclass(frozen=True)
class Criterion:
    """One evaluation criterion of a call, as configured on the call."""

    key: str
    name: str
    max: Decimal = Decimal(5)
    threshold: Decimal = Decimal(3)
    weight: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        """Refuse a configuration no evaluator could score against."""
        if not self.key.strip():
            raise ValueError(_("a criterion needs a key"))
        if not self.name.strip():
            raise ValueError(_("criterion %(key)s needs a name", key=repr(self.key)))
        if self.max <= 0:
            raise ValueError(_("%(name)s: the maximum must be above 0", name=self.name))
        if not Decimal(0) <= self.threshold <= self.max:
            raise ValueError(
                _(
                    "%(name)s: the threshold must be between 0 and %(maximum)s",
                    name=self.name,
                    maximum=plain(self.max),
                )
            )
        if self.weight < 0:
            raise ValueError(_("%(name)s: the weight must not be negative", name=self.name))


DEFAULT_CRITERIA: list[dict] = [
    {"key": "excellence", "name": "Excellence", "max": "5", "threshold": "3", "weight": "1"},
    {"key": "impact", "name": "Impact", "max": "5", "threshold": "3", "weight": "1"},
    {
        "key": "implementation",
        "name": "Implementation",
        "max": "5",
        "threshold": "3",
        "weight": "1",
    },
]


def _config_decimal(value: object, default: Decimal, where: str) -> Decimal:
    """A number of the call's criteria, as stored (text, int or float from YAML/JSON).

    The range is wide on purpose: ``Criterion`` says what is wrong with a negative weight or
    a threshold above the maximum in its own words.
    """
    if value is None:
        return default
    try:
        return numbers.parse_decimal(
            value, field_label=where, minimum=None, maximum=CONFIG_MAX, decimals=2
        )
    except numbers.NumberRefused as exc:
        raise ValueError(exc.message) from None


def criteria_from_config(raw: list[dict]) -> list[Criterion]:
    """Build criteria from the call's stored JSON; missing max/threshold/weight take defaults."""
    criteria: list[Criterion] = []
    seen: set[str] = set()
    for index, item in enumerate(raw, start=1):
        key = str(item.get("key") or "").strip()
        where = _("criterion %(number)s (%(key)s)", number=index, key=key or _("no key"))
        if not key:
            raise ValueError(_("%(criterion)s: a key is required", criterion=where))
        if key in seen:
            raise ValueError(
                _("%(criterion)s: the key %(key)s is used twice", criterion=where, key=repr(key))
            )
        seen.add(key)
        criteria.append(
            Criterion(
                key=key,
                name=str(item.get("name") or key).strip(),
                max=_config_decimal(
                    item.get("max"), Decimal(5), _("%(criterion)s: max", criterion=where)
                ),
                threshold=_config_decimal(
                    item.get("threshold"),
                    Decimal(3),
                    _("%(criterion)s: threshold", criterion=where),
                ),
                weight=_config_decimal(
                    item.get("weight"), Decimal(1), _("%(criterion)s: weight", criterion=where)
                ),
            )
        )
    if not criteria:
        raise ValueError(_("a call needs at least one criterion"))
    return criteria


class ScoreError(ValueError):
    """Scores that cannot be recorded; ``errors`` maps each bad field to what to fix."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors.values()))


def _parse_one(criterion: Criterion, value: object) -> Decimal | str:
    """Return the score, or a message saying what is wrong with it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return _("%(criterion)s needs a score", criterion=criterion.name)
    try:
        score = numbers.parse_score(value, maximum=criterion.max, field_label=criterion.name)
    except numbers.NumberRefused as exc:
        return exc.message
    if (score * 2) % 1 != 0:
        return _(
            "%(criterion)s must be in half points (e.g. 3 or 3.5), not %(score)s",
            criterion=criterion.name,
            score=plain(score),
        )
    return score.quantize(ONE_DECIMAL)


def parse_scores(criteria: list[Criterion], raw: Mapping[str, object]) -> dict[str, Decimal]:
    """Validate one score per criterion; every problem is reported at once, keyed by criterion.

    Accepts numbers, or text as ``workflows.numbers.parse_score`` reads it ("4.5", "4,5");
    other keys in ``raw`` (e.g. a comment or a CSRF token) are ignored.
    """
    scores: dict[str, Decimal] = {}
    errors: dict[str, str] = {}
    for criterion in criteria:
        parsed = _parse_one(criterion, raw.get(criterion.key))
        if isinstance(parsed, str):
            errors[criterion.key] = parsed
        else:
            scores[criterion.key] = parsed
    if errors:
        raise ScoreError(errors)
    return scores


def total(scores: Mapping[str, Decimal]) -> Decimal:
    """Plain sum of the scores; this is the total the threshold applies to."""
    return sum(scores.values(), Decimal(0))


def weighted_total(criteria: Sequence[Criterion], scores: Mapping[str, Decimal]) -> Decimal:
    """Sum of score x weight, used for ranking only."""
    missing = [c.name for c in criteria if c.key not in scores]
    if missing:
        raise ValueError("no score for " + ", ".join(missing))
    return sum((c.weight * scores[c.key] for c in criteria), Decimal(0))


def passes_thresholds(
    criteria: Sequence[Criterion], scores: Mapping[str, Decimal], threshold_total: Decimal
) -> tuple[bool, list[str]]:
    """Every criterion at or above its threshold and the plain total at or above the total's.

    Returns the reasons for failing, worded for the result letter.
    """
    reasons: list[str] = []
    for c in criteria:
        score = scores.get(c.key)
        if score is None:
            reasons.append(_("%(criterion)s has no score", criterion=c.name))
        elif score < c.threshold:
            reasons.append(
                _(
                    "%(criterion)s %(score)s is below the threshold %(threshold)s",
                    criterion=c.name,
                    score=plain(score),
                    threshold=plain(c.threshold),
                )
            )
    sum_ = sum((scores[c.key] for c in criteria if c.key in scores), Decimal(0))
    if sum_ < threshold_total:
        reasons.append(
            _(
                "total %(total)s is below the threshold %(threshold)s",
                total=plain(sum_),
                threshold=plain(threshold_total),
            )
        )
    return (not reasons, reasons)


def divergences(
    criteria: Sequence[Criterion],
    expert_scores: list[Mapping[str, Decimal]],
    limit: Decimal = Decimal(2),
) -> list[str]:
    """Criteria where experts differ by ``limit`` points or more, for the moderator to discuss."""
    flags: list[str] = []
    for c in criteria:
        values = [s[c.key] for s in expert_scores if c.key in s]
        if len(values) < 2:
            continue
        spread = max(values) - min(values)
        if spread >= limit:
            if spread == 1:
                flag = _(
                    "%(criterion)s: experts differ by %(spread)s point",
                    criterion=c.name,
                    spread=plain(spread),
                )
            else:
                flag = _(
                    "%(criterion)s: experts differ by %(spread)s points",
                    criterion=c.name,
                    spread=plain(spread),
                )
            flags.append(flag)
    return flags


def mean_scores(
    criteria: Sequence[Criterion], expert_scores: list[Mapping[str, Decimal]]
) -> dict[str, Decimal]:
    """The experts' mean per criterion, rounded down to a half point: a consensus proposal.

    Rounded down so the proposal never credits more than the experts gave on average; a
    criterion no expert scored is left out for the moderator to fill in.
    """
    proposal: dict[str, Decimal] = {}
    for c in criteria:
        values = [s[c.key] for s in expert_scores if c.key in s]
        if not values:
            continue
        halves = (sum(values, Decimal(0)) * 2) // len(values)  # scores are >= 0: floor
        proposal[c.key] = (halves * HALF).quantize(ONE_DECIMAL)
    return proposal


def score_options(criterion: Criterion) -> list[str]:
    """Every score a person may pick for ``criterion``: 0 to its maximum in half points."""
    steps = int(criterion.max / HALF)
    return [plain(HALF * i) for i in range(steps + 1)]
