"""Drafts that are never lost: every answer kept, autosave, and two browsers on one draft."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from grants.models import Application
from grants.services import applications
from tests.scenario import GOOD_ANSWERS, Scenario, form_data
from tests.typed_numbers import UNREADABLE, field_error
from workflows.errors import TransitionRefused
from workflows.voucher import AppState

Login = Callable[[FlaskClient, str], None]


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def version_on(page: str) -> str:
    match = re.search(r'name="version" value="(\d+)"', page)
    assert match, "the draft form carries the version it was loaded at"
    return match.group(1)


def stored(sessions: sessionmaker[Session], app_id: int) -> Application:
    with sessions() as session:
        app = session.get(Application, app_id)
        assert app is not None
        return app


def draft_form(version: str, **overrides: Any) -> dict[str, Any]:
    form = form_data(GOOD_ANSWERS)
    form.update(
        title="Sonar up-skilling",
        requested_amount="8000",
        declaration_signed="yes",
        version=version,
    )
    form.update(overrides)
    return form


def applicant_client(app: Flask, login: Login, scenario: Scenario) -> FlaskClient:
    client = app.test_client()
    login(client, scenario.people.emails["applicant0"])
    return client


# -- two browsers ----------------------------------------------------------------------------


def test_a_stale_save_is_refused_with_both_versions_shown_and_nothing_lost(
    app: Flask, login: Login, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    app_id = scenario.draft()
    url = f"/applications/{app_id}/edit"
    laptop = applicant_client(app, login, scenario)
    phone = applicant_client(app, login, scenario)
    loaded = version_on(html(laptop.get(url)))
    assert version_on(html(phone.get(url))) == loaded

    # The laptop saves first.
    saved = laptop.post(url, data=draft_form(loaded, summary="Laptop's summary of the work."))
    assert saved.status_code == 302
    assert stored(sessions, app_id).answers["summary"] == "Laptop's summary of the work."
    events = len(scenario.events_of(app_id))

    # The phone, still on the old version, saves other answers: refused, not overwritten.
    mine = draft_form(
        loaded, summary="Phone's summary, typed on the train.", service_provider="Phone Lab"
    )
    page = phone.post(url, data=mine)
    assert page.status_code == 409
    body = html(page)
    assert "Not saved" in body and "Saved meanwhile" in body
    # Its own input is in the form, untouched ...
    assert ">Phone&#39;s summary, typed on the train.</textarea>" in body
    assert 'value="Phone Lab"' in body
    # ... next to what the laptop saved.
    conflict = body.split('id="conflict"')[1].split("</section>")[0]
    assert "Laptop&#39;s summary of the work." in conflict
    assert "Phone&#39;s summary, typed on the train." in conflict
    assert "Service provider" in conflict
    assert "Project title" not in conflict  # the same on both sides
    # Autosave waits until the person has compared.
    assert "data-autosave-paused" in body
    assert stored(sessions, app_id).answers["summary"] == "Laptop's summary of the work."
    assert len(scenario.events_of(app_id)) == events

    # Saving again from the conflict page is a deliberate choice: it now carries the newer
    # version, so the phone's answers win, and the audit trail shows both saves.
    newer = version_on(body)
    assert int(newer) > int(loaded)
    again = phone.post(url, data={**mine, "version": newer})
    assert again.status_code == 302
    app_row = stored(sessions, app_id)
    assert app_row.answers["summary"] == "Phone's summary, typed on the train."
    assert app_row.answers["service_provider"] == "Phone Lab"
    saves = [e for e in scenario.events_of(app_id) if e.action == "save_draft"]
    assert len(saves) == 3  # the scenario's, the laptop's, the phone's

    # The laptop's page is now stale in turn: detected too.
    assert laptop.post(url, data=draft_form(loaded)).status_code == 409


def test_the_service_refuses_a_stale_version_and_writes_nothing(scenario: Scenario) -> None:
    app_id = scenario.draft()
    owner = scenario.owner(app_id)
    version = scenario.application(app_id).version

    def save(summary: str, expected: int | None) -> applications.SaveResult:
        return scenario.run(
            lambda s: applications.save_draft(
                s,
                owner,
                app_id,
                title=f"Project 0 {scenario.tag}",
                requested_amount="8000.00",
                answers={**GOOD_ANSWERS, "summary": summary},
                declaration_signed=True,
                expected_version=expected,
            )
        )

    assert save("First browser.", version).changed
    events = len(scenario.events_of(app_id))
    with pytest.raises(applications.DraftConflict) as conflict:
        save("Second browser.", version)
    assert isinstance(conflict.value, TransitionRefused)
    assert conflict.value.expected_version == version
    assert conflict.value.current_version == version + 1
    assert scenario.application(app_id).answers["summary"] == "First browser."
    assert len(scenario.events_of(app_id)) == events
    # The very same content, from a stale page (an autosave that landed first): no conflict,
    # and nothing to write.
    result = save("First browser.", version)
    assert not result.changed
    assert len(scenario.events_of(app_id)) == events
    # Without a version (the API, or old pages), the last write still wins as before.
    assert save("No version given.", None).changed


def test_a_save_that_changes_nothing_writes_nothing(scenario: Scenario) -> None:
    app_id = scenario.draft()
    owner = scenario.owner(app_id)
    before = scenario.application(app_id)
    result = scenario.run(
        lambda s: applications.save_draft(
            s,
            owner,
            app_id,
            title=before.title,
            requested_amount="8000",
            answers=dict(GOOD_ANSWERS),
            declaration_signed=True,
            expected_version=before.version,
        )
    )
    assert not result.changed and result.errors == {}
    after = scenario.application(app_id)
    assert after.version == before.version
    assert len(scenario.events_of(app_id)) == 2  # create_draft and the scenario's save


# -- autosave --------------------------------------------------------------------------------


def test_autosave_saves_with_the_same_check_and_answers_json(
    app: Flask, login: Login, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    app_id = scenario.draft()
    client = applicant_client(app, login, scenario)
    url = f"/applications/{app_id}/autosave"
    loaded = version_on(html(client.get(f"/applications/{app_id}/edit")))

    response = client.post(url, data=draft_form(loaded, summary="Typed, then autosaved."))
    assert response.status_code == 200 and response.is_json
    body = response.get_json()
    assert body["ok"] is True and body["changed"] is True and body["errors"] == 0
    assert body["version"] == int(loaded) + 1 and body["saved_at"]
    assert stored(sessions, app_id).answers["summary"] == "Typed, then autosaved."

    # The same form again: nothing changes, no audit event, same version.
    events = len(scenario.events_of(app_id))
    again = client.post(
        url, data=draft_form(str(body["version"]), summary="Typed, then autosaved.")
    ).get_json()
    assert again["ok"] and not again["changed"] and again["version"] == body["version"]
    assert len(scenario.events_of(app_id)) == events

    # Invalid answers are saved as typed and counted.
    response = client.post(
        url,
        data=draft_form(
            str(body["version"]), summary="Typed, then autosaved.", start_date="31/02/2027"
        ),
    )
    bad = response.get_json()
    assert response.status_code == 422
    assert bad["ok"] and bad["errors"] == 1 and bad["fields"] == ["start_date"]
    assert stored(sessions, app_id).answers["start_date"] == "31/02/2027"

    # The timeline shows a run of saves as one line.
    detail = html(client.get(f"/applications/{app_id}"))
    assert "Draft saved (3 times)" in detail

    # A stale version is a conflict, reported, not saved.
    stale = client.post(url, data=draft_form(loaded, summary="From an old tab."))
    assert stale.status_code == 409
    assert stale.get_json()["conflict"] is True and stale.get_json()["version"] == bad["version"]
    assert stored(sessions, app_id).answers["summary"] == "Typed, then autosaved."


def test_autosave_refuses_a_submitted_application_and_other_smes(
    app: Flask, login: Login, scenario: Scenario
) -> None:
    app_id = scenario.draft()
    other = scenario.draft(1)
    scenario.submit(app_id)
    client = applicant_client(app, login, scenario)
    response = client.post(f"/applications/{app_id}/autosave", data=draft_form("9"))
    assert response.status_code == 409
    assert response.get_json() == {
        "ok": False,
        "reason": "this application is submitted; it cannot change",
    }
    assert client.post(f"/applications/{other}/autosave", data=draft_form("1")).status_code == 404
    assert scenario.status(app_id) == AppState.SUBMITTED


# -- the new field types through the web -----------------------------------------------------


def test_groups_multiple_choices_and_countries_through_the_draft_form(
    app: Flask, login: Login, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    app_id = scenario.draft()
    client = applicant_client(app, login, scenario)
    url = f"/applications/{app_id}/edit"
    page = html(client.get(url))
    # The stored lines, one blank line to add another, a template for more, the total.
    assert 'id="budget_lines-1-cost"' in page and 'value="1500.00"' in page
    assert 'name="budget_lines[2].item"' in page and "__index__" in page
    assert re.search(r'data-total-of="cost"[^>]*>EUR 8,000.00</output>', page)
    assert '<option value="IT" selected>Italy</option>' in page
    assert 'enctype="multipart/form-data"' in page and 'name="version"' in page

    form = draft_form(version_on(page))
    form.update(
        {
            "budget_lines[0].item": "Course",
            "budget_lines[0].category": "Training and certification",
            "budget_lines[0].cost": "6000",
            # A cleared line is dropped: the lines are renumbered.
            "budget_lines[1].item": "",
            "budget_lines[1].category": "",
            "budget_lines[1].cost": "",
            "budget_lines[2].item": "Trials",
            "budget_lines[2].category": "Service provider fees",
            "budget_lines[2].cost": "2,000",  # 2000 or 2? Kept as typed, never guessed.
            "other_technologies": ["Additive manufacturing", "Digital twins and simulation"],
            "provider_country": "fr",
        }
    )
    response = client.post(url, data=form)
    assert response.status_code == 422
    body = html(response)
    # The error sits at the second kept line, linked from the summary, with its label.
    assert 'href="#budget_lines-1-cost"' in body
    assert "Budget, line 2: Cost (EUR): “2,000” could mean 2000 or 2,00" in body
    assert 'value="2,000"' in body and 'value="Trials"' in body
    app_row = stored(sessions, app_id)
    assert app_row.answers["budget_lines"] == [
        {"item": "Course", "category": "Training and certification", "cost": "6000.00"},
        {"item": "Trials", "category": "Service provider fees", "cost": "2,000"},
    ]
    # In the order of the options, whatever order the browser sent them in.
    assert app_row.answers["other_technologies"] == [
        "Digital twins and simulation",
        "Additive manufacturing",
    ]
    assert app_row.answers["provider_country"] == "FR"
    with sessions() as session:
        loaded_app = session.get(Application, app_id)
        assert loaded_app is not None
        missing = " ".join(applications.missing_for_submission(loaded_app))
    assert "Budget, line 2: Cost (EUR) (“2,000” could mean 2000 or 2,00" in missing

    form["version"] = version_on(body)
    form["budget_lines[2].cost"] = "2000"
    assert client.post(url, data=form).status_code == 302
    detail = html(client.get(f"/applications/{app_id}"))
    assert "Digital twins and simulation; Additive manufacturing" in detail
    assert "France (FR)" in detail
    assert re.search(r"Total Cost \(EUR\)</th><td class=\"num\">EUR 8,000.00", detail)
    # Unticking every option clears the answer.
    form.pop("other_technologies")
    form["version"] = str(stored(sessions, app_id).version)
    assert client.post(url, data=form).status_code == 302
    assert "other_technologies" not in stored(sessions, app_id).answers


def test_a_group_total_that_does_not_match_is_shown_at_the_total(
    app: Flask, login: Login, scenario: Scenario
) -> None:
    app_id = scenario.draft()
    client = applicant_client(app, login, scenario)
    url = f"/applications/{app_id}/edit"
    form = draft_form(version_on(html(client.get(url))), requested_amount="7000")
    body = html(client.post(url, data=form))
    assert 'href="#budget_lines-total-cost"' in body
    assert "The total of Cost (EUR) is EUR 8,000.00; it must equal the requested amount" in body
    assert 'id="budget_lines-total-cost"' in body


# -- typed numbers -----------------------------------------------------------------------------
@pytest.mark.parametrize(("typed", "message"), UNREADABLE)
def test_an_amount_that_cannot_be_read_is_refused_and_the_draft_loses_nothing(
    app: Flask,
    login: Login,
    scenario: Scenario,
    sessions: sessionmaker[Session],
    typed: str,
    message: str,
) -> None:
    app_id = scenario.draft()  # EUR 8,000.00 requested
    client = applicant_client(app, login, scenario)
    url = f"/applications/{app_id}/edit"
    form = draft_form(
        version_on(html(client.get(url))),
        requested_amount=typed,
        summary="Typed along with the amount.",
        **{"budget_lines[0].cost": typed},
    )
    response = client.post(url, data=form)
    assert response.status_code == 422
    body = html(response)
    for field in ("requested_amount", "budget_lines-0-cost"):
        assert message in field_error(body, field), field
    assert body.count(f'value="{typed}"') == 2  # both kept in the form, as typed
    row = stored(sessions, app_id)
    assert row.requested_amount == Decimal("8000.00")  # the last amount that could be read
    assert row.answers["summary"] == "Typed along with the amount."  # the rest is saved
    assert row.answers["budget_lines"][0]["cost"] == typed  # an answer is kept as typed

    # Autosave reads it the same way: the draft is saved, the amount named as an error (4xx).
    saved = client.post(
        f"/applications/{app_id}/autosave",
        data={**form, "version": version_on(body), "summary": "Autosaved with the amount."},
    )
    assert saved.status_code == 422 and saved.get_json()["ok"]
    assert {"requested_amount", "budget_lines[0].cost"} <= set(saved.get_json()["fields"])
    row = stored(sessions, app_id)
    assert row.requested_amount == Decimal("8000.00")
    assert row.answers["summary"] == "Autosaved with the amount."


@pytest.mark.parametrize("typed", ["7.500,00", "7 500", "7\u00a0500,00", "EUR 7,500.00"])
def test_an_amount_with_thousands_separators_is_stored_exactly(
    app: Flask,
    login: Login,
    scenario: Scenario,
    sessions: sessionmaker[Session],
    typed: str,
) -> None:
    app_id = scenario.draft()
    client = applicant_client(app, login, scenario)
    url = f"/applications/{app_id}/edit"
    form = draft_form(
        version_on(html(client.get(url))),
        requested_amount=typed,
        **{"budget_lines[0].cost": "6.000,00", "budget_lines[1].cost": "1 500"},
    )
    response = client.post(url, data=form)
    assert response.status_code == 302, html(response)[:3000]
    row = stored(sessions, app_id)
    assert row.requested_amount == Decimal("7500.00")
    assert str(row.requested_amount) == "7500.00"
    assert [line["cost"] for line in row.answers["budget_lines"]] == ["6000.00", "1500.00"]
