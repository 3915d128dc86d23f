"""Business rules of the voucher workflow, exercised through the services.

A refused step must leave no trace: the status, the application's row version, the audit
trail and the documents stay exactly as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from forms.defaults import VOUCHER_FORM
from grants.errors import ValidationFailed
from grants.models import Application, AuditEvent, Instalment, Payment
from grants.services import (
    applications,
    awards,
    calls,
    eligibility,
    evaluation,
    payments,
    redress,
    reporting,
)
from grants.services.access import can_view
from grants.services.actor import Actor
from grants.services.audit import verify_chain
from tests.scenario import GOOD_ANSWERS, HAPPY_PATH, KEYS, Scenario, pending_documents_discarded
from workflows.eligibility import MANUAL_CHECKS
from workflows.errors import TransitionRefused
from workflows.guards import GUARDS
from workflows.payment import PaymentState
from workflows.roles import Role
from workflows.voucher import AppState

LABELS = {f["name"]: f["label"] for f in VOUCHER_FORM}


@pytest.fixture(autouse=True)
def _discard_unrendered_documents(sessions: sessionmaker[Session]) -> Iterator[None]:
    with pending_documents_discarded(sessions):
        yield


@dataclass(frozen=True)
class Trace:
    totals: tuple[int, int]
    rows: tuple[tuple[int, str, int], ...]
    payments: tuple[tuple[int, str, int], ...]


def trace(scenario: Scenario, app_ids: tuple[int, ...]) -> Trace:
    rows, pays = [], []
    for app_id in app_ids:
        app = scenario.application(app_id)
        rows.append((app.id, app.status, app.version))
        pays.extend((p.id, p.status, p.version) for p in app.payments)
    return Trace(scenario.totals(), tuple(rows), tuple(pays))


@contextmanager
def refused_without_trace(
    scenario: Scenario, *app_ids: int, match: str | None = None
) -> Iterator[pytest.ExceptionInfo[TransitionRefused]]:
    """The enclosed step raises TransitionRefused and changes nothing anywhere."""
    before = trace(scenario, app_ids)
    with pytest.raises(TransitionRefused, match=match) as refused:
        yield refused
    assert trace(scenario, app_ids) == before


def count_kind(scenario: Scenario, app_id: int, kind: str) -> int:
    return sum(d.kind == kind for d in scenario.documents_of(app_id))


def count_action(scenario: Scenario, app_id: int, action: str) -> int:
    return sum(e.action == action for e in scenario.events_of(app_id))


def manual_checks(passed: bool = True) -> dict[str, tuple[bool, str]]:
    return {key: (passed, "checked in the business register") for key, _ in MANUAL_CHECKS}


def scores(values: tuple[str, str, str]) -> dict[str, str]:
    return dict(zip(KEYS, values, strict=True))


# -- who may act --------------------------------------------------------------------------


def test_an_evaluator_may_not_offer_a_voucher(scenario: Scenario) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.SELECTED)
    evaluator = scenario.people.evaluators[0]
    with refused_without_trace(scenario, app_id) as refused:
        scenario.run(lambda s: awards.offer(s, evaluator, app_id))
    assert Role.EVALUATOR.label.lower() in str(refused.value)


def test_another_smes_applicant_may_not_touch_a_draft(scenario: Scenario) -> None:
    app_id = scenario.draft(0)
    stranger = scenario.people.applicants[1]
    with refused_without_trace(scenario, app_id, match="applicant organisation"):
        scenario.run(lambda s: applications.submit(s, stranger, app_id))
    with refused_without_trace(scenario, app_id, match="applicant organisation"):
        scenario.run(lambda s: applications.withdraw(s, stranger, app_id, reason="not mine"))
    with refused_without_trace(scenario, app_id, match="applicant organisation"):
        scenario.run(
            lambda s: applications.save_draft(
                s,
                stranger,
                app_id,
                title="hijacked",
                requested_amount="9000",
                answers=GOOD_ANSWERS,
                declaration_signed=True,
            )
        )
    assert scenario.application(app_id).title.startswith("Project 0")
    # ... and the owner still can.
    scenario.submit(app_id)
    assert scenario.status(app_id) == AppState.SUBMITTED


def every_action(scenario: Scenario, app_id: int) -> dict[str, Callable[[Session, Actor], Any]]:
    call_id = scenario.call_id
    evaluator_ids = [e.user_id for e in scenario.people.evaluators[:2] if e.user_id]
    return {
        "submit": lambda s, a: applications.submit(s, a, app_id),
        "withdraw": lambda s, a: applications.withdraw(s, a, app_id, reason="r"),
        "save_draft": lambda s, a: applications.save_draft(
            s,
            a,
            app_id,
            title="t",
            requested_amount="1",
            answers=GOOD_ANSWERS,
            declaration_signed=True,
        ),
        "record_eligibility": lambda s, a: eligibility.record_eligibility(
            s, a, app_id, manual=manual_checks()
        ),
        "request_redress": lambda s, a: redress.file_request(s, a, app_id, grounds="r"),
        "assign": lambda s, a: evaluation.assign_evaluators(s, a, app_id, evaluator_ids),
        "close_evaluation": lambda s, a: evaluation.close_evaluation(
            s, a, app_id, scores=scores(("5", "5", "5")), comments={}
        ),
        "rank": lambda s, a: awards.rank_call(s, a, call_id),
        "promote": lambda s, a: awards.promote(s, a, app_id),
        "offer": lambda s, a: awards.offer(s, a, app_id),
        "accept": lambda s, a: awards.accept(
            s, a, app_id, iban="NL91ABNA0417164300", account_holder="x", signed=True
        ),
        "decline": lambda s, a: awards.decline(s, a, app_id, reason="r"),
        "submit_report": lambda s, a: reporting.submit_report(
            s, a, app_id, summary="s", claimed_costs="100"
        ),
        "approve_report": lambda s, a: reporting.approve_report(
            s, a, app_id, approved_costs="100", comments="c"
        ),
        "return_report": lambda s, a: reporting.return_report(s, a, app_id, comments="c"),
        "prepare_prefinancing": lambda s, a: payments.prepare_prefinancing(s, a, app_id),
        "prepare_payment": lambda s, a: payments.prepare_payment(s, a, app_id),
        "authorise_payment": lambda s, a: payments.authorise_payment(s, a, app_id),
        "mark_paid": lambda s, a: payments.mark_paid(s, a, app_id, payment_reference="X"),
        "close": lambda s, a: payments.close(s, a, app_id),
        "terminate": lambda s, a: payments.terminate(s, a, app_id, reason="r"),
        "close_call": lambda s, a: calls.close_call(s, a, call_id),
        "publish_results": lambda s, a: calls.publish_results(s, a, call_id),
    }


def test_auditors_and_evaluators_change_nothing_at_any_step(scenario: Scenario) -> None:
    """Every service, tried by an auditor, an unassigned evaluator and an admin at every step."""
    app_id = scenario.draft()
    bystanders = [scenario.people.auditor, scenario.people.evaluators[2], scenario.people.admin]
    actions = every_action(scenario, app_id)
    finance = scenario.people.finance

    def attempt_everything(state: AppState) -> None:
        before = trace(scenario, (app_id,))
        for actor in bystanders:
            for name, action in actions.items():
                try:
                    scenario.run(lambda s, action=action, actor=actor: action(s, actor))
                except TransitionRefused:
                    continue
                pytest.fail(f"{actor.role} could {name} at {state}")
        # Counts and row versions only grow, so one look after all attempts is enough.
        assert trace(scenario, (app_id,)) == before, f"something changed at {state}"

    for state in HAPPY_PATH:
        scenario.advance(app_id, state)
        attempt_everything(state)
        if state == AppState.CONTRACTED:
            # Once more with an open pre-financing instalment (terminate would withhold it).
            pay_id = scenario.prefinancing(app_id, until="prepared")
            actions["authorise_instalment"] = lambda s, a, p=pay_id: payments.authorise_instalment(
                s, a, p
            )
            attempt_everything(state)
            scenario.run(lambda s, p=pay_id: payments.authorise_instalment(s, finance[1], p))
            actions["mark_instalment_paid"] = lambda s, a, p=pay_id: payments.mark_instalment_paid(
                s, a, p, payment_reference="X"
            )
            attempt_everything(state)
            scenario.run(
                lambda s, p=pay_id: payments.mark_instalment_paid(
                    s, finance[0], p, payment_reference="SEPA-1"
                )
            )
    assert scenario.status(app_id) == AppState.CLOSED


# -- submission ---------------------------------------------------------------------------


@pytest.mark.parametrize("seconds_after", [0, 1, 3600])
def test_no_submission_at_or_after_the_deadline(scenario: Scenario, seconds_after: int) -> None:
    app_id = scenario.draft()
    deadline = scenario.application(app_id).call.deadline
    owner = scenario.owner(app_id)
    late = deadline + timedelta(seconds=seconds_after)
    with refused_without_trace(scenario, app_id) as refused:
        scenario.run(lambda s: applications.submit(s, owner, app_id, now=late))
    assert GUARDS["before_deadline"].message in refused.value.reasons
    assert count_kind(scenario, app_id, "submission_receipt") == 0
    # One second before the deadline is still in time.
    on_time = deadline - timedelta(seconds=1)
    scenario.run(lambda s: applications.submit(s, owner, app_id, now=on_time))
    app = scenario.application(app_id)
    assert app.status == AppState.SUBMITTED and app.submitted_at == on_time


def test_an_incomplete_form_is_refused_and_the_missing_fields_are_named(
    scenario: Scenario,
) -> None:
    missing = ("summary", "work_plan")
    answers = {k: v for k, v in GOOD_ANSWERS.items() if k not in missing}
    app_id = scenario.draft(answers=answers)
    owner = scenario.owner(app_id)
    with refused_without_trace(scenario, app_id, match="incomplete") as refused:
        scenario.run(lambda s: applications.submit(s, owner, app_id))
    for name in missing:
        assert LABELS[name] in str(refused.value)
    present = next(n for n in GOOD_ANSWERS if n not in missing)
    assert LABELS[present] not in str(refused.value)
    assert count_kind(scenario, app_id, "submission_receipt") == 0


def test_no_submission_without_the_signed_declaration(scenario: Scenario) -> None:
    app_id = scenario.draft(sign=False)
    owner = scenario.owner(app_id)
    with refused_without_trace(scenario, app_id) as refused:
        scenario.run(lambda s: applications.submit(s, owner, app_id))
    assert refused.value.reasons == (GUARDS["declaration_signed"].message,)


def test_a_double_submission_makes_one_submission(scenario: Scenario) -> None:
    app_id = scenario.draft()
    scenario.submit(app_id)
    submitted_at = scenario.application(app_id).submitted_at
    with refused_without_trace(scenario, app_id, match="while it is submitted"):
        scenario.submit(app_id)
    assert scenario.application(app_id).submitted_at == submitted_at
    assert count_action(scenario, app_id, "submit") == 1
    assert count_kind(scenario, app_id, "submission_receipt") == 1


def test_a_submitted_application_can_no_longer_be_edited(scenario: Scenario) -> None:
    app_id = scenario.draft()
    scenario.submit(app_id)
    owner = scenario.owner(app_id)
    digest = scenario.application(app_id).content_sha256
    with refused_without_trace(scenario, app_id, match="no longer be edited"):
        scenario.run(
            lambda s: applications.save_draft(
                s,
                owner,
                app_id,
                title="changed after submission",
                requested_amount="9999",
                answers=GOOD_ANSWERS,
                declaration_signed=True,
            )
        )
    assert scenario.application(app_id).content_sha256 == digest


# -- evaluation ---------------------------------------------------------------------------


def test_an_evaluator_scores_only_after_declaring_no_conflict(scenario: Scenario) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.IN_EVALUATION)
    expert = scenario.people.evaluators[0]
    evaluation_id = scenario.evaluation_id(app_id, expert)

    def score(s: Session) -> Any:
        return evaluation.submit_scores(
            s,
            expert,
            evaluation_id,
            scores=scores(("4", "4", "4")),
            comments=dict.fromkeys(KEYS, "ok"),
        )

    with refused_without_trace(scenario, app_id, match="conflict of interest"):
        scenario.run(score)
    assert (
        next(e for e in scenario.application(app_id).evaluations if e.id == evaluation_id).scores
        is None
    )
    scenario.run(
        lambda s: evaluation.declare_interest(
            s, expert, evaluation_id, conflict=False, statement=""
        )
    )
    scenario.run(score)
    assert count_action(scenario, app_id, "submit_scores") == 1


def test_a_conflicted_evaluator_steps_aside_until_a_replacement_scores(
    scenario: Scenario,
) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.IN_EVALUATION)
    conflicted, independent, replacement = scenario.people.evaluators
    officer = scenario.people.officer
    conflicted_eval = scenario.evaluation_id(app_id, conflicted)
    scenario.run(
        lambda s: evaluation.declare_interest(
            s, conflicted, conflicted_eval, conflict=True, statement="I advise this SME."
        )
    )
    with pytest.raises(TransitionRefused, match="no longer score"):
        scenario.run(
            lambda s: evaluation.submit_scores(
                s,
                conflicted,
                conflicted_eval,
                scores=scores(("5", "5", "5")),
                comments=dict.fromkeys(KEYS, "x"),
            )
        )
    assert not can_view(conflicted, scenario.application(app_id))
    scenario.score(app_id, independent, ("4", "4", "4"))

    def close(s: Session) -> Any:
        return evaluation.close_evaluation(
            s, officer, app_id, scores=scores(("4", "4", "4")), comments=dict.fromkeys(KEYS, "c")
        )

    with refused_without_trace(scenario, app_id) as refused:
        scenario.run(close)
    assert GUARDS["evaluations_complete"].message in refused.value.reasons

    scenario.run(
        lambda s: evaluation.replace_conflicted(s, officer, app_id, replacement.user_id or 0)
    )
    with refused_without_trace(scenario, app_id):  # assigned is not enough: it must score
        scenario.run(close)
    scenario.score(app_id, replacement, ("4.5", "4", "4"))
    scenario.run(close)
    app = scenario.application(app_id)
    assert app.status == AppState.EVALUATED
    assert app.total_score == Decimal("12")
    assert sorted(e.status for e in app.evaluations) == ["conflict", "submitted", "submitted"]


# -- payments -----------------------------------------------------------------------------


def test_four_eyes_on_the_balance(scenario: Scenario) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.PAYMENT_PREPARED)  # prepared by finance[0]
    preparer, other = scenario.people.finance
    with refused_without_trace(scenario, app_id) as refused:
        scenario.run(lambda s: payments.authorise_payment(s, preparer, app_id))
    assert GUARDS["four_eyes"].message in str(refused.value)
    officer = scenario.people.officer
    with refused_without_trace(scenario, app_id, match="programme officer may not"):
        scenario.run(lambda s: payments.authorise_payment(s, officer, app_id))
    scenario.run(lambda s: payments.authorise_payment(s, other, app_id))
    (balance,) = scenario.payments_of(app_id)
    assert balance.status == PaymentState.AUTHORISED
    assert (balance.prepared_by_id, balance.authorised_by_id) == (preparer.user_id, other.user_id)


def test_four_eyes_on_the_prefinancing_instalment(scenario: Scenario) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.CONTRACTED)
    payment_id = scenario.prefinancing(app_id, until="prepared")
    preparer, other = scenario.people.finance
    with refused_without_trace(scenario, app_id) as refused:
        scenario.run(lambda s: payments.authorise_instalment(s, preparer, payment_id))
    assert GUARDS["four_eyes"].message in str(refused.value)
    scenario.run(lambda s: payments.authorise_instalment(s, other, payment_id))
    (pre,) = scenario.payments_of(app_id)
    assert pre.status == PaymentState.AUTHORISED and pre.authorised_by_id == other.user_id


def test_the_database_refuses_a_forced_four_eyes_breach(scenario: Scenario) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.PAYMENT_PREPARED)
    (balance,) = scenario.payments_of(app_id)

    def force(s: Session) -> None:
        payment = s.get(Payment, balance.id)
        assert payment is not None
        payment.authorised_by_id = payment.prepared_by_id
        s.flush()

    with pytest.raises(IntegrityError):
        scenario.run(force)
    (balance,) = scenario.payments_of(app_id)
    assert balance.authorised_by_id is None and balance.status == PaymentState.PREPARED


def test_a_balance_is_released_at_most_once(scenario: Scenario) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.PAID)
    f1 = scenario.people.finance[0]
    with refused_without_trace(scenario, app_id, match="while it is paid"):
        scenario.run(lambda s: payments.mark_paid(s, f1, app_id, payment_reference="SEPA-0002"))
    (balance,) = scenario.payments_of(app_id)
    assert balance.status == PaymentState.PAID and balance.payment_reference == "SEPA-0001"
    assert count_kind(scenario, app_id, "remittance_advice") == 1
    # Nor can a second balance order be prepared for a voucher that was paid.
    with refused_without_trace(scenario, app_id):
        scenario.run(lambda s: payments.prepare_payment(s, f1, app_id))


def test_the_prefinancing_is_released_at_most_once(scenario: Scenario) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.CONTRACTED)
    payment_id = scenario.prefinancing(app_id)
    f1 = scenario.people.finance[0]
    with refused_without_trace(scenario, app_id):
        scenario.run(
            lambda s: payments.mark_instalment_paid(s, f1, payment_id, payment_reference="AGAIN")
        )
    with refused_without_trace(scenario, app_id, match="already exists"):
        scenario.run(lambda s: payments.prepare_prefinancing(s, f1, app_id))
    (pre,) = scenario.payments_of(app_id)
    assert pre.status == PaymentState.PAID and pre.amount == Decimal("4000.00")
    assert count_kind(scenario, app_id, "remittance_advice") == 1


def test_the_balance_waits_for_an_open_prefinancing_and_then_deducts_it(
    scenario: Scenario,
) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.CONTRACTED)
    payment_id = scenario.prefinancing(app_id, until="authorised")
    scenario.advance(app_id, AppState.REPORT_APPROVED)  # approved costs 8000.00
    f1 = scenario.people.finance[0]
    with refused_without_trace(scenario, app_id) as refused:
        scenario.run(lambda s: payments.prepare_payment(s, f1, app_id))
    assert GUARDS["prefinancing_settled"].message in refused.value.reasons
    scenario.run(
        lambda s: payments.mark_instalment_paid(s, f1, payment_id, payment_reference="PRE")
    )
    scenario.run(lambda s: payments.prepare_payment(s, f1, app_id))
    amounts = {p.instalment: p.amount for p in scenario.payments_of(app_id)}
    assert amounts == {
        Instalment.PREFINANCING: Decimal("4000.00"),
        Instalment.BALANCE: Decimal("4000.00"),
    }


# -- ranking and awards -------------------------------------------------------------------


def test_ranking_funds_down_to_the_budget_line_and_promotes_only_when_budget_allows(
    sessions: sessionmaker[Session],
) -> None:
    scenario = Scenario(sessions, smes=4, budget=Decimal("20000.00"))
    grades = [("5", "5", "5"), ("4.5", "4.5", "4.5"), ("4", "4", "4"), ("2.5", "3", "2.5")]
    best, second, third, weak = ids = [scenario.draft(i) for i in range(4)]
    for app_id, grade in zip(ids, grades, strict=True):
        scenario.advance(app_id, AppState.EVALUATED, scores=grade)
    scenario.rank()

    apps = {app_id: scenario.application(app_id) for app_id in ids}
    assert [apps[i].status for i in ids] == ["selected", "selected", "reserve", "rejected"]
    assert [apps[i].rank for i in ids] == [1, 2, 3, None]
    assert [apps[i].awarded_amount for i in ids] == [Decimal("8000.00")] * 2 + [None, None]
    reserve_event = next(e for e in scenario.events_of(third) if e.action == "rank")
    assert reserve_event.after["reserve_position"] == 1
    for app_id in ids:
        assert count_kind(scenario, app_id, "result_letter") == 1

    officer = scenario.people.officer
    # 16,000 of 20,000 committed: 4,000 left cannot cover the reserve's 8,000.
    with refused_without_trace(scenario, third) as refused:
        scenario.run(lambda s: awards.promote(s, officer, third))
    assert GUARDS["budget_available"].message in refused.value.reasons
    with refused_without_trace(scenario, weak, match="while it is rejected"):
        scenario.run(lambda s: awards.promote(s, officer, weak))

    scenario.run(lambda s: awards.offer(s, officer, second))
    owner = scenario.owner(second)
    scenario.run(lambda s: awards.decline(s, owner, second, reason="No provider available."))
    assert scenario.status(second) == AppState.DECLINED
    # The decline released 8,000: the first reserve that fits is promoted automatically.
    promoted = scenario.application(third)
    assert promoted.status == AppState.SELECTED and promoted.awarded_amount == Decimal("8000.00")
    assert count_kind(scenario, third, "result_letter") == 2
    with refused_without_trace(scenario, third, match="while it is selected"):
        scenario.run(lambda s: awards.promote(s, officer, third))
    with sessions() as session:  # the best and the promoted one: 16,000.00 committed
        assert awards.committed_budget(session, scenario.call_id) == Decimal("16000.00")
    assert scenario.status(best) == AppState.SELECTED


@pytest.mark.parametrize(
    ("cap", "allowed"), [(Decimal("15999.99"), False), (Decimal("16000.00"), True)]
)
def test_the_cumulative_cap_per_sme_is_enforced_at_offer(
    sessions: sessionmaker[Session], cap: Decimal, allowed: bool
) -> None:
    scenario = Scenario(sessions, smes=1, cumulative_cap=cap)
    first = scenario.draft(0)
    scenario.advance(first, AppState.OFFERED)  # 8,000 held by this SME in the first call
    second_call = scenario.add_call(cumulative_cap=cap)
    second = scenario.draft(0, call_id=second_call)
    scenario.advance(second, AppState.SELECTED)
    officer = scenario.people.officer
    if allowed:
        scenario.run(lambda s: awards.offer(s, officer, second))
        assert scenario.status(second) == AppState.OFFERED
        return
    with refused_without_trace(scenario, first, second) as refused:
        scenario.run(lambda s: awards.offer(s, officer, second))
    assert refused.value.reasons == (GUARDS["within_cumulative_cap"].message,)
    assert count_kind(scenario, second, "voucher_agreement") == 0


# -- steps that need a reason --------------------------------------------------------------


REASONED: dict[str, tuple[AppState, Callable[[Scenario, int, str], Callable[[Session], Any]]]] = {
    "withdraw": (
        AppState.DRAFT,
        lambda sc, a, r: lambda s: applications.withdraw(s, sc.owner(a), a, reason=r),
    ),
    "decline": (
        AppState.OFFERED,
        lambda sc, a, r: lambda s: awards.decline(s, sc.owner(a), a, reason=r),
    ),
    "return_report": (
        AppState.REPORT_SUBMITTED,
        lambda sc, a, r: lambda s: reporting.return_report(s, sc.people.officer, a, comments=r),
    ),
    "terminate": (
        AppState.REPORT_SUBMITTED,
        lambda sc, a, r: lambda s: payments.terminate(s, sc.people.officer, a, reason=r),
    ),
}


@pytest.mark.parametrize("step", list(REASONED))
def test_steps_that_need_a_reason(scenario: Scenario, step: str) -> None:
    state, action = REASONED[step]
    app_id = scenario.draft()
    scenario.advance(app_id, state)
    for reason in ("", "   \n "):
        with refused_without_trace(scenario, app_id) as refused:
            scenario.run(action(scenario, app_id, reason))
        assert refused.value.reasons == (GUARDS["reason_given"].message,)
    scenario.run(action(scenario, app_id, "A reason a person can read."))
    event = scenario.events_of(app_id)[-1]
    assert event.action == step
    assert "A reason a person can read." in str(event.after)


def test_a_returned_report_goes_back_for_revision(scenario: Scenario) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.REPORT_SUBMITTED)
    officer = scenario.people.officer
    scenario.run(
        lambda s: reporting.return_report(s, officer, app_id, comments="Attach the invoice.")
    )
    assert scenario.status(app_id) == AppState.CONTRACTED
    # Approving more than was claimed is refused.
    scenario.advance(app_id, AppState.REPORT_SUBMITTED)  # claims 8,200.00 again
    with refused_without_trace(scenario, app_id) as refused:
        scenario.run(
            lambda s: reporting.approve_report(
                s, officer, app_id, approved_costs="8200.01", comments="typo"
            )
        )
    assert GUARDS["approved_costs_valid"].message in refused.value.reasons
    scenario.advance(app_id, AppState.REPORT_APPROVED)
    app = scenario.application(app_id)
    assert [r.outcome for r in app.reports] == ["returned", "approved"]


# -- termination ---------------------------------------------------------------------------


def terminate(scenario: Scenario, app_id: int) -> AuditEvent:
    officer = scenario.people.officer
    scenario.run(
        lambda s: payments.terminate(s, officer, app_id, reason="The SME stopped trading.")
    )
    assert scenario.status(app_id) == AppState.TERMINATED
    return next(e for e in reversed(scenario.events_of(app_id)) if e.action == "terminate")


def test_terminating_without_an_approved_report_recovers_everything_paid(
    scenario: Scenario,
) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.CONTRACTED)
    scenario.prefinancing(app_id)
    paid = sum(p.amount for p in scenario.payments_of(app_id))
    assert paid == Decimal("4000.00")
    event = terminate(scenario, app_id)
    assert Decimal(event.after["recovery_amount"]) == paid
    assert [p.status for p in scenario.payments_of(app_id)] == [PaymentState.PAID]
    assert count_kind(scenario, app_id, "termination_notice") == 1


def test_terminating_withholds_open_instalments_and_recovers_nothing_unpaid(
    scenario: Scenario,
) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.CONTRACTED)
    scenario.prefinancing(app_id, until="authorised")
    event = terminate(scenario, app_id)
    assert Decimal(event.after["recovery_amount"]) == Decimal("0.00")
    (pre,) = scenario.payments_of(app_id)
    assert pre.status == PaymentState.WITHHELD and pre.paid_at is None
    assert count_action(scenario, app_id, "withhold") == 1
    f1 = scenario.people.finance[0]
    with refused_without_trace(scenario, app_id):
        scenario.run(
            lambda s: payments.mark_instalment_paid(s, f1, pre.id, payment_reference="LATE")
        )


def test_terminating_after_approval_recovers_what_the_approved_costs_do_not_justify(
    scenario: Scenario,
) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.CONTRACTED)
    scenario.prefinancing(app_id)  # 4,000.00 paid
    owner, officer = scenario.owner(app_id), scenario.people.officer
    scenario.run(
        lambda s: reporting.submit_report(
            s, owner, app_id, summary="Half of the training.", claimed_costs="3000.00"
        )
    )
    scenario.run(
        lambda s: reporting.approve_report(
            s, officer, app_id, approved_costs="3000.00", comments="ok"
        )
    )
    f1 = scenario.people.finance[0]
    with refused_without_trace(scenario, app_id, match="must be recovered"):
        scenario.run(lambda s: payments.prepare_payment(s, f1, app_id))
    event = terminate(scenario, app_id)
    # 100% of 3,000.00 approved is due; 4,000.00 was paid: 1,000.00 comes back.
    assert Decimal(event.after["recovery_amount"]) == Decimal("1000.00")


def test_only_the_programme_officer_terminates(scenario: Scenario) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.CONTRACTED)
    scenario.prefinancing(app_id, until="prepared")
    for actor in (scenario.people.finance[1], scenario.owner(app_id), scenario.people.auditor):
        with refused_without_trace(scenario, app_id):
            scenario.run(lambda s, a=actor: payments.terminate(s, a, app_id, reason="because"))
    assert scenario.payments_of(app_id)[0].status == PaymentState.PREPARED


# -- eligibility and redress -----------------------------------------------------------------


def test_redress_sends_an_ineligible_application_back_to_submitted(scenario: Scenario) -> None:
    app_id = scenario.draft()
    scenario.submit(app_id)
    scenario.check_eligibility(app_id, passed=False)
    app = scenario.application(app_id)
    assert app.status == AppState.INELIGIBLE
    assert app.eligibility is not None and "Not met" in app.eligibility["reasons"]
    request_id = scenario.redress(app_id, "Our SME declaration was misread.")
    officer = scenario.people.officer
    before = trace(scenario, (app_id,))
    with pytest.raises(ValidationFailed, match="reasons"):
        scenario.run(lambda s: redress.decide(s, officer, request_id, upheld=True, reasons=" "))
    assert trace(scenario, (app_id,)) == before
    scenario.run(
        lambda s: redress.decide(
            s,
            officer,
            request_id,
            upheld=True,
            reasons="Upheld: the staff count excludes apprentices.",
        )
    )
    assert scenario.status(app_id) == AppState.SUBMITTED
    actions = [e.action for e in scenario.events_of(app_id)]
    assert actions[-3:] == ["request_redress", "uphold", "redress"]
    assert count_kind(scenario, app_id, "redress_decision") == 1
    scenario.check_eligibility(app_id, passed=True)
    assert scenario.status(app_id) == AppState.ELIGIBLE


def test_a_redress_is_only_for_a_decision_that_can_be_challenged(scenario: Scenario) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.ELIGIBLE)
    owner = scenario.owner(app_id)
    with refused_without_trace(scenario, app_id, match="no decision that can be challenged"):
        scenario.run(lambda s: redress.file_request(s, owner, app_id, grounds="r"))


def test_the_chain_still_verifies_after_refusals(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    app_id = scenario.draft()
    for _ in range(3):
        with pytest.raises(TransitionRefused):
            scenario.run(lambda s: awards.offer(s, scenario.people.officer, app_id))
    with sessions() as session:
        assert verify_chain(session).ok
        assert session.scalar(select(Application.status).where(Application.id == app_id)) == "draft"


def _ranking_statements(sessions: sessionmaker[Session], applications: int) -> int:
    """SQL statements ``rank_call`` takes for a call with that many evaluated applications."""
    scenario = Scenario(sessions, smes=applications, budget=Decimal("1000000.00"))
    ids = [scenario.draft(sme) for sme in range(applications)]
    for app_id in ids:
        scenario.advance(app_id, AppState.EVALUATED)
    engine = sessions.kw["bind"]
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        with pending_documents_discarded(sessions):
            scenario.rank()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    for app_id in ids:
        assert scenario.application(app_id).status == "selected"
        assert [e.action for e in scenario.events_of(app_id)].count("rank") == 1
        assert count_kind(scenario, app_id, "result_letter") == 1
    return len(statements)


def test_ranking_takes_the_same_statements_for_three_or_six_applications(
    sessions: sessionmaker[Session],
) -> None:
    """Ranking works in batches of set-based statements: 10,000 applications take a few
    statements per batch, not several per application."""
    grown = _ranking_statements(sessions, 6) - _ranking_statements(sessions, 3)
    if sessions.kw["bind"].dialect.name == "postgresql":
        assert grown == 0
    else:
        # SQLite cannot return the ids of a many-row INSERT in order, so SQLAlchemy inserts
        # rows with a database-given id one by one: each application's event and mail.
        assert grown == 3 * 2
