"""What a call's budget holds as vouchers move, including when an agreement is terminated."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from grants.db import utcnow
from grants.models import Call
from grants.services import awards, payments, recoveries, reporting
from tests.scenario import Scenario
from workflows.voucher import AppState


def _remaining(scenario: Scenario) -> Decimal:
    def read(session: Session) -> Decimal:
        call = session.get(Call, scenario.call_id)
        assert call is not None
        return awards.budget_remaining(session, call)

    return scenario.run(read)


def _repay(scenario: Scenario, app_id: int, amount: str) -> None:
    """Finance records the SME's repayment of its (single) recovery order."""
    finance = scenario.people.finance[0]

    def repay(session: Session) -> None:
        (order,) = recoveries.orders_of(session, app_id)
        recoveries.record_repayment(
            session,
            finance,
            order.id,
            amount=amount,
            received_on=utcnow().date().isoformat(),
            bank_reference=f"SEPA-BACK-{app_id}",
        )

    scenario.run(repay)


def test_a_terminated_voucher_gives_back_all_it_did_not_justify(scenario: Scenario) -> None:
    start = _remaining(scenario)
    app_id = scenario.draft()  # EUR 8,000 requested
    scenario.advance(app_id, AppState.CONTRACTED)
    assert _remaining(scenario) == start - Decimal("8000.00")
    scenario.prefinancing(app_id)  # EUR 4,000 paid at signature

    officer = scenario.people.officer
    scenario.run(lambda s: payments.terminate(s, officer, app_id, reason="SME in liquidation"))

    # Nothing justified the pre-financing: it is all to be recovered. What was never paid
    # goes back to the call now; the EUR 4,000 paid comes back when it is repaid.
    app = scenario.application(app_id)
    assert app.status == AppState.TERMINATED
    assert app.awarded_amount == Decimal("0.00")
    assert _remaining(scenario) == start - Decimal("4000.00")
    _repay(scenario, app_id, "4000.00")
    assert _remaining(scenario) == start


def test_a_terminated_voucher_keeps_what_its_approved_costs_justify(scenario: Scenario) -> None:
    start = _remaining(scenario)
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.CONTRACTED)
    scenario.prefinancing(app_id)  # EUR 4,000 paid
    owner, officer = scenario.owner(app_id), scenario.people.officer
    scenario.run(
        lambda s: reporting.submit_report(
            s, owner, app_id, summary="Half the training delivered.", claimed_costs="3000.00"
        )
    )
    scenario.run(
        lambda s: reporting.approve_report(
            s, officer, app_id, approved_costs="3000.00", comments="Partial delivery."
        )
    )
    scenario.run(lambda s: payments.terminate(s, officer, app_id, reason="Provider went bankrupt"))

    # EUR 3,000 is justified and kept; EUR 1,000 is to be recovered; the EUR 4,000 never
    # paid returns to the call now, the EUR 1,000 once repaid.
    assert scenario.application(app_id).awarded_amount == Decimal("3000.00")
    assert _remaining(scenario) == start - Decimal("4000.00")
    _repay(scenario, app_id, "1000.00")
    assert _remaining(scenario) == start - Decimal("3000.00")
