"""Two people press the same button at the same moment: exactly one step happens.

Each thread has its own session and transaction, as two web requests would; a barrier
releases them together. The loser must get TransitionRefused (a message a person can act
on), never a raw database error, and the audit chain must stay one unbroken line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from grants.db import unit_of_work
from grants.models import Instalment
from grants.services import applications, awards, payments
from grants.services.actor import Actor
from grants.services.audit import verify_chain
from tests.scenario import Scenario, pending_documents_discarded
from workflows.errors import TransitionRefused
from workflows.payment import PaymentState
from workflows.voucher import AppState

ROUNDS = 3


@pytest.fixture(autouse=True)
def _discard_unrendered_documents(sessions: sessionmaker[Session]) -> Iterator[None]:
    with pending_documents_discarded(sessions):
        yield


@dataclass
class Attempt:
    index: int
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def race(
    sessions: sessionmaker[Session], actions: Sequence[Callable[[Session], Any]]
) -> list[Attempt]:
    """Run each action in its own thread and transaction, all released at the same moment."""
    barrier = threading.Barrier(len(actions))
    attempts = [Attempt(i) for i in range(len(actions))]

    def run(attempt: Attempt, action: Callable[[Session], Any]) -> None:
        try:
            with unit_of_work(sessions) as session:
                barrier.wait(timeout=10)  # no connection is used before this point
                action(session)
        except BaseException as exc:
            attempt.error = exc

    threads = [
        threading.Thread(target=run, args=(attempt, action), name=f"race-{attempt.index}")
        for attempt, action in zip(attempts, actions, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a racing transaction never finished (deadlock?)"
    return attempts


def one_winner(attempts: list[Attempt]) -> Attempt:
    winners = [a for a in attempts if a.ok]
    losers = [a for a in attempts if not a.ok]
    assert len(winners) == 1, [repr(a.error) for a in losers]
    for loser in losers:
        # Not sqlalchemy.exc.OperationalError / IntegrityError / StaleDataError.
        assert isinstance(loser.error, TransitionRefused), repr(loser.error)
    return winners[0]


def events(scenario: Scenario, app_id: int, action: str) -> list[tuple[str, str]]:
    return [(e.entity_type, e.actor_name) for e in scenario.events_of(app_id) if e.action == action]


def kinds(scenario: Scenario, app_id: int, kind: str) -> int:
    return sum(d.kind == kind for d in scenario.documents_of(app_id))


def assert_chain_ok(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        report = verify_chain(session)
    assert report.ok, report


def test_two_submissions_of_one_draft_make_one_submission(
    sessions: sessionmaker[Session],
) -> None:
    scenario = Scenario(sessions, smes=ROUNDS)
    for sme in range(ROUNDS):
        app_id = scenario.draft(sme)
        owner = scenario.owner(app_id)
        attempts = race(
            sessions,
            [lambda s, o=owner, a=app_id: applications.submit(s, o, a) for _ in range(2)],
        )
        one_winner(attempts)
        app = scenario.application(app_id)
        assert app.status == AppState.SUBMITTED and app.version == 3  # create, save, submit
        assert len(events(scenario, app_id, "submit")) == 1
        assert kinds(scenario, app_id, "submission_receipt") == 1
        assert_chain_ok(sessions)


def test_a_balance_marked_paid_twice_at_once_is_paid_once(sessions: sessionmaker[Session]) -> None:
    scenario = Scenario(sessions, smes=ROUNDS)
    f1, f2 = scenario.people.finance
    for sme in range(ROUNDS):
        app_id = scenario.draft(sme)
        scenario.advance(app_id, AppState.PAYMENT_AUTHORISED)
        actors: list[Actor] = [f1, f2]
        attempts = race(
            sessions,
            [
                lambda s, a=actor, i=i, app=app_id: payments.mark_paid(
                    s, a, app, payment_reference=f"SEPA-RACE-{i}"
                )
                for i, actor in enumerate(actors)
            ],
        )
        winner = one_winner(attempts)
        assert scenario.status(app_id) == AppState.PAID
        (balance,) = scenario.payments_of(app_id)
        assert balance.status == PaymentState.PAID
        assert balance.payment_reference == f"SEPA-RACE-{winner.index}"
        assert balance.paid_by_id == actors[winner.index].user_id
        assert sorted(t for t, _ in events(scenario, app_id, "mark_paid")) == [
            "application",
            "payment",
        ]
        assert kinds(scenario, app_id, "remittance_advice") == 1
        assert_chain_ok(sessions)


def test_two_finance_officers_preparing_the_balance_make_one_order(
    sessions: sessionmaker[Session],
) -> None:
    scenario = Scenario(sessions, smes=ROUNDS)
    f1, f2 = scenario.people.finance
    for sme in range(ROUNDS):
        app_id = scenario.draft(sme)
        scenario.advance(app_id, AppState.REPORT_APPROVED)
        actors: list[Actor] = [f1, f2]
        attempts = race(
            sessions,
            [lambda s, a=a, app=app_id: payments.prepare_payment(s, a, app) for a in actors],
        )
        winner = one_winner(attempts)
        assert scenario.status(app_id) == AppState.PAYMENT_PREPARED
        (balance,) = scenario.payments_of(app_id)
        assert balance.instalment == Instalment.BALANCE
        assert balance.prepared_by_id == actors[winner.index].user_id
        assert events(scenario, app_id, "prepare_payment") == [
            ("application", actors[winner.index].name)
        ]
        assert kinds(scenario, app_id, "payment_order") == 1
        assert_chain_ok(sessions)
        # The loser is exactly the one who may now authorise it (four-eyes).
        loser = actors[1 - winner.index]
        scenario.run(lambda s, f=loser, a=app_id: payments.authorise_payment(s, f, a))
        assert scenario.status(app_id) == AppState.PAYMENT_AUTHORISED


def test_many_smes_submitting_at_once_all_succeed_on_one_chain(
    sessions: sessionmaker[Session],
) -> None:
    scenario = Scenario(sessions, smes=4)
    app_ids = [scenario.draft(sme) for sme in range(4)]
    owners = [scenario.owner(app_id) for app_id in app_ids]
    attempts = race(
        sessions,
        [
            lambda s, a=app_id, o=owner: applications.submit(s, o, a)
            for app_id, owner in zip(app_ids, owners, strict=True)
        ],
    )
    assert [repr(a.error) for a in attempts if not a.ok] == []
    assert {scenario.status(a) for a in app_ids} == {AppState.SUBMITTED}
    assert_chain_ok(sessions)


def test_two_offers_to_one_sme_at_once_respect_its_cumulative_cap(
    sessions: sessionmaker[Session],
) -> None:
    """Two calls offer the same SME a voucher at the same moment; the cap allows only one."""
    cap = Decimal("10000.00")  # one 8,000.00 voucher fits, two do not
    for _ in range(ROUNDS):
        scenario = Scenario(sessions, smes=1, cumulative_cap=cap)
        other_call = scenario.add_call(cumulative_cap=cap)
        app_ids = [scenario.draft(0), scenario.draft(0, call_id=other_call)]
        for app_id in app_ids:
            scenario.advance(app_id, AppState.SELECTED)
        officer = scenario.people.officer
        attempts = race(
            sessions,
            [lambda s, a=app_id, o=officer: awards.offer(s, o, a) for app_id in app_ids],
        )
        winner = one_winner(attempts)
        statuses = [scenario.status(app_id) for app_id in app_ids]
        assert statuses[winner.index] == AppState.OFFERED
        assert statuses[1 - winner.index] == AppState.SELECTED
        assert_chain_ok(sessions)


def test_terminating_while_the_prefinancing_is_marked_paid_never_deadlocks(
    sessions: sessionmaker[Session],
) -> None:
    """An officer terminates while finance marks the pre-financing paid, at the same moment.

    Either order is a valid outcome (paid then terminated with recovery, or withheld by the
    termination and the payment refused), but never a database deadlock error.
    """
    scenario = Scenario(sessions, smes=ROUNDS)
    officer, f1 = scenario.people.officer, scenario.people.finance[0]
    for sme in range(ROUNDS):
        app_id = scenario.draft(sme)
        scenario.advance(app_id, AppState.CONTRACTED)
        payment_id = scenario.prefinancing(app_id, until="authorised")
        attempts = race(
            sessions,
            [
                lambda s, a=app_id: payments.terminate(s, officer, a, reason="Liquidation."),
                lambda s, p=payment_id: payments.mark_instalment_paid(
                    s, f1, p, payment_reference="SEPA-PRE"
                ),
            ],
        )
        terminated, paid = attempts
        assert terminated.ok, repr(terminated.error)
        assert scenario.status(app_id) == AppState.TERMINATED
        (pre,) = scenario.payments_of(app_id)
        recovery = next(
            e.after["recovery_amount"]
            for e in scenario.events_of(app_id)
            if e.action == "terminate"
        )
        if paid.ok:  # paid first, then terminated: all of it is to be recovered
            assert pre.status == PaymentState.PAID and Decimal(recovery) == pre.amount
        else:
            assert isinstance(paid.error, TransitionRefused), repr(paid.error)
            assert pre.status == PaymentState.WITHHELD and Decimal(recovery) == 0
        assert_chain_ok(sessions)
