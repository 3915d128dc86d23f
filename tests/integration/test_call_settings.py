"""The rules a call sets are the rules its applications meet: the reserve held back from
ranking, the divergence limit, and the optional eligibility checks."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from grants.models import Application
from grants.services import eligibility, evaluation
from tests.scenario import Scenario
from workflows.voucher import AppState


def evaluated(scenario: Scenario, call_id: int, sme: int = 0) -> int:
    app_id = scenario.draft(sme, call_id=call_id)
    scenario.submit(app_id)
    scenario.check_eligibility(app_id)
    scenario.assign(app_id)
    for expert in scenario.people.evaluators[:2]:
        scenario.score(app_id, expert, ("4", "4", "4"))
    scenario.close_evaluation(app_id, ("4", "4", "4"))
    return app_id


def test_ranking_never_spends_the_reserve_held_back_for_a_later_call(scenario: Scenario) -> None:
    held_back = scenario.add_call(budget=Decimal("20000"), reserve=Decimal("13000"))
    first, second = evaluated(scenario, held_back, 0), evaluated(scenario, held_back, 1)
    scenario.rank(held_back)
    # 7,000 left after the reserve: neither 8,000 voucher fits, both wait on the reserve list.
    assert {scenario.status(first), scenario.status(second)} == {AppState.RESERVE}

    spent = scenario.add_call(budget=Decimal("20000"))
    funded = evaluated(scenario, spent, 2)
    scenario.rank(spent)
    assert scenario.status(funded) == AppState.SELECTED


def test_the_divergence_limit_is_the_calls(scenario: Scenario) -> None:
    strict = scenario.add_call(divergence_limit=Decimal("0.5"))
    app_id = scenario.draft(call_id=strict)
    scenario.submit(app_id)
    scenario.check_eligibility(app_id)
    scenario.assign(app_id)
    first, second = scenario.people.evaluators[:2]
    scenario.score(app_id, first, ("4", "4", "4"))
    scenario.score(app_id, second, ("4", "3.5", "4"))
    consensus = scenario.run(
        lambda s: evaluation.close_evaluation(
            s,
            scenario.people.officer,
            app_id,
            scores={"excellence": "4", "impact": "4", "implementation": "4"},
            comments={"excellence": "ok", "impact": "ok", "implementation": "ok"},
        )
    )
    assert consensus is not None
    # Half a point apart is flagged on this call (the default limit is 2 points).
    assert scenario.application(app_id).consensus["divergences"] == [
        "Impact: experts differ by 0.5 points"
    ]


def test_a_call_may_leave_out_the_registration_age_and_partner_checks(
    scenario: Scenario,
) -> None:
    lenient = scenario.add_call(
        eligibility_rules={"min_registration_months": None, "partner_exclusion": False}
    )
    app_id = scenario.draft(call_id=lenient)
    scenario.submit(app_id)
    keys = [c["key"] for c in scenario.run(lambda s: _proposed(s, app_id))]
    assert "registration" not in keys and "not_partner" not in keys
    assert "country" in keys

    usual = scenario.draft(1)
    scenario.submit(usual)
    keys = [c["key"] for c in scenario.run(lambda s: _proposed(s, usual))]
    assert "registration" in keys and "not_partner" in keys


def _proposed(session: Session, app_id: int) -> list[dict[str, Any]]:
    application = session.get(Application, app_id)
    assert application is not None
    return eligibility.proposed_checks(application)


def test_the_call_page_shows_the_voucher_type_and_the_reserve(
    scenario: Scenario, client: FlaskClient
) -> None:
    call_id = scenario.add_call(
        budget=Decimal("50000"),
        reserve=Decimal("10000"),
        voucher_type="internationalisation",
    )
    page = client.get(f"/calls/{call_id}").get_data(as_text=True)
    assert "Internationalisation" in page
    assert "of which EUR 10,000.00 held back for a later call" in page
