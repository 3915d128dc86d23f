"""Conflicts detected, the assignment proposal, replacements and locked scores, through the
services and the pages.

Keywords and expert organisations are named with the scenario's tag, and each expert's
domain is their own, so no test's experts meet another test's applicants.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from grants.db import utcnow
from grants.errors import ValidationFailed
from grants.models import Application, AuditEvent, Evaluation, MailMessage
from grants.services import assignment, evaluation, expert_pool, experts
from grants.services.actor import Actor
from tests.scenario import KEYS, Scenario
from workflows.errors import TransitionRefused
from workflows.voucher import AppState

Login = Callable[[FlaskClient, str], None]


def profile(scenario: Scenario, expert: Actor, **overrides: object) -> None:
    data: dict[str, object] = {
        "country": "NL",
        "organisation": f"Lab {expert.user_id} {scenario.tag}",
        "organisation_domain": f"lab{expert.user_id}-{scenario.tag}.example",
        "languages": ["en"],
        "keyword_ids": [],
        "bio": "",
    }
    data.update(overrides)
    officer = scenario.people.officer
    scenario.run(lambda s: experts.save_profile(s, officer, expert.user_id or 0, data))


def pool(scenario: Scenario, limits: dict[int, int | None], call_id: int | None = None) -> None:
    """Each evaluator (by index) accepts the call's pool with the limit given."""
    officer = scenario.people.officer
    call = call_id or scenario.call_id
    chosen = [scenario.people.evaluators[i] for i in limits]
    scenario.run(
        lambda s: expert_pool.invite_to_pool(
            s, officer, call, [e.user_id or 0 for e in chosen], link="https://x.example"
        )
    )
    for index, limit in limits.items():
        expert = scenario.people.evaluators[index]
        scenario.run(
            lambda s, expert=expert, limit=limit: expert_pool.answer_invitation(
                s, expert, call, True, limit
            )
        )


def eligible(scenario: Scenario, sme: int) -> int:
    app_id = scenario.draft(sme)
    scenario.advance(app_id, AppState.ELIGIBLE)
    return app_id


def plan(scenario: Scenario, **kw: object) -> assignment.CallAssignment:
    officer = scenario.people.officer
    with scenario.sessions() as session:
        result = assignment.call_assignment(session, officer, scenario.call_id, **kw)  # type: ignore[arg-type]
        # What the tests read, loaded before the session closes.
        for r in result.replacements:
            _ = (r.evaluation.evaluator, r.evaluation.application)
        for e in result.overdue:
            _ = (e.evaluator, e.application)
        return result


def legal_name(scenario: Scenario, app_id: int) -> str:
    with scenario.sessions() as session:
        app = session.get(Application, app_id)
        assert app is not None
        return app.organisation.legal_name


# -- detection blocks assignment and access --------------------------------------------------
def test_a_detected_conflict_refuses_the_assignment_naming_its_reason(scenario: Scenario) -> None:
    app_id = eligible(scenario, 0)
    first, second, third = scenario.people.evaluators
    profile(scenario, first, organisation=legal_name(scenario, app_id).upper().replace(".", ""))
    with pytest.raises(ValidationFailed) as refused:
        scenario.assign(app_id, [first, second])
    message = refused.value.errors["evaluators"]
    assert "works for the applicant" in message and "SME 0" in message
    assert scenario.status(app_id) == AppState.ELIGIBLE
    scenario.assign(app_id, [second, third])  # nobody conflicted: assigned


def test_a_conflict_detected_after_the_assignment_closes_the_application_by_url(
    scenario: Scenario, client: FlaskClient, login: Login, render_documents: Callable[[], object]
) -> None:
    app_id = eligible(scenario, 0)
    expert, other, _third = scenario.people.evaluators
    scenario.assign(app_id, [expert, other])
    evaluation_id = scenario.evaluation_id(app_id, expert)
    scenario.run(
        lambda s: evaluation.declare_interest(
            s, expert, evaluation_id, conflict=False, statement=""
        )
    )
    client.post("/logout")
    login(client, scenario.people.emails["evaluator1"])
    assert client.get(f"/evaluations/{evaluation_id}").status_code == 200
    assert client.get(f"/applications/{app_id}").status_code == 302

    # The expert now declares, on the profile, advising the applicant.
    name = legal_name(scenario, app_id)
    profile(scenario, expert, ties=[{"name": name, "number": "", "relation": "advised"}])
    assert client.get(f"/evaluations/{evaluation_id}").status_code == 404
    assert client.get(f"/applications/{app_id}").status_code == 404
    scores = {f"score_{k}": "4" for k in KEYS} | {f"comment_{k}": "fine" for k in KEYS}
    assert client.post(f"/evaluations/{evaluation_id}/scores", data=scores).status_code == 404
    with pytest.raises(LookupError):
        scenario.run(
            lambda s: evaluation.submit_scores(
                s, expert, evaluation_id, scores={k: "4" for k in KEYS}, comments={}
            )
        )

    # The officer sees why, and confirms the replacement the page proposes.
    result = plan(scenario)
    (replacement,) = [r for r in result.replacements if r.evaluation.id == evaluation_id]
    assert replacement.detected and "declared a relationship" in replacement.reason
    assert replacement.proposed is None  # the third expert is not in the pool yet
    pool(scenario, {2: None})
    (replacement,) = [r for r in plan(scenario).replacements if r.evaluation.id == evaluation_id]
    assert replacement.proposed is not None
    client.post("/logout")
    login(client, scenario.people.emails["officer"])
    page = client.get(f"/calls/{scenario.call_id}/assignment").get_data(as_text=True)
    assert "Conflict detected" in page and "advised it in the last three years" in page
    done = client.post(
        f"/calls/{scenario.call_id}/assignment/replace",
        data={"evaluation_id": evaluation_id, "evaluator_id": replacement.proposed.user_id},
    )
    assert done.status_code == 302
    statuses = {e.evaluator_id: e.status for e in scenario.application(app_id).evaluations}
    assert statuses[expert.user_id] == "conflict"
    assert statuses[replacement.proposed.user_id] == "assigned"


# -- the proposal ----------------------------------------------------------------------------
def test_the_proposal_never_exceeds_an_experts_stated_availability(
    sessions: sessionmaker[Session],
) -> None:
    scenario = Scenario(sessions, smes=4)
    try:
        apps = [eligible(scenario, sme) for sme in range(4)]
        pool(scenario, {0: 1, 1: 4, 2: 2})
        result = plan(scenario)
        counts: dict[int, int] = {}
        for row in result.rows:
            for expert_id in row.proposed:
                counts[expert_id] = counts.get(expert_id, 0) + 1
        evaluators = scenario.people.evaluators
        assert counts.get(evaluators[0].user_id or 0, 0) <= 1
        assert counts.get(evaluators[2].user_id or 0, 0) <= 2
        # 7 places for 8 needed: one application is listed with why.
        assert sum(counts.values()) == 7
        (short,) = result.short_rows
        assert "without availability left" in (short.short or "")
        chosen = {r.application.id: r.proposed for r in result.complete_rows}
        officer = scenario.people.officer
        scenario.run(lambda s: assignment.confirm_assignment(s, officer, scenario.call_id, chosen))
        assert sorted(scenario.status(a) for a in apps).count(AppState.IN_EVALUATION) == 3
        # Assigned by hand beyond the stated availability: refused too.
        with pytest.raises(ValidationFailed) as refused:
            scenario.assign(short.application.id, [evaluators[0], evaluators[1]])
        assert "can take 1 applications" in refused.value.errors["evaluators"]
    finally:
        scenario.retire_finance()


def test_a_conflicted_expert_is_never_proposed_and_keywords_are_preferred(
    scenario: Scenario,
) -> None:
    first, second, _third = scenario.people.evaluators
    officer = scenario.people.officer
    sonar = scenario.run(lambda s: experts.add_keyword(s, officer, "sonar").id)
    app_id = eligible(scenario, 0)
    other_id = eligible(scenario, 1)
    profile(scenario, second, keyword_ids=[str(sonar)])
    # The first expert's organisation shares the domain of SME 1's contact address.
    with scenario.sessions.begin() as session:
        app = session.get(Application, other_id)
        assert app is not None
        app.organisation.contact_email = f"info@sme1-{scenario.tag}.example"
    profile(scenario, first, organisation_domain=f"sme1-{scenario.tag}.example")
    pool(scenario, {0: None, 1: None, 2: None})
    result = plan(scenario)
    rows = {r.application.id: r for r in result.rows}
    assert first.user_id not in rows[other_id].proposed
    assert first.user_id not in [c.user_id for c in rows[other_id].choices]
    ((card, found),) = rows[other_id].conflicted
    assert card.user_id == first.user_id
    assert "e-mail domain" in found[0].reason
    # The application's answers speak of sonar: the expert with that keyword comes first.
    assert "sonar" in rows[app_id].keywords
    assert rows[app_id].proposed[0] == second.user_id


def test_confirming_is_all_or_nothing(scenario: Scenario) -> None:
    first, second, third = scenario.people.evaluators
    a, b = eligible(scenario, 0), eligible(scenario, 1)
    pool(scenario, {0: None, 1: None, 2: None})
    profile(scenario, third, organisation=legal_name(scenario, b))
    officer = scenario.people.officer
    chosen = {
        a: [first.user_id or 0, second.user_id or 0],
        b: [first.user_id or 0, third.user_id or 0],  # the third works for SME 1
    }
    with pytest.raises(ValidationFailed) as refused:
        scenario.run(lambda s: assignment.confirm_assignment(s, officer, scenario.call_id, chosen))
    assert "works for the applicant" in refused.value.errors[f"application-{b}"]
    assert scenario.status(a) == scenario.status(b) == AppState.ELIGIBLE
    assert scenario.application(a).evaluations == []


def test_the_officer_confirms_the_proposal_on_the_page(
    scenario: Scenario, client: FlaskClient, login: Login, sessions: sessionmaker[Session]
) -> None:
    a, b = eligible(scenario, 0), eligible(scenario, 1)
    pool(scenario, {0: None, 1: None, 2: None})
    client.post("/logout")
    login(client, scenario.people.emails["evaluator1"])
    assert client.get(f"/calls/{scenario.call_id}/assignment").status_code == 403
    client.post("/logout")
    login(client, scenario.people.emails["officer"])
    page = client.get(f"/calls/{scenario.call_id}/assignment").get_data(as_text=True)
    assert "data-confirm=" in page and "Confirm the assignment" in page
    # The officer changes the second expert of the first application to the third.
    result = plan(scenario)
    form: dict[str, object] = {"application_ids": [str(a), str(b)]}
    for row in result.rows:
        for place, expert_id in enumerate(row.proposed):
            form[f"expert-{row.application.id}-{place}"] = str(expert_id)
    third = scenario.people.evaluators[2].user_id
    form[f"expert-{a}-1"] = (
        str(third) if form[f"expert-{a}-0"] != str(third) else form[f"expert-{a}-1"]
    )
    done = client.post(f"/calls/{scenario.call_id}/assignment", data=form)
    assert done.status_code == 302
    assert scenario.status(a) == scenario.status(b) == AppState.IN_EVALUATION
    assert third in {e.evaluator_id for e in scenario.application(a).evaluations}
    with sessions() as session:
        assigned = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "assign_evaluator", AuditEvent.application_id.in_([a, b])
            )
        ).all()
    assert len(assigned) == 4 and all(e.after.get("due_at") for e in assigned)


# -- experts decline; replacements; overdue ---------------------------------------------------
def test_a_declined_assignment_is_replaced_with_one_click(
    scenario: Scenario, client: FlaskClient, login: Login
) -> None:
    app_id = eligible(scenario, 0)
    first, second, third = scenario.people.evaluators
    pool(scenario, {0: None, 1: None, 2: None})
    scenario.assign(app_id, [first, second])
    evaluation_id = scenario.evaluation_id(app_id, first)
    client.post("/logout")
    login(client, scenario.people.emails["evaluator1"])
    refused = client.post(f"/evaluations/{evaluation_id}/decline", data={"reason": " "})
    assert refused.status_code == 422
    declined = client.post(
        f"/evaluations/{evaluation_id}/decline", data={"reason": "On leave in March"}
    )
    assert declined.status_code == 302
    assert client.get(f"/applications/{app_id}").status_code == 404

    (replacement,) = [r for r in plan(scenario).replacements if r.evaluation.id == evaluation_id]
    assert "On leave in March" in replacement.reason and not replacement.detected
    assert replacement.proposed is not None and replacement.proposed.user_id == third.user_id
    client.post("/logout")
    login(client, scenario.people.emails["officer"])
    client.post(
        f"/calls/{scenario.call_id}/assignment/replace",
        data={"evaluation_id": evaluation_id, "evaluator_id": third.user_id},
    )
    statuses = {e.evaluator_id: e.status for e in scenario.application(app_id).evaluations}
    assert statuses == {
        first.user_id: "declined",
        second.user_id: "assigned",
        third.user_id: "assigned",
    }
    assert [r for r in plan(scenario).replacements if r.evaluation.id == evaluation_id] == []


def test_evaluations_past_their_due_date_are_listed_as_overdue(scenario: Scenario) -> None:
    app_id = eligible(scenario, 0)
    scenario.assign(app_id)
    assert plan(scenario).overdue == []
    later = utcnow() + timedelta(days=15)  # the call gives 14 days
    overdue = plan(scenario, now=later).overdue
    assert sorted(e.evaluator_id for e in overdue) == sorted(
        e.user_id for e in scenario.people.evaluators[:2]
    )


# -- locked scores ---------------------------------------------------------------------------
def test_submitted_scores_are_locked_until_the_officer_reopens_them_with_a_reason(
    scenario: Scenario, client: FlaskClient, login: Login, sessions: sessionmaker[Session]
) -> None:
    app_id = eligible(scenario, 0)
    scenario.assign(app_id)
    expert = scenario.people.evaluators[0]
    scenario.score(app_id, expert, ("4", "4", "4"))
    evaluation_id = scenario.evaluation_id(app_id, expert)
    again = {k: "2" for k in KEYS}
    with pytest.raises(TransitionRefused, match="locked"):
        scenario.run(
            lambda s: evaluation.submit_scores(
                s, expert, evaluation_id, scores=again, comments={k: "x" for k in KEYS}
            )
        )

    client.post("/logout")

    login(client, scenario.people.emails["officer"])
    page = client.get(f"/applications/{app_id}").get_data(as_text=True)
    assert f"/evaluations/{evaluation_id}/reopen" in page
    assert (
        client.post(f"/evaluations/{evaluation_id}/reopen", data={"reason": ""}).status_code == 422
    )
    reason = "The impact comment contradicts its score."
    assert (
        client.post(f"/evaluations/{evaluation_id}/reopen", data={"reason": reason}).status_code
        == 302
    )
    with sessions() as session:
        mail = session.scalars(
            select(MailMessage).where(
                MailMessage.purpose == "scores_reopened", MailMessage.application_id == app_id
            )
        ).one()
        assert mail.to_address == scenario.people.emails["evaluator1"]
        assert reason in mail.body_text
        event = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "reopen_scores", AuditEvent.entity_id == str(evaluation_id)
            )
        ).one()
        assert event.after["reason"] == reason and event.before["total"]

    client.post("/logout")

    login(client, scenario.people.emails["evaluator1"])
    form = client.get(f"/evaluations/{evaluation_id}").get_data(as_text=True)
    assert reason in form and "well argued" in form  # the form starts from the scores
    scores = {f"score_{k}": "3" for k in KEYS} | {f"comment_{k}": "revised" for k in KEYS}
    assert client.post(f"/evaluations/{evaluation_id}/scores", data=scores).status_code == 302
    with sessions() as session:
        found = session.get(Evaluation, evaluation_id)
        assert found is not None and found.status == "submitted" and found.total == 9
        assert (
            session.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.entity_type == "evaluation",
                    AuditEvent.entity_id == str(evaluation_id),
                )
            ).all()[-1]
            == "resubmit_scores"
        )
