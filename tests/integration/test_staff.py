"""Staff from an empty programme: the first administrator from the command line, invitations
with several roles, role changes and switches, and the per-person rules that hold whatever
roles a person holds."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from grants.db import utcnow
from grants.errors import ValidationFailed
from grants.models import Application, AuditEvent, MailMessage, User
from grants.presenters import step_panels
from grants.services import accounts, evaluation, mail, payments, staff
from grants.services.actor import Actor
from tests.scenario import Scenario
from workflows.errors import TransitionRefused
from workflows.roles import Role
from workflows.voucher import AppState

SECRET = "test-secret"  # the conftest app's SECRET_KEY
PASSWORD = "bollard keel mizzen anchor"
Invoke = Callable[..., Result]


@pytest.fixture
def cascade(app: Flask) -> Invoke:
    runner = app.test_cli_runner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(args=list(args), input=input)

    return invoke


def new_email(who: str = "staff") -> str:
    return f"{who}.{uuid.uuid4().hex[:10]}@cluster.example"


def find(sessions: sessionmaker[Session], email: str) -> User | None:
    with sessions() as session:
        user = accounts.find_user(session, email)
        if user is not None:
            user.roles  # noqa: B018 - loaded before the session closes
        return user


def events(sessions: sessionmaker[Session], user_id: int, action: str) -> list[AuditEvent]:
    with sessions() as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.entity_type == "user",
                    AuditEvent.entity_id == str(user_id),
                    AuditEvent.action == action,
                )
                .order_by(AuditEvent.id)
            )
        )


def invitation_mail(sessions: sessionmaker[Session], email: str) -> MailMessage:
    with sessions() as session:
        messages = list(
            session.scalars(
                select(MailMessage)
                .where(MailMessage.to_address == email, MailMessage.purpose == "staff_invitation")
                .order_by(MailMessage.id)
            )
        )
    assert messages, f"no invitation mailed to {email}"
    return messages[-1]


def token_in(body: str) -> str:
    match = re.search(r"/welcome/([\w.-]+)", body)
    assert match, body
    return match.group(1)


def invite(
    sessions: sessionmaker[Session], admin: Actor, email: str, roles: list[Role]
) -> tuple[int, str]:
    with sessions() as session, session.begin():
        user = staff.invite(
            session,
            admin,
            email=email,
            full_name="Ana Kovač",
            roles=roles,
            secret_key=SECRET,
            link=lambda token: f"https://vouchers.example/welcome/{token}",
        )
        user_id = user.id
    return user_id, token_in(invitation_mail(sessions, email).body_text)


def accept(sessions: sessionmaker[Session], token: str) -> User:
    with sessions() as session, session.begin():
        return staff.accept_invitation(
            session,
            token,
            password=PASSWORD,
            password_confirm=PASSWORD,
            secret_key=SECRET,
            origin=accounts.Origin(),
        )


# -- the first administrator, from the command line -------------------------------------


def test_admin_create_prompts_for_the_password_twice_and_the_admin_can_log_in(
    cascade: Invoke, sessions: sessionmaker[Session], app: Flask
) -> None:
    email = new_email("admin")
    result = cascade("admin", "create", email, "--name", "Marta Horvat", input=f"{PASSWORD}\n" * 2)
    assert result.exit_code == 0, result.output
    assert "administrator" in result.output and "/login" in result.output

    user = find(sessions, email)
    assert user is not None and user.roles == {Role.ADMIN} and user.role == Role.ADMIN
    created = events(sessions, user.id, "create_admin")
    assert [e.actor_name for e in created] == ["cascade command line"]
    response = app.test_client().post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302


def test_admin_create_refuses_a_weak_password_or_a_taken_address_and_creates_nothing(
    cascade: Invoke, sessions: sessionmaker[Session], scenario: Scenario
) -> None:
    email = new_email("admin")
    weak = cascade("admin", "create", email, "--name", "Marta", "--password", "short")
    assert weak.exit_code == 1 and "password" in weak.output
    assert find(sessions, email) is None

    taken = scenario.people.emails["officer"]
    result = cascade("admin", "create", taken, "--name", "Marta", "--password", PASSWORD)
    assert result.exit_code == 1 and "already has an account" in result.output
    assert find(sessions, taken).roles == {Role.OFFICER}  # type: ignore[union-attr]


def test_mistyped_password_confirmation_creates_nothing(
    cascade: Invoke, sessions: sessionmaker[Session]
) -> None:
    email = new_email("admin")
    result = cascade("admin", "create", email, "--name", "Marta", input=f"{PASSWORD}\nother\n")
    assert result.exit_code != 0
    assert find(sessions, email) is None


# -- invitations -------------------------------------------------------------------------


def test_cli_invite_holds_every_role_and_mails_a_link_that_sets_the_password(
    cascade: Invoke, sessions: sessionmaker[Session], app: Flask
) -> None:
    email = new_email("officer")
    result = cascade("user", "invite", email, "--name", "Luc Martin", "--role", "officer,finance")
    assert result.exit_code == 0, result.output
    printed = token_in(result.output)

    user = find(sessions, email)
    assert user is not None
    assert user.roles == {Role.OFFICER, Role.FINANCE} and user.role == Role.OFFICER
    assert user.email_confirmed_at is None
    mail = invitation_mail(sessions, email)
    assert token_in(mail.body_text) == printed and "Programme officer" in mail.body_text
    [invited] = events(sessions, user.id, "invite_user")
    assert invited.after["roles"] == ["officer", "finance"]

    client = app.test_client()
    refused = client.post("/login", data={"email": email, "password": PASSWORD})
    assert refused.status_code != 302  # no password chosen yet
    accept(sessions, printed)
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    assert find(sessions, email).email_confirmed_at is not None  # type: ignore[union-attr]


def test_cli_invite_names_the_known_roles_when_one_is_unknown(
    cascade: Invoke, sessions: sessionmaker[Session]
) -> None:
    email = new_email()
    result = cascade("user", "invite", email, "--name", "X", "--role", "officer", "--role", "boss")
    assert result.exit_code == 1
    assert "boss" in result.output and "evaluator" in result.output
    assert find(sessions, email) is None


def test_an_applicant_role_cannot_be_given_by_invitation(
    cascade: Invoke, sessions: sessionmaker[Session]
) -> None:
    email = new_email()
    result = cascade("user", "invite", email, "--name", "X", "--role", "applicant")
    assert result.exit_code == 1 and find(sessions, email) is None


def test_an_invitation_link_works_once_and_a_resent_one_ends_the_older(
    sessions: sessionmaker[Session], scenario: Scenario
) -> None:
    admin = scenario.people.admin
    user_id, first = invite(sessions, admin, new_email(), [Role.EVALUATOR])
    with sessions() as session, session.begin():
        staff.resend_invitation(
            session, admin, user_id, secret_key=SECRET, link=lambda t: f"/welcome/{t}"
        )
    second = token_in(invitation_mail(sessions, find_by_id(sessions, user_id).email).body_text)
    assert second != first
    with pytest.raises(accounts.TokenProblem):
        accept(sessions, first)
    accept(sessions, second)
    with pytest.raises(accounts.TokenProblem):
        accept(sessions, second)
    with sessions() as session, pytest.raises(accounts.AccountRefused):
        staff.resend_invitation(
            session, admin, user_id, secret_key=SECRET, link=lambda t: f"/welcome/{t}"
        )


def find_by_id(sessions: sessionmaker[Session], user_id: int) -> User:
    with sessions() as session:
        user = session.get(User, user_id)
        assert user is not None
        return user


def test_an_invitation_expires_after_seven_days(
    sessions: sessionmaker[Session], scenario: Scenario
) -> None:
    user_id, _token = invite(sessions, scenario.people.admin, new_email(), [Role.AUDITOR])
    user = find_by_id(sessions, user_id)
    stale = staff.invitation_token(SECRET, user, issued_at=utcnow() - timedelta(days=8))
    fresh = staff.invitation_token(SECRET, user, issued_at=utcnow() - timedelta(days=6))
    with pytest.raises(accounts.TokenProblem) as problem:
        accept(sessions, stale)
    assert problem.value.expired
    assert accept(sessions, fresh).email_confirmed_at is not None


def test_only_an_administrator_invites(sessions: sessionmaker[Session], scenario: Scenario) -> None:
    email = new_email()
    with sessions() as session, pytest.raises(accounts.AccountRefused):
        staff.invite(
            session,
            scenario.people.officer,
            email=email,
            full_name="X",
            roles=[Role.EVALUATOR],
            secret_key=SECRET,
            link=str,
        )
    assert find(sessions, email) is None


# -- roles -------------------------------------------------------------------------------


def set_roles(sessions: sessionmaker[Session], actor: Actor, user_id: int, roles: list[Role]):
    with sessions() as session, session.begin():
        user = staff.set_roles(session, actor, user_id, roles)
        return user.roles, user.role


def test_changing_roles_is_audited_and_the_acting_role_follows(
    sessions: sessionmaker[Session], scenario: Scenario
) -> None:
    admin = scenario.people.admin
    officer = scenario.people.officer
    assert set_roles(sessions, admin, officer.user_id, [Role.OFFICER, Role.AUDITOR]) == (
        {Role.OFFICER, Role.AUDITOR},
        Role.OFFICER,
    )
    assert set_roles(sessions, admin, officer.user_id, [Role.AUDITOR]) == (
        {Role.AUDITOR},
        Role.AUDITOR,
    )
    changes = events(sessions, officer.user_id, "change_roles")
    assert [(e.before["roles"], e.after["roles"]) for e in changes] == [
        (["officer"], ["auditor", "officer"]),
        (["auditor", "officer"], ["auditor"]),
    ]
    assert changes[-1].after["acting_role"] == "auditor"
    # The same roles again change nothing and write nothing.
    set_roles(sessions, admin, officer.user_id, [Role.AUDITOR])
    assert len(events(sessions, officer.user_id, "change_roles")) == 2


def test_role_changes_that_are_refused(sessions: sessionmaker[Session], scenario: Scenario) -> None:
    people = scenario.people
    with pytest.raises(accounts.AccountRefused, match="own administrator"):
        set_roles(sessions, people.admin, people.admin.user_id, [Role.OFFICER])
    with pytest.raises(accounts.AccountRefused, match="SME"):
        set_roles(sessions, people.admin, people.applicants[0].user_id, [Role.OFFICER])
    with pytest.raises(accounts.FormErrors):
        set_roles(sessions, people.admin, people.officer.user_id, [])
    with pytest.raises(accounts.AccountRefused):
        set_roles(sessions, people.officer, people.auditor.user_id, [Role.ADMIN])
    assert find_by_id(sessions, people.auditor.user_id).role == Role.AUDITOR


def test_switching_to_a_role_held_is_audited_and_to_another_refused(
    sessions: sessionmaker[Session], scenario: Scenario
) -> None:
    people = scenario.people
    set_roles(sessions, people.admin, people.officer.user_id, [Role.OFFICER, Role.FINANCE])
    with sessions() as session, session.begin():
        assert staff.switch_role(session, people.officer, Role.FINANCE).role == Role.FINANCE
    with sessions() as session, pytest.raises(accounts.AccountRefused):
        staff.switch_role(session, people.officer, Role.ADMIN)
    [switched] = events(sessions, people.officer.user_id, "switch_role")
    assert (switched.before, switched.after) == (
        {"acting_role": "officer"},
        {"acting_role": "finance"},
    )


# -- rules that compare people, whatever roles they hold ---------------------------------


def acting(sessions: sessionmaker[Session], user_id: int, role: Role) -> Actor:
    with sessions() as session, session.begin():
        user = staff.switch_role(session, Actor.of(session.get(User, user_id)), role)
        return Actor.of(user)


def test_a_person_holding_officer_and_evaluator_never_evaluates_what_they_assign(
    sessions: sessionmaker[Session], scenario: Scenario
) -> None:
    people = scenario.people
    app_id = scenario.draft(0)
    scenario.submit(app_id)
    scenario.check_eligibility(app_id)
    officer_id = people.officer.user_id
    set_roles(sessions, people.admin, officer_id, [Role.OFFICER, Role.EVALUATOR])
    officer = acting(sessions, officer_id, Role.OFFICER)

    with sessions() as session:
        choices = step_panels.active_evaluators(session, set())
        assert officer_id in {u.id for u in choices}  # an evaluator elsewhere
        application = session.get(Application, app_id)
        assert application is not None
        panel = step_panels.assign_evaluators(session, application, officer)
        assert officer_id not in {u.id for u in panel["evaluator_choices"]}
    with sessions() as session, pytest.raises(ValidationFailed, match="cannot evaluate"):
        evaluation.assign_evaluators(session, officer, app_id, [officer_id])


def test_an_evaluator_acting_in_another_role_can_still_be_assigned(
    sessions: sessionmaker[Session], scenario: Scenario
) -> None:
    people = scenario.people
    expert = people.evaluators[0].user_id
    set_roles(sessions, people.admin, expert, [Role.EVALUATOR, Role.AUDITOR])
    acting(sessions, expert, Role.AUDITOR)
    app_id = scenario.draft(0)
    scenario.submit(app_id)
    scenario.check_eligibility(app_id)
    with sessions() as session, session.begin():
        others = [people.evaluators[1].user_id]
        evaluation.assign_evaluators(session, people.officer, app_id, [expert, *others])
    assert expert in {e.evaluator_id for e in scenario.application(app_id).evaluations}


def test_four_eyes_holds_for_one_person_across_roles(
    sessions: sessionmaker[Session], scenario: Scenario
) -> None:
    people = scenario.people
    app_id = scenario.draft(0)
    scenario.advance(app_id, AppState.CONTRACTED)
    finance_id = people.finance[0].user_id
    set_roles(sessions, people.admin, finance_id, [Role.FINANCE, Role.OFFICER])
    preparer = acting(sessions, finance_id, Role.FINANCE)
    payment_id = scenario.run(lambda s: payments.prepare_prefinancing(s, preparer, app_id).id)
    acting(sessions, finance_id, Role.OFFICER)
    again = acting(sessions, finance_id, Role.FINANCE)
    with sessions() as session, pytest.raises(TransitionRefused):
        payments.authorise_instalment(session, again, payment_id)
    scenario.run(lambda s: payments.authorise_instalment(s, people.finance[1], payment_id))


def test_an_invitation_link_is_a_secret_link_in_the_admins_outbox(
    sessions: sessionmaker[Session], scenario: Scenario
) -> None:
    email = new_email()
    invite(sessions, scenario.people.admin, email, [Role.OFFICER])
    message = invitation_mail(sessions, email)
    with sessions() as session:
        shown = mail.body_for_admin(
            session, scenario.people.auditor, message, delivered_by_smtp=True
        )
    assert "/welcome/" not in shown and "link hidden" in shown
