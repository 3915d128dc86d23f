"""An officer excludes a selected or offered SME that does not qualify after all (double
funding found, a false declaration): the SME gets the notice with the reasons, and the budget
goes to the first reserve that fits, at once."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from grants.services import awards
from tests.scenario import Scenario
from workflows.errors import TransitionRefused
from workflows.voucher import AppState

Login = Callable[[FlaskClient, str], None]


def one_voucher_and_a_reserve(sessions: sessionmaker[Session]) -> tuple[Scenario, int, int]:
    scenario = Scenario(sessions, smes=3, budget=Decimal("10000.00"))
    first, second = scenario.draft(0), scenario.draft(1)
    scenario.advance(first, AppState.EVALUATED, ("5", "5", "5"))
    scenario.advance(second, AppState.EVALUATED, ("4", "4", "4"))
    scenario.rank()
    assert (scenario.status(first), scenario.status(second)) == (
        AppState.SELECTED,
        AppState.RESERVE,
    )
    return scenario, first, second


def test_an_exclusion_releases_the_budget_to_the_reserve_list(
    sessions: sessionmaker[Session],
) -> None:
    scenario, first, second = one_voucher_and_a_reserve(sessions)
    officer = scenario.people.officer
    with pytest.raises(TransitionRefused, match="reason"):
        scenario.run(lambda s: awards.exclude(s, officer, first, reason="  "))
    owner = scenario.owner(first)
    with pytest.raises(TransitionRefused):
        scenario.run(lambda s: awards.exclude(s, owner, first, reason="Not me."))
    assert scenario.status(first) == AppState.SELECTED

    scenario.run(
        lambda s: awards.exclude(s, officer, first, reason="The same training is funded twice.")
    )
    assert scenario.status(first) == AppState.EXCLUDED
    assert scenario.status(second) == AppState.SELECTED  # promoted by the system at once
    promotion = [e for e in scenario.events_of(second) if e.action == "promote"][-1]
    assert promotion.after["automatic"] is True
    assert promotion.after["cause"] == f"{scenario.application(first).reference} was excluded"
    kinds = [d.kind for d in scenario.documents_of(first)]
    assert "exclusion_notice" in kinds


def test_an_offered_sme_can_be_excluded_from_its_page(
    app: Flask, login: Login, sessions: sessionmaker[Session]
) -> None:
    scenario, first, _second = one_voucher_and_a_reserve(sessions)
    scenario.advance(first, AppState.OFFERED)
    officer = app.test_client()
    login(officer, scenario.people.emails["officer"])
    page = officer.get(f"/applications/{first}").get_data(as_text=True)
    assert "Exclude from the selection" in page and 'data-confirm="Exclude this application' in (
        page
    )
    done = officer.post(
        f"/applications/{first}/exclude",
        data={"reason": "A false declaration on the staff count."},
        follow_redirects=True,
    )
    assert "Excluded from the selection" in done.get_data(as_text=True)
    assert scenario.status(first) == AppState.EXCLUDED
