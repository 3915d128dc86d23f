"""A step fully happens or not at all: a crash half-way leaves the previous state."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from grants.models import AuditEvent, Document, Payment
from grants.services import applications, audit, documents, payments
from grants.services.audit import verify_chain
from tests.scenario import Scenario, pending_documents_discarded
from workflows.voucher import AppState


@pytest.fixture(autouse=True)
def _discard_unrendered_documents(sessions: sessionmaker[Session]) -> Iterator[None]:
    with pending_documents_discarded(sessions):
        yield


class Crash(RuntimeError):
    pass


def footprint(sessions: sessionmaker[Session], app_id: int) -> tuple[Any, ...]:
    with sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(AuditEvent)),
            session.scalar(select(func.count()).select_from(Document)),
            session.scalar(select(func.count()).select_from(Payment)),
            session.scalar(select(func.count()).where(Document.application_id == app_id)),
        )


STEPS: dict[str, tuple[AppState, Callable[[Scenario, int], Callable[[Session], Any]]]] = {
    "submit": (
        AppState.DRAFT,
        lambda sc, a: lambda s: applications.submit(s, sc.owner(a), a),
    ),
    "prepare_payment": (  # creates a payment row before the step itself
        AppState.REPORT_APPROVED,
        lambda sc, a: lambda s: payments.prepare_payment(s, sc.people.finance[0], a),
    ),
    "mark_paid": (  # two machines: the application and its balance instalment
        AppState.PAYMENT_AUTHORISED,
        lambda sc, a: (
            lambda s: payments.mark_paid(s, sc.people.finance[0], a, payment_reference="SEPA-9")
        ),
    ),
}


@pytest.mark.parametrize("step", list(STEPS))
# audit.append writes the step's event; audit.link_pending links it while committing.
@pytest.mark.parametrize("where", ["documents.enqueue", "audit.append", "audit.link_pending"])
def test_a_crash_inside_a_step_leaves_the_previous_state(
    scenario: Scenario,
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    step: str,
    where: str,
) -> None:
    state, action = STEPS[step]
    app_id = scenario.draft()
    scenario.advance(app_id, state)
    before_app = scenario.application(app_id)
    before_payments = [(p.id, p.status, p.version) for p in scenario.payments_of(app_id)]
    before = footprint(sessions, app_id)

    module, name = where.split(".")
    target = {"documents": documents, "audit": audit}[module]
    calls: list[str] = []

    def crash_on_the_step(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        raise Crash("the process died here")

    monkeypatch.setattr(target, name, crash_on_the_step)
    with pytest.raises(Crash):
        scenario.run(action(scenario, app_id))
    monkeypatch.undo()
    assert calls, "the crash point was never reached"

    after_app = scenario.application(app_id)
    assert (after_app.status, after_app.version) == (before_app.status, before_app.version)
    assert [(p.id, p.status, p.version) for p in scenario.payments_of(app_id)] == before_payments
    assert footprint(sessions, app_id) == before
    with sessions() as session:
        assert verify_chain(session).ok

    # Nothing is stuck: the same step succeeds once the fault is gone.
    scenario.run(action(scenario, app_id))
    assert scenario.status(app_id) != state


def test_a_step_rolled_back_after_it_ran_leaves_no_trace(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    app_id = scenario.draft()
    before = footprint(sessions, app_id)

    def submit_then_fail(s: Session) -> None:
        result = applications.submit(s, scenario.owner(app_id), app_id)
        assert result.document is not None and result.dest == AppState.SUBMITTED
        raise Crash("the request failed after the step")

    with pytest.raises(Crash):
        scenario.run(submit_then_fail)
    assert scenario.status(app_id) == AppState.DRAFT
    assert footprint(sessions, app_id) == before
