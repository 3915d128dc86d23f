"""Consortium partners: the list officers keep, who counts as a partner (eligibility and the
refusal to start an application), and the partners of a call.

Partners are global to the run's database: every partner here gets a fresh short name and
numbers no other test uses (Italian numbers of the office code 099, which the organisation
tests and the demo never use), so it matches only the organisations its test gives them.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from stdnum import luhn

from grants.db import unit_of_work
from grants.errors import NotFound, ValidationFailed
from grants.models import Application, AuditEvent, Call, ConsortiumPartner, Organisation
from grants.services import applications, eligibility, partners
from tests.scenario import Scenario
from tests.typed_numbers import field_error
from workflows.errors import TransitionRefused

Login = Callable[[FlaskClient, str], None]


def partita_iva() -> str:
    """A fresh valid partita IVA of office 099: no other test or demo number has it."""
    base = f"{random.randrange(1, 10**7):07d}099"
    return base + luhn.calc_check_digit(base)


def short_name() -> str:
    return f"P{uuid.uuid4().hex[:8].upper()}"


def partner_data(**overrides: str) -> dict[str, str]:
    number = partita_iva()
    data = {
        "name": "Distretto di prova S.c.r.l.",
        "short_name": short_name(),
        "country": "IT",
        "registration_number": number,
        "vat_number": "IT" + number,
        "email_domain": "prova.example",
    }
    data.update(overrides)
    return data


def add_partner(scenario: Scenario, **overrides: str) -> ConsortiumPartner:
    officer = scenario.people.officer
    return scenario.run(lambda s: partners.create_partner(s, officer, partner_data(**overrides)))


def set_numbers(scenario: Scenario, sme: int, **values: Any) -> None:
    """Give a scenario SME other numbers, as its manager would on its profile."""
    org_id = scenario.people.applicants[sme].organisation_id
    scenario.run(
        lambda s: s.execute(update(Organisation).where(Organisation.id == org_id).values(**values))
    )


def not_partner_check(scenario: Scenario, app_id: int) -> dict[str, Any]:
    """The "not a consortium partner" check as the officer's panel proposes it."""
    with scenario.sessions() as session:
        application = session.get(Application, app_id)
        assert application is not None
        checks = eligibility.proposed_checks(application)
    return next(c for c in checks if c["key"] == "not_partner")


def events(sessions: sessionmaker[Session], entity_type: str, entity_id: str) -> list[AuditEvent]:
    with sessions() as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == entity_id)
                .order_by(AuditEvent.id)
            )
        )


# -- the list --------------------------------------------------------------------------------
def test_a_partner_is_created_with_its_numbers_compact_and_audited(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    number = partita_iva()
    partner = add_partner(
        scenario,
        registration_number=f"{number[:3]} {number[3:7]}-{number[7:]}",
        vat_number=f"it {number}",
        email_domain="@Prova.Example",
    )
    assert (partner.country, partner.registration_number, partner.vat_number) == (
        "IT",
        number,
        "IT" + number,
    )
    assert partner.email_domain == "prova.example" and partner.active
    (created,) = events(sessions, "consortium_partner", str(partner.id))
    assert created.action == "create_partner"
    assert created.after["vat_number"] == "IT" + number
    assert created.actor_id == scenario.people.officer.user_id


def test_every_problem_is_reported_at_once(scenario: Scenario) -> None:
    taken = add_partner(scenario).short_name
    bad = {
        "name": " ",
        "short_name": taken.lower(),  # unique whatever the case
        "country": "ZZ",
        "registration_number": "",
        "vat_number": "",
        "email_domain": "staff@prova.example",
    }
    with pytest.raises(ValidationFailed) as refused:
        scenario.run(lambda s: partners.create_partner(s, scenario.people.officer, bad))
    errors = refused.value.errors
    assert list(errors) == ["name", "short_name", "country", "email_domain"]
    assert "already has the short name" in errors["short_name"]
    assert "choose the country" in errors["country"]

    wrong_vat = partner_data(vat_number="FR40303265045")
    with pytest.raises(ValidationFailed) as refused:
        scenario.run(lambda s: partners.create_partner(s, scenario.people.officer, wrong_vat))
    assert list(refused.value.errors) == ["vat_number"]
    assert "starts with FR" in refused.value.errors["vat_number"]

    bad_digit = partner_data(vat_number="IT00743110158", registration_number="00743110158")
    with pytest.raises(ValidationFailed) as refused:
        scenario.run(lambda s: partners.create_partner(s, scenario.people.officer, bad_digit))
    assert set(refused.value.errors) == {"registration_number", "vat_number"}


def test_only_officers_and_administrators_change_the_list(scenario: Scenario) -> None:
    for actor in (scenario.people.applicants[0], scenario.people.auditor):
        with pytest.raises(TransitionRefused):
            scenario.run(lambda s, a=actor: partners.create_partner(s, a, partner_data()))
    made = scenario.run(lambda s: partners.create_partner(s, scenario.people.admin, partner_data()))
    with pytest.raises(TransitionRefused):
        scenario.run(lambda s: partners.deactivate_partner(s, scenario.people.finance[0], made.id))


def test_an_update_audits_only_what_changed(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    partner = add_partner(scenario)
    officer = scenario.people.officer
    data = partners.form_values(partner)
    _same, changed = scenario.run(lambda s: partners.update_partner(s, officer, partner.id, data))
    assert changed == []
    data["email_domain"] = "cluster.example"
    saved, changed = scenario.run(lambda s: partners.update_partner(s, officer, partner.id, data))
    assert changed == ["email_domain"] and saved.email_domain == "cluster.example"
    update_event = events(sessions, "consortium_partner", str(partner.id))[-1]
    assert update_event.action == "update_partner"
    assert update_event.before == {"email_domain": "prova.example"}
    assert update_event.after == {"email_domain": "cluster.example"}


# -- who is a partner ------------------------------------------------------------------------
def test_vat_or_registration_number_of_a_partner_fails_the_not_partner_check(
    scenario: Scenario,
) -> None:
    by_vat, by_number, other = scenario.draft(0), scenario.draft(1), scenario.draft(2)
    # The partners join the list after the SMEs applied: the eligibility check catches them.
    vat_number = partita_iva()
    registration = partita_iva()
    set_numbers(scenario, 0, vat_number="IT" + vat_number)
    set_numbers(
        scenario, 1, country="IT", registration_number=f"{registration[:5]} {registration[5:]}"
    )
    vat_partner = add_partner(scenario, vat_number=f"IT {vat_number}", registration_number="")
    number_partner = add_partner(scenario, registration_number=registration, vat_number="")

    check = not_partner_check(scenario, by_vat)
    assert not check["passed"]
    assert check["evidence"] == (
        f"is {vat_partner.short_name}, a partner of the consortium running the call "
        f"(same VAT number IT{vat_number})"
    )
    check = not_partner_check(scenario, by_number)
    assert not check["passed"]
    assert check["evidence"] == (
        f"is {number_partner.short_name}, a partner of the consortium running the call "
        f"(same registration number {registration} in Italy)"
    )
    check = not_partner_check(scenario, other)
    assert check["passed"]
    assert check["evidence"] == "not a partner of the consortium running the call"

    # The recorded decision (and so the eligibility letter) names the partner.
    scenario.submit(by_vat)
    scenario.check_eligibility(by_vat)
    decided = scenario.application(by_vat)
    assert decided.status == "ineligible"
    recorded = next(c for c in decided.eligibility["checks"] if c["key"] == "not_partner")
    assert vat_partner.short_name in recorded["evidence"]
    assert "Not a consortium partner" in decided.eligibility["reasons"]


def test_a_deactivated_partner_no_longer_matches(scenario: Scenario) -> None:
    app_id = scenario.draft(0)
    number = partita_iva()
    set_numbers(scenario, 0, vat_number="IT" + number)
    partner = add_partner(scenario, vat_number="IT" + number)
    with scenario.sessions() as session:
        org = session.get(Organisation, scenario.people.applicants[0].organisation_id)
        assert org is not None
        found = partners.partner_matching(session, org)
        assert found is not None and found.id == partner.id
    assert not not_partner_check(scenario, app_id)["passed"]

    scenario.run(lambda s: partners.deactivate_partner(s, scenario.people.officer, partner.id))
    assert not_partner_check(scenario, app_id)["passed"]
    scenario.run(lambda s: partners.reactivate_partner(s, scenario.people.officer, partner.id))
    assert not not_partner_check(scenario, app_id)["passed"]


def test_a_partner_organisation_is_refused_when_it_starts_an_application(
    scenario: Scenario, client: FlaskClient, login: Login
) -> None:
    number = partita_iva()
    set_numbers(scenario, 0, vat_number="IT" + number)
    partner = add_partner(scenario, vat_number="IT" + number)
    applicant = scenario.people.applicants[0]
    with pytest.raises(TransitionRefused) as refused:
        scenario.run(lambda s: applications.create_draft(s, applicant, scenario.call_id))
    assert f"is {partner.short_name}, a partner of the consortium" in refused.value.message
    assert "cannot apply to its calls" in refused.value.message

    # In the browser: the call page says so at once, and nothing is started.
    login(client, scenario.people.emails["applicant0"])
    response = client.post(f"/calls/{scenario.call_id}/apply", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.request.path == f"/calls/{scenario.call_id}"
    assert f"is {partner.short_name}, a partner of the consortium running this call" in page
    # An SME with other numbers starts as usual.
    client.post("/logout")
    login(client, scenario.people.emails["applicant1"])
    started = client.post(f"/calls/{scenario.call_id}/apply")
    assert started.status_code == 302 and "/edit" in started.headers["Location"]


# -- the partners of a call ------------------------------------------------------------------
def test_call_partners_are_set_with_the_manager_among_them_and_audited(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    officer = scenario.people.officer
    lead, other, gone = add_partner(scenario), add_partner(scenario), add_partner(scenario)
    scenario.run(lambda s: partners.deactivate_partner(s, officer, gone.id))

    call, changed = scenario.run(
        lambda s: partners.set_call_partners(s, officer, scenario.call_id, lead.id, [other.id])
    )
    assert changed
    with sessions() as session:
        stored = session.get(Call, scenario.call_id)
        assert stored is not None
        assert stored.managing_partner_id == lead.id
        assert {p.id for p in stored.partners} == {lead.id, other.id}
    trail = events(sessions, "call", call.reference)
    (event,) = [e for e in trail if e.action == "set_call_partners"]
    assert event.action == "set_call_partners"
    assert event.before == {"managing_partner": None, "partners": []}
    assert event.after == {
        "managing_partner": lead.short_name,
        "partners": sorted([lead.short_name, other.short_name]),
    }
    # The same choice again writes nothing.
    _call, changed = scenario.run(
        lambda s: partners.set_call_partners(s, officer, scenario.call_id, lead.id, [other.id])
    )
    assert not changed
    assert [e.id for e in events(sessions, "call", call.reference)] == [e.id for e in trail]

    with pytest.raises(ValidationFailed) as refused:
        scenario.run(
            lambda s: partners.set_call_partners(s, officer, scenario.call_id, None, [gone.id])
        )
    assert set(refused.value.errors) == {"managing_partner_id", "partner_ids"}
    with pytest.raises(TransitionRefused):
        scenario.run(
            lambda s: partners.set_call_partners(
                s, scenario.people.admin, scenario.call_id, lead.id, []
            )
        )


# -- the pages -------------------------------------------------------------------------------
def test_the_list_and_the_form_keep_what_was_typed_on_error(
    scenario: Scenario, client: FlaskClient, login: Login
) -> None:
    existing = add_partner(scenario, country="IT")
    login(client, scenario.people.emails["officer"])
    listed = client.get("/partners").get_data(as_text=True)
    assert existing.short_name in listed and existing.vat_number in listed
    assert "Italy" in listed

    typed = partner_data(country="ZZ", vat_number="XX-not-a-vat", short_name=existing.short_name)
    response = client.post("/partners/new", data=typed)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    # Without a country the numbers cannot be checked: two problems, each at its field.
    assert "2 things to correct" in page
    assert "already has the short name" in field_error(page, "short_name")
    assert "choose the country" in field_error(page, "country")
    assert re.search(r'id="name"[^>]*value="Distretto di prova S.c.r.l."', page)
    assert 'value="XX-not-a-vat"' in page

    fresh = partner_data()
    response = client.post("/partners/new", data=fresh)
    assert response.status_code == 302
    assert fresh["short_name"] in client.get("/partners").get_data(as_text=True)


def test_edit_deactivate_and_reactivate_through_the_pages(
    scenario: Scenario, client: FlaskClient, login: Login, sessions: sessionmaker[Session]
) -> None:
    partner = add_partner(scenario)
    login(client, scenario.people.emails["admin"])
    form = client.get(f"/partners/{partner.id}/edit")
    assert form.status_code == 200 and partner.short_name in form.get_data(as_text=True)
    data = partners.form_values(partner) | {"email_domain": "not a domain"}
    refused = client.post(f"/partners/{partner.id}/edit", data=data)
    assert refused.status_code == 422
    assert "give the domain only" in field_error(refused.get_data(as_text=True), "email_domain")
    data["email_domain"] = "tvt.example"
    assert client.post(f"/partners/{partner.id}/edit", data=data).status_code == 302

    assert client.post(f"/partners/{partner.id}/deactivate").status_code == 302
    assert "Deactivated" in client.get("/partners").get_data(as_text=True)
    assert client.post(f"/partners/{partner.id}/reactivate").status_code == 302
    actions = [e.action for e in events(sessions, "consortium_partner", str(partner.id))]
    assert actions == [
        "create_partner",
        "update_partner",
        "deactivate_partner",
        "reactivate_partner",
    ]


def test_the_officer_chooses_a_calls_partners_on_its_page(
    scenario: Scenario, client: FlaskClient, login: Login
) -> None:
    lead, other = add_partner(scenario), add_partner(scenario)
    login(client, scenario.people.emails["officer"])
    url = f"/partners/calls/{scenario.call_id}"
    page = client.get(url).get_data(as_text=True)
    assert lead.short_name in page and "Managing partner" in page

    refused = client.post(url, data={"managing_partner_id": "", "partner_ids": [str(other.id)]})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "choose the partner that manages the call" in field_error(page, "managing_partner_id")
    assert re.search(rf'value="{other.id}" checked', page)  # the ticks are kept

    saved = client.post(
        url, data={"managing_partner_id": str(lead.id), "partner_ids": [str(other.id)]}
    )
    assert saved.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert re.search(rf'value="{lead.id}" selected', page)
    assert re.search(rf'value="{lead.id}" checked', page)
    assert re.search(rf'value="{other.id}" checked', page)
    assert client.get("/partners/calls/999999999").status_code == 404


@pytest.mark.parametrize("who", ["applicant0", "evaluator1", "finance1", "auditor"])
def test_other_roles_may_not_reach_the_partner_pages(
    who: str, scenario: Scenario, client: FlaskClient, login: Login
) -> None:
    partner = add_partner(scenario)
    login(client, scenario.people.emails[who])
    for url in ("/partners", "/partners/new", f"/partners/{partner.id}/edit"):
        assert client.get(url).status_code == 403, url
    for url in (f"/partners/{partner.id}/deactivate", "/partners/new"):
        assert client.post(url, data=partner_data()).status_code == 403, url
    assert client.get(f"/partners/calls/{scenario.call_id}").status_code == 403


def test_the_administrator_keeps_the_list_but_not_the_calls(
    scenario: Scenario, client: FlaskClient, login: Login
) -> None:
    login(client, scenario.people.emails["admin"])
    page = client.get("/partners")
    assert page.status_code == 200
    assert "Partners of each call" not in page.get_data(as_text=True)
    assert client.get(f"/partners/calls/{scenario.call_id}").status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client: FlaskClient) -> None:
    response = client.get("/partners")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_unknown_partners_are_not_found(
    scenario: Scenario, client: FlaskClient, login: Login
) -> None:
    with unit_of_work(scenario.sessions) as session, pytest.raises(NotFound):
        partners.get_partner(session, 999_999_999)
    login(client, scenario.people.emails["officer"])
    assert client.get("/partners/999999999/edit").status_code == 404
    assert client.post("/partners/999999999/deactivate").status_code == 404
