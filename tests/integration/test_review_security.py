"""Review findings: redirects that leave the site, and typed input lost on a refused step."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.scenario import Scenario
from workflows.voucher import AppState

Login = Callable[[FlaskClient, str], None]


@pytest.mark.parametrize("target", ["/%09/evil.example", "/%0a/evil.example", "/%0d/evil.example"])
def test_a_next_address_with_a_control_character_does_not_leave_the_site(
    client: FlaskClient, scenario: Scenario, target: str
) -> None:
    # Browsers drop tabs and line breaks from a Location: "/\t/evil.example" is
    # "//evil.example", another site.
    response = client.post(
        f"/login?next={target}",
        data={"email": scenario.people.emails["applicant0"], "password": Scenario.PASSWORD},
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "evil.example" not in location
    assert location.endswith("/dashboard")


def test_a_refused_acceptance_keeps_the_iban_and_account_holder_typed(
    client: FlaskClient, login: Login, scenario: Scenario
) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.OFFERED)
    login(client, scenario.people.emails["applicant0"])
    # The agreement box is not ticked: the step is refused, and what was typed stays.
    response = client.post(
        f"/applications/{app_id}/accept",
        data={"iban": "IT60X0542811101000000123456", "account_holder": "Holder Typed S.r.l."},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "voucher agreement has not been signed" in body
    assert 'value="IT60X0542811101000000123456"' in body
    assert 'value="Holder Typed S.r.l."' in body
    assert scenario.status(app_id) == AppState.OFFERED


def test_a_refused_final_report_keeps_the_summary_typed(
    client: FlaskClient, login: Login, scenario: Scenario
) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.CONTRACTED)
    login(client, scenario.people.emails["applicant0"])
    summary = "Four engineers trained; the pilot ran in March with the prime contractor."
    response = client.post(
        f"/applications/{app_id}/submit_report",
        data={"summary": summary, "claimed_costs": "0", "subcontracted_costs": "0"},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "final report is incomplete" in body
    assert summary in body
    assert scenario.status(app_id) == AppState.CONTRACTED


def test_the_applicant_gets_the_evaluation_summary_only_once_the_results_are_out(
    client: FlaskClient, login: Login, scenario: Scenario, render_documents: Callable[[], object]
) -> None:
    # The page shows the consensus to the SME only with the result (RESULT_STATES); the
    # Evaluation Summary Report, which carries the same scores, must wait for it too.
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.EVALUATED)
    render_documents()
    esr = next(d for d in scenario.documents_of(app_id) if d.kind == "evaluation_summary_report")
    login(client, scenario.people.emails["applicant0"])
    assert client.get(f"/documents/{esr.id}").status_code == 404
    assert esr.id not in client.get(f"/applications/{app_id}").get_data(as_text=True)

    scenario.rank()
    assert scenario.status(app_id) == AppState.SELECTED
    assert client.get(f"/documents/{esr.id}").status_code == 200
    assert esr.id in client.get(f"/applications/{app_id}").get_data(as_text=True)
