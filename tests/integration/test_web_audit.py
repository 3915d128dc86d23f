"""The audit trail pages: browse and filter, verify the chain, export it."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from grants.models import AuditEvent
from grants.services.audit import ChainReport
from grants.views import auditor as audit_views
from tests.scenario import Scenario
from workflows.voucher import AppState

Login = Callable[[FlaskClient, str], None]


def logged_in(app: Flask, login: Login, scenario: Scenario, who: str) -> FlaskClient:
    client = app.test_client()
    login(client, scenario.people.emails[who])
    return client


def test_auditor_browses_filters_verifies_and_exports(
    app: Flask, login: Login, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.IN_EVALUATION)
    reference = scenario.application(app_id).reference
    auditor = logged_in(app, login, scenario, "auditor")

    page = auditor.get("/audit").get_data(as_text=True)
    assert "Verify chain" in page and "Export CSV" in page

    filtered = auditor.get(f"/audit?reference={reference}").get_data(as_text=True)
    with sessions() as session:
        own_events = session.scalar(select(func.count()).where(AuditEvent.application_id == app_id))
    assert f"{own_events} events" in filtered
    assert "Evaluators assigned" in filtered and "assign_evaluators" not in filtered

    verified = auditor.post("/audit/verify", follow_redirects=True).get_data(as_text=True)
    assert "Audit chain OK" in verified

    with auditor.get("/audit/export.csv") as response:
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        assert response.headers["Cache-Control"] == "no-store"
        rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    with sessions() as session:
        assert len(rows) == session.scalar(select(func.count()).select_from(AuditEvent))
    assert [int(r["seq"]) for r in rows] == list(range(1, len(rows) + 1))  # chain order
    assert any(r["entity_id"] == reference for r in rows)

    # Pages of 50, newest first.
    second = auditor.get("/audit?page=2")
    assert second.status_code == 200
    assert auditor.get("/audit?page=not-a-number").status_code == 200


def test_a_broken_chain_names_the_first_bad_event(
    app: Flask, login: Login, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        audit_views,
        "verify_chain",
        lambda _session: ChainReport(
            False,
            41,
            first_bad_id=42,
            first_bad_seq=42,
            problem="its content does not match its hash",
        ),
    )
    officer = logged_in(app, login, scenario, "officer")
    page = officer.post("/audit/verify", follow_redirects=True).get_data(as_text=True)
    assert "BROKEN at event 42" in page
    assert "its content does not match its hash" in page


def test_officer_reads_the_trail_but_only_auditors_export(
    app: Flask, login: Login, scenario: Scenario
) -> None:
    officer = logged_in(app, login, scenario, "officer")
    assert officer.get("/audit").status_code == 200
    assert "Export CSV" not in officer.get("/audit").get_data(as_text=True)
    assert officer.get("/audit/export.csv").status_code == 403
