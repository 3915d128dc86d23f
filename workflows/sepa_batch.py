"""A SEPA credit transfer batch: one file sent to the bank, then paid or cancelled.

``exported`` holds its instalments (none of them can go into another live batch);
``paid`` records the bank's reference and value date for every instalment in it;
``cancelled`` frees them for another export. Also the TARGET2 calendar that decides the
default requested execution date (the next business day).
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum

from workflows.definition import TransitionDef, WorkflowDefinition
from workflows.i18n import N_
from workflows.roles import Role
from workflows.states import Badge, StateFacts

#: SEPA payments run on the TARGET2 calendar, whose day is that of Frankfurt / Brussels.
TARGET_TIMEZONE = "Europe/Brussels"


class SepaBatchState(StrEnum):
    EXPORTED = "exported"
    PAID = "paid"
    CANCELLED = "cancelled"


B = SepaBatchState
FINANCE = frozenset({Role.FINANCE})

SEPA_BATCH_FACTS = {
    B.EXPORTED: StateFacts(N_("Exported, waiting for the bank"), Badge.WARN),
    B.PAID: StateFacts(N_("Paid"), Badge.GOOD),
    B.CANCELLED: StateFacts(N_("Cancelled"), Badge.NEUTRAL),
}

SEPA_BATCH_V1 = WorkflowDefinition(
    name="sepa_batch",
    version=1,
    initial=B.EXPORTED,
    states=tuple(str(s) for s in SepaBatchState),
    final_states=frozenset({B.PAID, B.CANCELLED}),
    facts=SEPA_BATCH_FACTS,
    transitions=(
        TransitionDef("mark_paid", (B.EXPORTED,), B.PAID, FINANCE, "Mark batch paid"),
        TransitionDef(
            "cancel", (B.EXPORTED,), B.CANCELLED, FINANCE, "Cancel batch", ("reason_given",)
        ),
    ),
)

#: Batches whose instalments cannot go into another file.
LIVE_STATES = frozenset({B.EXPORTED, B.PAID})


def easter_sunday(year: int) -> date:
    """Gregorian Easter (the anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def target_closed(day: date) -> bool:
    """TARGET2 is closed at weekends, on 1 January, Good Friday, Easter Monday, 1 May,
    25 and 26 December: no SEPA credit transfer settles on those days."""
    if day.weekday() >= 5:
        return True
    if (day.month, day.day) in {(1, 1), (5, 1), (12, 25), (12, 26)}:
        return True
    easter = easter_sunday(day.year)
    return day in {easter - timedelta(days=2), easter + timedelta(days=1)}


def next_business_day(today: date) -> date:
    """The first TARGET2 business day after ``today``."""
    day = today + timedelta(days=1)
    while target_closed(day):
        day += timedelta(days=1)
    return day
