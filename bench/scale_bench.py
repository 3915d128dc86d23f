"""Figures 4 and 5: ranking and the officer dashboard at 1,000 and 10,000 applications, and
what a running ranking does to an unrelated submission.

Set-up (untimed) is bulk: organisations, applicants and applications already ``evaluated``
(with the consensus the evaluation service writes) inserted in a few statements, in a call
moved to ``evaluating``, with what the earlier steps left behind (their audit events as a
valid chain, documents and mails), so tables and statistics look as they would; and a
second, open call whose drafts are submitted meanwhile.

At each size, in a database of its own:
- the officer dashboard over HTTP (Flask's test client, logged in as the officer): time of a
  GET /dashboard (median of 3, warm) and its SQL statements;
- ``awards.rank_call(session, actor, call_id)`` in a process of its own (as a web worker would
  run it), timed to its commit, its statements counted with ``before_cursor_execute``;
- while that ranking runs, an applicant of the other call submits, one submission a second
  (``applications.submit`` in this process, one transaction each); each latency is compared
  with the same submission's latency when nothing runs, and what a slow one waited on is
  read from ``pg_stat_activity``/``pg_locks`` while it waits.

    python -m bench.scale_bench      # BENCH_DATABASE_URL, BENCH_SIZES=1000,10000
"""

from __future__ import annotations

import cProfile
import io
import multiprocessing
import os
import pstats
import queue
import random
import re
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from sqlalchemy import event, insert, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from bench.audit_bench import driver_url, fill_chain
from bench.click_day import process_cpu, trim_profile
from bench.submit_bench import ANSWERS, fresh_database, make_drafts
from grants.cli import alembic_config
from grants.db import make_engine, make_session_factory, unit_of_work, utcnow
from grants.models import (
    Application,
    Call,
    Document,
    MailMessage,
    Organisation,
    User,
)
from grants.services import applications, awards, calls
from grants.services.accounts import hash_password
from grants.services.actor import Actor
from workflows import scoring
from workflows.call import CallState
from workflows.roles import Role
from workflows.voucher import AppState

PASSWORD = "Scale bench 2026 officer!"
SECRET = "bench-scale-secret"
GROWTH_LIMIT = 10.5
WAIT_LIMIT = 1.0
BASELINE_SUBMITS = 3
# Seconds between submissions while the ranking runs: short, so that one starts soon after
# any lock hold begins (the measured wait misses at most this much of a hold).
SUBMIT_EVERY = 0.25


def drafts_for(size: int) -> int:
    """Drafts to submit while a ranking of ``size`` runs: several times what its expected
    duration needs at one submission every SUBMIT_EVERY seconds."""
    return max(40, size // 25)


# -- bulk set-up -------------------------------------------------------------------------------


def consensus_for(
    criteria: list[scoring.Criterion], threshold: Decimal, rng: random.Random
) -> tuple[dict[str, Any], Decimal]:
    """A consensus as ``evaluation.close_evaluation`` stores it, with random half-point scores."""
    parsed = {
        c.key: Decimal(rng.randint(int(c.max) * 2 // 5, int(c.max) * 2)) / 2 for c in criteria
    }
    passed, reasons = scoring.passes_thresholds(criteria, parsed, threshold)
    consensus = {
        "criteria": {c.key: {"score": str(parsed[c.key]), "comment": ""} for c in criteria},
        "total": str(scoring.total(parsed)),
        "ranking_total": str(scoring.weighted_total(criteria, parsed)),
        "passed": passed,
        "reasons": reasons,
        "divergences": [],
        "moderator": "Bench moderator",
    }
    return consensus, scoring.total(parsed)


@dataclass
class Setup:
    url: str
    size: int
    call_id: int
    officer_id: int
    officer_email: str
    drafts: list[int] = field(default_factory=list)
    draft_actors: list[Actor] = field(default_factory=list)


def build(url: str, size: int, drafts: int) -> Setup:
    """A migrated database with ``size`` evaluated applications in a call being evaluated,
    an officer who can log in, and ``drafts`` complete drafts in another, open call."""
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    factory = make_session_factory(engine)
    rng = random.Random(size)
    now = utcnow()
    with unit_of_work(factory) as session:
        officer = User(
            email=f"officer-{size}@bench.example",
            full_name="Bench Officer",
            password_hash=hash_password(PASSWORD),
            role=Role.OFFICER,
            email_confirmed_at=now,
        )
        session.add(officer)
        session.flush()
        actor = Actor.of(officer)
        call = calls.create_call(
            session,
            actor,
            calls.CallSpec(
                reference=f"RANK-{size}",
                title=f"Ranking bench ({size} applications)",
                description="",
                # About a third of the applications fit: a funding line and a reserve list.
                budget=Decimal(size * 2500),
                max_per_voucher=Decimal("10000"),
                opens_at=now - timedelta(days=90),
                deadline=now - timedelta(days=30),
            ),
        )
        call_id, officer_id = call.id, officer.id
        criteria = scoring.criteria_from_config(call.criteria)
        threshold = call.threshold_total
        # Bulk set-up: the call as it is after closing and starting the evaluation.
        session.execute(
            update(Call)
            .where(Call.id == call_id)
            .values(status=CallState.EVALUATING, next_number=size + 1)
        )
        session.execute(
            insert(Organisation),
            [
                {
                    "legal_name": f"Ranked SME {i}",
                    "country": "IT",
                    "registration_number": f"R{size}-{i:06d}",
                }
                for i in range(size)
            ],
        )
        org_ids = session.scalars(
            select(Organisation.id)
            .where(Organisation.registration_number.like(f"R{size}-%"))
            .order_by(Organisation.id)
        ).all()
        session.execute(
            insert(User),
            [
                {
                    "email": f"ranked{i}-{size}@bench.example",
                    "full_name": f"Applicant {i}",
                    "password_hash": "x",
                    "role": Role.APPLICANT,
                    "organisation_id": org_id,
                    "email_confirmed_at": now,
                }
                for i, org_id in enumerate(org_ids)
            ],
        )
        user_ids = dict(
            session.execute(
                select(User.organisation_id, User.id).where(User.organisation_id.in_(org_ids))
            ).all()
        )
        rows = []
        for i, org_id in enumerate(org_ids):
            consensus, total = consensus_for(criteria, threshold, rng)
            rows.append(
                {
                    "reference": f"RANK-{size}-{i + 1:05d}",
                    "call_id": call_id,
                    "organisation_id": org_id,
                    "created_by_id": user_ids[org_id],
                    "status": AppState.EVALUATED,
                    "title": f"Project {i}",
                    "requested_amount": Decimal(rng.randrange(5000, 10001, 500)),
                    "answers": ANSWERS,
                    "declaration_signed": True,
                    "submitted_at": now - timedelta(days=31, seconds=i),
                    "content_sha256": "0" * 64,
                    "consensus": consensus,
                    "total_score": total,
                }
            )
        session.execute(insert(Application), rows)
        ranked = session.execute(
            select(Application.id, Application.reference, Application.created_by_id)
            .where(Application.call_id == call_id)
            .order_by(Application.id)
        ).all()
    add_history(url, factory, ranked, officer_id)
    draft_ids, draft_actors = make_drafts(factory, drafts, f"late{size}")
    engine.dispose()
    with psycopg.connect(driver_url(url), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
        # Write out what earlier steps left dirty, so that it is not flushed while timing.
        connection.execute("CHECKPOINT")
    return Setup(
        url, size, call_id, officer_id, f"officer-{size}@bench.example", draft_ids, draft_actors
    )


# What the steps before ranking leave behind for each application: (action, the document it
# produced, the mail it sent), so that the tables ranking writes to (audit events, documents,
# mail) hold what they would hold, and their statistics say so.
HISTORY = (
    ("submit", "submission_receipt", "submission_receipt"),
    ("check_eligibility", "eligibility_decision", "step_done"),
    ("assign_evaluators", "evaluation_assignment", None),
    ("close_evaluation", "evaluation_summary_report", None),
)


def add_history(
    url: str, factory: sessionmaker[Session], ranked: Sequence[Any], officer_id: int
) -> None:
    """Bulk: each application's audit events (a valid chain), documents and mails of the
    steps that brought it to ``evaluated``."""
    steps = len(HISTORY)

    def describe(i: int, start: datetime) -> dict[str, Any]:
        application = ranked[(i - 1) // steps]
        action = HISTORY[(i - 1) % steps][0]
        applicant = action == "submit"
        return {
            "occurred_at": start + timedelta(seconds=i),
            "actor_id": application.created_by_id if applicant else officer_id,
            "actor_name": "Applicant" if applicant else "Bench Officer",
            "actor_role": str(Role.APPLICANT if applicant else Role.OFFICER),
            "action": action,
            "entity_type": "application",
            "entity_id": application.reference,
            "application_id": application.id,
            "before": {},
            "after": {"step": action},
            "request_id": None,
            "ip": None,
        }

    first_id = fill_chain(url, len(ranked) * steps, describe)
    now = utcnow()
    documents, mails = [], []
    for number, application in enumerate(ranked):
        for step, (action, kind, purpose) in enumerate(HISTORY):
            document_id = str(uuid.uuid4())
            documents.append(
                {
                    "id": document_id,
                    "kind": kind,
                    "application_id": application.id,
                    "audit_event_id": first_id + number * steps + step,
                    "status": "ready",
                    "snapshot": {"step": action},
                    "sha256": "0" * 64,
                    "size": 20_000,
                    "storage_key": f"bench/{document_id}.pdf",
                    "attempts": 1,
                    "created_at": now,
                    "rendered_at": now,
                }
            )
            if purpose:
                mails.append(
                    {
                        "to_address": f"applicant{application.id}@bench.example",
                        "subject": f"{kind} {application.reference}",
                        "body_text": "Bench history.",
                        "purpose": purpose,
                        "application_id": application.id,
                        "document_id": document_id,
                        "created_at": now,
                        "sent_at": now,
                        "attempts": 1,
                        "dedupe_key": f"bench:{application.id}:{action}",
                    }
                )
    with unit_of_work(factory) as session:
        session.execute(insert(Document), documents)
        session.execute(insert(MailMessage), mails)


# -- statements ------------------------------------------------------------------------------


class StatementCounter:
    """Counts the SQL statements an engine sends, and where the time goes: time inside
    cursor.execute (the database and the driver) by kind of statement, and a time mark
    every ``MARK_EVERY`` statements (the pace through a long run)."""

    MARK_EVERY = 1000

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.count = 0
        self.kinds: Counter[str] = Counter()
        self.kind_seconds: Counter[str] = Counter()
        self.marks: list[float] = []
        self._started = 0.0
        self._kind = ""
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.count += 1
        if self.count % self.MARK_EVERY == 0:
            self.marks.append(time.perf_counter())
        self._kind = statement_kind(statement)
        self.kinds[self._kind] += 1
        self._started = time.perf_counter()

    def _after(self, *_args: Any) -> None:
        self.kind_seconds[self._kind] += time.perf_counter() - self._started

    @property
    def db_seconds(self) -> float:
        return sum(self.kind_seconds.values())

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)


_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", re.IGNORECASE)


def statement_kind(statement: str) -> str:
    """``SELECT audit_events``: the verb and the first table named."""
    verb = statement.split(None, 1)[0].upper() if statement.strip() else "?"
    table = _TABLE.search(statement)
    return f"{verb} {table.group(1)}" if table else verb


# -- the officer dashboard -------------------------------------------------------------------


def time_dashboard(setup: Setup, folder: Path) -> tuple[float, int, str]:
    """Median seconds of GET /dashboard (after one warm-up), statements per GET, and a
    cProfile of one more GET (its top entries as text)."""
    from grants import create_app
    from grants.config import Config

    app = create_app(
        Config(
            database_url=setup.url,
            document_root=folder / "documents",
            secret_key=SECRET,
            csrf_enabled=False,
            inprocess_worker=False,
            ratelimit_enabled=False,
        )
    )
    client = app.test_client()
    response = client.post("/login", data={"email": setup.officer_email, "password": PASSWORD})
    assert response.status_code == 302, "officer login failed"
    engine = app.extensions["cascade"].engine
    assert client.get("/dashboard").status_code == 200  # warm: templates, caches
    counter = StatementCounter(engine)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        response = client.get("/dashboard")
        times.append(time.perf_counter() - start)
        assert response.status_code == 200
    statements = counter.count // 3
    counter.close()
    profiler = cProfile.Profile()
    profiler.enable()
    client.get("/dashboard")
    profiler.disable()
    engine.dispose()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(r"grants|workflows", 15)
    return statistics.median(times), statements, trim_profile(out.getvalue())


# -- ranking in a process of its own ---------------------------------------------------------


def _rank_child(url: str, call_id: int, officer_id: int, results: Any, started: Any) -> None:
    try:
        _rank(url, call_id, officer_id, results, started)
    except BaseException as exc:
        started.set()
        results.put(f"{type(exc).__name__}: {exc}")
        raise


def _result_of(child: Any, results: Any) -> Any:
    while True:
        try:
            return results.get(timeout=1)
        except queue.Empty:
            if not child.is_alive():
                return "it exited without a result"


def _rank(url: str, call_id: int, officer_id: int, results: Any, started: Any) -> None:
    # One connection, so that its PostgreSQL backend's CPU is the ranking's.
    engine = make_engine(url, pool_size=1, max_overflow=0)
    factory = make_session_factory(engine)
    with factory() as session:
        officer = session.get(User, officer_id)
        assert officer is not None
        actor = Actor.of(officer)
        backend = session.scalar(text("SELECT pg_backend_pid()"))
    counter = StatementCounter(engine)
    started.set()
    db_cpu, app_cpu = process_cpu(backend), time.process_time()
    start = time.perf_counter()
    with unit_of_work(factory) as session:
        placements = awards.rank_call(session, actor, call_id)
    seconds = time.perf_counter() - start
    app_cpu, db_cpu = time.process_time() - app_cpu, process_cpu(backend) - db_cpu
    counter.close()
    profile = RankProfile(
        db_seconds=counter.db_seconds,
        kinds={k: (n, counter.kind_seconds[k]) for k, n in counter.kinds.items()},
        marks=[mark - start for mark in counter.marks],
        app_cpu=app_cpu,
        db_cpu=db_cpu,
    )
    results.put((seconds, counter.count, len(placements), profile))
    engine.dispose()


def _submit_once(factory: sessionmaker[Session], actor: Actor, app_id: int) -> float:
    start = time.perf_counter()
    with unit_of_work(factory) as session:
        applications.submit(session, actor, app_id)
    return time.perf_counter() - start


class WaitWatcher:
    """Samples, every 100 ms, the sessions of this database that wait for a lock: what they
    wait on and in which statement, and what the transaction blocking them is doing."""

    QUERY = (
        "SELECT w.wait_event_type || ':' || w.wait_event, left(w.query, 60), "
        "b.state, left(b.query, 40), extract(epoch FROM now() - b.xact_start) "
        "FROM pg_stat_activity w "
        "JOIN pg_stat_activity b ON b.pid = ANY (pg_blocking_pids(w.pid)) "
        "WHERE w.datname = current_database() AND w.wait_event_type = 'Lock'"
    )

    def __init__(self, url: str) -> None:
        self.url = driver_url(url)
        self.waits: Counter[str] = Counter()
        self.blockers: Counter[str] = Counter()
        self.blocker_age = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> WaitWatcher:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as connection:
            while not self._stop.wait(0.1):
                for wait, waiting, state, blocking, age in connection.execute(self.QUERY):
                    self.waits[f"{wait} in `{' '.join(waiting.split())}`"] += 1
                    self.blockers[f"{state}, last statement `{' '.join(blocking.split())}`"] += 1
                    self.blocker_age = max(self.blocker_age, float(age or 0))


@dataclass
class RankProfile:
    """Where a ranking's time went: inside cursor.execute (by kind: count, seconds) or not,
    and the elapsed time at every ``StatementCounter.MARK_EVERY`` statements."""

    db_seconds: float
    kinds: dict[str, tuple[int, float]]
    marks: list[float]
    app_cpu: float  # CPU seconds of the ranking process
    db_cpu: float  # CPU seconds of its PostgreSQL backend

    @property
    def cpu(self) -> float:
        return self.app_cpu + self.db_cpu

    def pace(self) -> tuple[float, float] | None:
        """Seconds per 1,000 statements over the first and the last tenth of the run (None
        for a run too short to tell)."""
        marks = self.marks  # from the first mark: loading and ordering the rows come before
        if len(marks) < 3:
            return None
        tenth = max(len(marks) // 10, 1)
        first = (marks[tenth] - marks[0]) / tenth
        last = (marks[-1] - marks[-1 - tenth]) / tenth
        return first, last


@dataclass
class RankRun:
    seconds: float
    statements: int
    placements: int
    baseline: list[float]
    during: list[float]
    waits: Counter[str]
    blockers: Counter[str]
    blocker_age: float
    profile: RankProfile
    observed_to_end: bool

    @property
    def baseline_latency(self) -> float:
        return statistics.median(self.baseline)

    @property
    def worst_wait(self) -> float:
        return max(self.during, default=0.0) - self.baseline_latency


def rank_with_submissions(setup: Setup) -> RankRun:
    engine = make_engine(setup.url)
    factory = make_session_factory(engine)
    drafts = list(zip(setup.drafts, setup.draft_actors, strict=True))
    app_id, actor = drafts.pop()
    _submit_once(factory, actor, app_id)  # warm: imports, caches
    baseline = []
    for _ in range(BASELINE_SUBMITS):
        app_id, actor = drafts.pop()
        baseline.append(_submit_once(factory, actor, app_id))
    context = multiprocessing.get_context("spawn")
    results, started = context.Queue(), context.Event()
    child = context.Process(
        target=_rank_child, args=(setup.url, setup.call_id, setup.officer_id, results, started)
    )
    child.start()
    started.wait(120)
    time.sleep(0.5)  # into the ranking: rows loaded, events being written
    during = []
    with WaitWatcher(setup.url) as watcher:
        while child.is_alive() and results.empty() and drafts:
            app_id, actor = drafts.pop()
            during.append(_submit_once(factory, actor, app_id))
            time.sleep(SUBMIT_EVERY)
        # Out of drafts before the ranking ended: its end (its commit) went unobserved.
        observed_to_end = not (child.is_alive() and results.empty())
        outcome = _result_of(child, results)
    child.join()
    if isinstance(outcome, str):
        raise RuntimeError(f"the ranking process failed: {outcome}")
    seconds, statements, placements, profile = outcome
    engine.dispose()
    return RankRun(
        seconds,
        statements,
        placements,
        baseline,
        during,
        watcher.waits,
        watcher.blockers,
        watcher.blocker_age,
        profile,
        observed_to_end,
    )


# -- the figures -----------------------------------------------------------------------------


@dataclass
class SizeFigures:
    size: int
    dashboard_seconds: float
    dashboard_statements: int
    rank: RankRun
    dashboard_profile: str = ""


@dataclass
class ScaleFigures:
    small: SizeFigures
    large: SizeFigures

    def growth(self) -> dict[str, float]:
        s, b = self.small, self.large
        return {
            "rank time": b.rank.seconds / s.rank.seconds,
            "rank statements": b.rank.statements / s.rank.statements,
            "rank CPU": b.rank.profile.cpu / s.rank.profile.cpu,
            "dashboard time": b.dashboard_seconds / s.dashboard_seconds,
            "dashboard statements": b.dashboard_statements / s.dashboard_statements,
        }

    @property
    def wait(self) -> float:
        return self.large.rank.worst_wait

    @property
    def wait_met(self) -> bool:
        rank = self.large.rank
        return bool(rank.during) and rank.observed_to_end and self.wait <= WAIT_LIMIT


def measure_size(admin_url: str, size: int) -> SizeFigures:
    with fresh_database(admin_url) as url, tempfile.TemporaryDirectory() as folder:
        setup = build(url, size, drafts_for(size) + BASELINE_SUBMITS + 1)
        dashboard_seconds, dashboard_statements, profile = time_dashboard(setup, Path(folder))
        rank = rank_with_submissions(setup)
    return SizeFigures(size, dashboard_seconds, dashboard_statements, rank, profile)


def run(admin_url: str, sizes: tuple[int, int] = (1000, 10000)) -> ScaleFigures:
    return ScaleFigures(measure_size(admin_url, sizes[0]), measure_size(admin_url, sizes[1]))


def rank_breakdown(small: SizeFigures, large: SizeFigures) -> str:
    """Per application at both sizes: time inside the database calls and outside them, the
    pace at the start and the end of the run, and each kind of statement's count and cost."""
    rows = []
    for f in (small, large):
        p, n = f.rank.profile, f.size
        pace = p.pace()
        first, last = (f"{x * 1000:.0f}" for x in pace) if pace else ("—", "—")
        rows.append(
            f"| {_n(n)} | {f.rank.seconds / n * 1000:.2f} | {p.db_seconds / n * 1000:.2f} | "
            f"{(f.rank.seconds - p.db_seconds) / n * 1000:.2f} | {p.app_cpu / n * 1000:.2f} | "
            f"{p.db_cpu / n * 1000:.2f} | {first} | {last} |"
        )
    kinds = sorted(
        set(small.rank.profile.kinds) | set(large.rank.profile.kinds),
        key=lambda k: -large.rank.profile.kinds.get(k, (0, 0.0))[1],
    )
    per_kind = []
    for kind in kinds:
        cells = []
        for f in (small, large):
            count, seconds = f.rank.profile.kinds.get(kind, (0, 0.0))
            cells.append(f"{count / f.size:.2f}")
            cells.append(f"{seconds / count * 1000:.3f}" if count else "—")
        per_kind.append(f"| `{kind}` | " + " | ".join(cells) + " |")
    return "\n".join(
        [
            "Measured in the ranking process, per application, in ms: wall time, inside "
            "`cursor.execute` (database and driver, summed per statement) and outside it "
            "(Python: ORM, workflow, audit hashing); CPU of the ranking process and of its "
            "PostgreSQL backend (from /proc; unlike wall time, not stretched by other load on "
            "the machine); and the pace (ms per 1,000 statements) over the first and the last "
            "tenth of the run.",
            "",
            "| size | wall | in execute | outside | CPU, app | CPU, PostgreSQL | "
            "pace, first tenth | pace, last tenth |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
            f"Statements by kind: per application, and ms each ({_n(small.size)}, then "
            f"{_n(large.size)}):",
            "",
            f"| statement | per app {_n(small.size)} | ms {_n(small.size)} | per app "
            f"{_n(large.size)} | ms {_n(large.size)} |",
            "| --- | --- | --- | --- | --- |",
            *per_kind,
        ]
    )


def _n(size: int) -> str:
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def lines(f: ScaleFigures) -> list[str]:
    s, b, g = f.small, f.large, f.growth()
    return [
        f"ranking {_n(b.size)}: {b.rank.seconds:.1f} s, {b.rank.statements:,} statements "
        f"(ratio {g['rank time']:.1f} to {_n(s.size)}: {s.rank.seconds:.2f} s; statements ratio "
        f"{g['rank statements']:.1f} to {s.rank.statements:,})",
        f"officer dashboard {_n(b.size)}: {b.dashboard_seconds * 1000:.0f} ms, "
        f"{b.dashboard_statements} statements (ratio {g['dashboard time']:.1f} to "
        f"{_n(s.size)}: {s.dashboard_seconds * 1000:.0f} ms; statements ratio "
        f"{g['dashboard statements']:.1f} to {s.dashboard_statements})",
        f"submission during a {_n(b.size)} ranking: {max(b.rank.during, default=0) * 1000:,.0f} ms,"
        f" wait {f.wait * 1000:,.0f} ms (ratio "
        f"{max(b.rank.during, default=0) / b.rank.baseline_latency:.1f} to "
        f"{b.rank.baseline_latency * 1000:.0f} ms with nothing running)",
    ]


def main() -> None:
    admin_url = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    small, large = (int(x) for x in os.environ.get("BENCH_SIZES", "1000,10000").split(","))
    figures = run(admin_url, (small, large))
    for printed in lines(figures):
        print(printed)
    for size in (figures.small, figures.large):
        print(
            f"{size.size}: during {[round(x, 3) for x in size.rank.during]}; waits "
            f"{dict(size.rank.waits)}"
        )


if __name__ == "__main__":
    main()
