"""The public call pages: what a visitor sees before logging in."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pypdf
from flask.testing import FlaskClient

from grants.db import utcnow
from grants.services import calls
from tests.scenario import Scenario


def test_open_and_upcoming_calls_are_listed_apart(client: FlaskClient, scenario: Scenario) -> None:
    now = utcnow().replace(microsecond=0)
    upcoming = calls.CallSpec(
        reference=f"UP-{scenario.tag}",
        title=f"Upcoming call {scenario.tag}",
        description="Opens next month.",
        budget=Decimal("50000"),
        max_per_voucher=Decimal("2000"),
        opens_at=now + timedelta(days=20),
        deadline=now + timedelta(days=80),
        form=[{"name": "summary", "label": "Summary", "type": "long_text", "required": True}],
    )

    def publish(session):  # type: ignore[no-untyped-def]
        call = calls.create_call(session, scenario.people.officer, upcoming)
        calls.publish(session, scenario.people.officer, call.id, now=now)
        return call.id

    upcoming_id = scenario.run(publish)
    page = client.get("/").get_data(as_text=True)
    open_section, _, rest = page.partition('id="upcoming-calls"')
    assert f"Test call {scenario.tag}" in open_section
    assert f"Upcoming call {scenario.tag}" not in open_section
    assert f"Upcoming call {scenario.tag}" in rest

    call_page = client.get(f"/calls/{upcoming_id}").get_data(as_text=True)
    assert "Opens" in call_page


def test_the_call_page_gives_the_deadline_in_the_calls_zone_utc_and_the_visitors(
    client: FlaskClient, scenario: Scenario
) -> None:
    call = scenario.application(scenario.draft()).call
    page = client.get(f"/calls/{call.id}").get_data(as_text=True)
    local = call.deadline.astimezone(__import__("zoneinfo").ZoneInfo(call.timezone))
    assert local.strftime("%Y-%m-%d %H:%M") in page
    assert call.deadline.strftime("%Y-%m-%d %H:%M UTC") in page
    assert f'data-visitor-time="{call.deadline.isoformat()}"' in page
    assert "localtime.js" in page
    assert "EUR 10,000.00" in page  # the voucher maximum
    assert "Excellence" in page and "Threshold" in page
    assert 'role="img"' in page  # the workflow diagram
    assert f"/calls/{call.id}/guide.pdf" in page


def test_the_guide_for_applicants_is_a_pdf_built_from_the_call(
    client: FlaskClient, scenario: Scenario
) -> None:
    response = client.get(f"/calls/{scenario.call_id}/guide.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(response.data)).pages)
    assert f"T-{scenario.tag.upper()}" in text
    assert "Guide for applicants" in text
    assert "Project summary" in text  # the form's questions
    assert "Excellence" in text  # the criteria
    assert "Funded by the European Union" in text
    # Rendering again gives the same file: the guide is a function of the call.
    assert client.get(f"/calls/{scenario.call_id}/guide.pdf").data == response.data


def test_a_draft_call_is_not_public(client: FlaskClient, scenario: Scenario) -> None:
    now = utcnow()
    spec = calls.CallSpec(
        reference=f"DR-{scenario.tag}",
        title="Draft",
        description="",
        budget=Decimal("1000"),
        max_per_voucher=Decimal("100"),
        opens_at=now,
        deadline=now + timedelta(days=40),
    )
    draft_id = scenario.run(lambda s: calls.create_call(s, scenario.people.officer, spec).id)
    assert client.get(f"/calls/{draft_id}").status_code == 404
    assert client.get(f"/calls/{draft_id}/guide.pdf").status_code == 404


def test_an_application_cannot_be_started_before_the_call_opens(scenario: Scenario) -> None:
    import pytest

    from grants.services import applications
    from workflows.errors import TransitionRefused

    call = scenario.application(scenario.draft()).call
    applicant = scenario.people.applicants[1]
    with pytest.raises(TransitionRefused, match="opens on"):
        scenario.run(
            lambda s: applications.create_draft(
                s, applicant, call.id, now=call.opens_at - timedelta(seconds=1)
            )
        )


def test_a_visitor_finds_register_on_the_home_and_call_pages(
    client: FlaskClient, scenario: Scenario
) -> None:
    for path in ("/", f"/calls/{scenario.call_id}"):
        page = client.get(path).get_data(as_text=True)
        assert 'href="/register"' in page, path
        assert 'href="/login' in page, path
    assert client.get("/register").status_code == 200
