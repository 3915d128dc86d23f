"""The internationalisation voucher's form in the browser: target markets outside the EU chosen
in country dropdowns, kept in drafts (refused ones too, named in the error), and shown by name
on the application and its submission receipt."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from forms.defaults import INTERNATIONALISATION_FORM
from grants.models import Application, Call
from tests.scenario import Scenario, form_data
from workflows.voucher import AppState

Login = Callable[[FlaskClient, str], None]

# A complete application to the internationalisation call, as the form posts it.
ANSWERS: dict[str, Any] = {
    "summary": "We will meet navies and shipyards in China and Brazil with an export "
    "consultancy, to sell our hull-mounted sonar retrofit kits.",
    "market_analysis": "Both countries are renewing their coastal patrol fleets; our kits fit "
    "the hulls they operate. Export licences are needed for both; we hold one for Brazil.",
    "market_entry_plan": "M1-M2: market study by the provider. M3: stand at LAAD in Rio. "
    "M4-M6: follow-up meetings and two offers.",
    "service_provider": "Export Naval Consulting S.r.l.",
    "provider_country": "IT",
    "provider_expertise": "Twelve defence export projects in South America and Asia since "
    "2015; offices in Sao Paulo and Shanghai; references on request.",
    "expected_results": "Twenty qualified meetings, two offers submitted, one local agent.",
    "start_date": "2027-02-01",
    "end_date": "2027-07-31",
    "budget_lines": [
        {"item": "Market study", "category": "Market study", "cost": "1200"},
        {"item": "Stand at LAAD", "category": "Trade fair or business mission", "cost": "800"},
    ],
    "no_double_funding": True,
}


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def version_on(page: str) -> str:
    match = re.search(r'name="version" value="(\d+)"', page)
    assert match, "the draft form carries the version it was loaded at"
    return match.group(1)


def markets_fieldset(page: str) -> str:
    """The target markets' part of the edit page."""
    return page.split('id="target_markets-fieldset"')[1].split("</fieldset>")[0]


def chosen_markets(page: str) -> list[str]:
    return re.findall(r'<option value="([A-Z]{2})" selected>', markets_fieldset(page))


def post_form(version: str, markets: list[str], **answers: Any) -> dict[str, Any]:
    """The draft form as a browser posts it: every one of the five market dropdowns, the
    ones left at "none" as blanks."""
    data = form_data(answers)
    data.update(
        title="Sonar retrofit kits for China and Brazil",
        requested_amount="2000",
        declaration_signed="yes",
        version=version,
        target_markets=markets + [""] * (5 - len(markets)),
    )
    return data


def stored_answers(sessions: sessionmaker[Session], app_id: int) -> dict[str, Any]:
    with sessions() as session:
        application = session.get(Application, app_id)
        assert application is not None
        return dict(application.answers or {})


def test_markets_outside_the_eu_are_chosen_kept_and_shown_by_name(
    app: Flask, login: Login, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    call_id = scenario.add_call(
        form=list(INTERNATIONALISATION_FORM), max_per_voucher=Decimal("2000.00")
    )
    app_id = scenario.draft(call_id=call_id, amount="2000.00", answers={}, sign=False)
    client = app.test_client()
    login(client, scenario.people.emails["applicant0"])
    url = f"/applications/{app_id}/edit"

    # Five empty country dropdowns, none of them offering an EU country.
    page = html(client.get(url))
    markets = markets_fieldset(page)
    assert markets.count('name="target_markets"') == 5
    assert markets.count('<option value="">— none —</option>') == 5
    assert 'value="CN"' in markets and 'value="BR"' in markets
    assert 'value="DE"' not in markets and 'value="FR"' not in markets

    # Germany and China: saved as chosen, Germany refused by name, both still on the page.
    response = client.post(
        url, data=post_form(version_on(page), ["DE", "CN"], summary=ANSWERS["summary"])
    )
    assert response.status_code == 422
    page = html(response)
    assert "Germany is in the EU: choose countries outside the EU." in page
    assert chosen_markets(page) == ["DE", "CN"]
    assert "Germany (not eligible)" in markets_fieldset(page)
    saved = stored_answers(sessions, app_id)
    assert saved["target_markets"] == ["DE", "CN"]
    assert saved["summary"] == ANSWERS["summary"]

    # The saved draft, opened again, shows both as well.
    page = html(client.get(url))
    assert chosen_markets(page) == ["DE", "CN"]

    # China and Brazil with the other answers: saved, then submitted.
    response = client.post(url, data=post_form(version_on(page), ["CN", "BR"], **ANSWERS))
    assert response.status_code == 302, html(response)
    assert stored_answers(sessions, app_id)["target_markets"] == ["CN", "BR"]
    response = client.post(
        f"/applications/{app_id}/submit", data={"submission_token": f"intl-{scenario.tag}"}
    )
    assert response.status_code == 302
    assert scenario.status(app_id) == AppState.SUBMITTED

    (receipt,) = [d for d in scenario.documents_of(app_id) if d.kind == "submission_receipt"]
    shown = {row["label"]: row["value"] for row in receipt.snapshot["details"]["answers"]}
    assert shown["Target markets outside the EU"] == "China (CN); Brazil (BR)"
    page = html(client.get(f"/applications/{app_id}"))
    assert "China (CN); Brazil (BR)" in page


MARKETS_YAML = """\
- name: markets
  label: Target markets
  type: country_list
  exclude_countries: EU
  min_choices: 1
  max_choices: 3
- name: elsewhere
  label: Elsewhere
  type: country_list
  exclude_countries: [EU, XX]
"""


def test_the_form_editor_takes_a_country_list_and_writes_the_eu_by_name(
    app: Flask, login: Login, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    client = app.test_client()
    login(client, scenario.people.emails["officer"])
    url = f"/calls/{scenario.call_id}/form"
    page = html(client.get(url))
    assert "country_list" in page and "exclude_countries: [EU]" in page  # documented

    # An unknown code is refused at once, with the field and the code named.
    refused = client.post(url, data={"definition": MARKETS_YAML, "action": "preview"})
    assert refused.status_code == 422
    assert (
        "field 2 (&#39;elsewhere&#39;): &#39;XX&#39; is not an ISO 3166-1 alpha-2 country "
        "code or a set of countries (EU)" in html(refused)
    )

    definition = MARKETS_YAML.split("- name: elsewhere")[0]
    preview = html(client.post(url, data={"definition": definition, "action": "preview"}))
    assert preview.count('name="markets"') == 3  # one dropdown per country, up to max_choices
    markets = preview.split('id="preview-markets-fieldset"')[1].split("</fieldset>")[0]
    assert 'value="BR"' in markets and 'value="DE"' not in markets

    saved = client.post(url, data={"definition": definition, "action": "save"})
    assert saved.status_code == 302
    with sessions() as session:
        call = session.get(Call, scenario.call_id)
        assert call is not None
        assert call.form == [
            {
                "name": "markets",
                "label": "Target markets",
                "type": "country_list",
                "min_choices": 1,
                "max_choices": 3,
                "exclude_countries": ["EU"],
            }
        ]
    assert "exclude_countries:\n  - EU" in html(client.get(url))
