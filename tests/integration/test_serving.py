"""Production serving: `cascade serve` (gunicorn web workers plus outbox workers) and rate
limits that count across web processes when they share Redis."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from alembic import command
from flask import Flask
from sqlalchemy import select

from grants import create_app
from grants.cli import alembic_config
from grants.db import make_engine, make_session_factory
from grants.models import Document, DocumentStatus
from tests.integration.test_accounts import SECRET, from_ip, limited_config, log_in, new_email
from tests.scenario import Scenario

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"gave up waiting for {what}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _processes_with(marker: str) -> list[int]:
    """Processes whose environment carries ``marker`` (this test's database URL)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`cascade serve` on a free port against a database of its own."""
    database_url = f"sqlite:///{tmp_path / f'serve-{uuid.uuid4().hex}.db'}"
    command.upgrade(alembic_config(database_url), "head")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DOCUMENT_ROOT": str(tmp_path / "documents"),
        "CASCADE_ANCHOR_FILE": str(tmp_path / "audit-anchors.jsonl"),
        "SECRET_KEY": SECRET,
        "CASCADE_WEB_WORKERS": "2",
        "CASCADE_OUTBOX_WORKERS": "1",
        "RATELIMIT_STORAGE_URI": "memory://",
    }
    port = _free_port()
    cascade = Path(sys.executable).with_name("cascade")
    server = subprocess.Popen(
        [str(cascade), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}", database_url
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


def test_serve_runs_web_workers_and_an_outbox_worker_and_stops_them(
    served: tuple[str, str],
) -> None:
    base, database_url = served
    _wait_for(lambda: _answers(base + "/"), 60, "the server to answer")
    assert _answers(base + "/login")

    # A submission made meanwhile gets its receipt rendered by the outbox worker, not by a
    # web process (they run no PDF thread).
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    scenario = Scenario(sessions)
    app_id = scenario.draft()
    scenario.submit(app_id)

    def receipt_ready() -> bool:
        with sessions() as session:
            status = session.scalar(
                select(Document.status).where(
                    Document.application_id == app_id, Document.kind == "submission_receipt"
                )
            )
            return status == DocumentStatus.READY

    _wait_for(receipt_ready, 120, "the outbox worker to render the receipt")
    engine.dispose()

    # web master, its 2 workers and the outbox worker carry this database in their env
    assert len(_processes_with(database_url)) >= 4


def test_stopping_the_server_stops_its_outbox_workers(served: tuple[str, str]) -> None:
    base, database_url = served
    _wait_for(lambda: _answers(base + "/"), 60, "the server to answer")
    _wait_for(lambda: len(_processes_with(database_url)) >= 4, 30, "the outbox worker")
    master = min(_processes_with(database_url))
    os.kill(master, signal.SIGTERM)
    _wait_for(lambda: not _processes_with(database_url), 40, "every process to stop")


# -- rate limits across processes ------------------------------------------------------------


def _redis_reachable() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        if IN_CI:
            raise
        return False


@pytest.fixture
def two_web_processes(app: Flask, database_url: str, tmp_path: Path) -> Iterator[list[Flask]]:
    """Two apps as two web processes would hold them, counting in one Redis."""
    if not _redis_reachable():
        pytest.skip("no Redis on 127.0.0.1:6379 outside CI")
    prefix = f"cascade-test-{uuid.uuid4().hex}"
    config = limited_config(database_url, tmp_path, storage=REDIS_URL, prefix=prefix)
    apps = [create_app(config) for _ in range(2)]
    yield apps
    for one in apps:
        one.extensions["cascade"].engine.dispose()
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"*{prefix}*"))
    if keys:
        client.delete(*keys)  # only the counters this test made


def test_failed_logins_count_across_web_processes_sharing_redis(
    two_web_processes: list[Flask], scenario: Scenario
) -> None:
    first, second = (a.test_client() for a in two_web_processes)
    ip = from_ip("10.9.0.1")
    for attempt in range(10):  # ten failed logins a minute per IP, spread over two processes
        client = first if attempt % 2 else second
        assert log_in(client, new_email(), "wrong password!", **ip).status_code == 200
    email = scenario.people.emails["applicant0"]
    assert log_in(first, email, Scenario.PASSWORD, **ip).status_code == 429
    assert log_in(second, email, Scenario.PASSWORD, **ip).status_code == 429
