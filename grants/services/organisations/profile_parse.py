"""Reading what a person typed in the profile form: text, figures, dates, repeated rows.

Each reader raises ValueError with words a person understands; ``_Checker`` collects them
field by field, so one answer lists every problem.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from workflows import numbers
from workflows.i18n import _
from workflows.money import CENT

MAX_HEADCOUNT = Decimal("9999999.99")  # NUMERIC(12, 2) would take more: a typing error
# Below EUR 1 trillion (beyond it, surely a typing error), within NUMERIC(15, 2).
MAX_MONEY = Decimal("999999999999.99")


def _text(value: object) -> str:
    return "" if value is None else " ".join(str(value).split())


def _figure(raw: object, parse: Callable[[object], Decimal]) -> Decimal | None:
    """A figure read by ``workflows.numbers`` (its refusal is a ValueError the checker
    reports), or None when left empty."""
    if not _text(raw):
        return None
    return parse(raw)


def _parse_staff(raw: object) -> Decimal | None:
    """Staff in annual work units: part-timers make decimals (9.5), at most two."""
    value = _figure(
        raw,
        lambda v: numbers.parse_decimal(v, field_label=_("The headcount"), maximum=MAX_HEADCOUNT),
    )
    return None if value is None else value.quantize(CENT)


def _parse_money(raw: object) -> Decimal | None:
    return _figure(raw, lambda v: numbers.parse_money(v, maximum=MAX_MONEY))


def _parse_date(raw: object, *, today: date) -> date | None:
    if isinstance(raw, datetime):
        raw = raw.date()
    if isinstance(raw, date):
        value = raw
    else:
        text = _text(raw)
        if not text:
            return None
        try:
            value = date.fromisoformat(text)
        except ValueError:
            raise ValueError(_("give the date as year-month-day, like 2015-03-02")) from None
    if value > today:
        raise ValueError(_("the date cannot be in the future"))
    if value.year < 1800:
        raise ValueError(_("check the year of this date"))
    return value


def _bounded(text: str, limit: int) -> str:
    if len(text) > limit:
        raise ValueError(
            _(
                "use at most %(limit)s characters (this has %(count)s)",
                limit=limit,
                count=len(text),
            )
        )
    return text


@dataclass
class _Checker:
    """Collects every field's problem, so one answer lists them all."""

    errors: dict[str, str] = field(default_factory=dict)

    def check(self, key: str, parse: Callable[[], Any], default: Any = None) -> Any:
        try:
            return parse()
        except ValueError as exc:
            self.errors[key] = str(exc)
            return default


def _required(text: str, message: str) -> str:
    if not text:
        raise ValueError(message)
    return text


def _required_text(raw: object, message: str, limit: int) -> str:
    """Text a person must give (``message`` says what), of at most ``limit`` characters."""
    return _bounded(_required(_text(raw), message), limit)


def _rows(value: object) -> list[Mapping[str, Any]]:
    if value is None or value == "":
        return []
    if not isinstance(value, list | tuple):
        raise ValueError(_("expected a list of rows"))
    return [row for row in value if isinstance(row, Mapping)]


def _blank(row: Mapping[str, Any], names: tuple[str, ...]) -> bool:
    return not any(_text(row.get(name)) for name in names)
