"""The call builder: an officer makes a call step by step in the browser, reviews what stops
it from being published, previews it as applicants will see it and publishes it; a published
call's rules never change, but it can be copied; nobody else may use the builder."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from forms.defaults import VOUCHER_FORM
from grants.models import AuditEvent, Call
from grants.services import call_builder
from grants.services.call_files import rules_of
from tests.scenario import Scenario
from workflows.call import CallState
from workflows.errors import TransitionRefused

Login = Callable[[FlaskClient, str], None]
STEPS = ("basics", "dates", "money", "eligibility", "evaluation")


def officer(app: Flask, login: Login, scenario: Scenario) -> FlaskClient:
    client = app.test_client()
    login(client, scenario.people.emails["officer"])
    return client


def call_of(sessions: sessionmaker[Session], call_id: int) -> Call:
    with sessions() as session:
        call = session.get(Call, call_id)
        assert call is not None
        return call


def events(sessions: sessionmaker[Session], reference: str, action: str) -> list[AuditEvent]:
    with sessions() as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.entity_id == reference, AuditEvent.action == action)
                .order_by(AuditEvent.id)
            )
        )


def basics(reference: str, **changes: str) -> dict[str, str]:
    return {
        "reference": reference,
        "title": "Up-skilling vouchers for naval defence SMEs",
        "voucher_type": "upskilling",
        "purpose": "Vouchers for SMEs to train staff in strategic naval technologies.",
        "guidance": "Attach the provider's quote.",
        "who_can_apply": "SMEs of the naval defence supply chain.",
        **changes,
    }


def wall(name: str, moment: datetime) -> dict[str, str]:
    return {f"{name}.date": f"{moment:%Y-%m-%d}", f"{name}.time": f"{moment:%H:%M}"}


def dates(zone: str = "Europe/Rome", **extra: str) -> dict[str, str]:
    today = datetime.now(ZoneInfo(zone)).replace(tzinfo=None)
    opening = (today + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    deadline = (today + timedelta(days=50)).replace(hour=17, minute=0, second=0, microsecond=0)
    return {"timezone": zone, **wall("opening", opening), **wall("deadline", deadline), **extra}


MONEY = {
    "budget": "250.000,00",
    "reserve": "",
    "max_per_voucher": "7 500",
    "cumulative_cap": "60000",
    "funding_rate": "100",
    "cost_basis": "costs",
    "prefinancing_percent": "50 %",
}
ELIGIBILITY: dict[str, Any] = {
    "eligible_countries": ["IT", "FR", "NL", "BE", "HR"],
    "eligibility.registration_check": "yes",
    "eligibility.min_registration_months": "6",
    "eligibility.one_application_per_sme": "yes",
    "eligibility.partner_exclusion": "yes",
}
EVALUATION = {
    "criteria.0.key": "excellence",
    "criteria.0.name": "Excellence",
    "criteria.0.max": "5",
    "criteria.0.threshold": "3",
    "criteria.0.weight": "1",
    "criteria.1.key": "impact",
    "criteria.1.name": "Impact",
    "criteria.1.description": "Access to new defence customers.",
    "criteria.1.max": "5",
    "criteria.1.threshold": "3",
    "criteria.1.weight": "1,5",
    "criteria.2.key": "",  # an empty row is dropped
    "threshold_total": "6",
    "experts_per_application": "2",
    "divergence_limit": "2",
    "redress_days": "5",
    "acceptance_days": "14",
    "report_window_days": "30",
}


def start(client: FlaskClient, reference: str, **changes: str) -> int:
    response = client.post("/calls/new", data=basics(reference, **changes))
    assert response.status_code == 302, response.get_data(as_text=True)
    found = re.fullmatch(r"/calls/(\d+)/build/dates", response.headers["Location"])
    assert found, response.headers["Location"]
    return int(found[1])


def save(client: FlaskClient, call_id: int, step: str, data: dict[str, Any]) -> str:
    """Post a step that is right: the builder moves on; the page it moves to."""
    response = client.post(f"/calls/{call_id}/build/{step}", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return str(response.headers["Location"])


def build(client: FlaskClient, reference: str) -> int:
    call_id = start(client, reference)
    save(client, call_id, "dates", dates())
    save(client, call_id, "money", MONEY)
    save(client, call_id, "eligibility", ELIGIBILITY)
    save(client, call_id, "evaluation", EVALUATION)
    return call_id


def test_an_officer_builds_a_call_step_by_step_and_a_bad_amount_is_kept(
    app: Flask, login: Login, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    client = officer(app, login, scenario)
    page = client.get("/calls/new").get_data(as_text=True)
    assert 'name="reference"' in page and "Save and continue" in page
    reference = f"B-{scenario.tag.upper()}"
    call_id = start(client, reference)
    made = call_of(sessions, call_id)
    assert made.status == CallState.DRAFT and made.form == VOUCHER_FORM  # the type's default
    assert save(client, call_id, "dates", dates()) == f"/calls/{call_id}/build/money"

    refused = client.post(f"/calls/{call_id}/build/money", data=MONEY | {"budget": "lots"})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "Nothing was saved" in page and "must be written with digits" in page
    assert 'value="lots"' in page and 'value="7 500"' in page  # everything typed is kept
    assert 'href="#budget"' in page and 'aria-invalid="true"' in page
    assert call_of(sessions, call_id).budget == Decimal("1.00")  # still the placeholder

    assert save(client, call_id, "money", MONEY) == f"/calls/{call_id}/build/eligibility"
    assert save(client, call_id, "eligibility", ELIGIBILITY).endswith("/build/evaluation")
    too_high = client.post(
        f"/calls/{call_id}/build/evaluation", data=EVALUATION | {"criteria.0.threshold": "7"}
    )
    assert too_high.status_code == 422  # said beside the cell, in the criterion's words
    assert 'href="#criteria-0-threshold"' in too_high.get_data(as_text=True)
    assert save(client, call_id, "evaluation", EVALUATION).endswith("/build/form")
    form_step = client.get(f"/calls/{call_id}/build/form").get_data(as_text=True)
    assert "Version 1 of the application form" in form_step
    assert f'href="/calls/{call_id}/form"' in form_step  # the existing form editor
    review = client.get(f"/calls/{call_id}/build/review").get_data(as_text=True)
    assert "Nothing stops this call from being published" in review

    call = call_of(sessions, call_id)
    rules = rules_of(call)
    assert (call.budget, call.max_per_voucher, call.prefinancing_percent) == (
        Decimal("250000.00"),
        Decimal("7500.00"),
        Decimal("50.00"),
    )
    assert rules.timezone == "Europe/Rome" and rules.deadline.hour == 17
    assert call.eligible_countries == ["IT", "FR", "NL", "BE", "HR"]
    assert [c["key"] for c in call.criteria] == ["excellence", "impact"]
    assert call.criteria[1]["weight"] == "1.5"
    assert call.criteria[1]["description"] == "Access to new defence customers."
    money = [e for e in events(sessions, reference, "update_draft_call") if "budget" in e.after]
    assert money[0].before["budget"] == "1.00" and money[0].after["budget"] == "250000.00"
    assert money[0].after["step"] == "money" and money[0].after["placeholders"] == []


def test_an_autumn_hour_deadline_is_refused_with_both_instants_then_chosen(
    app: Flask, login: Login, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    client = officer(app, login, scenario)
    call_id = start(client, f"B-{scenario.tag.upper()}-AUT")
    twice = {
        "timezone": "Europe/Rome",
        **wall("opening", datetime(2030, 9, 1, 9, 0)),
        # The clocks go back from 03:00 CEST to 02:00 CET that night: 02:30 happens twice.
        **wall("deadline", datetime(2030, 10, 27, 2, 30)),
    }
    refused = client.post(f"/calls/{call_id}/build/dates", data=twice)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "happens twice" in page
    assert "2030-10-27 02:30 CEST (2030-10-27 00:30 UTC)" in page
    assert "2030-10-27 02:30 CET (2030-10-27 01:30 UTC)" in page
    assert page.count('name="fold.deadline"') == 2
    assert 'value="2030-10-27"' in page  # kept as typed

    save(client, call_id, "dates", twice | {"fold.deadline": "1"})
    call = call_of(sessions, call_id)
    assert call.deadline == datetime(2030, 10, 27, 1, 30, tzinfo=UTC)
    assert rules_of(call).folds == {"deadline": 1}
    again = client.get(f"/calls/{call_id}/build/dates").get_data(as_text=True)
    assert 'name="fold.deadline" value="1" checked' in again


def test_the_review_lists_every_problem_and_publishing_waits_until_none_is_left(
    app: Flask, login: Login, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    client = officer(app, login, scenario)
    reference = f"B-{scenario.tag.upper()}-PUB"
    call_id = start(client, reference, voucher_type="internationalisation")
    page = client.get(f"/calls/{call_id}/build/review").get_data(as_text=True)
    assert "things stop publishing" in page
    # Each problem links to its step and field.
    assert f'href="/calls/{call_id}/build/dates#opening"' in page
    assert f'href="/calls/{call_id}/build/money#budget"' in page
    assert f'href="/calls/{call_id}/build/eligibility#eligible_countries"' in page
    assert "Not set yet" in page and "disabled" in page

    refused = client.post(f"/calls/{call_id}/build/publish")
    assert refused.status_code == 302 and refused.headers["Location"].endswith("/build/review")
    # The dashboard's button goes through calls.publish, which never publishes placeholders.
    client.post(f"/calls/{call_id}/actions/publish")
    assert call_of(sessions, call_id).status == CallState.DRAFT

    save(client, call_id, "dates", dates())
    save(client, call_id, "money", MONEY)
    # Target markets outside the EU need a country_list question without the EU: the
    # internationalisation form has one; saving a step with problems stays on it.
    markets = ELIGIBILITY | {"eligibility.target_markets_outside_eu": "yes"}
    save(client, call_id, "eligibility", markets | {"eligible_countries": []})
    page = client.get(f"/calls/{call_id}/build/eligibility").get_data(as_text=True)
    assert "Choose the countries where applicants may be based" in page
    save(client, call_id, "eligibility", markets)
    review = client.get(f"/calls/{call_id}/build/review").get_data(as_text=True)
    assert "Nothing stops this call from being published" in review

    published = client.post(f"/calls/{call_id}/build/publish")
    assert published.status_code == 302
    assert published.headers["Location"] == f"/calls/{call_id}"
    assert call_of(sessions, call_id).status == CallState.PUBLISHED
    assert events(sessions, reference, "publish")
    public = app.test_client().get(f"/calls/{call_id}").get_data(as_text=True)
    assert "Up-skilling vouchers for naval defence SMEs" in public and "Key facts" in public


def test_a_published_call_is_read_only_in_the_builder_but_can_be_copied(
    app: Flask, login: Login, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    client = officer(app, login, scenario)
    source = call_of(sessions, scenario.call_id)
    page = client.get(f"/calls/{scenario.call_id}/build/money").get_data(as_text=True)
    assert "its rules never change" in page and "Copy this call" in page
    assert "disabled" in page and "Save and continue" not in page

    refused = client.post(f"/calls/{scenario.call_id}/build/money", data=MONEY)
    assert refused.status_code == 302
    assert call_of(sessions, scenario.call_id).budget == source.budget
    with pytest.raises(TransitionRefused, match="only while it is a draft"):
        scenario.run(
            lambda s: call_builder.update_draft_call(
                s,
                scenario.people.officer,
                scenario.call_id,
                rules_of(source),
                now=datetime.now(UTC),
            )
        )

    taken = client.post(f"/calls/{scenario.call_id}/copy", data={"reference": source.reference})
    assert taken.status_code == 422 and "already exists" in taken.get_data(as_text=True)
    copy_reference = f"{source.reference}-COPY"
    copied = client.post(f"/calls/{scenario.call_id}/copy", data={"reference": copy_reference})
    assert copied.status_code == 302
    copy_id = int(copied.headers["Location"].split("/")[2])
    copy = call_of(sessions, copy_id)
    assert copy.status == CallState.DRAFT and copy.reference == copy_reference
    assert (copy.budget, copy.form, copy.deadline) == (source.budget, source.form, source.deadline)
    assert events(sessions, copy_reference, "copy_call")[0].after["copied_from"] == source.reference
    # The copy's steps are editable.
    assert "Save and continue" in client.get(f"/calls/{copy_id}/build/basics").get_data(
        as_text=True
    )


def test_the_preview_is_the_public_call_page_of_the_draft(
    app: Flask, login: Login, scenario: Scenario
) -> None:
    client = officer(app, login, scenario)
    call_id = build(client, f"B-{scenario.tag.upper()}-PRE")
    response = client.get(f"/calls/{call_id}/build/preview")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "This is how applicants will see the call once it is published" in page
    # The public page's own parts, with the call as it will be: published.
    assert 'id="key-facts"' in page and "What happens to an application" in page
    assert "Up-skilling vouchers for naval defence SMEs" in page
    assert "badge-good" in page and ">Published<" in page
    # The form as applicants see it: its questions, empty and disabled.
    assert "Project summary" in page and 'id="preview-budget_lines-0-cost"' in page
    assert '<fieldset class="preview-form" data-preview disabled>' in page
    assert page.count("<h1") == 1
    # Still nobody else's to see.
    assert app.test_client().get(f"/calls/{call_id}").status_code == 404


def test_only_officers_may_use_the_builder(app: Flask, login: Login, scenario: Scenario) -> None:
    call_id = scenario.call_id
    pages = [f"/calls/{call_id}/build/{step}" for step in (*STEPS, "form", "review", "preview")]
    gets = ["/calls/new", f"/calls/{call_id}/copy", *pages]
    posts = [
        "/calls/new",
        f"/calls/{call_id}/copy",
        f"/calls/{call_id}/build/publish",
        *(f"/calls/{call_id}/build/{step}" for step in STEPS),
    ]
    for who in ("applicant0", "evaluator1", "finance1", "auditor", "admin"):
        client = app.test_client()
        login(client, scenario.people.emails[who])
        for url in gets:
            assert client.get(url).status_code == 403, (who, url)
        for url in posts:
            assert client.post(url, data={"reference": "X"}).status_code == 403, (who, url)
    anonymous = app.test_client()
    for url in gets:
        response = anonymous.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_dashboard_offers_new_edit_and_copy(
    app: Flask, login: Login, scenario: Scenario
) -> None:
    client = officer(app, login, scenario)
    call_id = start(client, f"B-{scenario.tag.upper()}-DSH")
    page = client.get("/dashboard").get_data(as_text=True)
    assert 'href="/calls/new"' in page
    assert f'href="/calls/{call_id}/build/review"' in page
    assert f'href="/calls/{scenario.call_id}/copy"' in page
    assert f'href="/calls/{scenario.call_id}/build/review"' not in page  # published: no edit
    # A draft is published from the review (which names what stops it), not by a bare button.
    assert f'action="/calls/{call_id}/actions/publish"' not in page
    assert f'href="/calls/{call_id}/pool"' in page  # each call's expert pool


def test_a_call_published_ahead_of_its_announcement_stays_hidden_until_then(
    app: Flask, login: Login, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    client = officer(app, login, scenario)
    reference = f"B-{scenario.tag.upper()}-ANN"
    call_id = start(client, reference)
    tomorrow = datetime.now(ZoneInfo("Europe/Rome")).replace(tzinfo=None) + timedelta(days=1)
    save(client, call_id, "dates", dates(**wall("publication", tomorrow)))
    save(client, call_id, "money", MONEY)
    save(client, call_id, "eligibility", ELIGIBILITY)
    save(client, call_id, "evaluation", EVALUATION)
    published = client.post(f"/calls/{call_id}/build/publish", follow_redirects=True)
    assert "It is announced on" in published.get_data(as_text=True)
    assert call_of(sessions, call_id).status == CallState.PUBLISHED
    assert "announced" in client.get("/dashboard").get_data(as_text=True)

    anonymous = app.test_client()
    assert anonymous.get(f"/calls/{call_id}").status_code == 404
    assert reference not in anonymous.get("/").get_data(as_text=True)
    applicant = app.test_client()
    login(applicant, scenario.people.emails["applicant0"])
    link = f'href="/calls/{call_id}"'
    assert link not in applicant.get("/dashboard").get_data(as_text=True)
    assert applicant.post(f"/calls/{call_id}/apply").status_code == 404

    with sessions.begin() as session:  # the announcement time comes
        session.get_one(Call, call_id).publish_at = datetime.now(UTC) - timedelta(minutes=1)
    assert anonymous.get(f"/calls/{call_id}").status_code == 200
    assert reference in anonymous.get("/").get_data(as_text=True)
    assert link in applicant.get("/dashboard").get_data(as_text=True)


def test_the_dashboards_irreversible_call_actions_ask_first(
    app: Flask, login: Login, scenario: Scenario
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    past = scenario.add_call(opens_at=now - timedelta(days=40), deadline=now - timedelta(hours=1))
    page = officer(app, login, scenario).get("/dashboard").get_data(as_text=True)
    form = re.search(rf'action="/calls/{past}/actions/close_call".*?</form>', page, flags=re.DOTALL)
    assert form is not None
    assert "No application can be submitted after this" in form[0]
    assert "data-confirm=" in form[0]
