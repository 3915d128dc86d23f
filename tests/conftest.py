"""Shared fixtures: one app per database backend, a database per run built by Alembic.

SQLite always; PostgreSQL when the server (DATABASE_URL, or 127.0.0.1:5432 database
`test`) answers, and always in CI. Each run creates its own database and drops only that.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from grants import create_app
from grants.cli import alembic_config
from grants.config import Config
from grants.runtime import Runtime
from grants.services.documents import DrainResult, drain
from tests.scenario import Scenario, pending_documents_discarded

PG_ADMIN_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _postgres_reachable() -> bool:
    if not PG_ADMIN_URL.startswith("postgres"):
        return False
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        if IN_CI:
            raise
        return False


BACKENDS = ["sqlite", *(["postgresql"] if _postgres_reachable() else [])]


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'cascade.db'}"
        return
    name = f"cascade_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    config = Config(
        database_url=database_url,
        document_root=tmp_path_factory.mktemp("documents"),
        secret_key="test-secret",
        testing=True,
        csrf_enabled=False,
        inprocess_worker=False,
        # Shared by every test: logins must not be throttled. The rate-limit tests build
        # their own app with the limiter on.
        ratelimit_enabled=False,
        # Never the repository's instance/ file: the run's anchors are its own.
        anchor_file=tmp_path_factory.mktemp("anchors") / "audit-anchors.jsonl",
    )
    command.upgrade(alembic_config(database_url), "head")
    flask_app = create_app(config)
    yield flask_app
    flask_app.extensions["cascade"].engine.dispose()


@pytest.fixture(scope="session")
def runtime(app: Flask) -> Runtime:
    return app.extensions["cascade"]


@pytest.fixture(scope="session")
def sessions(runtime: Runtime) -> sessionmaker[Session]:
    return runtime.sessions


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def render_documents(runtime: Runtime) -> Callable[[], DrainResult]:
    return lambda: drain(runtime.sessions, runtime.storage)


@pytest.fixture
def scenario(sessions: sessionmaker[Session]) -> Iterator[Scenario]:
    # `drain` renders every pending job in the shared database: PDFs a test left pending
    # would be rendered, slowly, by the next test that drains, or crowd out its own.
    with pending_documents_discarded(sessions):
        made = Scenario(sessions)
        yield made
        # Finance notices go to every active finance officer: those of finished tests must
        # not receive the mails of the next ones (one shared database per run).
        made.retire_finance()


@pytest.fixture
def login() -> Callable[[FlaskClient, str], None]:
    def do_login(client: FlaskClient, email: str) -> None:
        response = client.post("/login", data={"email": email, "password": Scenario.PASSWORD})
        assert response.status_code == 302, f"login failed for {email}"

    return do_login


@pytest.fixture
def document_root(runtime: Runtime) -> Path:
    return runtime.config.document_root
