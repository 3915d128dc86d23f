"""A new user's whole journey in a real browser, as the issue's "done when" describes it:
find a call, register, confirm the e-mail, describe the company, fill the form over two
visits, submit once, and get the receipt (on screen and by e-mail)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from grants.models import Application
from grants.services.documents import drain
from tests.e2e.conftest import (
    create_account,
    fill_answers,
    latest_mail,
    log_in,
    register_organisation,
)
from tests.scenario import GOOD_ANSWERS, Scenario

PASSWORD = "sonar buoys drift at dawn"


def test_a_new_user_finds_a_call_registers_and_submits_over_two_visits(
    live_app: tuple[Flask, str],
    page: Page,
    tmp_path: Path,
) -> None:
    app, base = live_app
    scenario = Scenario(app.extensions["cascade"].sessions)
    call_title = f"Test call {scenario.tag}"
    email = f"new.{uuid.uuid4().hex[:8]}@sme.example"

    # Find the call without an account.
    page.goto(base)
    page.get_by_role("link", name=call_title).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(call_title)

    # Register and confirm the address with the link from the mail.
    page.goto(f"{base}/register")
    create_account(page, email, PASSWORD)
    expect(page.locator("body")).to_contain_text("inbox")
    link = re.search(
        r"https?://\S+/confirm/\S+", latest_mail(app, email, "confirm_email").body_text
    )
    assert link is not None
    page.goto(base + "/confirm/" + link.group(0).rsplit("/confirm/", 1)[1])
    expect(page.locator("body")).to_contain_text("confirmed")

    # Describe the company (a valid Italian partita IVA), then start an application.
    log_in(page, base, email, PASSWORD)
    page.get_by_role("link", name="Create your organisation's profile").click()
    register_organisation(page)
    expect(page.locator("body")).to_contain_text("small")  # the SME test's result

    page.goto(f"{base}/calls/{scenario.call_id}")
    page.get_by_role("button", name="Start an application").click()
    page.get_by_label("Project title").fill("Sonar operators' training")
    page.get_by_label("Project summary").fill("Two operators trained on towed sonar arrays.")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("body")).to_contain_text("saved", ignore_case=True)
    page.get_by_role("button", name="Log out").click()

    # Second visit: what was saved is there; complete, sign and submit once.
    log_in(page, base, email, PASSWORD)
    page.get_by_role("link", name="Continue the form").first.click()
    expect(page.get_by_label("Project summary")).to_have_value(
        "Two operators trained on towed sonar arrays."
    )
    with app.extensions["cascade"].sessions() as session:
        application = session.scalars(
            select(Application).where(Application.title == "Sonar operators' training")
        ).one()
        reference = application.reference
    page.get_by_label("Requested amount", exact=False).first.fill("8000")
    # The summary is saved from the first visit; a second budget line is added.
    fill_answers(page, {k: v for k, v in GOOD_ANSWERS.items() if k != "summary"})
    page.get_by_label("declaration of honour", exact=False).check()
    page.get_by_role("button", name="Save draft").click()
    page.get_by_role("button", name="Submit application").click()
    expect(page.locator("body")).to_contain_text("Submitted")

    # One submission, its receipt on the page and in the mail.
    rt = app.extensions["cascade"]
    drain(rt.sessions, rt.storage)
    page.reload()
    expect(page.locator("body")).to_contain_text("Submission receipt")
    receipt_mail = latest_mail(app, email, "submission_receipt")
    assert reference in receipt_mail.body_text
    assert receipt_mail.document_id is not None
    page.screenshot(path=str(tmp_path / "new-applicant-submitted.png"), full_page=True)
