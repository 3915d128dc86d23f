"""Local wall-clock times typed by people, turned into instants without guessing.

A deadline is typed as it is published ("31 October 2026, 17:00, Europe/Rome"), but stored and
compared as an instant. Twice a year that translation is not one-to-one: when the clocks go
back, an hour of wall-clock times happens twice; when they go forward, an hour never happens.
Python's ``zoneinfo`` silently picks one (``fold``), which would move a legally binding
deadline by an hour. Here such a time is refused, naming the two instants or the gap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from workflows.i18n import _


class LocalTimeProblem(ValueError):
    """A wall-clock time that does not name exactly one instant; the message says why."""


class UnknownTimezone(LocalTimeProblem):
    pass


# Not frozen: raising sets __traceback__ on the exception.
@dataclass
class AmbiguousLocalTime(LocalTimeProblem):
    """The time happens twice: ``earlier`` and ``later`` are the two instants (UTC)."""

    wall: datetime
    zone: str
    earlier: datetime
    later: datetime

    def __str__(self) -> str:
        tz = ZoneInfo(self.zone)
        first, second = self.earlier.astimezone(tz), self.later.astimezone(tz)
        return _(
            "%(time)s happens twice in %(zone)s (the clocks go back that night): "
            "%(first)s (%(first_utc)s UTC) or %(second)s (%(second_utc)s UTC); "
            "choose another time or say which one",
            time=_wall(self.wall),
            zone=self.zone,
            first=f"{first:%H:%M} {first.tzname()}",
            first_utc=f"{self.earlier:%H:%M}",
            second=f"{second:%H:%M} {second.tzname()}",
            second_utc=f"{self.later:%H:%M}",
        )


@dataclass
class NonexistentLocalTime(LocalTimeProblem):
    """The time never happens: the clocks jump from ``gap_start`` to ``gap_end`` (wall)."""

    wall: datetime
    zone: str
    gap_start: datetime
    gap_end: datetime

    def __str__(self) -> str:
        return _(
            "%(time)s does not exist in %(zone)s: the clocks jump from %(start)s to %(end)s "
            "that night; choose a time outside the gap",
            time=_wall(self.wall),
            zone=self.zone,
            start=f"{self.gap_start:%H:%M}",
            end=f"{self.gap_end:%H:%M}",
        )


def _wall(wall: datetime) -> str:
    return f"{wall:%d %B %Y, %H:%M}"


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownTimezone(_("unknown timezone %(zone)s", zone=repr(name))) from exc


def _exists(candidate: datetime, wall: datetime, tz: ZoneInfo) -> bool:
    return candidate.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall


def _transition(before: datetime, after: datetime, tz: ZoneInfo) -> datetime:
    """The instant, to the second, between two UTC instants where ``tz``'s offset changes."""
    offset = before.astimezone(tz).utcoffset()
    while after - before > timedelta(seconds=1):
        middle = before + (after - before) / 2
        if middle.astimezone(tz).utcoffset() == offset:
            before = middle
        else:
            after = middle
    return after.replace(microsecond=0)


def local_instant(wall: datetime, zone_name: str, *, fold: int | None = None) -> datetime:
    """The UTC instant of ``wall`` (a naive wall-clock time) in ``zone_name``.

    Raises AmbiguousLocalTime when it happens twice (unless ``fold`` says which: 0 the first,
    1 the second) and NonexistentLocalTime when it falls in the spring-forward gap.
    """
    if wall.tzinfo is not None:
        raise LocalTimeProblem(_("give the time as it reads on a clock, without an offset"))
    tz = zone(zone_name)
    first = wall.replace(tzinfo=tz, fold=0)
    second = wall.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first.astimezone(UTC)
    if _exists(first, wall, tz) and _exists(second, wall, tz):
        if fold in (0, 1):
            return (second if fold else first).astimezone(UTC)
        raise AmbiguousLocalTime(wall, zone_name, first.astimezone(UTC), second.astimezone(UTC))
    # In the gap: fold=0 reads it with the offset before the jump, fold=1 with the one after,
    # so the two instants lie on either side of the transition.
    early, late = sorted((first.astimezone(UTC), second.astimezone(UTC)))
    jump = _transition(early, late, tz)
    start = (jump - timedelta(seconds=1)).astimezone(tz) + timedelta(seconds=1)
    raise NonexistentLocalTime(
        wall, zone_name, start.replace(tzinfo=None), jump.astimezone(tz).replace(tzinfo=None)
    )


def require_instant(moment: datetime, what: str) -> None:
    """Refuse a naive datetime where an instant is needed, instead of a TypeError later."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise LocalTimeProblem(_("%(what)s has no timezone: give it with its timezone", what=what))
