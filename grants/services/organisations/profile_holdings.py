"""The profile's partner and linked enterprises (with who holds the share, and in which
direction) and the enterprises linked to them, read row by row and then checked together
with ``workflows.sme_status`` (an enterprise entered twice is refused, never summed).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from grants.services.organisations.profile_parse import (
    _Checker,
    _figure,
    _parse_money,
    _parse_staff,
    _required_text,
    _text,
)
from grants.services.organisations.sme import status_profile
from workflows import numbers
from workflows.i18n import _
from workflows.numbers import plain
from workflows.sme_status import DIRECTIONS, HOLDER_TYPES, holding_problems

RELATIONS = ("partner", "linked")


def _related(rows: list[Mapping[str, Any]], c: _Checker) -> list[dict[str, str]]:
    clean: list[dict[str, str]] = []
    for index, row in enumerate(rows):
        key = f"related_enterprises-{index}-"
        name = c.check(
            key + "name",
            lambda row=row: _required_text(row.get("name"), _("give the enterprise's name"), 200),
            "",
        )
        holder = _text(row.get("holder_type")).lower() or "enterprise"
        if holder not in HOLDER_TYPES:
            c.errors[key + "holder_type"] = _("choose who holds the share")
        direction = _text(row.get("direction")).lower() or "holds_us"
        if direction not in DIRECTIONS:
            c.errors[key + "direction"] = _("choose who holds a share in whom")
        relation = _text(row.get("relation")).lower()
        if relation not in RELATIONS:
            c.errors[key + "relation"] = _("choose partner (25% to 50%) or linked (over 50%)")
        public = holder == "public_body"
        percent = c.check(
            key + "share_percent",
            lambda row=row, relation=relation, public=public: _share(row, relation, public),
        )
        figures = {
            name_: c.check(
                key + name_,
                lambda row=row, name_=name_, parse=parse: parse(row.get(name_)),
            )
            for name_, parse in (
                ("headcount", _parse_staff),
                ("turnover", _parse_money),
                ("balance_sheet", _parse_money),
            )
        }
        # A public body's figures are never counted: its share alone decides.
        if not public:
            for name_, value in figures.items():
                if value is None and key + name_ not in c.errors:
                    c.errors[key + name_] = _("give this figure (0 if none)")
        invested = c.check(key + "invested", lambda row=row: _parse_money(row.get("invested")))
        clean.append(
            {
                "name": name,
                "holder_type": holder,
                "direction": direction,
                "relation": relation,
                "share_percent": plain(percent) if percent is not None else "",
                "headcount": plain(figures["headcount"])
                if figures["headcount"] is not None
                else "",
                "turnover": _money_text(figures["turnover"]),
                "balance_sheet": _money_text(figures["balance_sheet"]),
                "invested": _money_text(invested),
            }
        )
    return clean


def _money_text(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def _share(row: Mapping[str, Any], relation: str, public: bool) -> Decimal:
    value = _figure(
        row.get("share_percent"),
        lambda v: numbers.parse_percent(v, field_label=_("The share")),
    )
    if value is None or (public and value == 0):
        raise ValueError(_("give the share of capital or voting rights held, in %"))
    # Public bodies count together from any share: 15% and 15% are 30%.
    if not public and relation == "partner" and not Decimal(25) <= value <= Decimal(50):
        raise ValueError(
            _(
                "a partner enterprise is held 25% to 50%: below 25% it is not counted, "
                "above 50% it is a linked enterprise"
            )
        )
    return value


def _links(rows: list[Mapping[str, Any]], c: _Checker) -> list[dict[str, str]]:
    """Enterprises linked to a partner or linked enterprise (art. 6(3)): counted with it."""
    clean: list[dict[str, str]] = []
    for index, row in enumerate(rows):
        key = f"related_links-{index}-"
        of = c.check(
            key + "of",
            lambda row=row: _required_text(
                row.get("of"), _("give the name of the partner or linked enterprise"), 200
            ),
            "",
        )
        name = c.check(
            key + "name",
            lambda row=row: _required_text(row.get("name"), _("give the enterprise's name"), 200),
            "",
        )
        staff = c.check(key + "headcount", lambda row=row: _parse_staff(row.get("headcount")))
        turnover = c.check(key + "turnover", lambda row=row: _parse_money(row.get("turnover")))
        balance = c.check(
            key + "balance_sheet", lambda row=row: _parse_money(row.get("balance_sheet"))
        )
        for name_, value in (
            ("headcount", staff),
            ("turnover", turnover),
            ("balance_sheet", balance),
        ):
            if value is None and key + name_ not in c.errors:
                c.errors[key + name_] = _("give this figure (0 if none)")
        clean.append(
            {
                "of": of,
                "name": name,
                "headcount": plain(staff) if staff is not None else "",
                "turnover": _money_text(turnover),
                "balance_sheet": _money_text(balance),
            }
        )
    return clean


def _holding_problems(
    related: list[dict[str, str]], links: list[dict[str, str]], c: _Checker
) -> None:
    """The rows checked together (an enterprise entered twice, an investor's direction...),
    each problem beside its field unless that field has one already."""
    profile = status_profile({"related_enterprises": related, "related_links": links})
    groups = {"related": "related_enterprises", "links": "related_links"}
    for problem in holding_problems(profile.related, profile.links):
        c.errors.setdefault(
            f"{groups[problem.group]}-{problem.index}-{problem.field}", problem.message
        )
