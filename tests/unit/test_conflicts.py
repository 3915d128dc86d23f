"""Conflicts of interest detected from facts (workflows.conflicts)."""

from __future__ import annotations

from workflows.conflicts import (
    EarlierApplication,
    Expert,
    Facts,
    Kind,
    Organisation,
    Relation,
    Tie,
    detect,
    name_key,
    parse_ties,
    same_number,
    shared_domain,
)

APPLICANT = Organisation(
    name="Ligure Sonar Systems S.r.l.",
    registration_number="02654310107",
    vat_number="IT02654310107",
    country="IT",
    domains=frozenset({"liguresonar.example"}),
)


def expert(**overrides: object) -> Expert:
    values: dict[str, object] = {
        "user_id": 7,
        "name": "Pieter de Vries",
        "country": "NL",
        "organisation": "Maritime Research Institute Netherlands",
        "organisation_domain": "marin.example",
    }
    values.update(overrides)
    return Expert(**values)  # type: ignore[arg-type]


def kinds(found: list) -> list[Kind]:  # type: ignore[type-arg]
    return [c.kind for c in found]


def test_an_independent_expert_has_no_conflict() -> None:
    assert detect(expert(), Facts(applicant=APPLICANT)) == []


def test_names_are_compared_without_case_punctuation_or_legal_form() -> None:
    assert name_key("Ligure Sonar Systems S.r.l.") == name_key("LIGURE SONAR SYSTEMS SRL")
    assert name_key("Brodosplit d.o.o.") == "brodosplit"
    assert name_key("Ligure Sonar") != name_key("Ligure Sonar Systems")


def test_numbers_match_with_or_without_the_vat_prefix_and_short_ones_never() -> None:
    assert same_number("IT 02654310107", "02654310107")
    assert same_number("it02654310107", "IT02654310107")
    assert not same_number("123", "123")
    assert not same_number("02654310107", "02654310108")


def test_the_same_organisation_by_name_or_number_is_a_conflict_with_its_evidence() -> None:
    (by_name,) = detect(expert(organisation="LIGURE SONAR SYSTEMS SRL"), Facts(APPLICANT))
    assert by_name.kind == Kind.SAME_ORGANISATION
    assert by_name.reason == "Pieter de Vries works for the applicant"
    assert "Ligure Sonar Systems S.r.l." in by_name.evidence
    (by_number,) = detect(
        expert(organisation="LSS", organisation_number="IT02654310107"), Facts(APPLICANT)
    )
    assert by_number.kind == Kind.SAME_ORGANISATION
    assert "02654310107" in by_number.evidence


def test_the_same_email_domain_is_a_conflict() -> None:
    found = detect(expert(organisation_domain="LigureSonar.example"), Facts(APPLICANT))
    assert kinds(found) == [Kind.SAME_DOMAIN]
    assert "@liguresonar.example" in found[0].evidence


def test_a_subdomain_of_the_experts_organisation_is_the_same_domain() -> None:
    assert shared_domain("acme.example", frozenset({"mail.acme.example"})) == "mail.acme.example"
    assert shared_domain("lab.acme.example", frozenset({"acme.example"})) == "acme.example"
    assert shared_domain("acme.example", frozenset({"notacme.example"})) is None
    assert shared_domain("", frozenset({"acme.example"})) is None
    found = detect(expert(organisation_domain="liguresonar.example"), Facts(APPLICANT))
    assert kinds(found) == [Kind.SAME_DOMAIN]
    sub = detect(expert(organisation_domain="rd.liguresonar.example"), Facts(APPLICANT))
    assert kinds(sub) == [Kind.SAME_DOMAIN]


def test_a_declared_tie_is_a_conflict_by_name_or_number() -> None:
    ties = (
        Tie("Tigullio Composites", "", Relation.ADVISED),
        Tie("LSS group", "02654310107", Relation.SHAREHOLDER),
    )
    (found,) = detect(expert(ties=ties), Facts(APPLICANT))
    assert found.kind == Kind.DECLARED_TIE
    assert "owns shares in it" in found.reason


def test_the_same_country_is_a_conflict_only_when_the_call_says_so() -> None:
    italian = expert(country="IT")
    assert detect(italian, Facts(APPLICANT)) == []
    (found,) = detect(italian, Facts(APPLICANT, other_countries_only=True))
    assert found.kind == Kind.SAME_COUNTRY
    assert "IT" in found.evidence


def test_an_earlier_application_by_the_experts_organisation_is_a_conflict() -> None:
    competitor = Organisation(
        name="Maritime Research Institute Netherlands B.V.",
        registration_number="",
        country="NL",
        domains=frozenset({"marin.example"}),
    )
    earlier = (EarlierApplication("LEV-UPS-2026-0003", "LEV-UPS-2026", competitor),)
    (found,) = detect(expert(), Facts(APPLICANT, earlier=earlier))
    assert found.kind == Kind.EARLIER_APPLICATION
    assert "LEV-UPS-2026-0003" in found.evidence
    # An expert without an organisation on their profile is matched by nothing.
    assert (
        detect(expert(organisation="", organisation_domain=None), Facts(APPLICANT, earlier=earlier))
        == []
    )


def test_profile_ties_are_read_row_by_row_with_their_errors() -> None:
    ties, errors = parse_ties(
        [
            {"name": "Acme S.p.A.", "number": "IT123456789", "relation": "shareholder"},
            {"name": "", "number": ""},
            {"name": "", "number": "999999", "relation": "works_with"},
            {"name": "Beta", "relation": "friends"},
        ]
    )
    assert ties[0] == Tie("Acme S.p.A.", "IT123456789", Relation.SHAREHOLDER)
    assert set(errors) == {"ties.2.name", "ties.3.relation"}
