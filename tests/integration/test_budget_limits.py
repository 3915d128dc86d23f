"""Money limits refused inside the step's transaction, each with its reason, and held under
concurrency: offering or promoting beyond the call's budget, the voucher maximum, the SME's
cumulative cap or de minimis headroom; paying beyond the award or the call's budget.

Some limits cannot be crossed through the normal steps (eligibility keeps requests within
the voucher maximum, ranking within the budget); those tests change the call's figures
directly afterwards, as a budget cut or a corrected rule would, and the step must refuse.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from grants.db import utcnow
from grants.models import Application, Call, Organisation
from grants.services import awards, ledger, payments
from tests.integration.test_services_concurrency import assert_chain_ok, one_winner, race
from tests.scenario import Scenario, pending_documents_discarded
from workflows.call_rules import EligibilityRules, eligibility_rules_json
from workflows.errors import TransitionRefused
from workflows.guards import GUARDS
from workflows.voucher import AppState

D = Decimal
HIGH, LOW = ("4.5", "4.5", "4.5"), ("3.5", "3.5", "3.5")


@pytest.fixture(autouse=True)
def _discard_unrendered_documents(sessions: sessionmaker[Session]) -> Iterator[None]:
    with pending_documents_discarded(sessions):
        yield


def set_call(scenario: Scenario, call_id: int, **values: Any) -> None:
    scenario.run(lambda s: s.execute(update(Call).where(Call.id == call_id).values(**values)))


def reason_of(refused: pytest.ExceptionInfo[TransitionRefused], guard: str) -> str:
    """The refusal's reason from ``guard``: its message, with the figures when it gives them."""
    message = GUARDS[guard].message
    found = [r for r in refused.value.reasons if r.startswith(message)]
    assert found, (guard, refused.value.reasons)
    return found[0]


def selected_and_reserves(
    scenario: Scenario, call_id: int, selected: int, reserves: int
) -> tuple[list[int], list[int]]:
    ids = [scenario.draft(i, call_id=call_id) for i in range(selected + reserves)]
    for index, app_id in enumerate(ids):
        scenario.advance(app_id, AppState.EVALUATED, HIGH if index < selected else LOW)
    scenario.rank(call_id)
    assert [scenario.status(a) for a in ids] == [AppState.SELECTED] * selected + [
        AppState.RESERVE
    ] * reserves
    return ids[:selected], ids[selected:]


def remaining(scenario: Scenario, call_id: int) -> Decimal:
    def read(session: Session) -> Decimal:
        call = session.get(Call, call_id)
        assert call is not None
        return awards.budget_remaining(session, call)

    return scenario.run(read)


# -- each limit, with its reason ------------------------------------------------------------


def test_an_offer_beyond_the_call_budget_is_refused(sessions: sessionmaker[Session]) -> None:
    scenario = Scenario(sessions, smes=2)
    call_id = scenario.add_call(budget=D("16000.00"))
    (first, second), _ = selected_and_reserves(scenario, call_id, 2, 0)
    set_call(scenario, call_id, budget=D("12000.00"))  # the budget was cut after ranking
    officer = scenario.people.officer
    # Over-committed: neither offer goes out while the other selected voucher holds 8,000.
    for app_id in (first, second):
        with pytest.raises(TransitionRefused) as refused:
            scenario.run(lambda s, a=app_id: awards.offer(s, officer, a))
        assert GUARDS["budget_available"].message in refused.value.reasons
        assert scenario.status(app_id) == AppState.SELECTED
    scenario.run(lambda s: awards.exclude(s, officer, second, reason="Double funding."))
    scenario.run(lambda s: awards.offer(s, officer, first))  # 8,000 of 12,000: fits now
    assert scenario.status(first) == AppState.OFFERED


def test_an_offer_above_the_voucher_maximum_is_refused(sessions: sessionmaker[Session]) -> None:
    scenario = Scenario(sessions, smes=1)
    (app_id,), _ = selected_and_reserves(scenario, scenario.call_id, 1, 0)
    set_call(scenario, scenario.call_id, max_per_voucher=D("7999.99"))
    with pytest.raises(TransitionRefused) as refused:
        scenario.run(lambda s: awards.offer(s, scenario.people.officer, app_id))
    reason = reason_of(refused, "within_voucher_maximum")
    assert "8,000.00" in reason and "7,999.99" in reason
    assert scenario.status(app_id) == AppState.SELECTED


def test_a_promotion_beyond_the_smes_cumulative_cap_is_refused_and_passed_over(
    sessions: sessionmaker[Session],
) -> None:
    """The reserve's SME already holds a voucher of another call: promoting it would break
    its cap. Refused by hand; passed over (not refusing the decline) when budget frees up."""
    cap = D("10000.00")
    scenario = Scenario(sessions, smes=3, cumulative_cap=cap)
    call_id = scenario.add_call(
        budget=D("8000.00"), max_per_voucher=D("8000.00"), cumulative_cap=cap
    )
    other_call = scenario.add_call(cumulative_cap=cap)
    # SME 0 selected; SMEs 1 and 2 on the reserve list, in that order.
    ids = [scenario.draft(i, call_id=call_id) for i in range(3)]
    for app_id, scores in zip(ids, (HIGH, ("4", "4", "4"), LOW), strict=True):
        scenario.advance(app_id, AppState.EVALUATED, scores)
    scenario.rank(call_id)
    selected, capped, next_in_line = ids
    # SME 1 wins 8,000 in the other call: 8,000 more would take it to 16,000 > 10,000.
    elsewhere = scenario.draft(1, call_id=other_call)
    scenario.advance(elsewhere, AppState.OFFERED)
    officer = scenario.people.officer
    scenario.run(lambda s: awards.exclude(s, officer, selected, reason="Double funding."))
    # The exclusion freed 8,000: SME 1 is passed over, SME 2 promoted.
    assert scenario.status(capped) == AppState.RESERVE
    assert scenario.status(next_in_line) == AppState.SELECTED
    set_call(scenario, call_id, budget=D("16000.00"))  # a top-up: room for SME 1 again
    with pytest.raises(TransitionRefused) as refused:
        scenario.run(lambda s: awards.promote(s, officer, capped))
    assert GUARDS["within_cumulative_cap"].message in refused.value.reasons
    assert scenario.status(capped) == AppState.RESERVE


def test_an_offer_beyond_the_de_minimis_headroom_is_refused(
    sessions: sessionmaker[Session],
) -> None:
    scenario = Scenario(sessions, smes=1)
    rules = eligibility_rules_json(EligibilityRules(de_minimis_check=True))
    call_id = scenario.add_call(eligibility_rules=rules)
    (app_id,), _ = selected_and_reserves(scenario, call_id, 1, 0)
    # Since submission the SME declared aid granted last month: 295,000 of 300,000 used.
    granted = (utcnow() - timedelta(days=30)).date().isoformat()
    org_id = scenario.application(app_id).organisation_id
    scenario.run(
        lambda s: s.execute(
            update(Organisation)
            .where(Organisation.id == org_id)
            .values(
                de_minimis_aid=[
                    {"amount": "295000.00", "granted_on": granted, "granting_body": "Region"}
                ]
            )
        )
    )
    with pytest.raises(TransitionRefused) as refused:
        scenario.run(lambda s: awards.offer(s, scenario.people.officer, app_id))
    reason = reason_of(refused, "within_de_minimis_headroom")
    assert "295,000.00" in reason and "headroom" in reason and "5,000.00" in reason
    assert scenario.status(app_id) == AppState.SELECTED


def test_a_payment_beyond_the_call_budget_is_refused(sessions: sessionmaker[Session]) -> None:
    scenario = Scenario(sessions, smes=2)
    call_id = scenario.add_call(budget=D("16000.00"))
    (first, second), _ = selected_and_reserves(scenario, call_id, 2, 0)
    for app_id in (first, second):
        scenario.advance(app_id, AppState.CONTRACTED)
    scenario.prefinancing(first)  # 4,000 paid
    set_call(scenario, call_id, budget=D("7000.00"))  # cut: 3,000 left to pay
    with pytest.raises(TransitionRefused) as refused:
        scenario.prefinancing(second)
    reason = reason_of(refused, "payment_within_call_budget")
    assert "4,000.00" in reason and "7,000.00" in reason
    assert scenario.payments_of(second) == []
    # The balance step is refused the same way, and creates no payment row.
    scenario.advance(first, AppState.REPORT_APPROVED)
    with pytest.raises(TransitionRefused) as refused:
        scenario.run(lambda s: payments.prepare_payment(s, scenario.people.finance[0], first))
    reason_of(refused, "payment_within_call_budget")
    assert scenario.status(first) == AppState.REPORT_APPROVED
    assert len(scenario.payments_of(first)) == 1


def test_a_payment_beyond_the_award_is_refused(sessions: sessionmaker[Session]) -> None:
    """The steps compute instalments within the award (a balance is capped by it); the limit
    is the backstop every payment order is checked against, with its figures."""
    scenario = Scenario(sessions, smes=1)
    (app_id,), _ = selected_and_reserves(scenario, scenario.call_id, 1, 0)
    scenario.advance(app_id, AppState.CONTRACTED)
    scenario.prefinancing(app_id)  # 4,000 of 8,000 paid

    def pay(amount: str) -> None:
        def check(session: Session) -> None:
            app = session.get(Application, app_id)
            assert app is not None
            ledger.refuse_payment_beyond_limits(session, None, app.call, app, D(amount))

        scenario.run(check)

    pay("4000.00")  # exactly the rest of the award
    with pytest.raises(TransitionRefused) as refused:
        pay("4000.01")
    reason = reason_of(refused, "payment_within_award")
    assert "4,000.01" in reason and "8,000.00" in reason


# -- under concurrency --------------------------------------------------------------------


ROUNDS = 3


def test_two_promotions_at_once_never_exceed_the_call_budget(
    sessions: sessionmaker[Session],
) -> None:
    """Two officers promote two different reserves at the same moment; the call has room for
    one: one is promoted, the other refused for the budget, never both."""
    for _ in range(ROUNDS):
        scenario = Scenario(sessions, smes=3)
        call_id = scenario.add_call(budget=D("8000.00"), max_per_voucher=D("8000.00"))
        _, reserves = selected_and_reserves(scenario, call_id, 1, 2)
        set_call(scenario, call_id, budget=D("16000.00"))  # a top-up: room for one more
        officer = scenario.people.officer
        attempts = race(
            sessions,
            [lambda s, a=app_id, o=officer: awards.promote(s, o, a) for app_id in reserves],
        )
        winner = one_winner(attempts)
        loser = attempts[1 - winner.index]
        assert isinstance(loser.error, TransitionRefused)
        assert GUARDS["budget_available"].message in loser.error.reasons
        assert [scenario.status(a) for a in reserves].count(AppState.SELECTED) == 1
        assert remaining(scenario, call_id) == 0
        assert_chain_ok(sessions)


def test_a_decline_and_a_promotion_at_once_never_exceed_the_call_budget(
    sessions: sessionmaker[Session],
) -> None:
    """An SME declines (its budget promotes the first reserve automatically) while an officer
    promotes the second reserve by hand: the freed 8,000 goes to exactly one of them."""
    for _ in range(ROUNDS):
        scenario = Scenario(sessions, smes=3)
        call_id = scenario.add_call(budget=D("8000.00"), max_per_voucher=D("8000.00"))
        (chosen,), reserves = selected_and_reserves(scenario, call_id, 1, 2)
        officer = scenario.people.officer
        scenario.run(lambda s, a=chosen, o=officer: awards.offer(s, o, a))
        owner = scenario.owner(chosen)
        attempts = race(
            sessions,
            [
                lambda s, a=chosen, w=owner: awards.decline(s, w, a, reason="No provider."),
                lambda s, a=reserves[1], o=officer: awards.promote(s, o, a),
            ],
        )
        declined, promoted = attempts
        assert declined.ok, repr(declined.error)
        if not promoted.ok:  # the promotion came first and found no budget
            assert isinstance(promoted.error, TransitionRefused), repr(promoted.error)
        statuses = [scenario.status(a) for a in reserves]
        assert statuses.count(AppState.SELECTED) == 1, statuses
        assert remaining(scenario, call_id) == 0
        assert_chain_ok(sessions)
