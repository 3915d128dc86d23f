"""Officers define a call's form from JSON or YAML, preview it, and save new versions; an
application keeps the version it was started on."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from forms.defaults import VOUCHER_FORM
from forms.schema import FormDefinitionError
from grants.db import utcnow
from grants.errors import ValidationFailed
from grants.models import Application, AuditEvent, Call, CallForm
from grants.services import applications, calls
from tests.scenario import GOOD_ANSWERS, Scenario
from workflows.errors import TransitionRefused
from workflows.voucher import AppState

Login = Callable[[FlaskClient, str], None]

NEW_FORM_YAML = """\
# Version 2: a shorter summary, and work packages instead of a free-text plan.
- name: summary
  label: Project summary
  type: long_text
  required: true
  max_words: 5
- name: markets
  label: Target markets
  type: country
  countries: [US, CA, 'NO']
  required: true
- name: work_packages
  label: Work packages
  type: group
  required: true
  fields:
    - {name: title, label: Title, type: text, required: true}
    - {name: cost, label: Cost, type: money, required: true}
  totals: [cost]
  must_equal: requested_amount
"""


def officer_client(app: Flask, login: Login, scenario: Scenario) -> FlaskClient:
    client = app.test_client()
    login(client, scenario.people.emails["officer"])
    return client


def call_row(sessions: sessionmaker[Session], call_id: int) -> Call:
    with sessions() as session:
        call = session.get(Call, call_id)
        assert call is not None
        return call


def versions(sessions: sessionmaker[Session], call_id: int) -> list[int]:
    with sessions() as session:
        return list(
            session.scalars(
                select(CallForm.version)
                .where(CallForm.call_id == call_id)
                .order_by(CallForm.version)
            )
        )


def audit_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def test_the_form_page_shows_the_current_definition_and_its_preview(
    app: Flask, login: Login, scenario: Scenario
) -> None:
    client = officer_client(app, login, scenario)
    page = client.get(f"/calls/{scenario.call_id}/form").get_data(as_text=True)
    assert "Current version: <strong>1</strong>" in page
    assert "- name: summary" in page and "type: group" in page  # the definition as YAML
    assert "as applicants see it" in page
    assert 'for="preview-budget_lines-0-cost"' in page and 'id="preview-provider_quote"' in page
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert f'href="/calls/{scenario.call_id}/form"' in dashboard


@pytest.mark.parametrize("as_json", [False, True])
def test_a_preview_shows_the_form_and_saves_nothing(
    app: Flask, login: Login, scenario: Scenario, sessions: sessionmaker[Session], as_json: bool
) -> None:
    client = officer_client(app, login, scenario)
    text = NEW_FORM_YAML
    if as_json:
        text = json.dumps(calls.parse_form_text(NEW_FORM_YAML), indent=2)
    events = audit_count(sessions)
    response = client.post(
        f"/calls/{scenario.call_id}/form", data={"definition": text, "action": "preview"}
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Preview (not saved)" in page
    assert "Target markets" in page and "Work packages" in page
    assert '<option value="NO">Norway</option>' in page
    assert "Germany" not in page  # the country list is restricted
    assert "must equal the requested amount" in page
    assert text.splitlines()[1].replace("'", "&#39;").replace('"', "&#34;") in page  # kept
    assert versions(sessions, scenario.call_id) == [1]
    assert call_row(sessions, scenario.call_id).form == VOUCHER_FORM
    assert audit_count(sessions) == events


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- name: a\n  label: [unclosed", "YAML: line 2, column"),
        ('[{"name": "a", "label": "A", "type": "text",}]', "JSON: line 1, column 45"),
        ("- {name: a, label: A, type: longtext}", "unknown type &#39;longtext&#39;"),
        ("- {name: a, label: A, type: choice, options: [yes, no]}", "quote options such as"),
        ("- {name: a, label: A, type: country, countries: [IT, NO]}", "Norway in quotes"),
        ("- &f {name: a, label: A, type: text}\n- *f", "aliases (*name) are not allowed"),
        ("name: a", "must be a list of fields"),
        ("", "the definition is empty"),
        ("[]", "at least one field"),
        (
            "- {name: g, label: G, type: group, fields: [{name: x, label: X, type: file}]}",
            "a group&#39;s sub-field must be one of",
        ),
    ],
)
def test_bad_definitions_are_refused_with_readable_problems(
    app: Flask,
    login: Login,
    scenario: Scenario,
    sessions: sessionmaker[Session],
    text: str,
    expected: str,
) -> None:
    client = officer_client(app, login, scenario)
    for action in ("preview", "save"):
        response = client.post(
            f"/calls/{scenario.call_id}/form", data={"definition": text, "action": action}
        )
        assert response.status_code == 422, action
        page = response.get_data(as_text=True)
        assert "The definition cannot be used" in page and "Nothing was saved" in page
        assert expected in page, page.split("error-summary")[1][:600]
    assert versions(sessions, scenario.call_id) == [1]


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(FormDefinitionError) as refused:
        calls.parse_form_text(
            "- {name: A, label: A, type: text}\n"
            "- {name: b, type: text}\n"
            "- {name: c, label: C, type: group, fields: [], totals: [x]}\n"
        )
    assert len(refused.value.problems) == 4


def test_saving_adds_a_version_and_audits_it(
    app: Flask, login: Login, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    client = officer_client(app, login, scenario)
    url = f"/calls/{scenario.call_id}/form"
    response = client.post(url, data={"definition": NEW_FORM_YAML, "action": "save"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Form saved as version 2" in page
    call = call_row(sessions, scenario.call_id)
    assert call.form_version == 2 and versions(sessions, scenario.call_id) == [1, 2]
    assert [f["name"] for f in call.form] == ["summary", "markets", "work_packages"]
    assert call.form[1]["countries"] == ["US", "CA", "NO"]  # canonical JSON, YAML quirks gone
    with sessions() as session:
        event = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "update_form", AuditEvent.entity_id == call.reference)
            .order_by(AuditEvent.id.desc())
        ).first()
        assert event is not None
        assert event.before["form_version"] == 1 and event.after["form_version"] == 2
        assert event.after["sha256"] == calls.definition_sha256(call.form)
        assert event.actor_role == "officer"

    # The same definition again, in JSON this time: nothing new to save.
    same = json.dumps(call.form)
    response = client.post(url, data={"definition": same, "action": "save"})
    assert response.status_code == 422
    assert "the same form as version 2" in response.get_data(as_text=True)
    # A change in JSON is version 3.
    changed = json.dumps([{**call.form[0], "max_words": 50}, *call.form[1:]])
    assert client.post(url, data={"definition": changed, "action": "save"}).status_code == 302
    assert versions(sessions, scenario.call_id) == [1, 2, 3]


def test_a_form_change_does_not_alter_an_application_already_started(
    app: Flask, login: Login, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    long_summary = "A summary of well over five words, valid under version one."
    started = scenario.draft(0, answers={**GOOD_ANSWERS, "summary": long_summary})
    before = scenario.application(started)
    with sessions() as session:
        app_row = session.get(Application, started)
        assert app_row is not None
        fields_before = applications.form_fields(app_row)
        missing_before = applications.missing_for_submission(app_row)
    assert missing_before == []

    scenario.run(
        lambda s: calls.update_form(s, scenario.people.officer, scenario.call_id, NEW_FORM_YAML)
    )

    with sessions() as session:
        app_row = session.get(Application, started)
        assert app_row is not None
        assert app_row.form_id == before.form_id
        assert applications.form_version(app_row) == 1
        assert applications.form_fields(app_row) == fields_before
        assert applications.missing_for_submission(app_row) == []
    # Saving again validates against version 1: the long summary is still fine.
    owner = scenario.owner(started)
    result = scenario.run(
        lambda s: applications.save_draft(
            s,
            owner,
            started,
            title="Still on version 1",
            requested_amount="8000",
            answers={**GOOD_ANSWERS, "summary": long_summary},
            declaration_signed=True,
        )
    )
    assert result.errors == {}
    applicant = app.test_client()
    login(applicant, scenario.people.emails["applicant0"])
    edit = applicant.get(f"/applications/{started}/edit").get_data(as_text=True)
    assert "Form version 1 of the call" in edit
    assert "Strategic technology targeted" in edit and "Target markets" not in edit

    # An application started now gets version 2, validated by it.
    fresh = scenario.draft(1, answers={"summary": long_summary, "markets": "DE"})
    with sessions() as session:
        new_row = session.get(Application, fresh)
        assert new_row is not None
        assert applications.form_version(new_row) == 2
        missing = applications.missing_for_submission(new_row)
    assert any("Use at most 5 words" in m for m in missing)
    assert any("Germany is not eligible here" in m for m in missing)
    assert "Work packages" in missing

    # And the first one is submitted on its own version.
    scenario.submit(started)
    assert scenario.status(started) == AppState.SUBMITTED


def test_the_form_changes_only_while_the_call_is_a_draft_or_open(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    officer = scenario.people.officer
    now = utcnow().replace(microsecond=0)
    draft_spec = calls.CallSpec(
        reference=f"D-{scenario.tag}",
        title="A call in preparation",
        description="",
        budget=Decimal("50000"),
        max_per_voucher=Decimal("5000"),
        opens_at=now + timedelta(days=5),
        deadline=now + timedelta(days=60),
        form=list(VOUCHER_FORM),
    )
    draft_id = scenario.run(lambda s: calls.create_call(s, officer, draft_spec).id)
    form = scenario.run(lambda s: calls.update_form(s, officer, draft_id, NEW_FORM_YAML))
    assert form.version == 2 and call_row(sessions, draft_id).status == "draft"

    deadline = now + timedelta(days=40)
    closing = scenario.add_call(deadline=deadline)
    scenario.run(
        lambda s: calls.close_call(s, officer, closing, now=deadline + timedelta(seconds=1))
    )
    with pytest.raises(TransitionRefused, match="only change while the call is a draft or open"):
        scenario.run(lambda s: calls.update_form(s, officer, closing, NEW_FORM_YAML))
    assert versions(sessions, closing) == [1]
    with pytest.raises(TransitionRefused, match="may not do this"):
        scenario.run(
            lambda s: calls.update_form(
                s, scenario.people.applicants[0], scenario.call_id, NEW_FORM_YAML
            )
        )


def test_a_call_whose_deadline_has_no_timezone_is_refused_with_a_clear_error(
    scenario: Scenario,
) -> None:
    naive = utcnow().replace(tzinfo=None, microsecond=0) + timedelta(days=60)
    with pytest.raises(ValidationFailed) as refused:
        scenario.add_call(deadline=naive)
    assert "the deadline has no timezone" in refused.value.errors["deadline"]
    assert "opens_at" not in refused.value.errors
