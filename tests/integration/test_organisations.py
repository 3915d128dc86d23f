"""The organisation profile: registration, SME test, de minimis, people, duplicates.

Through the services and through the HTTP client, on every database backend.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from stdnum import luhn

from grants.db import unit_of_work, utcnow
from grants.models import Application, AuditEvent, MailMessage, Organisation, User
from grants.services import organisations
from grants.services.actor import Actor
from grants.services.applications import ValidationFailed
from grants.services.organisations import InvitationInvalid
from tests.scenario import Scenario, password_hash
from tests.typed_numbers import UNREADABLE, field_error
from workflows.errors import TransitionRefused
from workflows.roles import Role

Login = Callable[[FlaskClient, str], None]
SECRET = "test-secret"  # the app's SECRET_KEY in tests/conftest.py
TODAY = date(2026, 11, 26)


def partita_iva() -> str:
    """A fresh valid Italian partita IVA (Genova office), so tests never share one by chance."""
    base = f"{random.randrange(1, 10**7):07d}010"
    return base + luhn.calc_check_digit(base)


def siren() -> str:
    base = f"{random.randrange(10**7, 10**8):08d}"
    return base + luhn.calc_check_digit(base)


def profile(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "legal_name": f"Ligure Sonar Systems {uuid.uuid4().hex[:6]} S.r.l.",
        "country": "IT",
        "registration_number": partita_iva(),
        "address": "Via del Molo 3, 16128 Genova",
        "registered_on": "2015-03-02",
        "contact_name": "Giulia Parodi",
        "contact_email": "giulia@ligure-sonar.example",
        "contact_phone": "+39 010 123 4567",
        "headcount": "12",
        "turnover": "1500000",
        "balance_sheet": "900000",
        "enterprise_type": "autonomous",
        "related_enterprises": [],
        "de_minimis_aid": [],
    }
    data.update(overrides)
    return data


def new_applicant(sessions: sessionmaker[Session], name: str = "applicant") -> Actor:
    """An applicant account without an organisation, as registration leaves it."""
    tag = uuid.uuid4().hex[:8]
    with unit_of_work(sessions) as session:
        user = User(
            email=f"{name}.{tag}@test.example",
            full_name=f"{name.title()} {tag}",
            password_hash=password_hash(),
            role=Role.APPLICANT,
            email_confirmed_at=utcnow(),
        )
        session.add(user)
        session.flush()
        return Actor.of(user, request_id=f"test-{tag}")


def email_of(sessions: sessionmaker[Session], actor: Actor) -> str:
    with sessions() as session:
        user = session.get(User, actor.user_id)
        assert user is not None
        return user.email


def create(sessions: sessionmaker[Session], actor: Actor, **overrides: Any) -> int:
    with unit_of_work(sessions) as session:
        org = organisations.create_organisation(session, actor, profile(**overrides), today=TODAY)
        return org.id


def load(sessions: sessionmaker[Session], org_id: int) -> Organisation:
    with sessions() as session:
        org = session.get(Organisation, org_id)
        assert org is not None
        _ = org.users
        return org


def audit_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def org_events(sessions: sessionmaker[Session], org_id: int) -> list[AuditEvent]:
    with sessions() as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.entity_type == "organisation")
                .where(AuditEvent.entity_id == str(org_id))
                .order_by(AuditEvent.id)
            )
        )


def invite_link(sessions: sessionmaker[Session], manager: Actor, email: str) -> str:
    with unit_of_work(sessions) as session:
        message = organisations.invite(
            session,
            manager,
            email,
            secret=SECRET,
            link=lambda token: f"http://localhost/organisation/join/{token}",
        )
        return message.body_text


def token_in(text: str) -> str:
    match = re.search(r"/organisation/join/([A-Za-z0-9_.\-]+)", text)
    assert match, text
    return match.group(1)


# -- creating and the SME test ---------------------------------------------------------------
def test_an_applicant_registers_the_organisation_and_becomes_its_manager(
    sessions: sessionmaker[Session],
) -> None:
    actor = new_applicant(sessions)
    number = partita_iva()
    org_id = create(
        sessions,
        actor,
        registration_number=f"IT {number[:5]} {number[5:]}",
        vat_number=number,
        country="it",
    )
    org = load(sessions, org_id)
    assert (org.country, org.registration_number, org.vat_number) == ("IT", number, "IT" + number)
    assert org.registered_on == date(2015, 3, 2)
    assert org.headcount == Decimal("12.00") and org.turnover == Decimal("1500000.00")
    [user] = org.users
    assert user.id == actor.user_id and user.is_org_manager
    [event] = org_events(sessions, org_id)
    assert event.action == "create_organisation" and event.actor_id == actor.user_id
    assert event.after["registration_number"] == number
    assert event.after["registration_scheme"] == "partita IVA"
    assert event.after["sme_category"] == "small"
    # One account, one organisation.
    with pytest.raises(TransitionRefused, match="already belongs to an organisation"):
        create(sessions, actor)


def test_sme_autonomous_uses_own_figures(sessions: sessionmaker[Session]) -> None:
    org = load(sessions, create(sessions, new_applicant(sessions)))
    assert org.sme_category == "small"
    assert org.sme_explanation is not None
    assert "staff 12 is below 50" in org.sme_explanation
    assert "not micro: staff 12 is not below 10" in org.sme_explanation
    result = organisations.sme_result(org)
    assert result.headline.endswith("is a small enterprise under Recommendation 2003/361/EC.")
    assert [r.basis for r in result.rows] == ["own figures"] and result.total is None


def test_sme_partner_figures_count_pro_rata(sessions: sessionmaker[Session]) -> None:
    # Alone: 8 staff, EUR 1.5M, EUR 1M -> micro. With a 40% partner of 30 staff, EUR 10M,
    # EUR 5M: + 12 staff, + EUR 4M, + EUR 2M -> 20 staff, EUR 5.5M, EUR 3M -> small.
    org_id = create(
        sessions,
        new_applicant(sessions),
        headcount="8",
        turnover="1500000",
        balance_sheet="1000000",
        enterprise_type="partner",
        related_enterprises=[
            {
                "name": "Porto Holding S.p.A.",
                "relation": "partner",
                "share_percent": "40",
                "headcount": "30",
                "turnover": "10000000",
                "balance_sheet": "5000000",
            }
        ],
    )
    org = load(sessions, org_id)
    assert org.sme_category == "small"
    assert org.sme_explanation is not None
    assert "staff 20, turnover EUR 5,500,000.00, balance sheet EUR 3,000,000.00" in (
        org.sme_explanation
    )
    assert "(partner enterprises: 1, linked enterprises: 0)" in org.sme_explanation
    result = organisations.sme_result(org)
    partner = result.rows[1]
    assert partner.basis == "partner held 40%: 40% of its figures"
    assert (partner.headcount, partner.turnover) == ("12", "EUR 4,000,000.00")
    assert result.total is not None and result.total.headcount == "20"


def test_sme_linked_figures_count_in_full(sessions: sessionmaker[Session]) -> None:
    # A 60% holding counts in full: 8 + 245 = 253 staff -> large (pro rata it would be 155).
    org_id = create(
        sessions,
        new_applicant(sessions),
        headcount="8",
        turnover="1500000",
        balance_sheet="1000000",
        enterprise_type="linked",
        related_enterprises=[
            {
                "name": "Cantieri Riuniti S.p.A.",
                "relation": "linked",
                "share_percent": "60",
                "headcount": "245",
                "turnover": "45000000",
                "balance_sheet": "40000000",
            }
        ],
    )
    org = load(sessions, org_id)
    assert org.sme_category == "large"
    assert org.sme_explanation is not None
    assert "staff 253" in org.sme_explanation
    assert "not medium: staff 253 is not below 250" in org.sme_explanation
    result = organisations.sme_result(org)
    assert "not an SME" in result.headline and "Only SMEs can receive vouchers" in result.headline
    assert result.rows[1].basis == "linked (60%): all of its figures"
    assert result.rows[1].headcount == "245"


def test_sme_category_waits_for_all_three_figures(sessions: sessionmaker[Session]) -> None:
    org = load(sessions, create(sessions, new_applicant(sessions), balance_sheet=""))
    assert org.sme_category is None and org.sme_explanation is None
    assert organisations.sme_result(org).headline.startswith("The SME test needs")


# -- validation ------------------------------------------------------------------------------
BAD = {
    "legal_name": " ",
    "country": "IT",
    "registration_number": "00488410011",
    "vat_number": "FR40303265045",
    "address": "",
    "registered_on": "2099-01-01",
    "contact_email": "not an address",
    "contact_phone": "call me",
    "headcount": "-3",
    "turnover": "1.500",  # 1500 or 1.5? Never guessed.
    "balance_sheet": "lots",
    "enterprise_type": "partner",
    "related_enterprises": [
        {
            "name": "",
            "relation": "partner",
            "share_percent": "60",
            "headcount": "x",
            "turnover": "1",
            "balance_sheet": "1",
        }
    ],
    "de_minimis_aid": [{"granting_authority": "Regione", "amount": "0", "granted_on": "soon"}],
}
BAD_FIELDS = {
    "legal_name",
    "registration_number",
    "vat_number",
    "address",
    "registered_on",
    "contact_email",
    "contact_phone",
    "headcount",
    "turnover",
    "balance_sheet",
    "related_enterprises-0-name",
    "related_enterprises-0-share_percent",
    "related_enterprises-0-headcount",
    "de_minimis_aid-0-amount",
    "de_minimis_aid-0-granted_on",
}


def test_a_validation_failure_reports_every_field_and_changes_nothing(
    sessions: sessionmaker[Session],
) -> None:
    manager = new_applicant(sessions)
    org_id = create(sessions, manager)
    before = organisations.snapshot(load(sessions, org_id))
    events = audit_count(sessions)
    with pytest.raises(ValidationFailed) as failed, unit_of_work(sessions) as session:
        organisations.update_profile(session, manager, org_id, BAD, today=TODAY)
    assert set(failed.value.errors) == BAD_FIELDS
    errors = failed.value.errors
    assert "check digit does not match" in errors["registration_number"]
    assert "starts with FR" in errors["vat_number"]
    assert "could mean 1500 or 1.50" in errors["turnover"]
    assert "25% to 50%" in errors["related_enterprises-0-share_percent"]
    assert organisations.error_label("related_enterprises-0-share_percent") == (
        "Related enterprise 1: share"
    )
    assert organisations.snapshot(load(sessions, org_id)) == before
    assert audit_count(sessions) == events

    # Creating with bad data creates nothing, and the account stays without organisation.
    newcomer = new_applicant(sessions)
    with sessions() as session:
        organisations_before = session.scalar(select(func.count()).select_from(Organisation))
    with pytest.raises(ValidationFailed) as failed, unit_of_work(sessions) as session:
        organisations.create_organisation(session, newcomer, BAD, today=TODAY)
    assert set(failed.value.errors) == BAD_FIELDS
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Organisation)) == (
            organisations_before
        )
        user = session.get(User, newcomer.user_id)
        assert user is not None and user.organisation_id is None and not user.is_org_manager
    assert audit_count(sessions) == events


def test_enterprise_type_must_match_the_related_enterprises(
    sessions: sessionmaker[Session],
) -> None:
    manager = new_applicant(sessions)
    org_id = create(sessions, manager)
    linked = {
        "name": "Parent S.p.A.",
        "relation": "linked",
        "share_percent": "70",
        "headcount": "5",
        "turnover": "100000",
        "balance_sheet": "100000",
    }
    cases = [
        ("autonomous", [linked], "an autonomous enterprise has no partner"),
        ("partner", [linked], "choose linked"),
        ("partner", [], "list the partner enterprises"),
        ("linked", [], "list the linked enterprises"),
    ]
    for kind, rows, message in cases:
        with pytest.raises(ValidationFailed) as failed, unit_of_work(sessions) as session:
            organisations.update_profile(
                session,
                manager,
                org_id,
                {"enterprise_type": kind, "related_enterprises": rows},
                today=TODAY,
            )
        assert message in failed.value.errors["enterprise_type"], kind


def test_an_update_audits_only_what_changed(sessions: sessionmaker[Session]) -> None:
    manager = new_applicant(sessions)
    org_id = create(sessions, manager)
    with unit_of_work(sessions) as session:
        result = organisations.update_profile(
            session, manager, org_id, {"headcount": "9,5", "turnover": "1500000.00"}, today=TODAY
        )
        assert result.changed == ["headcount", "sme_category", "sme_explanation"]
    event = org_events(sessions, org_id)[-1]
    assert event.action == "update_organisation"
    assert event.before["headcount"] == "12.00" and event.after["headcount"] == "9.50"
    assert (event.before["sme_category"], event.after["sme_category"]) == ("small", "micro")
    assert set(event.after) == {"headcount", "sme_category", "sme_explanation"}
    # Saving the same again changes nothing and records nothing.
    events = audit_count(sessions)
    with unit_of_work(sessions) as session:
        result = organisations.update_profile(
            session, manager, org_id, {"headcount": "9.5"}, today=TODAY
        )
        assert result.changed == []
    assert audit_count(sessions) == events


def test_only_the_manager_edits_the_profile(sessions: sessionmaker[Session]) -> None:
    scenario = Scenario(sessions, smes=1)
    manager = new_applicant(sessions)
    org_id = create(sessions, manager)
    colleague = new_applicant(sessions, "colleague")
    token = token_in(invite_link(sessions, manager, email_of(sessions, colleague)))
    with unit_of_work(sessions) as session:
        organisations.join(session, colleague, token, secret=SECRET)
    other_sme = scenario.people.applicants[0]  # manager of nothing, in another organisation
    for actor, refusal in (
        (colleague, "only the organisation's manager may do this"),
        (scenario.people.officer, "may not do this"),
        (scenario.people.auditor, "may not do this"),
    ):
        with pytest.raises(TransitionRefused, match=refusal), unit_of_work(sessions) as session:
            organisations.update_profile(session, actor, org_id, {"headcount": "3"})
    with pytest.raises(LookupError), unit_of_work(sessions) as session:
        organisations.update_profile(session, other_sme, org_id, {"headcount": "3"})
    assert load(sessions, org_id).headcount == Decimal("12.00")
    # Officers and auditors read it; another SME does not even learn it exists.
    with sessions() as session:
        for reader in (scenario.people.officer, scenario.people.auditor, colleague):
            assert organisations.get_organisation(session, reader, org_id).id == org_id
        with pytest.raises(LookupError):
            organisations.get_organisation(session, other_sme, org_id)


# -- de minimis ------------------------------------------------------------------------------
def test_de_minimis_total_counts_the_last_three_years(sessions: sessionmaker[Session]) -> None:
    manager = new_applicant(sessions)
    aid = [
        {"granting_authority": "Regione Liguria", "amount": "120000", "granted_on": "2024-05-10"},
        {"granting_authority": "Invitalia", "amount": "90000,50", "granted_on": "2023-11-27"},
        # Granted on the day the three-year period starts: no longer in it.
        {
            "granting_authority": "Camera di Commercio",
            "amount": "40000",
            "granted_on": "2023-11-26",
        },
        {"granting_authority": "MIMIT", "amount": "200000", "granted_on": "2019-02-01"},
    ]
    org = load(sessions, create(sessions, manager, de_minimis_aid=aid))
    assert [a["amount"] for a in org.de_minimis_aid] == [
        "120000.00",
        "90000.50",
        "40000.00",
        "200000.00",
    ]
    summary = organisations.de_minimis_summary(org.de_minimis_aid, today=TODAY)
    assert summary.period_start == date(2023, 11, 26)
    assert summary.total == Decimal("210000.50")
    assert summary.headroom == Decimal("89999.50") and not summary.over
    assert [r.counted for r in summary.rows] == [True, True, False, False]
    # A year later the 2023 aid has dropped out.
    later = organisations.de_minimis_summary(org.de_minimis_aid, today=date(2027, 5, 1))
    assert later.total == Decimal("120000.00")
    over = organisations.de_minimis_summary(
        [
            *org.de_minimis_aid,
            {"granting_authority": "X", "amount": "100000", "granted_on": "2026-01-05"},
        ],
        today=TODAY,
    )
    assert over.over and over.headroom == 0
    with pytest.raises(ValidationFailed) as failed, unit_of_work(sessions) as session:
        organisations.update_profile(
            session,
            manager,
            org.id,
            {
                "de_minimis_aid": [
                    {"granting_authority": "X", "amount": "5", "granted_on": "2027-01-01"}
                ]
            },
            today=TODAY,
        )
    assert failed.value.errors == {
        "de_minimis_aid-0-granted_on": "the date cannot be in the future"
    }


# -- people ----------------------------------------------------------------------------------
def test_invitations_remove_and_hand_over(sessions: sessionmaker[Session]) -> None:
    manager = new_applicant(sessions, "manager")
    org_id = create(sessions, manager)
    colleague = new_applicant(sessions, "colleague")
    colleague_email = email_of(sessions, colleague)
    body = invite_link(sessions, manager, colleague_email.upper())
    token = token_in(body)
    with sessions() as session:
        message = session.scalars(
            select(MailMessage).where(MailMessage.to_address == colleague_email)
        ).one()
        assert message.purpose == "organisation_invite"
        assert "7 days" in message.body_text

    stranger = new_applicant(sessions, "stranger")
    with (
        pytest.raises(TransitionRefused, match="sent to") as refused,
        unit_of_work(sessions) as session,
    ):
        organisations.join(session, stranger, token, secret=SECRET)
    assert colleague_email in str(refused.value)
    with pytest.raises(InvitationInvalid, match="not valid"), unit_of_work(sessions) as session:
        organisations.join(session, colleague, token[:-2], secret=SECRET)
    with pytest.raises(InvitationInvalid, match="not valid"), unit_of_work(sessions) as session:
        organisations.join(session, colleague, token, secret="another-secret")
    with pytest.raises(InvitationInvalid, match="expired"), unit_of_work(sessions) as session:
        organisations.join(session, colleague, token, secret=SECRET, max_age=-1)

    with unit_of_work(sessions) as session:
        assert organisations.join(session, colleague, token, secret=SECRET).id == org_id
    with unit_of_work(sessions) as session:  # opening the link again is harmless
        assert organisations.join(session, colleague, token, secret=SECRET).id == org_id
    with sessions() as session:
        assert [u.id for u in organisations.members(session, org_id)] == [
            manager.user_id,
            colleague.user_id,
        ]
    with pytest.raises(ValidationFailed, match="already a member"), unit_of_work(sessions) as s:
        organisations.invite(s, manager, colleague_email, secret=SECRET, link=str)

    # The colleague may not manage; the manager may not remove themself.
    with pytest.raises(TransitionRefused, match="manager"), unit_of_work(sessions) as session:
        organisations.remove_member(session, colleague, manager.user_id or 0)
    with pytest.raises(TransitionRefused, match="yourself"), unit_of_work(sessions) as session:
        organisations.remove_member(session, manager, manager.user_id or 0)

    # Removal ends access, and withdraws the invitation that brought the colleague in.
    with unit_of_work(sessions) as session:
        organisations.remove_member(session, manager, colleague.user_id or 0)
    with pytest.raises(InvitationInvalid, match="withdrawn"), unit_of_work(sessions) as session:
        organisations.join(session, colleague, token, secret=SECRET)
    # A new invitation works again.
    token = token_in(invite_link(sessions, manager, colleague_email))
    with unit_of_work(sessions) as session:
        organisations.join(session, colleague, token, secret=SECRET)

    # Hand over: the colleague manages, the former manager only reads.
    with unit_of_work(sessions) as session:
        organisations.transfer_manager(session, manager, colleague.user_id or 0)
    with pytest.raises(TransitionRefused, match="manager"), unit_of_work(sessions) as session:
        organisations.update_profile(session, manager, org_id, {"headcount": "5"})
    with unit_of_work(sessions) as session:
        organisations.update_profile(session, colleague, org_id, {"headcount": "5"})
    actions = [e.action for e in org_events(sessions, org_id)]
    assert actions == [
        "create_organisation",
        "invite_member",
        "join_organisation",
        "remove_member",
        "invite_member",
        "join_organisation",
        "transfer_manager",
        "update_organisation",
    ]


# -- duplicates ------------------------------------------------------------------------------
def test_the_same_number_under_two_accounts_is_flagged_not_refused(
    sessions: sessionmaker[Session],
) -> None:
    number = partita_iva()
    first = create(sessions, new_applicant(sessions), registration_number=number)
    second = create(sessions, new_applicant(sessions), registration_number=f"IT {number}")
    code = siren()
    by_siret = create(
        sessions,
        new_applicant(sessions),
        country="FR",
        registration_number=code + "0001" + luhn.calc_check_digit(code + "0001"),
        vat_number=None,
    )
    by_siren = create(sessions, new_applicant(sessions), country="FR", registration_number=code)
    vat_only = partita_iva()
    shared_vat = [create(sessions, new_applicant(sessions), vat_number=vat_only) for _ in range(2)]
    alone = create(sessions, new_applicant(sessions))
    with sessions() as session:
        groups = organisations.duplicate_registrations(session)
        duplicates_of_first = organisations.duplicates_of(session, first)
    members = {frozenset(o.id for o in g.organisations): g.reasons for g in groups}
    assert members[frozenset({first, second})] == [f"same registration number IT {number}"]
    assert members[frozenset({by_siret, by_siren})] == [f"same registration number FR {code}"]
    assert members[frozenset(shared_vat)] == [f"same VAT number IT{vat_only}"]
    assert not any(alone in ids for ids in members)
    assert [o.id for o in duplicates_of_first[0].organisations] == [first, second]


# -- the web pages ---------------------------------------------------------------------------
def _form(data: dict[str, Any]) -> dict[str, str]:
    """A profile as the browser posts it."""
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    for group in ("related_enterprises", "related_links", "de_minimis_aid"):
        for i, row in enumerate(data.get(group) or []):
            for name, value in row.items():
                form[f"{group}-{i}-{name}"] = value
    return form


def test_register_from_the_call_page_then_invite_a_colleague_who_joins(
    app: Flask, client: FlaskClient, login: Login, sessions: sessionmaker[Session]
) -> None:
    scenario = Scenario(sessions, smes=1)
    manager = new_applicant(sessions, "manager")
    login(client, email_of(sessions, manager))

    # Starting an application without an organisation leads to the registration page.
    response = client.post(f"/calls/{scenario.call_id}/apply")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/organisation?next=")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Before you apply, register your organisation" in page
    assert "<h1>Register your organisation</h1>" in page
    assert f'name="next" value="/calls/{scenario.call_id}"' in page
    assert f'name="apply" value="{scenario.call_id}"' in page

    # A wrong check digit: 422, the error next to the field, every answer kept.
    data = profile(registration_number="00488410011", legal_name="Ligure Sonar Systems S.r.l.")
    response = client.post("/organisation", data=_form(data))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert page.count("<h1") == 1
    assert 'id="registration_number-error"' in page
    assert "check digit does not match" in page
    assert 'value="00488410011"' in page and 'value="Ligure Sonar Systems S.r.l."' in page
    assert 'aria-invalid="true"' in page

    number = partita_iva()
    data = profile(
        registration_number=number,
        enterprise_type="partner",
        related_enterprises=[
            {
                "name": "Porto Holding S.p.A.",
                "relation": "partner",
                "share_percent": "40",
                "headcount": "30",
                "turnover": "10000000",
                "balance_sheet": "5000000",
            },
            {"relation": "partner"},  # an empty row, as the form offers
        ],
        de_minimis_aid=[
            {"granting_authority": "Regione Liguria", "amount": "12000", "granted_on": "2025-03-01"}
        ],
    )
    form = _form(data) | {"next": f"/calls/{scenario.call_id}", "apply": str(scenario.call_id)}
    response = client.post("/organisation", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    with sessions() as session:
        user = session.get(User, manager.user_id)
        assert user is not None and user.organisation_id is not None and user.is_org_manager
        org_id = user.organisation_id
        started = session.scalars(select(Application).where(Application.organisation_id == org_id))
        [application] = list(started)
    # Registered, the applicant lands in the application they were starting.
    assert response.headers["Location"] == f"/applications/{application.id}/edit"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "is registered and you are its manager" in page and 'id="draft-form"' in page
    assert "partita IVA, format and check digit verified" in page
    # Starting again leads to the same application.
    response = client.post(f"/calls/{scenario.call_id}/apply")
    assert response.headers["Location"] == f"/applications/{application.id}"

    page = client.get("/organisation").get_data(as_text=True)
    assert "My organisation" in page  # the nav link
    assert "is a small enterprise under Recommendation 2003/361/EC" in page
    assert "partner held 40%: 40% of its figures" in page
    assert "EUR 12,000.00" in page and "Still available" in page
    assert 'name="related_enterprises-0-remove"' in page

    # Invite a colleague: the mail goes to the outbox with the link.
    colleague = new_applicant(sessions, "colleague")
    colleague_email = email_of(sessions, colleague)
    response = client.post("/organisation/invite", data={"email": "not-an-address"})
    assert response.status_code == 422
    assert 'id="invite-email-error"' in response.get_data(as_text=True)
    response = client.post("/organisation/invite", data={"email": colleague_email})
    assert response.status_code == 302
    with sessions() as session:
        message = session.scalars(
            select(MailMessage).where(
                MailMessage.to_address == colleague_email,
                MailMessage.purpose == "organisation_invite",
            )
        ).one()
    assert "invites you to join" in message.body_text
    link = re.search(r"http://localhost(/organisation/join/\S+)", message.body_text)
    assert link, message.body_text
    path = link.group(1)

    # Not logged in: the link asks to log in first, then comes back.
    other = app.test_client()
    response = other.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    login(other, colleague_email)
    page = other.get(path).get_data(as_text=True)
    assert "<h1>Join " in page and "Join " in page
    response = other.post(path)
    assert response.status_code == 302 and response.headers["Location"] == "/organisation"
    page = other.get("/organisation").get_data(as_text=True)
    assert "can change this profile" in page
    assert 'name="legal_name"' not in page  # read-only for colleagues
    assert colleague_email in page
    # A colleague's POST is refused and changes nothing.
    response = other.post("/organisation", data=_form(profile(headcount="1")))
    assert response.status_code == 302
    assert "manager" in other.get("/organisation").get_data(as_text=True)
    assert load(sessions, org_id).headcount == Decimal("12.00")

    # A forged link says so.
    response = other.get(path[:-3])
    assert response.status_code == 400
    assert "This invitation cannot be used" in response.get_data(as_text=True)

    # The manager hands over the role, from the people table.
    response = client.post(f"/organisation/members/{colleague.user_id}/manager")
    assert response.status_code == 302
    assert 'name="legal_name"' in other.get("/organisation").get_data(as_text=True)
    assert 'name="legal_name"' not in client.get("/organisation").get_data(as_text=True)
    response = other.post(f"/organisation/members/{manager.user_id}/remove")
    assert response.status_code == 302
    with sessions() as session:
        former = session.get(User, manager.user_id)
        assert former is not None and former.organisation_id is None


def test_the_officer_dashboard_flags_duplicates(
    app: Flask, client: FlaskClient, login: Login, sessions: sessionmaker[Session]
) -> None:
    scenario = Scenario(sessions, smes=1)
    number = partita_iva()
    first = create(sessions, new_applicant(sessions), legal_name="Ligure Sonar Systems S.r.l.")
    first_number = load(sessions, first).registration_number
    ids = [
        create(sessions, new_applicant(sessions), registration_number=number, legal_name=name)
        for name in ("Tigullio Composites S.r.l.", "Tigullio Compositi Srl")
    ]
    login(client, scenario.people.emails["officer"])
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Possible duplicate organisations" in page
    assert f"same registration number IT {number}" in page
    for org_id in ids:
        assert f'href="/organisations/{org_id}"' in page
    assert f"same registration number IT {first_number}" not in page
    page = client.get(f"/organisations/{ids[0]}").get_data(as_text=True)
    assert "Possible duplicate" in page and "Tigullio Compositi Srl" in page
    assert "is a small enterprise" in page
    assert client.get(f"/organisations/{first}").status_code == 200
    assert client.get("/organisations/999999").status_code == 404
    # Applicants use their own page; another SME's profile is not theirs to read.
    applicant = app.test_client()
    login(applicant, scenario.people.emails["applicant0"])
    assert applicant.get(f"/organisations/{ids[0]}").status_code == 403


@pytest.mark.parametrize("days", [1, 400])
def test_registered_on_may_be_any_past_day(sessions: sessionmaker[Session], days: int) -> None:
    day = TODAY - timedelta(days=days)
    org = load(sessions, create(sessions, new_applicant(sessions), registered_on=day.isoformat()))
    assert org.registered_on == day


# -- typed numbers through the web -------------------------------------------------------------
NUMBER_FIELDS = (
    "headcount",
    "turnover",
    "balance_sheet",
    "related_enterprises-0-share_percent",
    "related_enterprises-0-headcount",
    "related_enterprises-0-turnover",
    "de_minimis_aid-0-amount",
)


def _with_every_figure(typed: str) -> dict[str, Any]:
    """A profile whose every figure (own, partner's, de minimis) is ``typed``."""
    return profile(
        headcount=typed,
        turnover=typed,
        balance_sheet=typed,
        enterprise_type="partner",
        related_enterprises=[
            {
                "name": "Porto Holding S.p.A.",
                "relation": "partner",
                "share_percent": typed,
                "headcount": typed,
                "turnover": typed,
                "balance_sheet": "1000",
            }
        ],
        de_minimis_aid=[
            {"granting_authority": "Regione Liguria", "amount": typed, "granted_on": "2025-03-01"}
        ],
    )


@pytest.mark.parametrize(("typed", "message"), UNREADABLE)
def test_figures_that_cannot_be_read_are_refused_field_by_field_and_change_nothing(
    client: FlaskClient,
    login: Login,
    sessions: sessionmaker[Session],
    typed: str,
    message: str,
) -> None:
    manager = new_applicant(sessions, "manager")
    org_id = create(sessions, manager)
    login(client, email_of(sessions, manager))
    before = organisations.snapshot(load(sessions, org_id))
    events = audit_count(sessions)

    response = client.post("/organisation", data=_form(_with_every_figure(typed)))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for field in NUMBER_FIELDS:
        assert message in field_error(page, field), field
    assert page.count(f'value="{typed}"') == len(NUMBER_FIELDS)  # every figure kept as typed
    assert organisations.snapshot(load(sessions, org_id)) == before
    assert audit_count(sessions) == events


@pytest.mark.parametrize("typed", ["7.500,00", "7 500", "7\u202f500", "7,500.00"])
def test_figures_with_thousands_separators_are_stored_exactly(
    client: FlaskClient, login: Login, sessions: sessionmaker[Session], typed: str
) -> None:
    manager = new_applicant(sessions, "manager")
    org_id = create(sessions, manager)
    login(client, email_of(sessions, manager))
    data = profile(
        turnover=typed,
        balance_sheet=typed,
        de_minimis_aid=[
            {"granting_authority": "Regione Liguria", "amount": typed, "granted_on": "2025-03-01"}
        ],
    )
    response = client.post("/organisation", data=_form(data))
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    org = load(sessions, org_id)
    assert org.turnover == org.balance_sheet == Decimal("7500.00")
    assert str(org.turnover) == "7500.00"
    assert org.de_minimis_aid[0]["amount"] == "7500.00"


# -- the SME rules beyond the figures ----------------------------------------------------------
def _holding(name: str, share: str, **overrides: str) -> dict[str, str]:
    row = {
        "name": name,
        "holder_type": "enterprise",
        "direction": "holds_us",
        "relation": "partner",
        "share_percent": share,
        "headcount": "30",
        "turnover": "10000000",
        "balance_sheet": "5000000",
        "invested": "",
    }
    row.update(overrides)
    return row


def test_a_public_body_holding_is_shown_and_decides_on_the_page(
    client: FlaskClient, login: Login, sessions: sessionmaker[Session]
) -> None:
    manager = new_applicant(sessions, "manager")
    org_id = create(sessions, manager)
    login(client, email_of(sessions, manager))
    data = profile(
        related_enterprises=[
            _holding(
                "Comune di Genova",
                "30",
                holder_type="public_body",
                headcount="",
                turnover="",
                balance_sheet="",
            )
        ]
    )
    response = client.post("/organisation", data=_form(data))
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    org = load(sessions, org_id)
    assert org.sme_category == "not_sme"
    page = client.get("/organisation").get_data(as_text=True)
    assert "SME test result: not an SME" in page
    assert "public bodies hold 30%: not an SME whatever the figures" in page
    assert 'value="Comune di Genova"' in page and '<option value="public_body" selected>' in page
    # The same answer from the snapshot an application keeps, through JSON.
    snapshot = json.loads(json.dumps(organisations.profile_snapshot(org)))
    result = organisations.assess_sme(snapshot)
    assert (result.category, result.is_sme, result.rule) == ("not_sme", False, "public_bodies")


def test_a_bad_share_and_a_double_entry_are_named_beside_their_fields_and_kept(
    client: FlaskClient, login: Login, sessions: sessionmaker[Session]
) -> None:
    manager = new_applicant(sessions, "manager")
    org_id = create(sessions, manager)
    login(client, email_of(sessions, manager))
    before = organisations.snapshot(load(sessions, org_id))
    data = profile(
        enterprise_type="partner",
        related_enterprises=[
            _holding("Porto Holding S.p.A.", "40"),
            _holding("porto holding s.p.a.", "30"),
            _holding("Fondo Venture", "60", holder_type="venture_capital"),
        ],
    )
    response = client.post("/organisation", data=_form(data))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "porto holding s.p.a. is entered twice (rows 1 and 2)" in field_error(
        page, "related_enterprises-1-name"
    )
    assert "25% to 50%" in field_error(page, "related_enterprises-2-share_percent")
    assert 'value="porto holding s.p.a."' in page and 'value="60"' in page
    assert '<option value="venture_capital" selected>' in page
    assert organisations.snapshot(load(sessions, org_id)) == before


def test_an_exempt_investor_cross_holding_and_chain_through_the_service(
    sessions: sessionmaker[Session],
) -> None:
    # Own: 8 staff. A university holds 40% (not counted); we hold 30% of B and B holds 25% of
    # us (counted once, 30%: 9 staff); B owns C (linked to B: 30% of its 10 staff = 3).
    b = {"headcount": "30", "turnover": "1000000", "balance_sheet": "1000000"}
    org_id = create(
        sessions,
        new_applicant(sessions),
        headcount="8",
        turnover="1000000",
        balance_sheet="1000000",
        enterprise_type="partner",
        related_enterprises=[
            _holding("Università di Genova", "40", holder_type="university"),
            _holding("B S.r.l.", "25", **b),
            _holding("B S.r.l.", "30", direction="held_by_us", **b),
        ],
        related_links=[
            {
                "of": "B S.r.l.",
                "name": "C S.r.l.",
                "headcount": "10",
                "turnover": "0",
                "balance_sheet": "0",
            }
        ],
    )
    org = load(sessions, org_id)
    assert org.sme_category == "small"
    result = organisations.sme_result(org)
    assert result.total is not None and result.total.headcount == "20"
    bases = [row.basis for row in result.rows]
    assert any("not counted (an exempt investor" in basis for basis in bases)
    assert any(basis.startswith("cross-holding (25% and 30%)") for basis in bases)
    assert "linked to partner B S.r.l.: 30% of its figures" in bases
    assert organisations.assess_sme(organisations.profile_snapshot(org)).explanation == (
        org.sme_explanation
    )


def test_two_years_of_figures_keep_the_category_held_until_a_second_year(
    sessions: sessionmaker[Session],
) -> None:
    manager = new_applicant(sessions)
    org_id = create(
        sessions,
        manager,
        accounts_year="2025",
        headcount="55",
        previous_headcount="45",
        previous_turnover="1500000",
        previous_balance_sheet="900000",
        held_category="small",
    )
    org = load(sessions, org_id)
    assert org.sme_category == "small"
    assert org.sme_explanation is not None
    assert org.sme_explanation.startswith(
        "over the small ceilings in 2025 only: stays small until a second year"
    )
    snapshot = organisations.profile_snapshot(org)
    assert snapshot["previous_headcount"] == "45.00" and snapshot["accounts_year"] == 2025
    assert snapshot["registered_on"] == "2015-03-02"
    assert organisations.assess_sme(snapshot).rule == "one_year_only"
    # Half of the year before's figures, or figures of a year before a newly established
    # enterprise existed, are refused beside their fields.
    with pytest.raises(ValidationFailed) as failed, unit_of_work(sessions) as session:
        organisations.update_profile(
            session,
            manager,
            org_id,
            {"previous_turnover": "", "held_category": "huge"},
            today=TODAY,
        )
    assert set(failed.value.errors) == {"previous_turnover", "held_category"}
    with pytest.raises(ValidationFailed) as failed, unit_of_work(sessions) as session:
        organisations.update_profile(
            session, manager, org_id, {"newly_established": "yes"}, today=TODAY
        )
    assert "has no closed year before" in failed.value.errors["previous_headcount"]
