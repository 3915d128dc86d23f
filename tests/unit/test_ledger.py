"""The ledger's arithmetic: where each euro of a call is."""

from __future__ import annotations

from decimal import Decimal

from workflows.ledger import Cause, VoucherMoney, figures, termination_release, within

D = Decimal


def test_a_voucher_holds_its_unpaid_award_and_what_was_paid_less_repayments() -> None:
    running = VoucherMoney(award=D("8000.00"), paid=D("4000.00"))
    assert (running.committed, running.paid_net, running.held) == (
        D("4000.00"),
        D("4000.00"),
        D("8000.00"),
    )
    # Terminated: the award shrank to paid - recovery (3,000); 1,000 is owed, 400 repaid.
    terminated = VoucherMoney(award=D("3000.00"), paid=D("4000.00"), repaid=D("400.00"))
    assert (terminated.committed, terminated.paid_net) == (D("0.00"), D("3600.00"))


def test_the_figures_add_up_to_the_budget() -> None:
    found = figures(
        D("48000"),
        D("8000"),
        [VoucherMoney(D("8000"), D("0")), VoucherMoney(D("6000"), D("6000"))],
        [(Cause.DECLINE, D("8000")), (Cause.CLOSURE, D("2000")), (Cause.DECLINE, D("1.5"))],
    )
    assert found.available == D("26000.00")
    assert found.budget == found.held_back + found.available + found.committed + found.paid
    assert found.released_by(Cause.DECLINE) == D("8001.50")
    assert found.released_by(Cause.RECOVERY) == D("0.00")
    assert found.released_total == D("10001.50")


def test_termination_releases_what_was_never_paid_and_limits_are_inclusive() -> None:
    assert termination_release(D("8000"), D("4000")) == D("4000.00")
    assert termination_release(D("3000"), D("4000")) == D("0.00")
    assert within(D("4000.00"), D("4000.00"), D("8000.00"))
    assert not within(D("4000.01"), D("4000.00"), D("8000.00"))
