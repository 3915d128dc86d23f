"""Staff accounts through the browser's eyes: the administrator invites a person with their
roles, the person chooses a password from the mailed link, switches between the roles held,
and the administrator changes those roles on the person's page."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from grants import create_app
from grants.models import AuditEvent, MailMessage, User
from grants.runtime import Runtime
from grants.services import accounts
from tests.integration.test_accounts import from_ip, limited_config
from tests.scenario import Scenario
from workflows.roles import Role

Login = Callable[[FlaskClient, str], None]
PASSWORD = "quay lighthouse bilge spinnaker"
OFFICER_PAGE = "/audit"  # the audit trail: officers and auditors, not finance


def new_email() -> str:
    return f"staff.{uuid.uuid4().hex[:10]}@cluster.example"


def invite(client: FlaskClient, email: str, roles: list[str], name: str = "Ana Kovač") -> Any:
    return client.post(
        "/admin/users/invite", data={"full_name": name, "email": email, "roles": roles}
    )


def find(sessions: sessionmaker[Session], email: str) -> User | None:
    with sessions() as session:
        user = accounts.find_user(session, email)
        if user is not None:
            user.roles  # noqa: B018 - loaded before the session closes
        return user


def welcome_path(sessions: sessionmaker[Session], email: str) -> str:
    """The path of the newest invitation link mailed to ``email``."""
    with sessions() as session:
        message = session.scalars(
            select(MailMessage)
            .where(MailMessage.to_address == email, MailMessage.purpose == "staff_invitation")
            .order_by(MailMessage.id.desc())
        ).first()
    assert message is not None, f"no invitation mailed to {email}"
    match = re.search(r"https?://[^/\s]+(/welcome/\S+)", message.body_text)
    assert match, message.body_text
    return match.group(1)


def actions(sessions: sessionmaker[Session], user_id: int) -> list[str]:
    with sessions() as session:
        return list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.entity_type == "user", AuditEvent.entity_id == str(user_id))
                .order_by(AuditEvent.id)
            )
        )


def accept(client: FlaskClient, path: str, password: str = PASSWORD, **kw: Any) -> Any:
    return client.post(path, data={"password": password, "password_confirm": password}, **kw)


def invited_and_accepted(
    app: Flask, admin: FlaskClient, sessions: sessionmaker[Session], roles: list[str]
) -> tuple[FlaskClient, User]:
    """A person invited with ``roles`` who chose a password: their own logged-in client."""
    email = new_email()
    assert invite(admin, email, roles).status_code == 302
    person = app.test_client()
    assert accept(person, welcome_path(sessions, email)).status_code == 302
    user = find(sessions, email)
    assert user is not None
    return person, user


@pytest.fixture
def admin(app: Flask, login: Login, scenario: Scenario) -> FlaskClient:
    client = app.test_client()
    login(client, scenario.people.emails["admin"])
    return client


# -- inviting and accepting --------------------------------------------------------------


def test_an_invited_person_chooses_a_password_and_works_in_their_roles(
    app: Flask, admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    form = admin.get("/admin/users/invite")
    assert form.status_code == 200
    page = form.get_data(as_text=True)
    for role in ("officer", "finance", "evaluator", "auditor", "admin"):
        assert f'name="roles" value="{role}"' in page
    assert "Programme officer" in page and 'value="applicant"' not in page

    email = new_email()
    response = invite(admin, email, ["officer", "finance"])
    assert response.status_code == 302
    user = find(sessions, email)
    assert user is not None
    assert user.roles == {Role.OFFICER, Role.FINANCE} and user.role == Role.OFFICER
    assert response.headers["Location"] == f"/admin/users/{user.id}"
    shown = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "is invited" in shown  # the flash
    assert "Invitation pending" in shown and "Send the invitation again" in shown

    # The mail carries the welcome link; the page names the person and their roles.
    path = welcome_path(sessions, email)
    person = app.test_client()
    welcome = person.get(path)
    assert welcome.status_code == 200
    assert welcome.headers["Referrer-Policy"] == "no-referrer"
    assert welcome.headers["Cache-Control"] == "no-store"
    body = welcome.get_data(as_text=True)
    assert "Ana Kovač" in body and email in body
    assert "Programme officer" in body and "Finance officer" in body
    assert 'id="password_confirm"' in body

    # A weak password keeps them on the page, with the error next to the field.
    weak = accept(person, path, "short")
    assert weak.status_code == 200
    body = weak.get_data(as_text=True)
    assert "thing to correct" in body and 'class="field-error" id="password-error"' in body
    assert person.get("/dashboard").status_code == 302  # not logged in

    done = accept(person, path)
    assert done.status_code == 302 and done.headers["Location"] == "/dashboard"
    dashboard = person.get("/dashboard")
    assert dashboard.status_code == 200
    assert "your password is set" in dashboard.get_data(as_text=True).lower()
    assert person.get(OFFICER_PAGE).status_code == 200
    # The link worked once.
    assert "This link does not work" in app.test_client().get(path).get_data(as_text=True)
    # They log in with it from now on.
    fresh = app.test_client()
    login = fresh.post("/login", data={"email": email, "password": PASSWORD})
    assert login.status_code == 302

    assert actions(sessions, user.id) == ["invite_user", "accept_invitation"]
    listed = admin.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert "Invitation pending" not in listed and "Send the invitation again" not in listed


def test_a_bad_or_tampered_welcome_link_shows_the_link_problem(
    client: FlaskClient, admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    page = client.get("/welcome/not-a-token")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "This link does not work" in body and 'action="/password/forgot"' in body
    assert page.headers["Referrer-Policy"] == "no-referrer"

    email = new_email()
    invite(admin, email, ["auditor"])
    path = welcome_path(sessions, email)
    assert "This link does not work" in client.get(path + "x").get_data(as_text=True)
    assert accept(client, path + "x").status_code == 200
    user = find(sessions, email)
    assert user is not None and user.email_confirmed_at is None


def test_invite_errors_show_next_to_their_fields_and_keep_what_was_typed(
    admin: FlaskClient, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    taken = scenario.people.emails["officer"]
    response = invite(admin, taken, [], name="Marta Nowak")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "2 things to correct" in body
    assert 'href="#email"' in body and 'href="#roles"' in body
    assert "already has an account" in body and "Choose at least one role" in body
    assert 'value="Marta Nowak"' in body and f'value="{taken}"' in body

    # The roles ticked stay ticked when another field is wrong.
    response = invite(admin, "not an address", ["finance", "auditor"], name="Marta Nowak")
    body = response.get_data(as_text=True)
    assert "1 thing to correct" in body
    assert 'value="finance" checked' in body and 'value="auditor" checked' in body
    assert 'value="officer" checked' not in body

    # A role that is no staff role (a tampered form) is refused, and nothing is made.
    email = new_email()
    response = invite(admin, email, ["applicant"])
    assert response.status_code == 200 and "Unknown role applicant" in response.get_data(
        as_text=True
    )
    assert find(sessions, email) is None


# -- the role switcher -------------------------------------------------------------------


def test_switching_between_the_roles_held(
    app: Flask, admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    person, user = invited_and_accepted(app, admin, sessions, ["officer", "finance"])
    header = person.get("/dashboard").get_data(as_text=True)
    assert 'action="/account/role"' in header
    assert '<option value="officer" selected>' in header and '<option value="finance">' in header

    switched = person.post("/account/role", data={"role": "finance"})
    assert switched.status_code == 302 and switched.headers["Location"] == "/dashboard"
    page = person.get("/dashboard").get_data(as_text=True)
    assert "You now act as Finance officer" in page
    assert '<option value="finance" selected>' in page
    assert person.get(OFFICER_PAGE).status_code == 403

    # A role not held, or no staff role at all, is refused and changes nothing.
    for role in ("auditor", "applicant", ""):
        refused = person.post("/account/role", data={"role": role}, follow_redirects=True)
        assert refused.status_code == 200
        body = refused.get_data(as_text=True)
        assert "You do not hold the role" in body or "Choose one of the roles you hold" in body
    stored = find(sessions, user.email)
    assert stored is not None and stored.role == Role.FINANCE

    assert person.post("/account/role", data={"role": "officer"}).status_code == 302
    assert person.get(OFFICER_PAGE).status_code == 200
    assert actions(sessions, user.id).count("switch_role") == 2


def test_a_person_holding_one_role_has_no_switcher(app: Flask, login: Login, scenario: Scenario):
    for who in ("officer", "applicant0"):
        client = app.test_client()
        login(client, scenario.people.emails[who])
        page = client.get("/dashboard").get_data(as_text=True)
        assert 'action="/account/role"' not in page and 'class="role-pill"' in page


def test_an_applicant_page_does_not_load_the_roles_held(
    app: Flask, login: Login, scenario: Scenario, runtime: Runtime
) -> None:
    client = app.test_client()
    login(client, scenario.people.emails["applicant0"])
    with statements(runtime) as seen:
        assert client.get("/account").status_code == 200
    assert not [s for s in seen if "user_roles" in s]


# -- the person's page: roles, invitation, (de)activation --------------------------------


def test_a_role_taken_away_applies_on_the_persons_next_request(
    app: Flask, admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    person, user = invited_and_accepted(app, admin, sessions, ["officer", "evaluator"])
    assert person.get(OFFICER_PAGE).status_code == 200

    page = admin.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert 'value="officer" checked' in page and 'value="evaluator" checked' in page
    assert "Acts now as" in page
    saved = admin.post(f"/admin/users/{user.id}/roles", data={"roles": ["evaluator", "auditor"]})
    assert saved.status_code == 302 and saved.headers["Location"] == f"/admin/users/{user.id}"
    assert "are saved" in admin.get(saved.headers["Location"]).get_data(as_text=True)

    # Still logged in, now acting as the first role left.
    assert person.get(OFFICER_PAGE).status_code == 403
    stored = find(sessions, user.email)
    assert stored is not None
    assert stored.roles == {Role.EVALUATOR, Role.AUDITOR} and stored.role == Role.EVALUATOR
    assert "change_roles" in actions(sessions, user.id)

    # No role at all is refused on the page, with the boxes as they were ticked.
    refused = admin.post(f"/admin/users/{user.id}/roles", data={})
    assert refused.status_code == 200
    body = refused.get_data(as_text=True)
    assert "1 thing to correct" in body and "deactivate the account" in body
    assert 'value="evaluator" checked' not in body
    stored = find(sessions, user.email)
    assert stored is not None and stored.roles == {Role.EVALUATOR, Role.AUDITOR}


def test_an_administrator_keeps_their_own_administrator_role(
    admin: FlaskClient, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    me = scenario.people.admin.user_id
    refused = admin.post(f"/admin/users/{me}/roles", data={"roles": ["officer"]})
    assert refused.status_code == 302
    assert "cannot take away your own" in admin.get(refused.headers["Location"]).get_data(
        as_text=True
    )
    stored = find(sessions, scenario.people.emails["admin"])
    assert stored is not None and stored.roles == {Role.ADMIN}


def test_an_applicants_roles_are_shown_read_only(
    admin: FlaskClient, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    applicant = scenario.people.applicants[0]
    page = admin.get(f"/admin/users/{applicant.user_id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Applicant (SME)" in body and "holds no staff role" in body
    assert 'name="roles"' not in body
    assert f"SME 0 {scenario.tag}" in body  # its organisation

    refused = admin.post(
        f"/admin/users/{applicant.user_id}/roles",
        data={"roles": ["officer"]},
        follow_redirects=True,
    )
    assert "Applicant accounts belong to an SME" in refused.get_data(as_text=True)
    stored = find(sessions, scenario.people.emails["applicant0"])
    assert stored is not None and stored.roles == {Role.APPLICANT}


def test_a_resent_invitation_ends_the_older_link(
    app: Flask, admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    email = new_email()
    invite(admin, email, ["evaluator"])
    user = find(sessions, email)
    assert user is not None
    first = welcome_path(sessions, email)

    resent = admin.post(f"/admin/users/{user.id}/invitation")
    assert resent.status_code == 302 and resent.headers["Location"] == f"/admin/users/{user.id}"
    assert "no longer work" in admin.get(resent.headers["Location"]).get_data(as_text=True)
    second = welcome_path(sessions, email)
    assert second != first

    person = app.test_client()
    assert "This link does not work" in person.get(first).get_data(as_text=True)
    assert accept(person, second).status_code == 302
    assert actions(sessions, user.id) == ["invite_user", "resend_invitation", "accept_invitation"]

    # Accepted: nothing to send again.
    again = admin.post(f"/admin/users/{user.id}/invitation", follow_redirects=True)
    assert "already accepted the invitation" in again.get_data(as_text=True)


def test_deactivating_from_the_persons_page_comes_back_to_it(
    admin: FlaskClient, scenario: Scenario
) -> None:
    auditor = scenario.people.auditor.user_id
    here = f"/admin/users/{auditor}"
    response = admin.post(f"{here}/deactivate", data={"next": here})
    assert response.status_code == 302 and response.headers["Location"] == here
    page = admin.get(here).get_data(as_text=True)
    assert "Deactivated" in page and "Reactivate the account" in page
    response = admin.post(f"{here}/reactivate", data={"next": "//evil.example/"})
    assert response.headers["Location"].startswith("/admin/users?")


# -- the list, access and cost -----------------------------------------------------------


@contextmanager
def statements(runtime: Runtime) -> Iterator[list[str]]:
    """The SQL statements run on the app's engine inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(runtime.engine, "before_cursor_execute", record)


def test_the_list_shows_every_role_held_without_a_query_per_row(
    app: Flask,
    admin: FlaskClient,
    scenario: Scenario,
    sessions: sessionmaker[Session],
    runtime: Runtime,
) -> None:
    _person, user = invited_and_accepted(app, admin, sessions, ["finance", "auditor"])
    with statements(runtime) as seen:
        page = admin.get(f"/admin/users?q={scenario.tag}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Invite a person" in body and 'href="/admin/users/invite"' in body
    assert f'href="/admin/users/{scenario.people.officer.user_id}"' in body
    assert '<th scope="col">Roles</th>' in body
    # 11 accounts listed; the statements do not grow with them.
    assert body.count('<th scope="row">') == 11
    assert len(seen) <= 8, seen

    listed = admin.get(f"/admin/users?q={user.email}").get_data(as_text=True)
    assert "Finance officer, Auditor" in listed

    finance_only = admin.get("/admin/users?role=finance&q=" + scenario.tag).get_data(as_text=True)
    assert "People holding the role Finance officer." in finance_only
    assert f'href="/admin/users/{scenario.people.finance[0].user_id}"' in finance_only
    assert f'href="/admin/users/{scenario.people.officer.user_id}"' not in finance_only

    # The dashboard counts in the database and lists only the open invitations, whatever the
    # number of accounts.
    pending_email = new_email()
    assert invite(admin, pending_email, ["evaluator"]).status_code == 302
    pending = find(sessions, pending_email)
    assert pending is not None
    pending_id = pending.id
    with statements(runtime) as seen:
        dashboard = admin.get("/dashboard")
    body = dashboard.get_data(as_text=True)
    assert dashboard.status_code == 200 and "Active accounts by role" in body
    assert f'href="/admin/users/{pending_id}"' in body
    assert f'href="/admin/users/{user.id}"' not in body  # accepted: not pending any more
    assert len(seen) <= 8, seen


def test_only_an_administrator_reaches_the_staff_pages(
    app: Flask, login: Login, scenario: Scenario
) -> None:
    target = scenario.people.evaluators[0].user_id
    for who in ("officer", "auditor", "applicant0", "finance1"):
        client = app.test_client()
        login(client, scenario.people.emails[who])
        assert client.get("/admin/users/invite").status_code == 403
        assert invite(client, new_email(), ["admin"]).status_code == 403
        assert client.get(f"/admin/users/{target}").status_code == 403
        assert (
            client.post(f"/admin/users/{target}/roles", data={"roles": ["admin"]}).status_code
            == 403
        )
        assert client.post(f"/admin/users/{target}/invitation").status_code == 403


def test_an_unknown_person_is_not_found(admin: FlaskClient) -> None:
    assert admin.get("/admin/users/987654321").status_code == 404
    assert (
        admin.post("/admin/users/987654321/roles", data={"roles": ["officer"]}).status_code == 404
    )
    assert admin.post("/admin/users/987654321/invitation").status_code == 404


def test_the_welcome_form_is_rate_limited(app: Flask, database_url: str, tmp_path: Path) -> None:
    limited = create_app(limited_config(database_url, tmp_path, prefix=uuid.uuid4().hex))
    try:
        client = limited.test_client()
        for _ in range(10):
            response = accept(client, "/welcome/not-a-token", **from_ip("10.3.0.1"))
            assert response.status_code == 200
        assert accept(client, "/welcome/not-a-token", **from_ip("10.3.0.1")).status_code == 429
        assert client.get("/welcome/not-a-token", **from_ip("10.3.0.1")).status_code == 200
    finally:
        limited.extensions["cascade"].engine.dispose()
