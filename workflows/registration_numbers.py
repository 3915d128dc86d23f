"""Company registration and VAT numbers, checked per country with python-stdnum.

Pure: no Flask, no database. ``validate_registration`` knows the national business
register (or the tax number that serves as one) of each EU, EEA and candidate country that
python-stdnum can check, and answers with the compact form and the scheme's name, or a
``ValueError`` whose message tells a person what to correct. A country without a known
scheme is not blocked: the trimmed number is kept and the scheme says no check was made.

``validate_vat`` checks the format and check digits of a VAT number (``stdnum.eu.vat`` for
EU member states; never an online VIES call).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import pycountry
from stdnum.al import nipt as al_nipt
from stdnum.at import businessid as at_businessid
from stdnum.be import vat as be_vat
from stdnum.bg import vat as bg_vat
from stdnum.ch import uid as ch_uid
from stdnum.cz import dic as cz_dic
from stdnum.de import handelsregisternummer as de_hr
from stdnum.dk import cvr as dk_cvr
from stdnum.ee import registrikood as ee_registrikood
from stdnum.es import nif as es_nif
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)
from stdnum.fi import ytunnus as fi_ytunnus
from stdnum.fr import siren as fr_siren
from stdnum.fr import siret as fr_siret
from stdnum.gr import vat as gr_vat
from stdnum.hr import oib as hr_oib
from stdnum.is_ import kennitala as is_kennitala
from stdnum.it import iva as it_iva
from stdnum.lv import pvn as lv_pvn
from stdnum.md import idno as md_idno
from stdnum.me import pib as me_pib
from stdnum.mk import edb as mk_edb
from stdnum.no import orgnr as no_orgnr
from stdnum.pl import nip as pl_nip
from stdnum.pl import regon as pl_regon
from stdnum.pt import nif as pt_nif
from stdnum.ro import cui as ro_cui
from stdnum.ro import onrc as ro_onrc
from stdnum.rs import pib as rs_pib
from stdnum.se import orgnr as se_orgnr
from stdnum.si import maticna as si_maticna
from stdnum.tr import vkn as tr_vkn
from stdnum.ua import edrpou as ua_edrpou
from stdnum.util import get_cc_module

# EU member states, the EEA countries and the EU candidate countries: where applicants to
# EU-funded cascade calls usually come from, offered first in country lists.
EU_MEMBER_STATES = frozenset(
    {"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU"}
    | {"IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"}
)
EEA_COUNTRIES = frozenset({"IS", "LI", "NO"})
CANDIDATE_COUNTRIES = frozenset({"AL", "BA", "GE", "MD", "ME", "MK", "RS", "TR", "UA"})
EUROPEAN_COUNTRIES = EU_MEMBER_STATES | EEA_COUNTRIES | CANDIDATE_COUNTRIES

# VAT numbers start with the member state's code, except Greece ("EL").
_VAT_PREFIX = {"GR": "EL"}
_EU_VAT_PREFIXES = frozenset({_VAT_PREFIX.get(c, c) for c in EU_MEMBER_STATES} | {"XI"})


@dataclass(frozen=True)
class Scheme:
    """One national number that identifies a company, and how to check it."""

    name: str
    shape: str  # what a valid number looks like, in words
    check: Callable[[str], str]  # compact form, or a stdnum ValidationError
    lengths: tuple[int, ...] = ()  # accepted lengths of the compact form, when narrower
    check_digit: bool = True  # False: the scheme has none, only the format is checked

    def validate(self, number: str) -> str:
        compact = str(self.check(number))
        if self.lengths and len(compact) not in self.lengths:
            raise InvalidLength()
        return compact


def _kvk(number: str) -> str:
    """Dutch KvK number: 8 digits. It carries no check digit, so only the format is checked."""
    compact = re.sub(r"[\s.\-]", "", number)
    if compact.upper().startswith("KVK"):
        compact = compact[3:]
    if not compact.isdigit():
        raise InvalidFormat()
    if len(compact) != 8:
        raise InvalidLength()
    return compact


# The register number, or the tax number used as one, that python-stdnum can check.
REGISTRATION_SCHEMES: dict[str, tuple[Scheme, ...]] = {
    # python-stdnum checks the format of these two, not their check letter.
    "AL": (
        Scheme(
            "NIPT",
            "a letter, 8 digits and a letter, e.g. J91402501L",
            al_nipt.validate,
            check_digit=False,
        ),
    ),
    "AT": (
        Scheme(
            "Firmenbuchnummer",
            "FN followed by up to 6 digits and a check letter, e.g. FN 123456a",
            at_businessid.validate,
            check_digit=False,
        ),
    ),
    "BE": (
        Scheme(
            "enterprise number (ondernemingsnummer / numéro d'entreprise)",
            "10 digits starting with 0 or 1, e.g. 0123.456.749",
            be_vat.validate,
        ),
    ),
    "BG": (Scheme("UIC (EIK / BULSTAT)", "9 digits", bg_vat.validate, lengths=(9,)),),
    "CH": (Scheme("UID", "CHE followed by 9 digits, e.g. CHE-123.456.788", ch_uid.validate),),
    "CZ": (Scheme("IČO", "8 digits", cz_dic.validate, lengths=(8,)),),
    "DE": (
        Scheme(
            "Handelsregisternummer",
            "the register court, HRA or HRB and the number, e.g. Hamburg HRB 12345",
            de_hr.validate,
            check_digit=False,
        ),
    ),
    "DK": (Scheme("CVR number", "8 digits", dk_cvr.validate),),
    "EE": (Scheme("registrikood", "8 digits", ee_registrikood.validate),),
    "ES": (Scheme("NIF", "9 characters, e.g. B12345674", es_nif.validate),),
    "FI": (
        Scheme(
            "Y-tunnus", "7 digits, a hyphen and a check digit, e.g. 1234567-1", fi_ytunnus.validate
        ),
    ),
    "FR": (
        Scheme("SIREN", "9 digits", fr_siren.validate),
        Scheme(
            "SIRET", "14 digits (the SIREN and 5 digits of the establishment)", fr_siret.validate
        ),
    ),
    "GR": (Scheme("AFM (tax number)", "9 digits", gr_vat.validate),),
    "HR": (Scheme("OIB", "11 digits", hr_oib.validate),),
    "IS": (Scheme("kennitala", "10 digits", is_kennitala.validate),),
    "IT": (Scheme("partita IVA", "11 digits", it_iva.validate),),
    "LV": (Scheme("registration number", "11 digits", lv_pvn.validate, lengths=(11,)),),
    "MD": (Scheme("IDNO", "13 digits", md_idno.validate),),
    "ME": (Scheme("PIB", "8 digits", me_pib.validate),),
    "MK": (Scheme("EDB", "13 digits", mk_edb.validate),),
    "NL": (Scheme("KvK number", "8 digits", _kvk, check_digit=False),),
    "NO": (Scheme("organisasjonsnummer", "9 digits", no_orgnr.validate),),
    "PL": (
        Scheme("NIP", "10 digits", pl_nip.validate),
        Scheme("REGON", "9 or 14 digits", pl_regon.validate),
    ),
    "PT": (Scheme("NIPC", "9 digits", pt_nif.validate),),
    "RO": (
        Scheme("CUI", "2 to 10 digits", ro_cui.validate),
        Scheme("ONRC number", "e.g. J40/1234/2015", ro_onrc.validate, check_digit=False),
    ),
    "RS": (Scheme("PIB", "9 digits", rs_pib.validate),),
    "SE": (Scheme("organisationsnummer", "10 digits, e.g. 556012-5790", se_orgnr.validate),),
    "SI": (Scheme("matična številka", "7 or 10 digits", si_maticna.validate),),
    "TR": (Scheme("VKN (tax number)", "10 digits", tr_vkn.validate),),
    "UA": (Scheme("EDRPOU code", "8 digits", ua_edrpou.validate),),
}


def country_name(code: str) -> str:
    """The short name people use (Czechia, Moldova, Türkiye), else the code itself."""
    country = pycountry.countries.get(alpha_2=code.upper()) if len(code) == 2 else None
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)


def countries() -> list[tuple[str, str]]:
    """Every country as (alpha-2 code, name), sorted by name."""
    return sorted(
        ((c.alpha_2, country_name(c.alpha_2)) for c in pycountry.countries),
        key=lambda item: item[1].casefold(),
    )


def country_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """Countries for a select: EU, EEA and candidate countries first, all others after."""
    everything = countries()
    return [
        ("EU, EEA and candidate countries", [c for c in everything if c[0] in EUROPEAN_COUNTRIES]),
        ("Other countries", [c for c in everything if c[0] not in EUROPEAN_COUNTRIES]),
    ]


def check_country(country: str) -> str:
    """The ISO 3166 alpha-2 code, upper case, or ValueError."""
    code = (country or "").strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError("choose the country where the organisation is registered")
    return code


def schemes_for(country: str) -> tuple[Scheme, ...]:
    return REGISTRATION_SCHEMES.get(country.strip().upper(), ())


def registration_hint(country: str) -> str:
    """What a valid registration number looks like in ``country``, for a form hint."""
    schemes = schemes_for(country)
    if not schemes:
        return "any format: no automatic check is available for this country"
    return " or ".join(f"{s.name}: {s.shape}" for s in schemes)


def not_checked(country: str) -> str:
    """The scheme name given back when a country's numbers cannot be checked."""
    return f"not checked: no automatic check is available for {country_name(country)}"


def check_note(country: str, number: str) -> str:
    """How a stored number was checked, in words: for the profile page and messages."""
    try:
        _compact, scheme_name = validate_registration(country, number)
    except ValueError:
        return "does not pass the check for its country: please correct it"
    for scheme in schemes_for(country):
        if scheme.name == scheme_name:
            if scheme.check_digit:
                return f"{scheme.name}, format and check digit verified"
            return f"{scheme.name}, format verified (this number has no check digit)"
    return scheme_name


def _explain(exc: ValidationError, shape: str) -> str:
    """What is wrong with a number, in words a person can act on."""
    if isinstance(exc, InvalidChecksum):
        return "its check digit does not match: look for a mistyped or swapped digit"
    if isinstance(exc, InvalidLength):
        return f"it has the wrong length (expected {shape})"
    if isinstance(exc, InvalidFormat):
        return f"it has characters that do not belong there (expected {shape})"
    if isinstance(exc, InvalidComponent):
        return (
            "part of it (such as the office, court or register code) does not exist: "
            "compare it with your registration certificate"
        )
    return f"it is not valid (expected {shape})"


def validate_registration(country: str, number: str) -> tuple[str, str]:
    """(compact number, scheme name), or ValueError with a message a person can act on."""
    code = check_country(country)
    raw = " ".join((number or "").split())
    if not raw:
        raise ValueError("enter the organisation's registration number")
    schemes = schemes_for(code)
    if not schemes:
        if len(raw) > 60:
            raise ValueError("a registration number has at most 60 characters")
        return raw, not_checked(code)
    if code == "DE":  # people often copy "Amtsgericht Hamburg HRB 12345"
        raw = re.sub(r"^(Amtsgericht|AG)\s+", "", raw, flags=re.IGNORECASE)
    failures: list[tuple[Scheme, ValidationError]] = []
    for scheme in schemes:
        try:
            return scheme.validate(raw), scheme.name
        except ValidationError as exc:
            failures.append((scheme, exc))
    # Explain the failure of the scheme the number most looks like: one whose shape was
    # right but whose content was wrong, else what each scheme expects.
    where = country_name(code)
    shaped = [f for f in failures if not isinstance(f[1], InvalidLength | InvalidFormat)]
    if shaped or len(failures) == 1:
        scheme, exc = (shaped or failures)[0]
        reason = _explain(exc, scheme.shape)
        raise ValueError(f"this is not a valid {scheme.name} for {where}: {reason}")
    expected = "; ".join(f"a {s.name} is {s.shape}" for s, _ in failures)
    raise ValueError(f"this is not a valid registration number for {where}: {expected}")


# Cached: the duplicate finder keys every organisation on each officer dashboard and
# eligibility proposal, and checking a number with python-stdnum is the slow part.
@lru_cache(maxsize=65536)
def company_key(country: str, number: str) -> tuple[str, str]:
    """What identifies the company behind a registration number, to spot duplicates.

    The compact number when it is valid (a French SIRET reduced to its SIREN, since both
    name the same company), else the number without spaces and punctuation, upper case.
    """
    code = (country or "").strip().upper()
    try:
        compact, scheme = validate_registration(code, number)
    except ValueError:
        compact, scheme = number, ""
    if code == "FR" and scheme == "SIRET":
        compact = compact[:9]
    return code, re.sub(r"[\s.\-/]", "", compact).upper()


def vat_prefix(country: str) -> str:
    code = country.strip().upper()
    return _VAT_PREFIX.get(code, code)


def vat_checkable(country: str) -> bool:
    """Whether ``validate_vat`` can check numbers of this country (else it keeps them)."""
    code = country.strip().upper()
    return code in EU_MEMBER_STATES or get_cc_module(code.lower(), "vat") is not None


def validate_vat(country: str, vat: str) -> str:
    """The compact VAT number with its country prefix (e.g. IT00743110157).

    A format and check-digit test only: whether the number is active is for VIES, which
    officers consult when they check eligibility.
    """
    code = check_country(country)
    raw = re.sub(r"[\s.\-/]", "", (vat or "")).upper()
    if not raw:
        raise ValueError("enter the VAT number, or leave the field empty")
    prefix = vat_prefix(code)
    head = raw[:2]
    if head.isalpha() and head in _EU_VAT_PREFIXES and head != prefix:
        raise ValueError(
            f"this VAT number starts with {head}, but the organisation is registered in "
            f"{country_name(code)}: give the VAT number starting with {prefix}"
        )
    shape = f"{prefix} followed by the national VAT number"
    if code in EU_MEMBER_STATES:
        number = raw if raw.startswith(prefix) else prefix + raw
        try:
            return str(eu_vat.validate(number))
        except ValidationError as exc:
            problem = exc
    else:
        module = get_cc_module(code.lower(), "vat")
        if module is None:
            trimmed = " ".join(vat.split())
            if len(trimmed) > 40:
                raise ValueError("a VAT number has at most 40 characters")
            return trimmed
        problem = InvalidFormat()
        national = raw[len(prefix) :] if raw.startswith(prefix) else raw
        for candidate in (raw, national):
            try:
                compact = str(module.validate(candidate))
            except ValidationError as exc:
                problem = exc
                continue
            return compact if compact.startswith(prefix) else prefix + compact
    reason = _explain(problem, shape)
    raise ValueError(f"this is not a valid VAT number for {country_name(code)}: {reason}")
