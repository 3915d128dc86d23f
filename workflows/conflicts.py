"""Conflicts of interest detected from facts, not only declared (DOMAIN.md: CoI).

Pure: no Flask, no database. The service gathers the facts about an expert and an
application's applicant; ``detect`` compares them and answers with every conflict found,
each with a reason in words and the evidence that shows it. An empty answer means no
conflict was *detected*: the expert still declares before the proposal opens.

What counts as a conflict:
- the same organisation: the expert's organisation has the applicant's name (compared
  without case, punctuation or legal form, "Ligure Sonar S.r.l." = "LIGURE SONAR SRL"),
  or its registration or VAT number;
- the same e-mail domain: the expert's organisation's domain is one the applicant's people
  or contact address use (public mail providers never count: the service leaves them out);
- a relationship the expert declared on their profile (works with, owns shares in, advised
  in the last three years…) with the applicant, by name or number;
- the same country as the applicant, when the call wants experts from other countries;
- an earlier application by the expert's own organisation to any of the consortium's calls:
  an applicant judging competitors is not independent.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from workflows.i18n import N_, _

# Legal forms dropped before names are compared: "Acme S.r.l." and "ACME srl" are one company.
_LEGAL_FORMS = frozenset(
    {
        "srl", "spa", "sas", "snc", "sarl", "sa", "sasu", "eurl", "bv", "nv", "vof", "gmbh",
        "ag", "kg", "ug", "ltd", "limited", "plc", "llc", "inc", "doo", "dd", "jdoo", "oy",
        "ab", "as", "aps", "sl", "slu", "srls", "scarl", "scrl", "cv", "co", "company",
    }
)  # fmt: skip
# Numbers shorter than this (once compacted) say too little to call two companies the same.
_MIN_NUMBER = 5
TIE_NAME_MAX = 300
TIE_NUMBER_MAX = 40
MAX_TIES = 20


class Relation(StrEnum):
    """How an expert is tied to an organisation they declare on their profile."""

    WORKS_WITH = "works_with"
    SHAREHOLDER = "shareholder"
    ADVISED = "advised"
    FAMILY = "family"
    OTHER = "other"


RELATION_LABELS: Mapping[str, str] = {
    Relation.WORKS_WITH: N_("works with it (client, supplier, partner)"),
    Relation.SHAREHOLDER: N_("owns shares in it"),
    Relation.ADVISED: N_("advised it in the last three years"),
    Relation.FAMILY: N_("a family member works there or owns it"),
    Relation.OTHER: N_("another tie"),
}


class Kind(StrEnum):
    SAME_ORGANISATION = "same_organisation"
    SAME_DOMAIN = "same_domain"
    DECLARED_TIE = "declared_tie"
    SAME_COUNTRY = "same_country"
    EARLIER_APPLICATION = "earlier_application"


@dataclass(frozen=True)
class Tie:
    """An organisation the expert declared a relationship with."""

    name: str
    number: str = ""  # registration or VAT number, as the expert typed it
    relation: str = Relation.OTHER


@dataclass(frozen=True)
class Organisation:
    """An organisation as the rules compare it."""

    name: str
    registration_number: str = ""
    vat_number: str = ""
    country: str = ""
    # The e-mail domains its people and its contact address use, lower case, public
    # providers already left out.
    domains: frozenset[str] = frozenset()


@dataclass(frozen=True)
class EarlierApplication:
    """An application to one of the consortium's calls, and who made it."""

    reference: str
    call_reference: str
    applicant: Organisation


@dataclass(frozen=True)
class Expert:
    user_id: int
    name: str
    country: str | None
    organisation: str = ""
    organisation_number: str = ""
    organisation_domain: str | None = None
    ties: tuple[Tie, ...] = ()


@dataclass(frozen=True)
class Conflict:
    kind: Kind
    reason: str
    evidence: str


@dataclass(frozen=True)
class Facts:
    """What an application brings to the comparison."""

    applicant: Organisation
    reference: str = ""
    other_countries_only: bool = False
    # Applications by anyone, the service having kept those that could be the expert's
    # organisation's (by name, number or domain); this one excluded.
    earlier: Sequence[EarlierApplication] = field(default_factory=tuple)


# -- comparing names and numbers -------------------------------------------------------------
def name_key(name: str) -> str:
    """A company name as compared: no accents, case, punctuation or legal form."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    # "S.r.l." and "d.o.o." are one word once their dots go.
    words = re.findall(r"[a-z0-9]+", plain.replace(".", ""))
    while words and words[-1] in _LEGAL_FORMS:
        words.pop()
    return " ".join(words)


def number_key(number: str) -> str:
    """A registration or VAT number as compared: letters and digits, upper case."""
    return re.sub(r"[^0-9A-Z]", "", number.upper())


def same_number(a: str, b: str) -> bool:
    """Whether two numbers name one company: equal once compacted, or equal but for the
    two-letter country prefix of a VAT number (IT02654310107 = 02654310107)."""
    x, y = number_key(a), number_key(b)
    if len(x) < _MIN_NUMBER or len(y) < _MIN_NUMBER:
        return False
    if x == y:
        return True
    strip = re.compile(r"^[A-Z]{2}(?=\d)")
    return strip.sub("", x) == strip.sub("", y) and len(strip.sub("", x)) >= _MIN_NUMBER


def _numbers(organisation: Organisation) -> list[str]:
    return [n for n in (organisation.registration_number, organisation.vat_number) if n]


def _number_match(number: str, organisation: Organisation) -> str | None:
    return next((n for n in _numbers(organisation) if number and same_number(number, n)), None)


def is_organisation(name: str, number: str, organisation: Organisation) -> str | None:
    """Why ``name``/``number`` designate ``organisation`` (the words of the evidence), or
    None."""
    matched = _number_match(number, organisation)
    if matched:
        return _("number %(number)s", number=matched)
    key = name_key(name)
    if key and key == name_key(organisation.name):
        return _("name %(name)s", name=organisation.name)
    return None


# -- the rules -------------------------------------------------------------------------------
def _same_organisation(expert: Expert, facts: Facts) -> Conflict | None:
    why = is_organisation(expert.organisation, expert.organisation_number, facts.applicant)
    if why is None:
        return None
    return Conflict(
        Kind.SAME_ORGANISATION,
        _("%(expert)s works for the applicant", expert=expert.name),
        _(
            "profile organisation %(organisation)s; applicant %(applicant)s: same %(why)s",
            organisation=expert.organisation,
            applicant=facts.applicant.name,
            why=why,
        ),
    )


def shared_domain(domain: str | None, addresses: frozenset[str]) -> str | None:
    """The applicant's address domain that is the organisation's domain or one of its
    subdomains (mail.acme.example is acme.example's), if any."""
    own = (domain or "").lower().strip(".")
    if not own:
        return None
    for other in sorted(addresses):
        if other == own or other.endswith("." + own) or own.endswith("." + other):
            return other
    return None


def _same_domain(expert: Expert, facts: Facts) -> Conflict | None:
    domain = shared_domain(expert.organisation_domain, facts.applicant.domains)
    if domain is None:
        return None
    return Conflict(
        Kind.SAME_DOMAIN,
        _("%(expert)s's organisation shares the applicant's e-mail domain", expert=expert.name),
        _(
            "@%(domain)s is the expert's organisation's domain and an address of %(applicant)s",
            domain=domain,
            applicant=facts.applicant.name,
        ),
    )


def _declared_ties(expert: Expert, facts: Facts) -> list[Conflict]:
    found = []
    for tie in expert.ties:
        why = is_organisation(tie.name, tie.number, facts.applicant)
        if why is None:
            continue
        relation = RELATION_LABELS.get(tie.relation, RELATION_LABELS[Relation.OTHER])
        found.append(
            Conflict(
                Kind.DECLARED_TIE,
                _(
                    "%(expert)s declared a relationship with the applicant: %(relation)s",
                    expert=expert.name,
                    relation=_(relation),
                ),
                _("profile: %(tie)s; applicant: same %(why)s", tie=tie.name, why=why),
            )
        )
    return found


def _same_country(expert: Expert, facts: Facts) -> Conflict | None:
    country = facts.applicant.country
    if not facts.other_countries_only or not expert.country or expert.country != country:
        return None
    return Conflict(
        Kind.SAME_COUNTRY,
        _("the call wants experts from another country than the applicant's"),
        _("expert and applicant are both in %(country)s", country=country),
    )


def _earlier_application(expert: Expert, facts: Facts) -> list[Conflict]:
    if not (expert.organisation or expert.organisation_number or expert.organisation_domain):
        return []
    found = []
    for earlier in facts.earlier:
        why = is_organisation(expert.organisation, expert.organisation_number, earlier.applicant)
        domain = shared_domain(expert.organisation_domain, earlier.applicant.domains)
        if why is None and domain is not None:
            why = _("e-mail domain @%(domain)s", domain=domain)
        if why is None:
            continue
        found.append(
            Conflict(
                Kind.EARLIER_APPLICATION,
                _(
                    "%(expert)s's organisation has applied to the consortium's calls",
                    expert=expert.name,
                ),
                _(
                    "%(reference)s to %(call)s by %(applicant)s: same %(why)s",
                    reference=earlier.reference,
                    call=earlier.call_reference,
                    applicant=earlier.applicant.name,
                    why=why,
                ),
            )
        )
    # One application is evidence enough; the rest would repeat the same reason.
    return found[:1]


def detect(expert: Expert, facts: Facts) -> list[Conflict]:
    """Every conflict between the expert and the application, in the order of the rules."""
    single = (_same_organisation(expert, facts), _same_domain(expert, facts))
    found = [c for c in single if c is not None]
    found += _declared_ties(expert, facts)
    country = _same_country(expert, facts)
    if country is not None:
        found.append(country)
    found += _earlier_application(expert, facts)
    return found


def reasons(conflicts: Iterable[Conflict]) -> str:
    """The conflicts in one sentence for a refusal."""
    return "; ".join(f"{c.reason} ({c.evidence})" for c in conflicts)


# -- the profile's declared ties -------------------------------------------------------------
def parse_ties(rows: Sequence[Mapping[str, object]]) -> tuple[list[Tie], dict[str, str]]:
    """The ties typed on a profile, rows left empty dropped; problems by ``ties.<row>.<part>``."""
    ties: list[Tie] = []
    errors: dict[str, str] = {}
    for row, raw in enumerate(rows):
        name = str(raw.get("name") or "").strip()
        number = str(raw.get("number") or "").strip()
        relation = str(raw.get("relation") or "").strip() or Relation.OTHER
        if not name and not number:
            continue
        path = f"ties.{row}."
        if not name:
            errors[path + "name"] = _("give the organisation's name")
        elif len(name) > TIE_NAME_MAX:
            errors[path + "name"] = _("use at most %(count)s characters", count=TIE_NAME_MAX)
        if len(number) > TIE_NUMBER_MAX:
            errors[path + "number"] = _("use at most %(count)s characters", count=TIE_NUMBER_MAX)
        if relation not in RELATION_LABELS:
            errors[path + "relation"] = _("choose how you are tied to it")
        ties.append(Tie(name=name, number=number, relation=relation))
    if len(ties) > MAX_TIES:
        errors["ties"] = _("declare at most %(count)s organisations", count=MAX_TIES)
    return ties, errors


def ties_json(ties: Iterable[Tie]) -> list[dict[str, str]]:
    return [{"name": t.name, "number": t.number, "relation": str(t.relation)} for t in ties]


def ties_of(stored: Iterable[Mapping[str, object]]) -> tuple[Tie, ...]:
    return tuple(
        Tie(
            name=str(t.get("name") or ""),
            number=str(t.get("number") or ""),
            relation=str(t.get("relation") or Relation.OTHER),
        )
        for t in stored
    )
