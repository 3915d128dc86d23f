"""Figure 3: `cascade audit verify` and `cascade export audit-events` on a long chain.

``fill_chain(url, n)`` appends n events to the chain fast: rows made in Python in chunks,
each hashed by the app's own ``audit.compute_hash`` over a row object carrying every column
of the table (so the filler follows the schema as it changes), streamed in with COPY.

Then, over those rows: ``audit.verify_chain`` against the bare driver + hashlib loop of
``bench.verify_bench``, and the real ``cascade export audit-events`` CLI (CSV, JSON Lines,
XLSX) in a child process whose peak RSS is read from ``wait4``, against a bare child that only
runs ``create_app()``. XLSX is measured on a chain of its own of at most ``XLSX_EVENTS``
events: openpyxl writes some 3,000 rows/s, a million rows would take several minutes.

    python -m bench.audit_bench      # BENCH_DATABASE_URL, BENCH_AUDIT_EVENTS (1,000,000)
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import JSON

from bench import verify_bench
from bench.submit_bench import fresh_database
from grants.config import ROOT
from grants.models import AuditEvent
from grants.services.audit import GENESIS_HASH, compute_hash

EXPORT_LIMIT_MB = 200
EXPORT_FORMATS = ("csv", "jsonl", "xlsx")
XLSX_EVENTS = 200_000
VERIFY_GOAL = 0.5  # of the bare loop's rate
CHUNK = 20_000


def driver_url(url: str) -> str:
    """The libpq form of a SQLAlchemy URL (``postgresql+psycopg://`` -> ``postgresql://``)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}://{rest}"


# Constant parts of every filler event, made once (their JSON text too).
_BEFORE = {"status": "draft"}
_NOTE = "x" * 40


def _event_values(i: int, start: datetime) -> dict[str, Any]:
    """What the i-th filler event says; columns not named here are NULL/default (``id`` and
    ``seq`` are set by ``fill_chain``)."""
    return {
        "occurred_at": start + timedelta(seconds=i),
        "actor_id": None,
        "actor_name": "Bench filler",
        "actor_role": "admin",
        "action": "bench",
        "entity_type": "bench",
        "entity_id": str(i),
        "application_id": None,
        "before": _BEFORE,
        "after": {"status": "submitted", "i": i, "note": _NOTE},
        "request_id": f"bench-{i // 100}",
        "ip": "127.0.0.1",
    }


def _fallback(column: Any) -> Any:
    default = column.default
    if default is not None and default.is_scalar:
        return default.arg
    if column.nullable:
        return None
    raise RuntimeError(f"fill_chain does not know what to put in audit_events.{column.name}")


def _set_aside_indexes(connection: psycopg.Connection[Any], table: str) -> list[str]:
    """Drop the table's secondary indexes and unique constraints (not its primary key) for
    the load; returns the statements that build them again, from the catalogue itself."""
    constraints = connection.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'u'",
        (table,),
    ).fetchall()
    indexes = connection.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        (table,),
    ).fetchall()
    rebuild = [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {d}' for name, d in constraints]
    rebuild += [definition for _name, definition in indexes]
    for name, _definition in constraints:
        connection.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        connection.execute(f"DROP INDEX {name}")
    return rebuild


def _head(connection: psycopg.Connection[Any], table: str, has_seq: bool) -> tuple[int, int, str]:
    """(largest id, chain position of the head, its hash) of the trail as it is."""
    position = "seq" if has_seq else "id"
    max_id = connection.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()
    head = connection.execute(
        f"SELECT {position}, hash FROM {table} WHERE {position} IS NOT NULL "
        f"AND hash IS NOT NULL ORDER BY {position} DESC LIMIT 1"
    ).fetchone()
    return (
        int(max_id[0]) if max_id else 0,
        int(head[0]) if head else 0,
        str(head[1]) if head else GENESIS_HASH,
    )


def fill_chain(
    url: str, n: int, describe: Callable[[int, datetime], dict[str, Any]] | None = None
) -> int:
    """Append n events to the chain of the audit table at ``url`` (empty or not); returns the
    id of the first one (ids and chain positions follow on from there, one by one).

    Each event is a row object with every column of the table (``seq`` = its position where
    that column exists), hashed by ``audit.compute_hash``; rows go in by COPY, hashed in
    chunks while the previous chunk is sent, and the indexes are built once at the end.
    ``describe(k, start)`` says what the k-th new event (1-based) holds (default: a filler
    event)."""
    describe = describe or _event_values
    table = AuditEvent.__table__
    columns = list(table.columns)
    names = [c.name for c in columns]
    json_columns = {c.name for c in columns if isinstance(c.type, JSON)}
    start = datetime(2026, 1, 1, tzinfo=UTC)
    constant_json = {id(_BEFORE): json.dumps(_BEFORE)}
    with psycopg.connect(driver_url(url)) as connection:
        last_id, last_position, prev = _head(connection, table.name, "seq" in names)
        rebuild = _set_aside_indexes(connection, table.name)
        with connection.cursor() as cursor:
            copy_sql = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
            with cursor.copy(copy_sql, writer=QueuedLibpqWriter(cursor)) as copy:
                for chunk_start in range(1, n + 1, CHUNK):
                    rows = []
                    for k in range(chunk_start, min(chunk_start + CHUNK, n + 1)):
                        known = describe(k, start)
                        known |= {"id": last_id + k, "seq": last_position + k}
                        values = {
                            c.name: known[c.name] if c.name in known else _fallback(c)
                            for c in columns
                            if c.name not in ("prev_hash", "hash")
                        }
                        event = SimpleNamespace(**values, prev_hash=prev)
                        event.hash = prev = compute_hash(event)
                        row = [getattr(event, name) for name in names]
                        for position, name in enumerate(names):
                            if name in json_columns and row[position] is not None:
                                value = row[position]
                                row[position] = constant_json.get(id(value)) or json.dumps(value)
                        rows.append(row)
                    for row in rows:
                        copy.write_row(row)
            for statement in rebuild:
                cursor.execute(statement)
            # A surrogate key's sequence (if any) continues after the filler's ids.
            sequence = cursor.execute(
                "SELECT pg_get_serial_sequence(%s, 'id')", (table.name,)
            ).fetchone()
            if sequence and sequence[0]:
                cursor.execute("SELECT setval(%s, %s)", (sequence[0], last_id + n))
        connection.commit()
    with psycopg.connect(driver_url(url), autocommit=True) as connection:
        connection.execute(f"VACUUM ANALYZE {table.name}")
        connection.execute("CHECKPOINT")  # the load's dirty pages out before any timing
    return last_id + 1


# -- peak memory of a child process ----------------------------------------------------------


# Starts the command and reports its peak RSS. The measured process must be forked from a
# small one: a child's ru_maxrss also counts what it shared with its parent before exec, so
# forked straight from this (large) bench process it would report the bench's own size.
LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_pid, status, usage = os.wait4(child.pid, 0)
print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def run_measured(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run a command to its end; (seconds, its peak RSS in MB, from the kernel's own
    accounting: wait4's rusage, read by a small launcher process)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *argv],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    try:
        maxrss, code = (int(x) for x in done.stdout.split())
    except ValueError:
        maxrss, code = 0, done.returncode or 1
    if code != 0:
        raise RuntimeError(f"{argv[:3]} failed ({code}): {done.stderr[-2000:]}")
    return seconds, maxrss / 1024  # Linux: kilobytes


# The baseline: a bare process that imports the app as the CLI does, and nothing more.
IMPORT_ONLY = "from grants import create_app; create_app()"
MODULES_ONLY = "import grants.app, grants.cli"
ACCOUNTS_ONLY = "import grants.services.accounts"


@dataclass
class AuditFigures:
    events: int
    fill_seconds: float
    verify_rate: float
    bare_verify_rate: float
    verify_ok: bool
    exports: list[ExportRun]
    import_only_mb: float
    modules_only_mb: float
    accounts_only_mb: float
    verify_profile: str = ""  # for a missed verify goal

    @property
    def verify_ratio(self) -> float:
        return self.verify_rate / self.bare_verify_rate

    @property
    def verify_met(self) -> bool:
        return self.verify_ok and self.verify_ratio >= VERIFY_GOAL

    @property
    def export_mb(self) -> float:
        return max(run.mb for run in self.exports)

    @property
    def export_met(self) -> bool:
        return self.export_mb <= EXPORT_LIMIT_MB


@dataclass
class ExportRun:
    """`cascade export audit-events --format FMT` over a whole chain of ``events``."""

    fmt: str
    events: int
    seconds: float
    mb: float

    @property
    def rate(self) -> float:
        return self.events / max(self.seconds, 1e-9)


def _env(url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "CASCADE_INPROCESS_WORKER": "0",
        "SECRET_KEY": "bench-export",
        "RATELIMIT_ENABLED": "0",
    }


def measure_export(url: str, fmt: str, events: int) -> ExportRun:
    """The real `cascade export audit-events` over the whole trail, to /dev/null."""
    cascade = str(Path(sys.executable).with_name("cascade"))
    seconds, mb = run_measured(
        [cascade, "export", "audit-events", "--format", fmt, "--output", os.devnull], _env(url)
    )
    return ExportRun(fmt, events, seconds, mb)


def measure_baselines(url: str) -> tuple[float, float, float]:
    """Peak RSS MB of the bare processes: create_app, the modules' import, importing
    grants.services.accounts."""
    env = _env(url)
    _s, import_mb = run_measured([sys.executable, "-c", IMPORT_ONLY], env)
    _s, modules_mb = run_measured([sys.executable, "-c", MODULES_ONLY], env)
    _s, accounts_mb = run_measured([sys.executable, "-c", ACCOUNTS_ONLY], env)
    return import_mb, modules_mb, accounts_mb


def profile_verify(url: str, limit: int) -> str:
    """cProfile of verify's own loop (``audit._events`` + ``compute_hash``) over the first
    ``limit`` events: where a verified event's time goes."""
    from bench.click_day import trim_profile
    from grants.db import make_engine, make_session_factory
    from grants.services import audit

    engine = make_engine(url)
    profiler = cProfile.Profile()
    with make_session_factory(engine)() as session:
        events = audit._events(session)
        profiler.enable()
        for count, row in enumerate(events, start=1):
            audit.compute_hash(row)
            if count >= limit:
                break
        profiler.disable()
        events.close()
    engine.dispose()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    return trim_profile(out.getvalue())


def run(admin_url: str, n: int = 1_000_000) -> AuditFigures:
    with fresh_database(admin_url) as url:
        verify_bench.migrate(url)
        start = time.perf_counter()
        fill_chain(url, n)
        fill_seconds = time.perf_counter() - start
        # No warm-up pass: filling and VACUUM ANALYZE have just read the whole table.
        verify = verify_bench.measure(url, n, warm=False)
        runs = [measure_export(url, fmt, n) for fmt in EXPORT_FORMATS if fmt != "xlsx"]
        if n <= XLSX_EVENTS:
            runs.append(measure_export(url, "xlsx", n))
        import_mb, modules_mb, accounts_mb = measure_baselines(url)
        profile = "" if verify.ratio >= VERIFY_GOAL else profile_verify(url, min(n, 100_000))
    if n > XLSX_EVENTS:
        with fresh_database(admin_url) as url:
            verify_bench.migrate(url)
            fill_chain(url, XLSX_EVENTS)
            runs.append(measure_export(url, "xlsx", XLSX_EVENTS))
    return AuditFigures(
        events=n,
        fill_seconds=fill_seconds,
        verify_rate=verify.verify_rate,
        bare_verify_rate=verify.bare_rate,
        verify_ok=verify.ok,
        exports=runs,
        import_only_mb=import_mb,
        modules_only_mb=modules_mb,
        accounts_only_mb=accounts_mb,
        verify_profile=profile,
    )


def lines(f: AuditFigures) -> list[str]:
    return [
        f"audit verify: {f.verify_rate:,.0f} events/s over {f.events:,} events "
        f"(ratio {f.verify_ratio:.2f} to bare driver+hashlib {f.bare_verify_rate:,.0f} events/s)",
        f"audit export peak RSS: {export_value(f)} (ratio {f.export_mb / f.import_only_mb:.2f} "
        f"to a bare process importing the app, {f.import_only_mb:.0f} MB)",
    ]


def export_value(f: AuditFigures) -> str:
    """Each format's peak RSS, events and time, e.g. ``CSV 130 MB (1,000,000 events, 80 s)``."""
    names = {"csv": "CSV", "jsonl": "JSONL", "xlsx": "XLSX"}
    return "; ".join(
        f"{names[r.fmt]} {r.mb:.0f} MB ({r.events:,} events, {r.seconds:.0f} s)" for r in f.exports
    )


def main() -> None:
    admin_url = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    figures = run(admin_url, int(os.environ.get("BENCH_AUDIT_EVENTS", "1000000")))
    print(f"filled {figures.events:,} events in {figures.fill_seconds:.1f} s")
    for text in lines(figures):
        print(text)


if __name__ == "__main__":
    main()
