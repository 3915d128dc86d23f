"""The rules a call sets are the rules its applications meet: the reserve held back from
ranking, the divergence limit, and the optional eligibility checks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from grants.db import utcnow
from grants.models import Application
from grants.services import eligibility, evaluation, payments, reporting
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


def test_a_call_with_the_de_minimis_check_refuses_an_sme_without_headroom(
    scenario: Scenario,
) -> None:
    checked = scenario.add_call(
        eligibility_rules={"de_minimis_check": True, "de_minimis_ceiling": "300000"}
    )
    recent = (utcnow() - timedelta(days=200)).date().isoformat()
    aid = [{"granting_authority": "Invitalia", "amount": "295000.00", "granted_on": recent}]

    def declare(session: Session) -> None:
        app = session.get_one(Application, full)
        app.organisation.de_minimis_aid = aid

    full = scenario.draft(0, call_id=checked)
    scenario.run(declare)
    scenario.submit(full)
    scenario.check_eligibility(full)
    assert scenario.status(full) == AppState.INELIGIBLE
    check = next(
        c for c in scenario.application(full).eligibility["checks"] if c["key"] == "de_minimis"
    )
    assert not check["passed"]
    assert "EUR 295,000.00 of de minimis aid" in check["evidence"]
    assert "EUR 303,000.00, above the ceiling of EUR 300,000.00" in check["evidence"]

    room = scenario.draft(1, call_id=checked)  # declared no aid
    scenario.submit(room)
    scenario.check_eligibility(room)
    assert scenario.status(room) == AppState.ELIGIBLE
    # Calls without the check do not show it at all.
    usual = scenario.draft(2)
    scenario.submit(usual)
    assert "de_minimis" not in [c["key"] for c in scenario.run(lambda s: _proposed(s, usual))]


def test_a_lump_sum_voucher_pays_the_award_once_the_work_is_accepted(
    scenario: Scenario, client: FlaskClient, login: Callable[[FlaskClient, str], None]
) -> None:
    lump = scenario.add_call(cost_basis="lump_sum")
    app_id = scenario.draft(0, call_id=lump)
    scenario.advance(app_id, AppState.CONTRACTED)
    scenario.prefinancing(app_id)  # 50 % of the EUR 8,000 award
    scenario.run(
        lambda s: reporting.submit_report(
            s, scenario.owner(app_id), app_id, summary="Fair attended.", claimed_costs="5000.00"
        )
    )
    login(client, scenario.people.emails["officer"])
    page = client.get(f"/applications/{app_id}").get_data(as_text=True)
    assert "This voucher is a lump sum of EUR 8,000.00" in page
    assert 'name="approved_costs"' not in page
    scenario.run(
        lambda s: reporting.approve_report(
            s, scenario.people.officer, app_id, approved_costs="", comments="delivered"
        )
    )
    assert scenario.status(app_id) == AppState.REPORT_APPROVED
    scenario.advance(app_id, AppState.PAID)
    balance = scenario.payments_of(app_id)[-1]
    # Costs of 5,000 would have paid 1,000 more; the lump sum pays the award: 8,000 - 4,000.
    assert balance.amount == Decimal("4000.00")
    assert sum(p.amount for p in scenario.payments_of(app_id)) == Decimal("8000.00")


def test_a_lump_sum_terminated_before_the_work_is_accepted_recovers_what_was_paid(
    scenario: Scenario,
) -> None:
    lump = scenario.add_call(cost_basis="lump_sum")
    app_id = scenario.draft(0, call_id=lump)
    scenario.advance(app_id, AppState.CONTRACTED)
    scenario.prefinancing(app_id)
    scenario.run(
        lambda s: payments.terminate(s, scenario.people.officer, app_id, reason="no delivery")
    )
    terminated = scenario.application(app_id)
    assert terminated.status == AppState.TERMINATED
    assert terminated.awarded_amount == Decimal("0.00")  # all 4,000 paid is to be recovered


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


def test_the_call_page_says_how_the_voucher_is_paid_and_which_rules_apply(
    scenario: Scenario, client: FlaskClient
) -> None:
    cutoff = (utcnow() + timedelta(days=20)).replace(hour=15, minute=0, second=0, microsecond=0)
    call_id = scenario.add_call(
        cost_basis="lump_sum",
        cutoffs=[cutoff],
        timezone="Europe/Zagreb",
        eligibility_rules={"de_minimis_check": True, "min_registration_months": 12},
    )
    page = client.get(f"/calls/{call_id}").get_data(as_text=True)
    assert "A lump sum: the amount awarded" in page and "of eligible costs" not in page
    assert "Cut-off dates (Europe/Zagreb)" in page
    assert f"{cutoff.astimezone(ZoneInfo('Europe/Zagreb')):%Y-%m-%d %H:%M}" in page
    assert "registered at least 12 months before the deadline" in page
    assert "plus this voucher within EUR 300,000.00" in page

    usual = client.get(f"/calls/{scenario.call_id}").get_data(as_text=True)
    assert "100% of eligible costs" in usual and "Cut-off dates" not in usual
    assert "de minimis" not in usual
