"""Browser-test fixtures: a live server on a free loopback port and Debian's Chromium, and
the steps of a person's journey that several browser tests take.

The server runs the same app as the integration tests (a fresh SQLite database, CSRF on, as
in production) in a thread; Playwright drives /usr/bin/chromium, never a downloaded browser.
Each test module gets its own server on its own database, made by the migrations and nothing
else: what is in it, the module's tests put there.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from flask import Flask
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import select
from werkzeug.serving import BaseWSGIServer, make_server

from grants import create_app
from grants.cli import alembic_config
from grants.config import Config
from grants.models import MailMessage
from tests.scenario import form_data

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, str]]:
    folder = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{folder / 'e2e.db'}"
    command.upgrade(alembic_config(url), "head")
    app = create_app(
        Config(
            database_url=url,
            document_root=folder / "documents",
            anchor_file=folder / "audit-anchors.jsonl",
            secret_key="e2e-secret",
            csrf_enabled=True,  # a real browser gets real CSRF protection
            inprocess_worker=False,
        )
    )
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["cascade"].engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "make test installs Debian's chromium package"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


# -- steps of a person's journey -------------------------------------------------------------


def latest_mail(app: Flask, to: str, purpose: str) -> MailMessage:
    """The last mail of this purpose queued to this address."""
    with app.extensions["cascade"].sessions() as session:
        message = session.scalars(
            select(MailMessage)
            .where(MailMessage.to_address == to, MailMessage.purpose == purpose)
            .order_by(MailMessage.id.desc())
        ).first()
        assert message is not None, f"no {purpose} mail to {to}"
        return message


def log_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("E-mail address").fill(email)
    page.locator("#password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/dashboard")


def create_account(page: Page, email: str, password: str, *, name: str = "Chiara Neri") -> None:
    """The registration page's fields, filled and sent (the page is open)."""
    page.get_by_label("Your name").fill(name)
    page.get_by_label("E-mail address").fill(email)
    page.locator("#password").fill(password)
    page.locator("#password_confirm").fill(password)
    page.get_by_role("button", name="Create account").click()


def register_organisation(page: Page) -> None:
    """An Italian SME (a valid partita IVA) described on the organisation page and saved."""
    page.get_by_label("Legal name").fill("Neri Acustica Subacquea S.r.l.")
    page.get_by_label("Country of registration").select_option("IT")
    page.get_by_label("Registration number").fill("00488410010")
    page.get_by_label("Registered address").fill("Via Sottoripa 5, 16123 Genova")
    page.locator("#headcount").fill("12")
    page.locator("#turnover").fill("1800000")
    page.locator("#balance_sheet").fill("900000")
    page.get_by_role("button", name="Register the organisation").click()


def fill_answers(page: Page, answers: dict[str, Any]) -> None:
    """An application form's answers (as in tests.scenario), field by field as a person
    fills them: declarations ticked, a line added to a group for each row it lacks."""
    for name, value in form_data(answers).items():
        field = page.locator(f"[name='{name}']").first
        if "[" in name and field.count() == 0:
            # A row the group does not show yet (the forms here have one group).
            page.get_by_role("button", name="Add a line").click()
        if field.get_attribute("type") == "checkbox":
            field.check()
        elif field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(str(value))
        else:
            field.fill(str(value))
