"""A consortium sets Cascade up from an empty database, as issue 9's "done when" describes:
the first administrator from the command line, the staff invited in the browser (each
choosing a password from the link in their mail), a call built and published in the browser
by the officer, a new SME registering and submitting to it, and the call round-tripping
through YAML export and import unchanged."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from grants.models import Application, Call, User
from tests.e2e.conftest import (
    create_account,
    fill_answers,
    latest_mail,
    log_in,
    register_organisation,
)
from tests.integration.test_call_builder import ELIGIBILITY, EVALUATION, MONEY, basics, dates
from tests.scenario import GOOD_ANSWERS

ADMIN_PASSWORD = "harbour pilot lantern keel"
STAFF_PASSWORD = "mizzen bollard compass tide"
STAFF = [
    ("Marco Bianchi", "officer", ["officer"]),
    ("Claire Martin", "finance1", ["finance"]),
    ("Ivana Horvat", "evaluator1", ["evaluator"]),
    ("Jan de Vries", "evaluator2", ["evaluator"]),
    ("Sophie Janssens", "auditor", ["auditor"]),
]


def _count(app: Flask, model: type) -> int:
    with app.extensions["cascade"].sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _mail_link(app: Flask, email: str, purpose: str, path: str) -> str:
    match = re.search(rf"/{path}/\S+", latest_mail(app, email, purpose).body_text)
    assert match is not None
    return match.group(0)


def _fill(page: Page, data: dict[str, object]) -> None:
    """A builder step's fields, by name, as a person fills them."""
    for name, value in data.items():
        if isinstance(value, list):
            for item in value:
                page.locator(f"input[name='{name}'][value='{item}']").check()
            continue
        field = page.locator(f"[name='{name}']").first
        kind = field.get_attribute("type")
        if kind == "hidden":
            continue  # set by the page itself (one application per SME), no one fills it
        if kind == "checkbox":
            field.check() if value == "yes" else field.uncheck()
        elif kind == "radio":
            page.locator(f"input[name='{name}'][value='{value}']").check()
        elif field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(str(value))
        else:
            field.fill(str(value))


def test_a_consortium_sets_up_its_programme_from_an_empty_database(
    live_app: tuple[Flask, str], page: Page, tmp_path: Path
) -> None:
    app, base = live_app  # its own database, made by the migrations and nothing else
    assert _count(app, User) == 0 and _count(app, Call) == 0
    domain = f"cluster-{uuid.uuid4().hex[:6]}.example"

    # The first administrator, from the command line on the server.
    admin_email = f"admin@{domain}"
    created = app.test_cli_runner().invoke(
        args=["admin", "create", admin_email, "--name", "Ana Kovač"],
        input=f"{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n",
    )
    assert created.exit_code == 0, created.output

    # The administrator invites the staff in the browser.
    log_in(page, base, admin_email, ADMIN_PASSWORD)
    for name, key, roles in STAFF:
        page.goto(f"{base}/admin/users/invite")
        page.get_by_label("Name").fill(name)
        page.get_by_label("E-mail address").fill(f"{key}@{domain}")
        for role in roles:
            page.locator(f"input[name='roles'][value='{role}']").check()
        page.get_by_role("button", name="Send the invitation").click()
        expect(page.locator("body")).to_contain_text(name)
    page.get_by_role("button", name="Log out").click()

    # Each opens the link from the mail, chooses a password and is logged in.
    for name, key, _roles in STAFF:
        page.goto(base + _mail_link(app, f"{key}@{domain}", "staff_invitation", "welcome"))
        page.locator("#password").fill(STAFF_PASSWORD)
        page.locator("#password_confirm").fill(STAFF_PASSWORD)
        page.get_by_role("button", name="Set my password and log in").click()
        expect(page).to_have_url(f"{base}/dashboard")
        expect(page.locator("header")).to_contain_text(name)
        page.get_by_role("button", name="Log out").click()
    assert _count(app, User) == 1 + len(STAFF)

    # The officer builds the call step by step and publishes it from the review.
    reference = f"FP-{uuid.uuid4().hex[:6].upper()}"
    log_in(page, base, f"officer@{domain}", STAFF_PASSWORD)
    page.goto(f"{base}/calls/new")
    # The evaluation page offers the default criteria, filled in: keep them.
    evaluation = {k: v for k, v in EVALUATION.items() if not k.startswith("criteria.")}
    # Open since yesterday, so the SME below can apply at once.
    yesterday = datetime.now(ZoneInfo("Europe/Rome")) - timedelta(days=1)
    opened = {"opening.date": f"{yesterday:%Y-%m-%d}", "opening.time": "09:00"}
    steps = [basics(reference), dates() | opened, MONEY, ELIGIBILITY, evaluation]
    for data in steps:
        before = page.url
        _fill(page, data)
        page.get_by_role("button", name="Save and continue").click()
        # Saved with nothing left to correct, the builder moves on to the next step.
        expect(page).not_to_have_url(before)
    with app.extensions["cascade"].sessions() as session:
        call_id = session.scalars(select(Call.id).where(Call.reference == reference)).one()
    page.goto(f"{base}/calls/{call_id}/build/review")
    expect(page.locator("body")).to_contain_text("Nothing stops this call from being published")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Publish the call").click()
    expect(page).to_have_url(f"{base}/calls/{call_id}")
    page.get_by_role("button", name="Log out").click()

    # A new SME finds the call, registers, describes the company and applies.
    sme_email = f"manager@sme-{uuid.uuid4().hex[:6]}.example"
    page.goto(base)
    page.get_by_role("link", name="Up-skilling vouchers for naval defence SMEs").click()
    page.get_by_role("link", name="Register").last.click()
    create_account(page, sme_email, STAFF_PASSWORD)
    page.goto(base + _mail_link(app, sme_email, "confirm_email", "confirm"))
    expect(page.locator("body")).to_contain_text("confirmed")
    log_in(page, base, sme_email, STAFF_PASSWORD)
    page.goto(f"{base}/calls/{call_id}")
    page.get_by_role("button", name="Start an application").click()
    register_organisation(page)
    # Registered, the applicant is in the new draft of that call.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Application form")
    page.get_by_label("Project title").fill("Sonar operators' training")
    page.get_by_label("Requested amount", exact=False).first.fill("7500")
    answers = GOOD_ANSWERS | {
        "budget_lines": [{"category": "Service provider fees", "item": "Course", "cost": "7500"}]
    }
    fill_answers(page, answers)
    page.get_by_label("declaration of honour", exact=False).check()
    page.get_by_role("button", name="Save draft").click()
    page.get_by_role("button", name="Submit application").click()
    expect(page.locator("body")).to_contain_text("Your application is submitted")
    with app.extensions["cascade"].sessions() as session:
        submitted = session.scalars(select(Application).where(Application.call_id == call_id)).one()
        assert submitted.status == "submitted"
    page.screenshot(path=str(tmp_path / "first-programme-submitted.png"), full_page=True)

    # The call round-trips through YAML export and import unchanged.
    cli = app.test_cli_runner()
    exported = cli.invoke(args=["call", "export", reference])
    assert exported.exit_code == 0, exported.output
    copy_file = tmp_path / "call.yaml"
    copy_file.write_text(exported.output, encoding="utf-8")
    imported = cli.invoke(args=["call", "import", str(copy_file), "--reference", f"{reference}-2"])
    assert imported.exit_code == 0, imported.output
    again = cli.invoke(args=["call", "export", f"{reference}-2"]).output
    assert again == exported.output.replace(f"reference: {reference}", f"reference: {reference}-2")
