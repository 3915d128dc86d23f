"""`make bench`: the five figures, each against a bare baseline measured in the same run.

1. click day: real HTTP submit (gunicorn, PostgreSQL) vs a bare Flask + SQLAlchemy insert;
2. PDF pipeline: the outbox worker vs a naive WeasyPrint loop (``bench.pdf_bench``);
3. audit verify vs driver + hashlib, and `cascade export audit-events`' peak RSS at 1M events
   (CSV and JSON Lines; XLSX at 200,000);
4. ranking and the officer dashboard at 1,000 and 10,000 applications (growth 10k/1k);
5. a submission's latency while a 10,000-application ranking runs vs with nothing running.

Prints one line per figure, ``NAME: VALUE (ratio R to BASELINE)``, and writes
bench/RESULTS.md (machine, versions, date, figures, goals met or not, and for a missed goal
the measurement that shows what limits it).

    make bench                          # PostgreSQL at BENCH_DATABASE_URL (default local `test`)
    BENCH_QUICK=1 python -m bench       # smoke run with small sizes; results to a temp file
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

BENCH = Path(__file__).resolve().parent
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class Figure:
    """One measured figure against its baseline, and its goal."""

    name: str
    value: str
    ratio: str  # "R to BASELINE"
    goal: str = ""
    met: bool | None = None  # None: no goal, or not measured
    notes: list[str] = field(default_factory=list)
    limit: str = ""  # for a missed goal: what limits it, from a measurement
    detail: str = ""  # more measurement worth keeping (e.g. a profile close to a limit)
    seconds: float = 0.0
    other_cores: float | None = None  # other processes' CPU during its step, in cores


def format_line(figure: Figure) -> str:
    return f"{figure.name}: {figure.value} (ratio {figure.ratio})"


def verdict(figure: Figure) -> str:
    return {True: "met", False: "NOT met", None: "n/a"}[figure.met]


@dataclass
class Sizes:
    clicks: int
    audit_events: int
    scale: tuple[int, int]
    pdfs: int

    @classmethod
    def from_env(cls) -> Sizes:
        if os.environ.get("BENCH_QUICK") == "1":
            return cls(clicks=40, audit_events=20_000, scale=(100, 1000), pdfs=4)
        return cls(
            clicks=int(os.environ.get("BENCH_CLICKS", "400")),
            audit_events=int(os.environ.get("BENCH_AUDIT_EVENTS", "1000000")),
            scale=(1000, 10000),
            pdfs=int(os.environ.get("BENCH_PDFS", "60")),
        )


# -- the figures -------------------------------------------------------------------------------


def click_day_figures(admin_url: str, sizes: Sizes) -> list[Figure]:
    from bench import click_day

    r = click_day.run(admin_url, sizes.clicks)
    figure = Figure(
        "click-day submit",
        f"{r.real.rate:.0f}/s, p99 {r.real.p99 * 1000:.0f} ms",
        f"{r.rate_ratio:.2f} to bare {r.bare.rate:.0f}/s; "
        f"p99 ratio {r.p99_ratio:.1f} to {r.bare.p99 * 1000:.0f} ms",
        goal="≥ 0.6 of bare throughput, p99 ≤ 3x bare, no submission lost or duplicated, "
        "chain intact",
        met=r.met,
    )
    figure.notes = [
        f"{r.submissions} submissions by {r.submissions} distinct applicants (each logged in, "
        f"CSRF token taken from its edit page, before timing), {click_day.CLIENT_THREADS} "
        "client threads, gunicorn 2 sync workers for both servers, same database; "
        "only the submit POST is timed (the redirect is not followed), on both sides.",
        f"Bare: {r.bare.rate:.0f}/s, p50 {click_day.percentile(r.bare.latencies, 50) * 1000:.0f}"
        f" ms, p99 {r.bare.p99 * 1000:.0f} ms. Real: p50 "
        f"{click_day.percentile(r.real.latencies, 50) * 1000:.0f} ms.",
        f"Exactly once: {'no problem' if not r.problems else '; '.join(r.problems[:10])} "
        f"(status, one `submit` event and one receipt job per application, after "
        f"{r.replays} double clicks replayed with the same token); responses: "
        f"{dict(r.outcome_counts)}.",
        f"Hash chain: {'intact' if r.chain_ok else 'BROKEN'} ({r.chain_checked} events).",
    ]
    if r.profile:
        figure.limit = "```\n" + r.profile + "\n```"
    return [figure]


def pdf_figures(admin_url: str, sizes: Sizes) -> list[Figure]:
    from bench.submit_bench import fresh_database

    try:
        from bench import pdf_bench
    except ImportError as exc:
        return [Figure("PDF pipeline", "not measured", f"— ({exc})")]
    os.environ.setdefault("BENCH_PDFS", str(sizes.pdfs))
    with fresh_database(admin_url) as url:
        figures: dict[str, Any] = pdf_bench.run(url)
    text = pdf_bench.line(figures) if hasattr(pdf_bench, "line") else None
    if text and text.startswith("PDF pipeline: ") and " (ratio " in text:
        value, _, ratio = text.removeprefix("PDF pipeline: ").partition(" (ratio ")
        ratio = ratio.removesuffix(")")
    else:
        value, ratio = str(figures), "—"
    figure = Figure("PDF pipeline", value, ratio, goal=str(figures.get("goal", "")))
    figure.met = figures.get("met")
    figure.notes = [
        "Measured by `bench/pdf_bench.py`: "
        + ", ".join(
            f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items()
        )
    ]
    return [figure]


def audit_figures(admin_url: str, sizes: Sizes) -> list[Figure]:
    from bench import audit_bench

    f = audit_bench.run(admin_url, sizes.audit_events)
    verify = Figure(
        "audit verify",
        f"{f.verify_rate:,.0f} events/s over {f.events:,} events",
        f"{f.verify_ratio:.2f} to bare driver+hashlib {f.bare_verify_rate:,.0f} events/s",
        goal="≥ 0.5 of bare",
        met=f.verify_met,
        notes=[
            f"Chain of {f.events:,} events written by `fill_chain` in {f.fill_seconds:.0f} s "
            "(hashes by `audit.compute_hash`, COPY); verify found it "
            f"{'intact' if f.verify_ok else 'BROKEN'}."
        ],
    )
    export = Figure(
        "audit export peak RSS",
        audit_bench.export_value(f),
        f"{f.export_mb / f.import_only_mb:.2f} (the largest) to a bare process importing the "
        f"app, {f.import_only_mb:.0f} MB",
        goal=f"≤ {audit_bench.EXPORT_LIMIT_MB} MB for each format",
        met=f.export_met,
        notes=[
            "`cascade export audit-events --format csv|jsonl|xlsx --output /dev/null` (the "
            "streamed exporter of `grants.services.exports`) in a child process each; XLSX on a "
            f"chain of its own of at most {audit_bench.XLSX_EVENTS:,} events (openpyxl's "
            "write-only workbook writes a few thousand rows a second: a million would take "
            "several minutes); peak "
            "RSS from `wait4`'s rusage (ru_maxrss), read by a small launcher process (forked "
            "from the bench itself, a child would count the bench's pages too). The bare "
            "process runs `create_app()` and exits: the app's footprint before any row, "
            f"{f.import_only_mb:.0f} MB. Importing `grants.app` and `grants.cli` alone: "
            f"{f.modules_only_mb:.0f} MB; importing `grants.services.accounts` alone (it "
            f"computes an argon2 hash at import): {f.accounts_only_mb:.0f} MB.",
            "Export rates: "
            + ", ".join(f"{r.fmt} {r.rate:,.0f} events/s" for r in f.exports)
            + ".",
        ],
    )
    if f.verify_profile:
        verify.limit = (
            "cProfile of `verify_chain`'s loop (rows streamed, hash recomputed) over the "
            "first events of the same chain:\n\n```\n" + f.verify_profile + "\n```"
        )
    if not f.export_met:
        export.limit = (
            f"Of the {f.export_mb:.0f} MB, {f.import_only_mb:.0f} MB are there before the "
            "first row (a process running `create_app()` only; see above for the imports); "
            f"{f.export_mb - f.import_only_mb:.0f} MB come with the rows."
        )
    return [verify, export]


def scale_figures(admin_url: str, sizes: Sizes) -> list[Figure]:
    from bench import scale_bench

    f = scale_bench.run(admin_url, sizes.scale)
    s, b, g = f.small, f.large, f.growth()
    small, large = scale_bench._n(s.size), scale_bench._n(b.size)
    limit = scale_bench.GROWTH_LIMIT
    rank = Figure(
        f"ranking {large}",
        f"{b.rank.seconds:.1f} s, {b.rank.statements:,} statements",
        f"{g['rank time']:.1f} to {small}: {s.rank.seconds:.2f} s; statements ratio "
        f"{g['rank statements']:.1f} to {s.rank.statements:,}",
        goal=f"growth {large}/{small} ≤ {limit}x (time and statements)",
        met=g["rank time"] <= limit and g["rank statements"] <= limit,
        notes=[
            f"`awards.rank_call` in a process of its own, to its commit; {b.rank.placements:,} "
            f"and {s.rank.placements:,} placements. Per application: "
            f"{b.rank.seconds / b.size * 1000:.2f} ms and "
            f"{b.rank.statements / b.size:.3g} statements at {large}, "
            f"{s.rank.seconds / s.size * 1000:.2f} ms and "
            f"{s.rank.statements / s.size:.3g} at {small}.",
            f"CPU (ranking process + its PostgreSQL backend): {b.rank.profile.cpu:.1f} s at "
            f"{large}, {s.rank.profile.cpu:.2f} s at {small}: growth {g['rank CPU']:.1f}x "
            "(less sensitive than wall time to other load on the machine).",
        ],
    )
    dashboard = Figure(
        f"officer dashboard {large}",
        f"{b.dashboard_seconds * 1000:.0f} ms, {b.dashboard_statements} statements",
        f"{g['dashboard time']:.1f} to {small}: {s.dashboard_seconds * 1000:.0f} ms; "
        f"statements ratio {g['dashboard statements']:.1f} to {s.dashboard_statements}",
        goal=f"growth {large}/{small} ≤ {limit}x (time and statements)",
        met=g["dashboard time"] <= limit and g["dashboard statements"] <= limit,
        notes=["GET /dashboard through Flask's test client as the officer; median of 3, warm."],
    )
    during = max(b.rank.during, default=0.0)
    unobserved = "" if b.rank.observed_to_end else " (NOT observed to its end: out of drafts)"
    wait = Figure(
        f"submission during a {large} ranking",
        f"{during * 1000:,.0f} ms, wait {f.wait * 1000:,.0f} ms",
        f"{during / b.rank.baseline_latency:.1f} to {b.rank.baseline_latency * 1000:.0f} ms "
        "with nothing running",
        goal=f"wait ≤ {scale_bench.WAIT_LIMIT:.0f} s",
        met=f.wait_met,
        notes=[
            "Applicants of another call submit (service call, own transaction), one "
            f"submission every {scale_bench.SUBMIT_EVERY} s, from the start of the ranking "
            f"(in another process) to its commit{unobserved}. "
            f"Latencies during it: {[round(x * 1000) for x in b.rank.during]} ms; with nothing "
            f"running: {[round(x * 1000) for x in b.rank.baseline]} ms. At {small}: "
            f"{[round(x * 1000) for x in s.rank.during]} ms. Wait = the slowest during the "
            "ranking minus the median with nothing running."
        ],
    )
    if not rank.met:
        rank.limit = scale_bench.rank_breakdown(s, b)
    if g["dashboard time"] > 0.9 * limit:
        text = (
            f"cProfile of GET /dashboard at {large} (cumulative; project code):\n\n"
            f"```\n{b.dashboard_profile}\n```"
        )
        if dashboard.met:
            dashboard.detail = "Close to the limit. " + text
        else:
            dashboard.limit = text
    if not f.wait_met:
        r = b.rank
        waited = sum(r.waits.values())
        wait.limit = (
            (
                "Sampled from `pg_stat_activity` and `pg_blocking_pids()` every 100 ms while "
                f"the submissions were in flight: {waited} samples of a lock wait.\n\n"
                "Waiting on (samples):\n\n"
                + "\n".join(f"- {count}: {what}" for what, count in r.waits.most_common(5))
                + "\n\nThe blocking transaction (samples):\n\n"
                + "\n".join(f"- {count}: {what}" for what, count in r.blockers.most_common(6))
                + f"\n\nThat transaction had been open up to {r.blocker_age:.1f} s when "
                f"sampled; the ranking took {r.seconds:.1f} s: the submission waits for the "
                "ranking's transaction to end."
            )
            if waited
            else "No lock wait was sampled; the submission was slow while running."
        )
    return [rank, dashboard, wait]


STEPS: Sequence[tuple[str, Callable[[str, Sizes], list[Figure]]]] = (
    ("click-day submit", click_day_figures),
    ("PDF pipeline", pdf_figures),
    ("audit verify and export", audit_figures),
    ("ranking, dashboard, submission during ranking", scale_figures),
)


# -- the machine and the report ---


class OtherLoad:
    """CPU used by processes that are not this bench's, sampled from /proc every 0.5 s.

    This bench's own: this process and its descendants (gunicorn, the ranking and export
    children) and the PostgreSQL backends of its databases (``cascade_bench_*``)."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.other = 0.0  # CPU seconds
        self.ours = 0.0
        self._seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._tick = os.sysconf("SC_CLK_TCK")

    def start(self) -> None:
        self._scan(first=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def reading(self) -> tuple[float, float]:
        """(other CPU seconds so far, monotonic time)."""
        return self.other, time.monotonic()

    def cores_since(self, start: tuple[float, float]) -> float:
        other, at = self.reading()
        return (other - start[0]) / max(at - start[1], 1e-9)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._scan()

    def _processes(self) -> dict[int, tuple[int, str, float]]:
        found = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                text = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            head, _, tail = text.rpartition(")")
            fields = tail.split()
            cpu = (int(fields[11]) + int(fields[12])) / self._tick
            found[int(entry.name)] = (int(fields[1]), head.partition("(")[2], cpu)
        return found

    def _ours(self, processes: dict[int, tuple[int, str, float]]) -> set[int]:
        children: dict[int, list[int]] = {}
        for pid, (ppid, _comm, _cpu) in processes.items():
            children.setdefault(ppid, []).append(pid)
        ours, todo = set(), [os.getpid()]
        while todo:
            pid = todo.pop()
            ours.add(pid)
            todo.extend(children.get(pid, []))
        for pid, (_ppid, comm, _cpu) in processes.items():
            if comm.startswith("postgres"):
                try:
                    if b"cascade_bench_" in Path(f"/proc/{pid}/cmdline").read_bytes():
                        ours.add(pid)
                except OSError:
                    continue
        return ours

    def _scan(self, *, first: bool = False) -> None:
        processes = self._processes()
        ours = self._ours(processes)
        for pid, (_ppid, _comm, cpu) in processes.items():
            before = self._seen.get(pid, cpu if first else 0.0)
            if pid in ours:
                self.ours += cpu - before
            else:
                self.other += cpu - before
            self._seen[pid] = cpu
        for gone in set(self._seen) - set(processes):
            del self._seen[gone]


# -- the report --------------------------------------------------------------


def machine(admin_url: str) -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                cpu = text.split(":", 1)[1].strip()
                break
        kb = next(
            int(x.split()[1])
            for x in Path("/proc/meminfo").read_text().splitlines()
            if x.startswith("MemTotal")
        )
        ram = f"{kb / 1024 / 1024:.1f} GiB"
    except OSError:
        ram = "unknown"
    try:
        with psycopg.connect(admin_url, connect_timeout=5) as connection:
            row = connection.execute("SHOW server_version").fetchone()
            postgres = str(row[0]) if row else "unknown"
    except psycopg.Error as exc:
        postgres = f"unreachable ({exc})"
    return {
        "CPU": f"{cpu}, {os.cpu_count()} cores",
        "RAM": ram,
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "PostgreSQL": postgres,
    }


def render_results(
    figures: Sequence[Figure],
    machine_facts: dict[str, str],
    *,
    date: datetime,
    total_seconds: float,
    quick: bool = False,
) -> str:
    out = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m bench`); every figure is measured against a bare "
        "baseline in the same run. Do not edit by hand: run it again.",
        "",
        f"- Date: {date.strftime('%Y-%m-%d %H:%M UTC')}",
        *(f"- {k}: {v}" for k, v in machine_facts.items()),
        f"- Total duration: {total_seconds:.0f} s{' (BENCH_QUICK smoke run)' if quick else ''}",
        "",
        "## Figures",
        "",
        "```",
        *(format_line(f) for f in figures),
        "```",
        "",
        "| Figure | Value | Ratio to baseline | Goal | Met |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| {f.name} | {f.value} | {f.ratio} | {f.goal or '—'} | {verdict(f)} |"
            for f in figures
        ),
        "",
        "## How each was measured",
        "",
    ]
    for f in figures:
        out += [f"### {f.name}", "", *(f"- {note}" for note in f.notes)]
        if f.seconds:
            out.append(f"- This step took {f.seconds:.0f} s of the run, set-up included.")
        if f.other_cores is not None:
            out.append(
                f"- Other processes on the machine (not this bench) used {f.other_cores:.2f} "
                "cores on average during this step."
            )
        out.append("")
        if f.detail:
            out += [f.detail, ""]
    missed = [f for f in figures if f.met is False]
    if missed:
        out += ["## Goals not met: what limits them (measured)", ""]
        for f in missed:
            out += [f"### {f.name}", "", f.limit or "No measurement of the cause was taken.", ""]
    return "\n".join(out).rstrip() + "\n"


def write_results(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def main() -> int:
    started = time.perf_counter()
    quick = os.environ.get("BENCH_QUICK") == "1"
    sizes = Sizes.from_env()
    admin_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_ADMIN_URL)
    quick_path = Path(tempfile.gettempdir()) / "cascade-RESULTS-quick.md"
    default = quick_path if quick else BENCH / "RESULTS.md"
    results_path = Path(os.environ.get("BENCH_RESULTS", default))
    figures: list[Figure] = []
    load = OtherLoad()
    load.start()
    run_start = load.reading()
    for title, step in STEPS:
        step_start = time.perf_counter()
        step_load = load.reading()
        try:
            made = step(admin_url, sizes)
        except Exception as exc:
            traceback.print_exc()
            made = [Figure(title, "failed", f"— ({type(exc).__name__}: {exc})", met=False)]
            made[0].limit = f"The measurement failed:\n\n```\n{traceback.format_exc()}```"
        made[0].seconds = time.perf_counter() - step_start
        made[0].other_cores = load.cores_since(step_load)
        for figure in made:
            print(format_line(figure), flush=True)
        figures += made
    total = time.perf_counter() - started
    other_cores = load.cores_since(run_start)
    load.stop()
    facts = machine(admin_url)
    facts["Other load"] = (
        f"{other_cores:.2f} cores on average used by other processes during the run "
        "(sampled from /proc; figures measured on a shared machine move with it)"
    )
    text = render_results(figures, facts, date=datetime.now(UTC), total_seconds=total, quick=quick)
    write_results(results_path, text)
    met = sum(f.met is True for f in figures)
    missed = [f.name for f in figures if f.met is False]
    print(f"total: {total:.0f} s; goals met: {met}, not met: {len(missed)} {missed or ''}")
    print(f"results written to {results_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
