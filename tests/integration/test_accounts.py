"""Accounts as a new applicant meets them: register, confirm, log in, reset, log out
everywhere; what a stranger can learn (nothing); rate limits; the admin's (de)activation."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from grants import create_app
from grants.config import Config
from grants.db import utcnow
from grants.models import AuditEvent, MailMessage, User
from grants.services import accounts
from tests.scenario import Scenario
from workflows.roles import Role

Login = Callable[[FlaskClient, str], None]
SECRET = "test-secret"  # the conftest app's SECRET_KEY
PASSWORD = "sonar buoy harbour lantern"
NEW_PASSWORD = "frigate compass granite tulip"


def new_email() -> str:
    return f"Manager.{uuid.uuid4().hex[:10]}@Sonar-SME.example"


def register(client: FlaskClient, email: str, password: str = PASSWORD, name: str = "Giulia Rossi"):
    return client.post(
        "/register",
        data={
            "full_name": name,
            "email": email,
            "password": password,
            "password_confirm": password,
        },
    )


def log_in(client: FlaskClient, email: str, password: str = PASSWORD, **kw: object):
    return client.post("/login", data={"email": email, "password": password}, **kw)


def user_by_email(sessions: sessionmaker[Session], email: str) -> User | None:
    with sessions() as session:
        return accounts.find_user(session, email)


def mails(
    sessions: sessionmaker[Session], email: str, purpose: str | None = None
) -> list[MailMessage]:
    with sessions() as session:
        query = select(MailMessage).where(MailMessage.to_address == email.lower())
        if purpose:
            query = query.where(MailMessage.purpose == purpose)
        return list(session.scalars(query.order_by(MailMessage.id)))


def link_path(body: str, prefix: str) -> str:
    """The path of the first link in ``body`` starting with ``prefix`` (e.g. /confirm/)."""
    match = re.search(rf"https?://[^/\s]+({re.escape(prefix)}\S+)", body)
    assert match, f"no {prefix} link in:\n{body}"
    return match.group(1)


def user_events(sessions: sessionmaker[Session], user_id: int) -> list[str]:
    with sessions() as session:
        return list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.entity_type == "user", AuditEvent.entity_id == str(user_id))
                .order_by(AuditEvent.id)
            )
        )


def logged_in(client: FlaskClient) -> bool:
    return client.get("/dashboard").status_code == 200


def registered_and_confirmed(client: FlaskClient, sessions: sessionmaker[Session]) -> str:
    email = new_email()
    assert register(client, email).status_code == 302
    (mail,) = mails(sessions, email, "confirm_email")
    assert client.get(link_path(mail.body_text, "/confirm/")).status_code == 200
    return email


# -- registration and confirmation -------------------------------------------------------


def test_register_confirm_then_log_in(
    app: Flask, client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    page = client.get("/register")
    assert page.status_code == 200
    assert 'for="password_confirm"' in page.get_data(as_text=True)

    email = new_email()
    response = register(client, email)
    assert response.status_code == 302
    assert response.headers["Location"] == "/check-your-inbox?sent=register"
    assert "Check your inbox" in client.get(response.headers["Location"]).get_data(as_text=True)

    user = user_by_email(sessions, email)
    assert user is not None
    assert user.email == email.lower()
    assert user.role == Role.APPLICANT and user.active and user.organisation_id is None
    assert user.email_confirmed_at is None
    assert user.password_hash.startswith("$argon2id$")

    (mail,) = mails(sessions, email)
    assert mail.purpose == "confirm_email" and mail.sent_at is None
    assert "48 hours" in mail.body_text and user.full_name in mail.body_text
    confirm = link_path(mail.body_text, "/confirm/")

    # Not confirmed yet: the password is right, but the door stays shut.
    refused = log_in(client, email)
    assert refused.status_code == 200
    assert "not confirmed yet" in refused.get_data(as_text=True)
    assert not logged_in(client)

    confirmed = client.get(confirm)
    assert confirmed.status_code == 200
    assert "Your e-mail address is confirmed" in confirmed.get_data(as_text=True)
    assert confirmed.headers["Referrer-Policy"] == "no-referrer"
    # Idempotent: the link again (a mail scanner, a second click) changes nothing.
    again = client.get(confirm)
    assert "already confirmed" in again.get_data(as_text=True)
    user = user_by_email(sessions, email)
    assert user is not None and user.email_confirmed_at is not None

    response = log_in(client, email.upper())  # the address is not case-sensitive
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    assert logged_in(client)
    account = client.get("/account").get_data(as_text=True)
    assert "Giulia Rossi" in account and email.lower() in account
    assert user_events(sessions, user.id) == ["register", "confirm_email"]


def test_the_session_lasts_eight_hours(app: Flask) -> None:
    assert app.permanent_session_lifetime == timedelta(hours=8)


def test_login_starts_a_fresh_session(
    client: FlaskClient, login: Login, scenario: Scenario
) -> None:
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    login(client, scenario.people.emails["applicant0"])
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.permanent


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"password": "short pass", "password_confirm": "short pass"}, "password", "12"),
        ({"password_confirm": "something else entirely"}, "password_confirm", "not the same"),
        (
            {"password": "Password1234", "password_confirm": "Password1234"},
            "password",
            "too common",
        ),
        (
            {"password": "aaaaaaaaaaaaaaa", "password_confirm": "aaaaaaaaaaaaaaa"},
            "password",
            "too common",
        ),
        ({"email": "not an address"}, "email", "like name@company.eu"),
        ({"email": "a,b@sme.example"}, "email", "like name@company.eu"),
        ({"full_name": "  "}, "full_name", "Enter your name"),
    ],
)
def test_registration_errors_show_next_to_their_field(
    client: FlaskClient,
    sessions: sessionmaker[Session],
    form: dict[str, str],
    field: str,
    message: str,
) -> None:
    email = new_email()
    data = {
        "full_name": "Jan de Vries",
        "email": email,
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        **form,
    }
    response = client.post("/register", data=data)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    error = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', body, re.S)
    assert error and message in error.group(1), body
    assert re.search(rf'id="{field}" [^>]*aria-describedby="[^"]*{field}-error"', body)
    assert body.count("<h1") == 1
    if field != "email":
        assert email in body  # what was typed is kept (never the password)
    assert PASSWORD not in body
    assert user_by_email(sessions, data["email"]) is None
    assert mails(sessions, email) == []


def test_the_password_may_not_be_the_email_address(client: FlaskClient) -> None:
    email = new_email()
    response = register(client, email, password=email.upper())
    assert "Do not use your e-mail address" in response.get_data(as_text=True)


def test_a_taken_address_reveals_nothing_and_the_owner_is_told(
    app: Flask, client: FlaskClient, sessions: sessionmaker[Session], scenario: Scenario
) -> None:
    email = new_email()
    first = register(client, email)
    second = register(client, email.upper(), password=NEW_PASSWORD, name="Someone Else")
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    with sessions() as session:
        assert session.scalar(select(User).where(User.email == email.lower())) is not None
        assert len(list(session.scalars(select(User).where(User.full_name == "Someone Else")))) == 0

    confirm, exists = mails(sessions, email)
    assert (confirm.purpose, exists.purpose) == ("confirm_email", "account_exists")
    assert "no new account was created" in exists.body_text
    assert "/login" in exists.body_text and "/password/forgot" in exists.body_text
    # Still unconfirmed, so the notice carries a fresh confirmation link.
    assert client.get(link_path(exists.body_text, "/confirm/")).status_code == 200
    # The first registration's password stands; the second one's was not taken.
    assert log_in(client, email, NEW_PASSWORD).status_code == 200
    assert log_in(client, email).status_code == 302

    # A confirmed account (made by an administrator) gets the notice without a link.
    officer = scenario.people.emails["officer"]
    stranger = app.test_client()
    assert register(stranger, officer).headers["Location"] == first.headers["Location"]
    (notice,) = mails(sessions, officer, "account_exists")
    assert "/confirm/" not in notice.body_text
    assert user_by_email(sessions, officer).role == Role.OFFICER  # type: ignore[union-attr]


def test_an_unconfirmed_login_says_no_more_than_a_wrong_password(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    email = new_email()
    register(client, email)

    def refusal(response_text: str) -> str:
        match = re.search(r'<div class="error-summary".*?</div>', response_text, re.S)
        assert match
        return match.group(0)

    unconfirmed = refusal(log_in(client, email).get_data(as_text=True))
    wrong_password = refusal(log_in(client, email, "wrong password!").get_data(as_text=True))
    unknown = refusal(log_in(client, new_email()).get_data(as_text=True))
    assert unconfirmed == wrong_password == unknown
    assert "new confirmation link" in unconfirmed

    # "Send again" answers the same for any address, and mails only an unconfirmed owner.
    before = len(mails(sessions, email, "confirm_email"))
    stranger = new_email()
    for address in (email, stranger):
        response = client.post("/confirm/resend", data={"email": address})
        assert response.status_code == 302
        assert response.headers["Location"] == "/check-your-inbox?sent=confirm"
    assert len(mails(sessions, email, "confirm_email")) == before + 1
    assert mails(sessions, stranger) == []
    assert client.get("/confirm/resend").status_code == 200


def test_expired_tampered_and_foreign_links_are_refused(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    email = new_email()
    register(client, email)
    user = user_by_email(sessions, email)
    assert user is not None
    (mail,) = mails(sessions, email)
    good = link_path(mail.body_text, "/confirm/").removeprefix("/confirm/")

    old = accounts.confirmation_token(SECRET, user, issued_at=utcnow() - timedelta(hours=49))
    page = client.get(f"/confirm/{old}").get_data(as_text=True)
    assert "This link has expired" in page and 'action="/confirm/resend"' in page

    recent = accounts.confirmation_token(SECRET, user, issued_at=utcnow() - timedelta(hours=47))
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    forged = accounts.confirmation_token("another-secret", user)
    reset_kind = accounts.reset_token(SECRET, user)  # right key, wrong purpose (salt)
    for token in (tampered, forged, reset_kind, "garbage"):
        page = client.get(f"/confirm/{token}").get_data(as_text=True)
        assert "This link does not work" in page, token
    user = user_by_email(sessions, email)
    assert user is not None and user.email_confirmed_at is None

    assert "is confirmed" in client.get(f"/confirm/{recent}").get_data(as_text=True)

    expired_reset = accounts.reset_token(SECRET, user, issued_at=utcnow() - timedelta(hours=2))
    page = client.get(f"/password/reset/{expired_reset}").get_data(as_text=True)
    assert "This link has expired" in page and 'action="/password/forgot"' in page
    for token in (good, "garbage"):
        page = client.get(f"/password/reset/{token}").get_data(as_text=True)
        assert "This link does not work" in page


# -- password reset, change, logout everywhere -------------------------------------------


def test_password_reset_is_single_use_and_logs_out_other_sessions(
    app: Flask, client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    email = registered_and_confirmed(client, sessions)
    other_device = app.test_client()
    assert log_in(other_device, email).status_code == 302
    assert logged_in(other_device)

    stranger = new_email()
    answers = [client.post("/password/forgot", data={"email": a}) for a in (email, stranger)]
    assert {r.headers["Location"] for r in answers} == {"/check-your-inbox?sent=reset"}
    assert mails(sessions, stranger) == []
    (mail,) = mails(sessions, email, "reset_password")
    assert "one hour" in mail.body_text
    reset = link_path(mail.body_text, "/password/reset/")

    form = client.get(reset)
    assert form.status_code == 200 and "Choose a new password" in form.get_data(as_text=True)
    assert form.headers["Referrer-Policy"] == "no-referrer"
    weak = client.post(reset, data={"password": "1234", "password_confirm": "1234"})
    assert weak.status_code == 200 and "at least 12 characters" in weak.get_data(as_text=True)

    done = client.post(reset, data={"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"] == "/dashboard"
    assert logged_in(client)  # logged in fresh
    other = other_device.get("/dashboard")
    assert other.status_code == 302 and "/login" in other.headers["Location"]

    # The link worked once.
    assert "does not work" in client.get(reset).get_data(as_text=True)
    again = client.post(
        reset, data={"password": PASSWORD + "!", "password_confirm": PASSWORD + "!"}
    )
    assert "does not work" in again.get_data(as_text=True)

    assert log_in(app.test_client(), email).status_code == 200
    assert log_in(app.test_client(), email, NEW_PASSWORD).status_code == 302
    assert [m.purpose for m in mails(sessions, email)][-1] == "password_changed"
    user = user_by_email(sessions, email)
    assert user is not None and user.session_version == 2
    assert user_events(sessions, user.id)[-1] == "password_reset"


def test_a_reset_link_also_confirms_the_address(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    email = new_email()
    register(client, email)
    client.post("/password/forgot", data={"email": email})
    (mail,) = mails(sessions, email, "reset_password")
    reset = link_path(mail.body_text, "/password/reset/")
    client.post(reset, data={"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert logged_in(client)
    user = user_by_email(sessions, email)
    assert user is not None and user.email_confirmed_at is not None


def test_change_password_keeps_this_session_and_ends_the_others(
    app: Flask, client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    email = registered_and_confirmed(client, sessions)
    log_in(client, email)
    other_device = app.test_client()
    log_in(other_device, email)

    wrong = client.post(
        "/account/password",
        data={
            "current_password": "not my password",
            "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
        },
    )
    assert wrong.status_code == 200
    body = wrong.get_data(as_text=True)
    assert 'id="current_password-error"' in body and "not your current password" in body
    assert logged_in(other_device)

    changed = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
        },
    )
    assert changed.status_code == 302 and changed.headers["Location"] == "/account"
    assert logged_in(client)
    assert not logged_in(other_device)
    assert log_in(app.test_client(), email, NEW_PASSWORD).status_code == 302
    user = user_by_email(sessions, email)
    assert user is not None
    assert user_events(sessions, user.id)[-1] == "password_change"
    assert mails(sessions, email)[-1].purpose == "password_changed"


def test_log_out_on_all_devices(
    app: Flask, client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    email = registered_and_confirmed(client, sessions)
    devices = [app.test_client(), app.test_client()]
    for device in devices:
        log_in(device, email)
        assert logged_in(device)
    page = devices[0].get("/account").get_data(as_text=True)
    assert "Log out on all devices" in page

    response = devices[0].post("/account/logout-everywhere")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert not any(logged_in(d) for d in devices)
    user = user_by_email(sessions, email)
    assert user is not None
    assert user_events(sessions, user.id)[-1] == "logout_everywhere"
    log_in(devices[1], email)
    assert logged_in(devices[1])  # the password still works


# -- administration ----------------------------------------------------------------------


def test_the_admin_deactivates_and_reactivates_an_account(
    app: Flask,
    client: FlaskClient,
    login: Login,
    scenario: Scenario,
    sessions: sessionmaker[Session],
) -> None:
    applicant = scenario.people.applicants[1]
    applicant_email = scenario.people.emails["applicant1"]
    device = app.test_client()
    login(device, applicant_email)
    login(client, scenario.people.emails["admin"])

    # Among many accounts the admin finds the one by its address.
    page = client.get("/admin/users", query_string={"q": applicant_email.upper()})
    assert page.status_code == 200
    assert f'action="/admin/users/{applicant.user_id}/deactivate"' in page.get_data(as_text=True)
    assert page.get_data(as_text=True).count("/deactivate") == 1

    response = client.post(f"/admin/users/{applicant.user_id}/deactivate")
    assert response.status_code == 302
    assert "deactivated" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert not logged_in(device)
    assert log_in(device, applicant_email, Scenario.PASSWORD).status_code == 200
    # A deactivated account gets no reset link either.
    device.post("/password/forgot", data={"email": applicant_email})
    assert mails(sessions, applicant_email, "reset_password") == []

    client.post(f"/admin/users/{applicant.user_id}/reactivate")
    assert log_in(device, applicant_email, Scenario.PASSWORD).status_code == 302
    assert user_events(sessions, applicant.user_id or 0)[-2:] == [
        "deactivate_user",
        "reactivate_user",
    ]

    # Not oneself, and only an administrator.
    admin_id = scenario.people.admin.user_id
    response = client.post(f"/admin/users/{admin_id}/deactivate", follow_redirects=True)
    assert "cannot deactivate or reactivate your own account" in response.get_data(as_text=True)
    assert user_by_email(sessions, scenario.people.emails["admin"]).active  # type: ignore[union-attr]
    assert device.post(f"/admin/users/{admin_id}/deactivate").status_code == 403
    assert client.post("/admin/users/999999999/deactivate").status_code == 404


# -- rate limits -------------------------------------------------------------------------


def limited_config(
    database_url: str, folder: Path, *, storage: str = "memory://", prefix: str = "cascade"
) -> Config:
    """Settings of an app with the limiter on (the shared one has it off), on the run's
    database, its counters in ``storage`` under ``prefix``."""
    return Config(
        database_url=database_url,
        document_root=folder,
        secret_key=SECRET,
        testing=True,
        csrf_enabled=False,
        inprocess_worker=False,
        ratelimit_enabled=True,
        ratelimit_storage_uri=storage,
        ratelimit_key_prefix=prefix,
    )


@pytest.fixture
def limited_app(app: Flask, database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """An app of its own with the limiter on, on the same database (``app`` migrated it)."""
    limited = create_app(limited_config(database_url, tmp_path))
    yield limited
    limited.extensions["cascade"].engine.dispose()


def from_ip(ip: str) -> dict[str, object]:
    return {"environ_base": {"REMOTE_ADDR": ip}}


def test_logins_are_limited_per_address_of_the_requester(
    limited_app: Flask, scenario: Scenario
) -> None:
    client = limited_app.test_client()
    email = scenario.people.emails["applicant0"]
    # A correct login does not count against the limit...
    assert log_in(client, email, Scenario.PASSWORD, **from_ip("10.0.0.1")).status_code == 302
    client.post("/logout")
    # ...failed ones do: ten a minute from one IP, whatever the account.
    for _ in range(10):
        response = log_in(client, new_email(), "wrong password!", **from_ip("10.0.0.1"))
        assert response.status_code == 200
    limited = log_in(client, email, Scenario.PASSWORD, **from_ip("10.0.0.1"))
    assert limited.status_code == 429
    body = limited.get_data(as_text=True)
    assert "Too many attempts" in body and body.count("<h1") == 1
    assert "Retry-After" in limited.headers
    # Another IP is not affected, and the login page itself still shows.
    assert client.get("/login", **from_ip("10.0.0.1")).status_code == 200
    assert log_in(client, email, Scenario.PASSWORD, **from_ip("10.0.0.2")).status_code == 302


def test_logins_are_limited_per_account_across_addresses(
    limited_app: Flask, scenario: Scenario
) -> None:
    client = limited_app.test_client()
    email = scenario.people.emails["officer"]
    for n in range(5):  # a distributed guess: every attempt from another IP
        response = log_in(client, email, f"guess number {n}", **from_ip(f"10.1.0.{n}"))
        assert response.status_code == 200
    assert log_in(client, email, "guess number 5", **from_ip("10.1.0.99")).status_code == 429
    # Even the right password waits: the account is paused, not revealed.
    assert log_in(client, email, Scenario.PASSWORD, **from_ip("10.1.0.100")).status_code == 429
    other = scenario.people.emails["auditor"]
    assert log_in(client, other, Scenario.PASSWORD, **from_ip("10.1.0.100")).status_code == 302


def test_reset_mails_are_limited_per_address(limited_app: Flask) -> None:
    client = limited_app.test_client()
    email = new_email()
    for n in range(5):
        response = client.post("/password/forgot", data={"email": email}, **from_ip(f"10.2.0.{n}"))
        assert response.status_code == 302
    response = client.post("/password/forgot", data={"email": email}, **from_ip("10.2.0.50"))
    assert response.status_code == 429


@pytest.mark.parametrize(
    ("target", "landing"),
    [
        ("/account", "/account"),
        ("//evil.example/x", "/dashboard"),
        ("/\\evil.example/x", "/dashboard"),
        ("https://evil.example/", "/dashboard"),
    ],
)
def test_login_goes_back_only_to_a_page_of_this_site(
    client: FlaskClient, scenario: Scenario, target: str, landing: str
) -> None:
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"email": scenario.people.emails["auditor"], "password": Scenario.PASSWORD},
    )
    assert response.headers["Location"] == landing
