"""The pure pieces of `make bench`: the figure line, the results file, the exactly-once check."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bench.__main__ import Figure, format_line, render_results, write_results
from bench.click_day import lost_or_duplicated, percentile
from workflows.voucher import AppState

SUBMITTED = str(AppState.SUBMITTED)


def test_a_figure_prints_as_name_value_and_ratio_to_its_baseline() -> None:
    figure = Figure(
        "click-day submit",
        "412/s, p99 31 ms",
        "0.71 to bare 580/s; p99 ratio 1.9 to 16 ms",
    )
    assert format_line(figure) == (
        "click-day submit: 412/s, p99 31 ms (ratio 0.71 to bare 580/s; p99 ratio 1.9 to 16 ms)"
    )


def test_the_results_file_has_machine_figures_goals_and_what_limits_a_missed_goal(
    tmp_path: Path,
) -> None:
    met = Figure("audit verify", "20,000 events/s", "0.8 to bare 25,000 events/s", "≥ 0.5", True)
    missed = Figure(
        "submission during a 10k ranking",
        "40,000 ms, wait 39,970 ms",
        "1333.3 to 30 ms with nothing running",
        "wait ≤ 1 s",
        False,
        notes=["one submission a second"],
        limit="- 400: Lock:advisory in `SELECT pg_advisory_xact_lock($1)`",
    )
    no_goal = Figure("PDF pipeline", "2.0 PDFs/s", "0.9 to naive WeasyPrint 2.2 PDFs/s")
    text = render_results(
        [met, missed, no_goal],
        {"CPU": "Xeon, 2 cores", "RAM": "24 GiB", "Python": "3.11.7", "PostgreSQL": "15.2"},
        date=datetime(2026, 12, 3, 9, 30, tzinfo=UTC),
        total_seconds=612.4,
    )
    assert "- Date: 2026-12-03 09:30 UTC" in text
    assert "- CPU: Xeon, 2 cores" in text and "- PostgreSQL: 15.2" in text
    assert "- Total duration: 612 s" in text
    for figure in (met, missed, no_goal):
        assert format_line(figure) in text
    assert "| audit verify | 20,000 events/s | 0.8 to bare 25,000 events/s | ≥ 0.5 | met |" in text
    assert "| wait ≤ 1 s | NOT met |" in text and "| — | n/a |" in text
    limits = text.split("## Goals not met: what limits them (measured)")[1]
    assert "### submission during a 10k ranking" in limits
    assert "Lock:advisory" in limits and "audit verify" not in limits

    path = tmp_path / "bench" / "RESULTS.md"
    write_results(path, text)
    assert path.read_text(encoding="utf-8") == text
    assert [p.name for p in path.parent.iterdir()] == ["RESULTS.md"]


def test_the_results_file_has_no_limits_section_when_every_goal_is_met() -> None:
    text = render_results(
        [Figure("a", "1/s", "1.0 to 1/s", "≥ 0.5", True)],
        {},
        date=datetime(2026, 1, 1, tzinfo=UTC),
        total_seconds=1,
    )
    assert "Goals not met" not in text


def test_every_submission_counted_exactly_once_passes() -> None:
    ids = [1, 2, 3]
    statuses = dict.fromkeys(ids, SUBMITTED)
    once = dict.fromkeys(ids, 1)
    assert lost_or_duplicated(ids, statuses, once, once) == []


def test_a_duplicated_submission_is_flagged() -> None:
    ids = [1, 2, 3]
    statuses = dict.fromkeys(ids, SUBMITTED)
    problems = lost_or_duplicated(ids, statuses, {1: 1, 2: 2, 3: 1}, {1: 1, 2: 2, 3: 1})
    assert problems == [
        "application 2 duplicated: 2 of submit events",
        "application 2 duplicated: 2 of receipts",
    ]


def test_a_missing_submission_is_flagged() -> None:
    ids = [1, 2, 3]
    statuses = {1: SUBMITTED, 2: "draft", 3: SUBMITTED}
    problems = lost_or_duplicated(ids, statuses, {1: 1, 3: 1})
    assert problems == [
        "application 2 lost: status draft, not submitted",
        "application 2 lost: no submit event",
    ]


def test_a_submit_event_for_an_application_never_posted_is_flagged() -> None:
    problems = lost_or_duplicated([1], {1: SUBMITTED}, {1: 1, 9: 1})
    assert problems == ["application 9 has submit events but was never posted"]


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 99) == 99.0
    assert percentile(values, 50) == 50.0
    assert percentile([5.0], 99) == 5.0
    assert percentile([], 99) == 0.0
