"""Registration and VAT numbers per country: real numbers pass, a wrong check digit does not."""

from __future__ import annotations

import pytest

from workflows.registration_numbers import (
    CANDIDATE_COUNTRIES,
    EEA_COUNTRIES,
    EU_MEMBER_STATES,
    REGISTRATION_SCHEMES,
    check_note,
    company_key,
    countries,
    country_groups,
    country_name,
    registration_hint,
    validate_registration,
    validate_vat,
    vat_checkable,
)

# (country, as a person types it, compact form, scheme). Real companies' numbers where we
# know them (from their public registry entries); otherwise python-stdnum's own examples.
VALID = [
    ("IT", "IT 00488410010", "00488410010", "partita IVA"),  # Telecom Italia S.p.A.
    ("IT", "00905811006", "00905811006", "partita IVA"),  # Eni S.p.A.
    ("FR", "552 081 317", "552081317", "SIREN"),  # Électricité de France
    ("FR", "542 051 180", "542051180", "SIREN"),  # TotalEnergies SE
    ("FR", "732 829 320 00074", "73282932000074", "SIRET"),
    ("NL", "17001910", "17001910", "KvK number"),  # Koninklijke Philips N.V.
    ("NL", "KvK 3301.4286", "33014286", "KvK number"),
    (
        "BE",
        "0202.239.951",  # Proximus
        "0202239951",
        "enterprise number (ondernemingsnummer / numéro d'entreprise)",
    ),
    (
        "BE",
        "BE 403.019.261",  # the old 9-digit form gets its leading 0
        "0403019261",
        "enterprise number (ondernemingsnummer / numéro d'entreprise)",
    ),
    ("HR", "HR 33392005961", "33392005961", "OIB"),
    ("DE", "Amtsgericht Mannheim HRB 719915", "Mannheim HRB 719915", "Handelsregisternummer"),
    ("DE", "Braunschweig HRB 100484", "Braunschweig HRB 100484", "Handelsregisternummer"),
    ("ES", "A-28015865", "A28015865", "NIF"),  # Telefónica S.A.
    ("PT", "500 697 256", "500697256", "NIPC"),
    ("GR", "094019245", "094019245", "AFM (tax number)"),
    ("AT", "FN 122119m", "122119m", "Firmenbuchnummer"),
    ("BG", "175074752", "175074752", "UIC (EIK / BULSTAT)"),
    ("CZ", "25123891", "25123891", "IČO"),
    ("DK", "13585628", "13585628", "CVR number"),
    ("EE", "10137319", "10137319", "registrikood"),
    ("FI", "0112038-9", "01120389", "Y-tunnus"),  # Nokia Oyj
    ("LV", "4000 3521 600", "40003521600", "registration number"),
    ("PL", "774-000-14-54", "7740001454", "NIP"),  # ORLEN S.A.
    ("PL", "192598184", "192598184", "REGON"),
    ("RO", "185 472 90", "18547290", "CUI"),
    ("RO", "J40/7032/1991", "J40/7032/1991", "ONRC number"),
    ("SE", "556012-5790", "5560125790", "organisationsnummer"),  # AB Volvo
    ("SI", "5300231", "5300231", "matična številka"),
    ("IS", "450401-3150", "4504013150", "kennitala"),
    ("NO", "923 609 016", "923609016", "organisasjonsnummer"),  # Equinor ASA
    ("CH", "CHE-100.155.212", "CHE100155212", "UID"),
    ("AL", "J91402501L", "J91402501L", "NIPT"),
    ("MD", "1008600038413", "1008600038413", "IDNO"),
    ("ME", "02655284", "02655284", "PIB"),
    ("MK", "4030000375897", "4030000375897", "EDB"),
    ("RS", "101134702", "101134702", "PIB"),
    ("TR", "4540536920", "4540536920", "VKN (tax number)"),
    ("UA", "32855961", "32855961", "EDRPOU code"),
]

# The same numbers with one digit changed: the check digit no longer matches.
WRONG_CHECK_DIGIT = [
    ("IT", "00488410011"),
    ("FR", "552081318"),
    ("FR", "73282932000075"),
    ("BE", "0202.239.952"),
    ("HR", "33392005962"),
    ("ES", "A28015866"),
    ("PT", "500697257"),
    ("GR", "094019246"),
    ("BG", "175074751"),
    ("CZ", "25123890"),
    ("DK", "13585627"),
    ("EE", "10137318"),
    ("FI", "0112038-8"),
    ("LV", "40003521601"),
    ("PL", "7740001455"),
    ("RO", "18547291"),
    ("SE", "556012-5791"),
    ("SI", "5300232"),
    ("IS", "450401-3160"),
    ("NO", "923609017"),
    ("CH", "CHE-100.155.213"),
    ("MD", "1008600038412"),
    ("ME", "02655283"),
    ("MK", "4030000375890"),
    ("RS", "101134703"),
    ("TR", "4540536921"),
    ("UA", "32855968"),
]


@pytest.mark.parametrize(("country", "typed", "compact", "scheme"), VALID)
def test_real_numbers_pass_and_are_normalised(
    country: str, typed: str, compact: str, scheme: str
) -> None:
    assert validate_registration(country, typed) == (compact, scheme)
    assert validate_registration(country.lower(), compact) == (compact, scheme)


@pytest.mark.parametrize(("country", "number"), WRONG_CHECK_DIGIT)
def test_a_wrong_check_digit_is_refused_with_a_reason(country: str, number: str) -> None:
    with pytest.raises(ValueError, match="check digit does not match") as refused:
        validate_registration(country, number)
    message = str(refused.value)
    assert country_name(country) in message  # says which country's rules were applied
    assert "mistyped or swapped digit" in message


def test_every_supported_country_is_tested() -> None:
    assert {c for c, *_ in VALID} == set(REGISTRATION_SCHEMES)
    with_check_digit = {
        c for c, schemes in REGISTRATION_SCHEMES.items() if any(s.check_digit for s in schemes)
    }
    assert {c for c, _ in WRONG_CHECK_DIGIT} == with_check_digit


@pytest.mark.parametrize(
    ("country", "number", "expected"),
    [
        ("IT", "0048841001", "wrong length (expected 11 digits)"),
        ("IT", "0048841001A", "characters that do not belong there (expected 11 digits)"),
        ("IT", "00488412000", "office, court or register code"),  # no tax office 200
        ("NL", "1700191", "wrong length (expected 8 digits)"),
        ("NL", "1700191X", "characters that do not belong there"),
        ("FR", "1234", "a SIREN is 9 digits; a SIRET is 14 digits"),
        ("PL", "12345", "a NIP is 10 digits; a REGON is 9 or 14 digits"),
        ("DE", "Atlantis HRB 1", "office, court or register code"),
        ("BG", "7523169263", "wrong length (expected 9 digits)"),  # a person's EGN
    ],
)
def test_malformed_numbers_say_what_a_valid_one_looks_like(
    country: str, number: str, expected: str
) -> None:
    with pytest.raises(ValueError, match="not a valid") as refused:
        validate_registration(country, number)
    assert expected in str(refused.value)


def test_empty_number_and_unknown_country_are_refused() -> None:
    with pytest.raises(ValueError, match="enter the organisation's registration number"):
        validate_registration("IT", "   ")
    for country in ("", "XX", "ITA", "Italy"):
        with pytest.raises(ValueError, match="choose the country"):
            validate_registration(country, "00488410010")


def test_a_country_without_a_known_scheme_is_not_blocked_but_says_so() -> None:
    # Irish CRO numbers, Luxembourg RCS numbers: python-stdnum has no check for them.
    assert validate_registration("IE", "  12 3456 ") == (
        "12 3456",
        "not checked: no automatic check is available for Ireland",
    )
    number, scheme = validate_registration("LU", "B123456")
    assert number == "B123456" and scheme.startswith("not checked")
    assert registration_hint("IE").startswith("any format")
    assert "partita IVA: 11 digits" in registration_hint("IT")
    with pytest.raises(ValueError, match="at most 60 characters"):
        validate_registration("IE", "1" * 61)


def test_check_note_says_how_a_number_was_checked() -> None:
    assert check_note("IT", "00488410010") == "partita IVA, format and check digit verified"
    assert "no check digit" in check_note("NL", "17001910")
    assert check_note("IE", "123456").startswith("not checked")
    assert "correct it" in check_note("IT", "00488410011")


@pytest.mark.parametrize(
    ("country", "typed", "compact"),
    [
        ("IT", "00488410010", "IT00488410010"),
        ("IT", "it 004 884 100 10", "IT00488410010"),
        ("FR", "FR 40 303 265 045", "FR40303265045"),
        ("FR", "40303265045", "FR40303265045"),
        ("NL", "NL004495445B01", "NL004495445B01"),
        ("BE", "BE 0202.239.951", "BE0202239951"),
        ("HR", "33392005961", "HR33392005961"),
        ("DE", "DE136,695 976", "DE136695976"),
        ("ES", "A28015865", "ESA28015865"),
        ("AT", "ATU13585627", "ATU13585627"),
        ("GR", "094019245", "EL094019245"),  # Greece's VAT prefix is EL
        ("GR", "EL 094019245", "EL094019245"),
        ("NO", "NO 923 609 016 MVA", "NO923609016MVA"),  # outside the EU: national module
    ],
)
def test_vat_numbers_get_their_country_prefix(country: str, typed: str, compact: str) -> None:
    assert validate_vat(country, typed) == compact


def test_vat_refusals_explain() -> None:
    with pytest.raises(ValueError, match="check digit does not match"):
        validate_vat("IT", "IT00488410011")
    with pytest.raises(ValueError, match="starts with FR, but the organisation is registered in"):
        validate_vat("IT", "FR40303265045")
    with pytest.raises(ValueError, match="wrong length"):
        validate_vat("FR", "FR4030326504")
    with pytest.raises(ValueError, match="enter the VAT number"):
        validate_vat("FR", " ")
    # Where python-stdnum knows no VAT scheme, the number is kept as given.
    assert not vat_checkable("US")
    assert validate_vat("US", " 12-3456789 ") == "12-3456789"
    assert vat_checkable("IT") and vat_checkable("NO")


def test_company_key_puts_a_siret_with_its_siren() -> None:
    assert company_key("FR", "732 829 320 00074") == company_key("fr", "732829320")
    assert company_key("IT", "IT 00488410010") == ("IT", "00488410010")
    # An invalid number still gets a comparable key: spacing and case do not hide a duplicate.
    assert company_key("IE", "ab 12-3") == company_key("IE", "AB123")


def test_countries_put_eu_eea_and_candidates_first() -> None:
    everything = countries()
    assert len(everything) > 240
    assert [name for _code, name in everything] == sorted(
        (name for _code, name in everything), key=str.casefold
    )
    (first_label, european), (other_label, others) = country_groups()
    assert "EU, EEA and candidate" in first_label and other_label == "Other countries"
    assert {code for code, _ in european} == EU_MEMBER_STATES | EEA_COUNTRIES | CANDIDATE_COUNTRIES
    assert len(EU_MEMBER_STATES) == 27
    assert ("US", "United States") in others
    assert dict(european)["MD"] == "Moldova"  # the common name, not "Moldova, Republic of"
    assert dict(european)["TR"] == "Türkiye"
