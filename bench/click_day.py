"""Figure 1, click day: the real HTTP submit against a bare Flask endpoint, same server settings.

Both run under gunicorn (2 sync workers, the same options) on the same PostgreSQL database:
the real app (``wsgi:app``; no PDF thread, no outbox workers: rendering is figure 2) and
``bench.bare_app`` (one INSERT per request). A few client threads post submissions with the
standard library's HTTP client. Each real submission is a distinct applicant, logged in and
holding the CSRF token of its edit page before the clock starts; only the submit POST is
timed, as the bare POST is. Both servers are up together and the two loads alternate in
rounds, so a change in the machine's other load weighs on both sides alike. Afterwards:
every application submitted exactly once (status, one ``submit`` event, one receipt job;
double clicks replayed with the same token change nothing) and the hash chain intact.

    python -m bench.click_day        # BENCH_DATABASE_URL, BENCH_CLICKS (default 400)
"""

from __future__ import annotations

import cProfile
import http.client
import io
import os
import pstats
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from bench import bare_app
from bench.audit_bench import driver_url
from bench.submit_bench import applicant_email, fresh_database, make_drafts
from grants.cli import alembic_config
from grants.config import ROOT
from grants.db import make_engine, make_session_factory
from grants.models import Application, AuditEvent, Document
from grants.services import audit
from grants.services.accounts import hash_password
from workflows.voucher import AppState

PASSWORD = "Click-day bench 2026!"
SECRET = "bench-secret-key-not-for-production"
CLIENT_THREADS = 4
WARMUP = 8
REPLAYS = 20
ROUNDS = 4  # real and bare alternate, in this many rounds each
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


# -- a small HTTP client: one connection per request (gunicorn's sync workers close it) -----


@dataclass
class Browser:
    """One person's cookies against one server."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, str, str]:
        """Returns status, Location header and body text."""
        body = urllib.parse.urlencode(form) if form is not None else None
        headers = {"Host": f"127.0.0.1:{self.port}"}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
            for cookie in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = cookie.partition("=")
                value = rest.split(";", 1)[0]
                if value and "Max-Age=0" not in cookie and "1970" not in cookie:
                    self.cookies[name.strip()] = value
                else:
                    self.cookies.pop(name.strip(), None)
            return response.status, response.getheader("Location") or "", text
        finally:
            connection.close()


def csrf_token(page: str) -> str:
    found = _CSRF.search(page)
    if found is None:
        raise RuntimeError("no CSRF token on the page")
    return found.group(1)


@dataclass(frozen=True)
class Click:
    """One timed POST: who posts (cookies), where, with what."""

    browser: Browser
    path: str
    form: dict[str, str]
    application_id: int


@dataclass
class LoadResult:
    seconds: float
    latencies: list[float]
    outcomes: list[tuple[int, str]]  # (application id, Location) per POST

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, -(-len(ordered) * p // 100))  # ceil
    return ordered[int(rank) - 1]


def drive(clicks: Sequence[Click], threads: int = CLIENT_THREADS) -> LoadResult:
    """Post every click from ``threads`` client threads, as fast as the server answers."""
    lock = threading.Lock()
    todo = iter(clicks)
    latencies: list[float] = []
    outcomes: list[tuple[int, str]] = []
    errors: list[BaseException] = []

    def client() -> None:
        while True:
            with lock:
                click = next(todo, None)
            if click is None:
                return
            try:
                start = time.perf_counter()
                status, location, _body = click.browser.request("POST", click.path, click.form)
                elapsed = time.perf_counter() - start
            except BaseException as exc:  # reported after the run
                errors.append(exc)
                return
            with lock:
                latencies.append(elapsed)
                outcomes.append((click.application_id, f"{status} {location}"))

    workers = [threading.Thread(target=client) for _ in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{len(errors)} client request(s) failed: {errors[0]!r}")
    return LoadResult(seconds, latencies, outcomes)


def interleaved(
    real: Sequence[Click], bare: Sequence[Click], rounds: int = ROUNDS
) -> tuple[LoadResult, LoadResult]:
    """Both loads in alternating rounds (real, bare, real, ...), each round timed on its own:
    a machine whose other load drifts during the run weighs on both sides alike."""
    results: tuple[list[LoadResult], list[LoadResult]] = ([], [])
    for r in range(rounds):
        for side, clicks in enumerate((real, bare)):
            size = -(-len(clicks) // rounds)
            results[side].append(drive(clicks[r * size : (r + 1) * size]))
    return merged(results[0]), merged(results[1])


def merged(parts: Sequence[LoadResult]) -> LoadResult:
    return LoadResult(
        sum(p.seconds for p in parts),
        [x for p in parts for x in p.latencies],
        [x for p in parts for x in p.outcomes],
    )


def in_parallel(jobs: Sequence[Callable[[], Any]], threads: int = CLIENT_THREADS) -> list[Any]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda job: job(), jobs))


# -- the servers -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def gunicorn(app_spec: str, env: dict[str, str], log: Path) -> Iterator[int]:
    """gunicorn with the settings of `cascade serve` (2 sync workers), on a free port."""
    port = free_port()
    command_line = [
        str(Path(sys.executable).with_name("gunicorn")),
        "--workers",
        "2",
        "--worker-class",
        "sync",
        "--bind",
        f"127.0.0.1:{port}",
        "--timeout",
        "120",
        "--access-logfile",
        "-",
        app_spec,
    ]
    with log.open("wb") as out:
        server = subprocess.Popen(
            command_line, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=out
        )
    try:
        _wait_until_up(port, server, log)
        yield port
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_until_up(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start within 60 s")


def _redis_prefix() -> str | None:
    """A key prefix in the local Redis when it answers (production's shared store)."""
    try:
        import redis

        if redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping():
            return f"cascade-bench-{secrets.token_hex(6)}"
    except Exception:  # no Redis: the limiter is switched off instead
        return None
    return None


def _forget_redis_keys(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"*{prefix}*"))
    if keys:
        client.delete(*keys)


def real_env(url: str, documents: Path, redis_prefix: str | None) -> dict[str, str]:
    env = {
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET,
        "DOCUMENT_ROOT": str(documents),
        "CASCADE_INPROCESS_WORKER": "0",
        "CASCADE_WEB_WORKERS": "2",
        "CASCADE_OUTBOX_WORKERS": "0",
        "MAIL_SERVER": "",
    }
    if redis_prefix:
        env |= {"RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_KEY_PREFIX": redis_prefix}
    else:
        env["RATELIMIT_ENABLED"] = "0"
    return env


# -- set-up (untimed): log in, open the edit page, keep its tokens ---------------------------


def log_in(port: int, email: str) -> Browser:
    browser = Browser(port)
    _status, _location, page = browser.request("GET", "/login")
    status, _location, _page = browser.request(
        "POST", "/login", {"email": email, "password": PASSWORD, "csrf_token": csrf_token(page)}
    )
    if status != 302:
        raise RuntimeError(f"login refused for {email} ({status})")
    return browser


def prepare_click(port: int, email: str, application_id: int) -> Click:
    browser = log_in(port, email)
    status, _location, page = browser.request("GET", f"/applications/{application_id}/edit")
    if status != 200:
        raise RuntimeError(f"edit page of {application_id}: {status}")
    token = re.search(r'name="submission_token" value="([^"]+)"', page)
    form = {
        "csrf_token": csrf_token(page),
        "submission_token": token.group(1) if token else secrets.token_urlsafe(24),
    }
    return Click(browser, f"/applications/{application_id}/submit", form, application_id)


def bare_clicks(port: int, n: int) -> list[Click]:
    return [
        Click(Browser(port), f"/submit/{i}", {"submission_token": secrets.token_urlsafe(24)}, i)
        for i in range(n)
    ]


# -- the checks ------------------------------------------------------------------------------


def lost_or_duplicated(
    expected: Sequence[int],
    statuses: dict[int, str],
    submit_events: dict[int, int],
    receipts: dict[int, int] | None = None,
) -> list[str]:
    """Every expected application submitted exactly once: problems found, none if all well.

    ``statuses``: application id -> status; ``submit_events``: id -> number of ``submit``
    audit events; ``receipts``: id -> number of submission receipt jobs.
    """
    problems = []
    wanted = set(expected)
    for app_id in sorted(wanted):
        status = statuses.get(app_id)
        if status != AppState.SUBMITTED:
            problems.append(f"application {app_id} lost: status {status}, not submitted")
        counts = {"submit event": submit_events.get(app_id, 0)}
        if receipts is not None:
            counts["receipt"] = receipts.get(app_id, 0)
        for what, count in counts.items():
            if count == 0:
                problems.append(f"application {app_id} lost: no {what}")
            elif count > 1:
                problems.append(f"application {app_id} duplicated: {count} of {what}s")
    for app_id in sorted(set(submit_events) - wanted):
        problems.append(f"application {app_id} has submit events but was never posted")
    return problems


def submission_state(
    factory: sessionmaker[Session], ids: Sequence[int]
) -> tuple[dict[int, str], dict[int, int], dict[int, int]]:
    with factory() as session:
        statuses = dict(
            session.execute(
                select(Application.id, Application.status).where(Application.id.in_(ids))
            ).all()
        )
        events = dict(
            session.execute(
                select(AuditEvent.application_id, func.count())
                .where(AuditEvent.action == "submit")
                .group_by(AuditEvent.application_id)
            ).all()
        )
        receipts = dict(
            session.execute(
                select(Document.application_id, func.count())
                .where(Document.kind == "submission_receipt")
                .group_by(Document.application_id)
            ).all()
        )
    return statuses, events, receipts


# -- profile of the submit path (for a missed goal) ------------------------------------------


def database_cpu(url: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends of this database (same machine;
    read from /proc), to split a request's CPU between the app and the database."""
    with psycopg.connect(driver_url(url), autocommit=True) as connection:
        pids = [
            pid
            for (pid,) in connection.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
        ]
    return sum(process_cpu(pid) for pid in pids)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process of this machine has used; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


@dataclass(frozen=True)
class Cost:
    """What one request costs in-process, on average: wall time, CPU, SQL statements."""

    wall_ms: float
    app_cpu_ms: float
    db_cpu_ms: float
    statements: Counter[str]
    requests: int

    @property
    def cpu_ms(self) -> float:
        return self.app_cpu_ms + self.db_cpu_ms

    def describe(self) -> str:
        per = self.requests
        total = sum(self.statements.values()) / per
        kinds = ", ".join(f"{k} {v / per:.1f}" for k, v in self.statements.most_common())
        return (
            f"{self.wall_ms:.1f} ms wall, CPU {self.app_cpu_ms:.1f} ms in the app process + "
            f"{self.db_cpu_ms:.1f} ms in PostgreSQL, {total:.1f} SQL statements ({kinds})"
        )


def measure_cost(url: str, engine: Any, requests: Sequence[Callable[[], None]]) -> Cost:
    statements = Counter[str]()

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements[statement.split(None, 1)[0].upper()] += 1

    event.listen(engine, "before_cursor_execute", count)
    db_cpu = database_cpu(url)
    start, cpu = time.perf_counter(), time.process_time()
    for request in requests:
        request()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    db_cpu = database_cpu(url) - db_cpu
    event.remove(engine, "before_cursor_execute", count)
    n = len(requests)
    return Cost(wall / n * 1000, cpu / n * 1000, db_cpu / n * 1000, statements, n)


def profile_submits(url: str, factory: sessionmaker[Session], folder: Path) -> str:
    """Where a submit's time goes, in this process, one thread (Flask's test client, same
    database): its cost against the bare insert's, then a cProfile of more submits."""
    from grants import create_app
    from grants.config import Config

    warm, timed, profiled = 5, 40, 25
    ids, _actors = make_drafts(
        factory, warm + timed + profiled, "prof", password_hash=hash_password(PASSWORD)
    )
    app = create_app(
        Config(
            database_url=url,
            document_root=folder / "prof-documents",
            secret_key=SECRET,
            csrf_enabled=False,
            inprocess_worker=False,
            ratelimit_enabled=False,
        )
    )
    clients = []
    for i, app_id in enumerate(ids):
        client = app.test_client()
        response = client.post(
            "/login", data={"email": applicant_email(i, "prof"), "password": PASSWORD}
        )
        assert response.status_code == 302, response.status_code
        clients.append((client, app_id))

    def submit(client: Any, app_id: int) -> None:
        response = client.post(
            f"/applications/{app_id}/submit", data={"submission_token": secrets.token_urlsafe(24)}
        )
        assert response.headers.get("Location", "").endswith(f"/applications/{app_id}")

    for client, app_id in clients[:warm]:
        submit(client, app_id)
    engine = app.extensions["cascade"].engine
    real = measure_cost(
        url,
        engine,
        [lambda c=c, a=a: submit(c, a) for c, a in clients[warm : warm + timed]],
    )
    profiler = cProfile.Profile()
    profiler.enable()
    for client, app_id in clients[warm + timed :]:
        submit(client, app_id)
    profiler.disable()
    engine.dispose()

    bare = bare_app.create_bare_app(url)
    bare_client = bare.test_client()

    def bare_post(number: int) -> None:
        response = bare_client.post(
            f"/submit/{number}", data={"submission_token": secrets.token_urlsafe(24)}
        )
        assert response.status_code == 302

    for number in range(10):
        bare_post(10**6 + number)
    plain = measure_cost(
        url, bare.config["BENCH_ENGINE"], [lambda n=n: bare_post(2 * 10**6 + n) for n in range(200)]
    )
    bare.config["BENCH_ENGINE"].dispose()

    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"grants|workflows|documents|forms", 20)
    stats.sort_stats("tottime").print_stats(10)
    return (
        "Per request, in this process, one thread (Flask's test client, same database):\n"
        f"- real submit: {real.describe()}\n"
        f"- bare insert: {plain.describe()}\n"
        f"- CPU per request, bare / real: {plain.cpu_ms / real.cpu_ms:.2f} (app process only: "
        f"{plain.app_cpu_ms / real.app_cpu_ms:.2f}); on two cores shared by both gunicorn "
        "workers, PostgreSQL and the clients, throughput follows CPU per request.\n"
        f"\ncProfile of {profiled} more submits:\n" + trim_profile(out.getvalue())
    )


def trim_profile(text: str) -> str:
    """pstats output without its preamble lines and with long paths shortened."""
    lines = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith(("Ordered by", "List reduced")):
            continue
        line = re.sub(r"/\S*/site-packages/", "", line)
        line = re.sub(r"/\S*/lib/python3\.\d+/", "", line)
        lines.append(line.replace(str(ROOT) + "/", "").rstrip())
    return "\n".join(lines)


# -- the figure ------------------------------------------------------------------------------


@dataclass
class ClickDay:
    real: LoadResult
    bare: LoadResult
    submissions: int
    problems: list[str]
    chain_ok: bool
    chain_checked: int
    replays: int
    outcome_counts: Counter[str]
    profile: str = ""

    @property
    def rate_ratio(self) -> float:
        return self.real.rate / self.bare.rate

    @property
    def p99_ratio(self) -> float:
        return self.real.p99 / self.bare.p99

    @property
    def met(self) -> bool:
        return (
            self.rate_ratio >= 0.6 and self.p99_ratio <= 3 and not self.problems and self.chain_ok
        )


def run(admin_url: str, n: int = 400, *, profile_if_missed: bool = True) -> ClickDay:
    with fresh_database(admin_url) as url, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        command.upgrade(alembic_config(url), "head")
        bare_app.create_table(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        ids, _actors = make_drafts(
            factory, n + WARMUP, "click", password_hash=hash_password(PASSWORD)
        )
        emails = [applicant_email(i, "click") for i in range(len(ids))]
        prefix = _redis_prefix()
        try:
            env = real_env(url, folder / "documents", prefix)
            with (
                gunicorn("wsgi:app", env, folder / "real.log") as port,
                gunicorn(
                    "bench.bare_app:app", {"BARE_DATABASE_URL": url}, folder / "bare.log"
                ) as bare_port,
            ):
                clicks = in_parallel(
                    [
                        (lambda e=e, a=a: prepare_click(port, e, a))
                        for e, a in zip(emails, ids, strict=True)
                    ]
                )
                plain = bare_clicks(bare_port, n + WARMUP)
                drive(clicks[:WARMUP])  # each worker's first request: imports, caches
                drive(plain[:WARMUP])
                real, bare = interleaved(clicks[WARMUP:], plain[WARMUP:])
                # Double clicks: the same form posted again must change nothing.
                replayed = drive(clicks[WARMUP : WARMUP + REPLAYS])
        finally:
            if prefix:
                _forget_redis_keys(prefix)
        statuses, events, receipts = submission_state(factory, ids)
        problems = lost_or_duplicated(ids, statuses, events, receipts)
        with factory() as session:
            report = audit.verify_chain(session)
            bare_rows = session.scalar(select(func.count()).select_from(bare_app.submissions))
        if bare_rows != n + WARMUP:
            problems.append(f"bare endpoint stored {bare_rows} rows for {n + WARMUP} posts")
        outcomes = Counter(
            "success" if location.endswith(f"/applications/{app_id}") else location
            for app_id, location in real.outcomes + replayed.outcomes
        )
        result = ClickDay(
            real=real,
            bare=bare,
            submissions=n,
            problems=problems,
            chain_ok=report.ok,
            chain_checked=report.checked,
            replays=REPLAYS,
            outcome_counts=outcomes,
        )
        if profile_if_missed and not result.met:
            result.profile = profile_submits(url, factory, folder)
        engine.dispose()
    return result


def line(result: ClickDay) -> str:
    return (
        f"click-day submit: {result.real.rate:.0f}/s, p99 {result.real.p99 * 1000:.0f} ms "
        f"(ratio {result.rate_ratio:.2f} to bare {result.bare.rate:.0f}/s; "
        f"p99 ratio {result.p99_ratio:.1f} to {result.bare.p99 * 1000:.0f} ms)"
    )


def main() -> None:
    admin_url = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    result = run(admin_url, int(os.environ.get("BENCH_CLICKS", "400")))
    print(line(result))
    print(f"outcomes: {dict(result.outcome_counts)}; problems: {result.problems[:5]}")
    print(f"chain ok: {result.chain_ok} ({result.chain_checked} events)")
    if result.profile:
        print(result.profile)


if __name__ == "__main__":
    main()
