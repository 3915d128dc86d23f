"""Countries in call-defined forms: ISO 3166-1 alpha-2 codes (pycountry) and named sets.

A definition's ``countries`` (only these) and ``exclude_countries`` (not these) list codes
and, by name, the sets of ``COUNTRY_SETS``: ``exclude_countries: [EU]`` asks for countries
outside the EU without 27 codes to type (and mistype). A set keeps its name in the stored
definition, so the definition reads as it was meant and the answers' errors can say why a
country is refused ("Germany is in the EU"); it also means such a field follows the list
below, should EU membership change, on calls already running too.

Pure: no Flask.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import pycountry

from workflows.i18n import N_
from workflows.registration_numbers import EU_MEMBER_STATES, country_name

__all__ = [
    "COUNTRY_SETS",
    "EU_COUNTRIES",
    "EU_TERRITORIES_WITH_OWN_CODES",
    "CountrySet",
    "all_countries",
    "allowed",
    "country_name",
    "expand",
    "set_holding",
]

# The EU member states are kept in one place, ``workflows.registration_numbers`` (the 27 since
# the United Kingdom left on 1 February 2020; Article 52 TEU). ISO 3166-1 also gives codes of
# their own to parts of member states that are EU territory: the Åland Islands (Finland,
# Article 355(4) TFEU) and the French outermost regions (Article 349 TFEU: Guadeloupe, French
# Guiana, Martinique, Mayotte, Réunion, Saint-Martin). They count as "in the EU" too, so that
# Réunion is no third-country market and a provider in Martinique is established in the EU.
# The overseas countries and territories (Greenland, New Caledonia, Aruba...) are not EU
# territory and stay outside. As it stands since 1 February 2020 (EU-27; Mayotte has been an
# outermost region since 1 January 2014).
EU_TERRITORIES_WITH_OWN_CODES = frozenset({"AX", "GF", "GP", "MF", "MQ", "RE", "YT"})
EU_COUNTRIES = EU_MEMBER_STATES | EU_TERRITORIES_WITH_OWN_CODES


@dataclass(frozen=True)
class CountrySet:
    codes: frozenset[str]
    called: str  # how a sentence names it ("the EU"); translated with gettext where shown


# Named sets a definition may use in ``countries`` and ``exclude_countries``. A name is never
# an ISO alpha-2 code ("EU" is only reserved by ISO 3166-1, not assigned).
COUNTRY_SETS: dict[str, CountrySet] = {"EU": CountrySet(EU_COUNTRIES, N_("the EU"))}


@functools.cache
def all_countries() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


def expand(entries: Iterable[str]) -> frozenset[str]:
    """The codes that ``entries`` (codes and set names, as a definition holds them) stand for."""
    codes: set[str] = set()
    for entry in entries:
        named = COUNTRY_SETS.get(entry)
        codes |= named.codes if named is not None else {entry}
    return frozenset(codes)


def allowed(only: Collection[str], excluded: Iterable[str]) -> frozenset[str]:
    """The codes a field with these ``countries`` (empty: all) and ``exclude_countries`` takes."""
    offered = expand(only) if only else all_countries()
    return offered - expand(excluded)


def set_holding(code: str, entries: Iterable[str]) -> CountrySet | None:
    """The first named set among ``entries`` that holds ``code``, if any."""
    for entry in entries:
        named = COUNTRY_SETS.get(entry)
        if named is not None and code in named.codes:
            return named
    return None
