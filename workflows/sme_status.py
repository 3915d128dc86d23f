"""The SME status of an enterprise, decided by the rules of Recommendation 2003/361/EC that go
beyond adding figures (Annex arts. 3, 4 and 6, as the Commission's user guide applies them).

In the order they decide:
1. public bodies holding 25% or more of the capital or votes, jointly or alone, make the
   enterprise not an SME whatever its figures (art. 3(4));
2. the figures counted: own, partners pro rata, linked in full; a partner's or linked
   enterprise's own linked enterprises go with it (art. 6(2)-(3)); partners of partners are
   not counted. Exempt investors (public investment corporations, venture capital companies,
   business angels up to EUR 1.25 million invested, universities and non-profit research
   centres, institutional investors, small autonomous local authorities) holding 25% to 50%
   without being linked leave the enterprise autonomous (art. 3(2)); a cross-holding counts
   once, at the greater share; an enterprise entered twice is refused, never summed;
3. the category changes only after two consecutive closed years beyond or within the
   ceilings (art. 4(2)); a newly established enterprise uses a good-faith estimate (art. 4(3)).

The result names the rule that decided (a short key) and says it with the figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from workflows.money import format_eur
from workflows.numbers import plain
from workflows.sme import HUNDRED, SIZES, Enterprise, figures_text, size_of

# Who holds the share, as the form offers it.
HOLDER_TYPES: dict[str, str] = {
    "enterprise": "an enterprise",
    "public_body": "a public body",
    "public_investment_corporation": "a public investment corporation",
    "venture_capital": "a venture capital company",
    "business_angel": "a business angel",
    "university": "a university or non-profit research centre",
    "institutional_investor": "an institutional investor or regional development fund",
    "local_authority": (
        "an autonomous local authority (budget under EUR 10 million, fewer than 5,000 inhabitants)"
    ),
}
# Art. 3(2) second subparagraph: a 25%-50% holding by these, not linked, is not counted.
EXEMPT_INVESTORS = frozenset(HOLDER_TYPES) - {"enterprise", "public_body"}
# "holds_us": the other holds a share in the enterprise; "held_by_us": the reverse.
DIRECTIONS = ("holds_us", "held_by_us")
BUSINESS_ANGEL_CAP = Decimal("1250000")
PUBLIC_CEILING = Decimal(25)
NOT_SME = "not_sme"
_NOTHING = Enterprise(Decimal(0), Decimal(0), Decimal(0))


@dataclass(frozen=True)
class Related:
    """A partner or linked enterprise (or investor) as declared, with the share between us.

    ``relation`` is "partner" (25% to 50%) or "linked" (over 50%, or control by other means);
    ``figures`` is None for a public body, whose figures are never counted."""

    name: str
    relation: str
    share_percent: Decimal
    figures: Enterprise | None
    holder_type: str = "enterprise"
    direction: str = "holds_us"
    invested: Decimal | None = None  # business angels: total invested in the enterprise


@dataclass(frozen=True)
class LinkOfRelated:
    """An enterprise linked to one of the related enterprises (``of``, by its name)."""

    of: str
    name: str
    figures: Enterprise


@dataclass(frozen=True)
class Profile:
    """What the SME test needs. ``latest`` is the latest closed year (``year``), or the
    estimate for the current year when ``newly_established``; ``held`` is the category the
    enterprise held until now (None when not stated: the year before's is taken)."""

    latest: Enterprise | None
    previous: Enterprise | None = None
    year: int | None = None
    held: str | None = None
    newly_established: bool = False
    related: tuple[Related, ...] = ()
    links: tuple[LinkOfRelated, ...] = ()


@dataclass(frozen=True)
class Problem:
    """Why a row cannot be counted: ``group`` is "related" or "links", ``field`` its field."""

    group: str
    index: int
    field: str
    message: str


class HoldingsRefused(ValueError):
    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(p.message for p in problems))


class FiguresMissing(ValueError):
    """The figures are needed and not all given: nothing decides without them."""


@dataclass(frozen=True)
class Counted:
    """One line of what was added for a year: whose figures, how, and how much."""

    name: str
    basis: str
    figures: Enterprise


@dataclass(frozen=True)
class Assessment:
    category: str  # micro, small, medium, large or not_sme
    rule: str
    decision: str  # the rule that decided, in a sentence with the categories
    details: str = ""  # the figures of each year and the ceilings they meet
    counted: tuple[Counted, ...] = ()  # the latest year's, own figures first
    total: Enterprise | None = None

    @property
    def is_sme(self) -> bool:
        return self.category in SIZES[:3]

    @property
    def explanation(self) -> str:
        return f"{self.decision}; {self.details}" if self.details else self.decision


def name_key(name: str) -> str:
    """Names compared the way a person would: case and spacing do not matter."""
    return " ".join(name.casefold().split())


def _pct(share: Decimal) -> str:
    return f"{plain(share)}%"


# -- the rows checked as a whole ---------------------------------------------------------------
def holding_problems(related: Sequence[Related], links: Sequence[LinkOfRelated]) -> list[Problem]:
    """Every row that would be counted wrongly: an enterprise entered twice (never summed),
    an investor said to be held by the enterprise, a business angel without its investment,
    a link to no listed enterprise."""
    problems: list[Problem] = []
    seen: dict[str, list[int]] = {}
    for index, row in enumerate(related):
        earlier = seen.setdefault(name_key(row.name), [])
        problems.extend(_double(related, earlier, index))
        earlier.append(index)
        if row.holder_type != "enterprise" and row.direction != "holds_us":
            problems.append(
                Problem(
                    "related",
                    index,
                    "direction",
                    f"{HOLDER_TYPES[row.holder_type]} holds a share in your enterprise, not "
                    "the reverse: choose “holds a share in us”",
                )
            )
        if row.holder_type == "business_angel" and row.invested is None:
            problems.append(
                Problem(
                    "related",
                    index,
                    "invested",
                    "give the total this business angel has invested in your enterprise, in euros",
                )
            )
    listed = {name_key(r.name): r for r in related}
    chained: dict[str, int] = {}
    for index, link in enumerate(links):
        key = name_key(link.name)
        parent = listed.get(name_key(link.of))
        if parent is None:
            problems.append(
                Problem(
                    "links",
                    index,
                    "of",
                    f"no partner or linked enterprise called “{link.of}” is listed: write its "
                    "name as in the list above",
                )
            )
        elif parent.holder_type == "public_body":
            problems.append(
                Problem(
                    "links",
                    index,
                    "of",
                    f"{parent.name} is a public body: its enterprises are not counted here",
                )
            )
        if key in listed:
            problems.append(
                Problem(
                    "links",
                    index,
                    "name",
                    f"{link.name} is already listed as a partner or linked enterprise: list "
                    "it once, or its figures would be counted twice",
                )
            )
        elif key in chained:
            problems.append(
                Problem(
                    "links",
                    index,
                    "name",
                    f"{link.name} is entered twice (rows {chained[key] + 1} and {index + 1}): "
                    "enter each enterprise once, or its figures would be counted twice",
                )
            )
        chained.setdefault(key, index)
    return problems


def _double(related: Sequence[Related], earlier: list[int], index: int) -> list[Problem]:
    """The same enterprise again: refused, unless it is the other side of a cross-holding
    (it holds a share in us and we in it), which counts once if its figures agree."""
    if not earlier:
        return []
    row, first = related[index], related[earlier[0]]
    if len(earlier) > 1 or first.direction == row.direction:
        return [
            Problem(
                "related",
                index,
                "name",
                f"{row.name} is entered twice (rows {earlier[0] + 1} and {index + 1}): enter "
                "each enterprise once, with the share it holds or you hold",
            )
        ]
    if first.figures != row.figures or first.holder_type != row.holder_type:
        return [
            Problem(
                "related",
                index,
                "name",
                f"{row.name} holds a share in you and you in it: it counts once, so give the "
                f"same kind of holder and the same figures in both rows (rows {earlier[0] + 1} "
                f"and {index + 1})",
            )
        ]
    return []


def _merged(related: Sequence[Related]) -> list[tuple[Related, str]]:
    """Each enterprise once; a cross-holding at the greater share (linked if either side is),
    with a note saying so."""
    groups: dict[str, list[Related]] = {}
    for row in related:
        groups.setdefault(name_key(row.name), []).append(row)
    merged: list[tuple[Related, str]] = []
    for rows in groups.values():
        if len(rows) == 1:
            merged.append((rows[0], ""))
            continue
        shares = " and ".join(_pct(r.share_percent) for r in rows)
        top = max(rows, key=lambda r: r.share_percent)
        relation = "linked" if any(r.relation == "linked" for r in rows) else top.relation
        note = f"cross-holding ({shares}), counted once at {_pct(top.share_percent)}; "
        merged.append((replace(top, relation=relation), note))
    return merged


# -- the figures of one year -------------------------------------------------------------------
def _scaled(e: Enterprise, ratio: Decimal) -> Enterprise:
    return Enterprise(e.headcount * ratio, e.turnover * ratio, e.balance_sheet * ratio)


def _sum(items: Sequence[Enterprise]) -> Enterprise:
    return Enterprise(
        sum((e.headcount for e in items), Decimal(0)),
        sum((e.turnover for e in items), Decimal(0)),
        sum((e.balance_sheet for e in items), Decimal(0)),
    )


def _exempt_basis(row: Related) -> str | None:
    """Why an investor's holding is not counted, or None when it counts."""
    if row.holder_type not in EXEMPT_INVESTORS or row.relation == "linked":
        return None
    if row.holder_type == "business_angel" and (row.invested or 0) > BUSINESS_ANGEL_CAP:
        return None
    return (
        f"{HOLDER_TYPES[row.holder_type]} holding {_pct(row.share_percent)}, not linked: "
        "not counted (an exempt investor leaves the enterprise autonomous)"
    )


def counted_figures(
    own: Enterprise, related: Sequence[Related], links: Sequence[LinkOfRelated], own_name: str
) -> tuple[list[Counted], Enterprise, str]:
    """What is added for one year, line by line, the total, and a sentence of the figures."""
    lines = [Counted(own_name, "own figures", own)]
    partners = linked = 0
    for row, note in _merged(related):
        if row.holder_type == "public_body":
            lines.append(
                Counted(
                    row.name,
                    f"public body holding {_pct(row.share_percent)}: its figures are not counted",
                    _NOTHING,
                )
            )
            continue
        exempt = _exempt_basis(row)
        if exempt is not None:
            lines.append(Counted(row.name, note + exempt, _NOTHING))
            continue
        share = _pct(row.share_percent)
        own_links = [k for k in links if name_key(k.of) == name_key(row.name)]
        if row.relation == "partner":
            partners += 1
            ratio = row.share_percent / HUNDRED
            basis = f"{note}partner held {share}: {share} of its figures"
            if row.holder_type == "business_angel":
                basis += (
                    f" (a business angel who invested {format_eur(row.invested or Decimal(0))}, "
                    f"more than {format_eur(BUSINESS_ANGEL_CAP)}, counts as a partner)"
                )
            link_basis = f"linked to partner {row.name}: {share} of its figures"
        else:
            linked += 1
            ratio = Decimal(1)
            basis = f"{note}linked ({share}): all of its figures"
            link_basis = f"linked to {row.name}: all of its figures"
        lines.append(Counted(row.name, basis, _scaled(row.figures or _NOTHING, ratio)))
        lines.extend(Counted(k.name, link_basis, _scaled(k.figures, ratio)) for k in own_links)
    total = _sum([line.figures for line in lines])
    for name, value in (
        ("headcount", total.headcount),
        ("turnover", total.turnover),
        ("balance sheet", total.balance_sheet),
    ):
        if value < 0:
            raise ValueError(f"the {name} must not be negative")
    sentence = (
        f"aggregated figures: {figures_text(total)} "
        f"(partner enterprises: {partners}, linked enterprises: {linked})"
    )
    return lines, total, sentence


# -- the two-year rule -------------------------------------------------------------------------
def two_year_rule(
    latest: str, previous: str | None, held: str | None, year: int | None = None
) -> tuple[str, str, str]:
    """(category, rule key, sentence) from the category of the latest closed year, of the
    year before, and the one held until now (art. 4(2)): a change needs two consecutive years
    beyond (or within) the ceilings of the category held."""
    this = str(year) if year else "the latest year"
    before = str(year - 1) if year else "the year before"
    if previous is None:
        return latest, "latest_year", f"{latest} in {this}, the only closed year given"
    note = ""
    if held is None:
        held = previous
        note = f" (no category held was given: {before}'s is taken as held)"
    rank = SIZES.index
    if latest == previous:
        verb = "stays" if latest == held else "becomes"
        key = "two_years_same" if latest == held else "two_years_changed"
        return latest, key, f"{latest} in {this} and in {before}: {verb} {latest}{note}"
    if latest == held:
        return held, "back_within", f"{latest} in {this}, {previous} in {before}: stays {held}"
    sides = {rank(latest) > rank(held), rank(previous) > rank(held)}
    if previous != held and len(sides) == 1:
        # Both years beyond (or both within) the ceilings held: the change is to the
        # category nearer to the one held, as only its ceilings were crossed twice.
        new = min((latest, previous), key=lambda c: abs(rank(c) - rank(held)))
        return (
            new,
            "two_years_changed",
            f"{_crossed(latest, held)} in {before} and in {this} ({previous}, then {latest}): "
            f"becomes {new}",
        )
    return (
        held,
        "one_year_only",
        f"{_crossed(latest, held)} in {this} only: stays {held} until a second year{note}",
    )


def _crossed(category: str, held: str) -> str:
    if SIZES.index(category) > SIZES.index(held):
        return f"over the {held} ceilings"
    return f"within the {category} ceilings"


# -- the whole test ----------------------------------------------------------------------------
def assess(profile: Profile, own_name: str = "the enterprise") -> Assessment:
    """The category, the rule that decided it and why; HoldingsRefused when a row would be
    miscounted, FiguresMissing when the figures are needed and missing."""
    problems = holding_problems(profile.related, profile.links)
    if problems:
        raise HoldingsRefused(problems)
    public = sum(
        (r.share_percent for r in profile.related if r.holder_type == "public_body"), Decimal(0)
    )
    if public >= PUBLIC_CEILING:
        return Assessment(
            NOT_SME,
            "public_bodies",
            f"public bodies hold {_pct(public)}: not an SME whatever the figures "
            f"(25% or more held by public bodies, jointly or alone)",
        )
    if profile.latest is None:
        raise FiguresMissing(
            "the SME test needs the staff headcount, the annual turnover and the balance-sheet "
            "total of the latest closed year"
        )
    lines, total, sentence = counted_figures(
        profile.latest, profile.related, profile.links, own_name
    )
    latest, reasons = size_of(total)
    details = "; ".join([sentence, *reasons])
    if profile.year and not profile.newly_established:
        details = f"{profile.year}: {details}"
    if profile.newly_established:
        return Assessment(
            latest,
            "estimate",
            f"newly established, no closed year yet: {latest} on the good-faith estimate for "
            "the current year",
            details,
            tuple(lines),
            total,
        )
    previous = None
    if profile.previous is not None:
        _lines, before, before_sentence = counted_figures(
            profile.previous, profile.related, profile.links, own_name
        )
        previous, before_reasons = size_of(before)
        label = f"{profile.year - 1}" if profile.year else "the year before"
        details += f"; {label}: " + "; ".join([before_sentence, *before_reasons])
    category, rule, why = two_year_rule(latest, previous, profile.held, profile.year)
    return Assessment(category, rule, why, details, tuple(lines), total)
