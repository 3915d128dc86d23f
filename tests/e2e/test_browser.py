"""A person in a real browser: Debian's Chromium driven by Playwright against a live server.

The server runs the same app as the integration tests (the SQLite backend, CSRF on, as in
production) in a thread on a free loopback port.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from playwright.sync_api import Page, expect

from grants.services.documents import drain
from tests.scenario import Scenario


def log_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(Scenario.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/dashboard")


def test_an_applicant_completes_and_submits_a_draft_in_the_browser(
    live_app: tuple[Flask, str], page: Page, tmp_path: Path
) -> None:
    app, base = live_app
    rt = app.extensions["cascade"]
    scenario = Scenario(rt.sessions)
    app_id = scenario.draft(sign=False)
    reference = scenario.application(app_id).reference

    log_in(page, base, scenario.people.emails["applicant0"])
    page.get_by_role("link", name=reference).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    page.get_by_role("link", name="Edit the draft").click()

    # A bad amount is refused next to its field and loses nothing typed.
    page.get_by_label("Requested amount", exact=False).first.fill("lots")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("body")).to_contain_text("must be written with digits")
    page.get_by_label("Requested amount", exact=False).first.fill("7500")
    # The budget lines must add up to the requested amount: the total follows as one types.
    page.locator("#budget_lines-1-cost").fill("1000")
    expect(page.locator('output[data-total-of="cost"]')).to_have_text("EUR 7,500.00")
    page.get_by_label("declaration of honour", exact=False).check()
    page.get_by_role("button", name="Save draft").click()
    page.get_by_role("button", name="Submit application").click()

    expect(page.locator("body")).to_contain_text("Submitted")
    assert scenario.status(app_id) == "submitted"
    assert scenario.application(app_id).requested_amount == 7500

    drain(rt.sessions, rt.storage)
    page.reload()
    expect(page.locator("body")).to_contain_text("Submission receipt")
    page.screenshot(path=str(tmp_path / "submitted.png"), full_page=True)


def test_the_public_call_page_shows_the_workflow_diagram(
    live_app: tuple[Flask, str], page: Page
) -> None:
    app, base = live_app
    scenario = Scenario(app.extensions["cascade"].sessions)
    page.goto(f"{base}/calls/{scenario.call_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Test call {scenario.tag}")
    diagram = page.locator("svg[role=img]").first
    expect(diagram).to_be_visible()
    assert (
        "submitted" in (diagram.get_attribute("aria-label") or "")
        or diagram.locator("[data-state=submitted]").count() == 1
    )


def test_the_draft_saves_itself_and_a_lost_change_can_be_restored(
    live_app: tuple[Flask, str], page: Page
) -> None:
    app, base = live_app
    scenario = Scenario(app.extensions["cascade"].sessions)
    app_id = scenario.draft(sign=False)
    page.on("dialog", lambda dialog: dialog.accept())  # "leave the page with unsaved changes?"
    log_in(page, base, scenario.people.emails["applicant0"])
    edit = f"{base}/applications/{app_id}/edit"
    page.goto(edit)
    status = page.locator("#autosave-status")

    # Type, leave the field: saved by itself, without the Save button.
    summary = page.get_by_label("Project summary")
    summary.fill("Typed in the browser and saved by itself.")
    summary.blur()
    expect(status).to_contain_text("Saved at")
    page.reload()
    expect(page.get_by_label("Project summary")).to_have_value(
        "Typed in the browser and saved by itself."
    )
    assert scenario.application(app_id).answers["summary"] == (
        "Typed in the browser and saved by itself."
    )

    # A line added in the browser counts in the total at once, and is saved too.
    page.get_by_role("button", name="Add a line").click()
    page.locator("#budget_lines-3-item").fill("Certification exam")
    page.locator("#budget_lines-3-category").select_option("Training and certification")
    page.locator("#budget_lines-3-cost").fill("250,50")
    expect(page.locator('output[data-total-of="cost"]')).to_have_text("EUR 8,250.50")
    page.locator("#budget_lines-3-cost").blur()
    expect(status).to_contain_text("Saved at")
    lines = scenario.application(app_id).answers["budget_lines"]
    assert lines[-1] == {
        "item": "Certification exam",
        "category": "Training and certification",
        "cost": "250.50",
    }

    # The connection drops: the change stays in this browser and is offered back.
    page.context.set_offline(True)
    summary = page.get_by_label("Project summary")
    summary.fill("Written on a train without a connection.")
    summary.blur()
    expect(status).to_contain_text("Not saved")
    page.context.set_offline(False)
    page.goto(edit)
    expect(page.get_by_label("Project summary")).to_have_value(
        "Typed in the browser and saved by itself."
    )
    banner = page.locator("#restore-banner")
    expect(banner).to_be_visible()
    banner.get_by_role("button", name="Restore them into the form").click()
    expect(page.get_by_label("Project summary")).to_have_value(
        "Written on a train without a connection."
    )
    expect(status).to_contain_text("Saved at")
    assert scenario.application(app_id).answers["summary"] == (
        "Written on a train without a connection."
    )
    page.reload()
    expect(page.locator("#restore-banner")).to_be_hidden()
