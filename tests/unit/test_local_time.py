"""Deadlines typed as wall-clock times: the autumn hour that happens twice and the spring hour
that never happens are refused with the instants or the gap named, never guessed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from workflows.local_time import (
    AmbiguousLocalTime,
    LocalTimeProblem,
    NonexistentLocalTime,
    UnknownTimezone,
    local_instant,
    require_instant,
)


def test_an_ordinary_time_is_one_instant() -> None:
    assert local_instant(datetime(2026, 10, 25, 17, 0), "Europe/Rome") == datetime(
        2026, 10, 25, 16, 0, tzinfo=UTC
    )
    assert local_instant(datetime(2026, 7, 1, 17, 0), "Europe/Zagreb") == datetime(
        2026, 7, 1, 15, 0, tzinfo=UTC
    )


def test_the_autumn_hour_that_happens_twice_is_refused_naming_both_instants() -> None:
    with pytest.raises(AmbiguousLocalTime) as refused:
        local_instant(datetime(2026, 10, 25, 2, 30), "Europe/Rome")
    assert (refused.value.earlier, refused.value.later) == (
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    )
    message = str(refused.value)
    assert "happens twice" in message
    assert "02:30 CEST (00:30 UTC)" in message and "02:30 CET (01:30 UTC)" in message


def test_saying_which_of_the_two_resolves_it() -> None:
    wall = datetime(2026, 10, 25, 2, 30)
    assert local_instant(wall, "Europe/Paris", fold=0) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert local_instant(wall, "Europe/Paris", fold=1) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


def test_the_spring_hour_that_never_happens_is_refused_naming_the_gap() -> None:
    with pytest.raises(NonexistentLocalTime) as refused:
        local_instant(datetime(2026, 3, 29, 2, 30), "Europe/Amsterdam", fold=0)
    assert (refused.value.gap_start, refused.value.gap_end) == (
        datetime(2026, 3, 29, 2, 0),
        datetime(2026, 3, 29, 3, 0),
    )
    assert "jump from 02:00 to 03:00" in str(refused.value)


def test_half_hour_shifts_are_measured_not_assumed() -> None:
    # Lord Howe Island moves its clocks by 30 minutes.
    with pytest.raises(NonexistentLocalTime) as gap:
        local_instant(datetime(2026, 10, 4, 2, 15), "Australia/Lord_Howe")
    assert (gap.value.gap_start.time().isoformat(), gap.value.gap_end.time().isoformat()) == (
        "02:00:00",
        "02:30:00",
    )
    with pytest.raises(AmbiguousLocalTime) as twice:
        local_instant(datetime(2026, 4, 5, 1, 45), "Australia/Lord_Howe")
    assert (twice.value.later - twice.value.earlier).total_seconds() == 30 * 60


def test_unknown_zones_and_offsets_are_refused_clearly() -> None:
    with pytest.raises(UnknownTimezone, match="Europe/Atlantis"):
        local_instant(datetime(2026, 5, 1, 12, 0), "Europe/Atlantis")
    with pytest.raises(LocalTimeProblem, match="without an offset"):
        local_instant(datetime(2026, 5, 1, 12, 0, tzinfo=UTC), "Europe/Rome")


def test_a_deadline_without_a_timezone_is_a_clear_error_not_a_type_error() -> None:
    with pytest.raises(LocalTimeProblem, match="the deadline has no timezone"):
        require_instant(datetime(2026, 5, 1, 12, 0), "the deadline")
    require_instant(datetime(2026, 5, 1, 12, 0, tzinfo=UTC), "the deadline")
