"""The redress window is counted in whole calendar days on the call's clock."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from workflows.redress import CHALLENGEABLE, RedressKind, last_day, window_closes
from workflows.voucher import AppState

ZAGREB = ZoneInfo("Europe/Zagreb")


def test_the_window_closes_at_the_end_of_the_last_day() -> None:
    decided = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # 10:30 in Zagreb
    assert window_closes(decided, 5, "Europe/Zagreb") == datetime(2026, 3, 8, 0, 0, tzinfo=ZAGREB)
    assert last_day(decided, 5, "Europe/Zagreb") == datetime(2026, 3, 7, 23, 59, 59, tzinfo=ZAGREB)


def test_a_decision_late_in_the_utc_day_counts_from_the_calls_day() -> None:
    # 23:30 UTC on 2 March is already 3 March in Zagreb: the five days count from the 3rd.
    decided = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    assert window_closes(decided, 5, "Europe/Zagreb") == datetime(2026, 3, 9, 0, 0, tzinfo=ZAGREB)


def test_a_decision_made_before_the_clocks_change_keeps_whole_days() -> None:
    # Decided on Friday 24 October 2025, 16:00 in Zagreb; the clocks go back on the 26th.
    decided = datetime(2025, 10, 24, 14, 0, tzinfo=UTC)
    closes = window_closes(decided, 5, "Europe/Zagreb")
    assert closes == datetime(2025, 10, 30, 0, 0, tzinfo=ZAGREB)
    assert closes.astimezone(UTC) == datetime(2025, 10, 29, 23, 0, tzinfo=UTC)


def test_bad_windows_are_refused() -> None:
    with pytest.raises(ValueError):
        window_closes(datetime(2026, 3, 2, 9, 30, tzinfo=UTC), 0, "Europe/Zagreb")
    with pytest.raises(ValueError):
        window_closes(datetime(2026, 3, 2, 9, 30), 5, "Europe/Zagreb")


def test_which_decisions_can_be_challenged() -> None:
    assert CHALLENGEABLE == {
        AppState.INELIGIBLE: RedressKind.ELIGIBILITY,
        AppState.REJECTED: RedressKind.EVALUATION,
        AppState.RESERVE: RedressKind.EVALUATION,
    }
