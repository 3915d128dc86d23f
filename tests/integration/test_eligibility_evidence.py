"""Eligibility reads the profile kept at submission; every rule of the call is a check with
its evidence; an officer may override an automatic result, with a reason, audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.defaults import VOUCHER_FORM
from grants.errors import ValidationFailed
from grants.models import Application, AuditEvent, Document
from grants.runtime import Runtime
from grants.services import eligibility
from tests.scenario import Scenario
from workflows.voucher import AppState

Login = Callable[[FlaskClient, str], None]
NO_DOUBLE_FUNDING = {"no_double_funding": (True, "Checked in the national aid register")}


def _proposed(scenario: Scenario, app_id: int) -> dict[str, dict[str, Any]]:
    def read(session: Session) -> dict[str, dict[str, Any]]:
        application = session.get_one(Application, app_id)
        return {c["key"]: c for c in eligibility.proposed_checks(application)}

    return scenario.run(read)


def _edit_organisation(scenario: Scenario, app_id: int, **values: Any) -> None:
    def edit(session: Session) -> None:
        organisation = session.get_one(Application, app_id).organisation
        for name, value in values.items():
            setattr(organisation, name, value)

    scenario.run(edit)


def _decide(scenario: Scenario, app_id: int, **kwargs: Any) -> None:
    officer = scenario.people.officer
    scenario.run(
        lambda s: eligibility.record_eligibility(
            s, officer, app_id, manual=NO_DOUBLE_FUNDING, **kwargs
        )
    )


def test_the_profile_is_kept_at_submission_and_later_edits_change_no_check(
    scenario: Scenario,
) -> None:
    app_id = scenario.draft(0)
    scenario.submit(app_id)
    kept = scenario.application(app_id).organisation_snapshot
    assert kept is not None and kept["headcount"] == "14.00" and kept["country"] == "IT"
    before = _proposed(scenario, app_id)
    assert before["sme_status"]["passed"]

    # After submission the profile grows into a large German company registered last month.
    _edit_organisation(
        scenario,
        app_id,
        country="DE",
        headcount=Decimal("900"),
        turnover=Decimal("90000000"),
        balance_sheet=Decimal("80000000"),
        registered_on=date.today(),
    )
    assert _proposed(scenario, app_id) == before
    _decide(scenario, app_id)
    decided = scenario.application(app_id)
    assert decided.status == AppState.ELIGIBLE
    assert decided.eligibility["profile_from_submission"] is True
    sme = next(c for c in decided.eligibility["checks"] if c["key"] == "sme_status")
    assert sme == before["sme_status"]


def test_an_application_submitted_before_snapshots_reads_the_live_profile_and_says_so(
    scenario: Scenario, client: FlaskClient, login: Login
) -> None:
    app_id = scenario.draft(0)
    scenario.submit(app_id)

    def forget(session: Session) -> None:
        session.get_one(Application, app_id).organisation_snapshot = None

    scenario.run(forget)
    _edit_organisation(scenario, app_id, country="DE")
    assert not _proposed(scenario, app_id)["country"]["passed"]
    login(client, scenario.people.emails["officer"])
    page = client.get(f"/applications/{app_id}").get_data(as_text=True)
    assert "submitted before profiles were kept with submissions" in page


def test_every_rule_of_the_call_is_a_check_with_its_evidence(
    scenario: Scenario, runtime: Runtime
) -> None:
    form = [{**f, "required": True} if f["name"] == "provider_quote" else f for f in VOUCHER_FORM]
    strict = scenario.add_call(
        form=form,
        eligibility_rules={"de_minimis_check": True, "min_registration_months": 12},
    )
    app_id = scenario.draft(0, call_id=strict)
    scenario.attach(app_id, runtime.storage, filename="quote.pdf")
    scenario.submit(app_id)
    checks = _proposed(scenario, app_id)
    assert list(checks) == [
        "deadline",
        "country",
        "not_partner",
        "one_application",
        "sme_status",
        "declaration",
        "amount",
        "attachments",
        "registration",
        "de_minimis",
    ]
    assert all(c["passed"] and c["evidence"] for c in checks.values())
    assert "before the deadline" in checks["deadline"]["evidence"]
    assert "quote.pdf" in checks["attachments"]["evidence"]
    assert "rule applied" in checks["sme_status"]["evidence"]
    assert "the only application of" in checks["one_application"]["evidence"]

    # A call that leaves rules out does not show them; no required file, no file check.
    lenient = scenario.add_call(
        eligibility_rules={
            "one_application_per_sme": False,
            "partner_exclusion": False,
            "min_registration_months": None,
        }
    )
    other = scenario.draft(1, call_id=lenient)
    scenario.submit(other)
    assert list(_proposed(scenario, other)) == [
        "deadline",
        "country",
        "sme_status",
        "declaration",
        "amount",
    ]


def test_the_same_company_applying_twice_fails_one_application_per_sme(
    scenario: Scenario,
) -> None:
    first = scenario.draft(0)
    second = scenario.draft(1)
    for app_id in (first, second):
        _edit_organisation(scenario, app_id, vat_number="IT00743110157")
        scenario.submit(app_id)
    check = _proposed(scenario, second)["one_application"]
    assert not check["passed"]
    reference = scenario.application(first).reference
    assert reference in check["evidence"] and "same VAT number" in check["evidence"]


def test_a_large_enterprise_fails_the_sme_check_decided_from_the_submitted_profile(
    scenario: Scenario,
) -> None:
    app_id = scenario.draft(0)
    _edit_organisation(scenario, app_id, headcount=Decimal("400"))
    scenario.submit(app_id)
    _decide(scenario, app_id)
    decided = scenario.application(app_id)
    assert decided.status == AppState.INELIGIBLE
    sme = next(c for c in decided.eligibility["checks"] if c["key"] == "sme_status")
    assert not sme["passed"] and "400" in sme["evidence"]


def test_an_override_needs_a_reason_and_is_kept_shown_and_audited(scenario: Scenario) -> None:
    app_id = scenario.draft(0)
    _edit_organisation(scenario, app_id, country="DE")
    scenario.submit(app_id)
    for overrides, error in (
        ({"country": "  "}, "give the reason for overriding this check"),
        ({"country": "x" * 1001}, "keep the reason within 1000 characters"),
        ({"teleport": "because"}, "this check is not one of the call's"),
    ):
        with pytest.raises(ValidationFailed) as refused:
            _decide(scenario, app_id, overrides=overrides)
        assert error in str(refused.value.errors)
        assert scenario.status(app_id) == AppState.SUBMITTED

    reason = "Established in Trieste since 2019: the German address is the parent's"
    _decide(scenario, app_id, overrides={"country": reason})
    decided = scenario.application(app_id)
    assert decided.status == AppState.ELIGIBLE
    country = next(c for c in decided.eligibility["checks"] if c["key"] == "country")
    assert country["passed"] is True
    assert country["override"]["reason"] == reason
    assert country["override"]["original"] is False
    assert country["override"]["by"] == scenario.people.officer.name

    def read(session: Session) -> tuple[AuditEvent, Document]:
        event = session.scalars(
            select(AuditEvent).where(
                AuditEvent.application_id == app_id, AuditEvent.action == "check_eligibility"
            )
        ).one()
        letter = session.scalars(select(Document).where(Document.audit_event_id == event.id)).one()
        return event, letter

    event, letter = scenario.run(read)
    assert event.after["overrides"][0]["override"]["reason"] == reason
    letter_check = next(c for c in letter.snapshot["details"]["checks"] if c["key"] == "country")
    assert letter_check["override"]["reason"] == reason


def test_the_officer_overrides_through_the_page_and_the_decision_asks_first(
    scenario: Scenario, app: Flask, login: Login
) -> None:
    app_id = scenario.draft(0)
    _edit_organisation(scenario, app_id, country="DE")
    scenario.submit(app_id)
    officer = app.test_client()
    login(officer, scenario.people.emails["officer"])
    page = officer.get(f"/applications/{app_id}").get_data(as_text=True)
    org_id = scenario.application(app_id).organisation_id
    assert f"/organisations/{org_id}" in page
    assert "Profile figures used" in page and "14" in page
    assert "Override an automatic result" in page
    assert 'data-confirm="Record this eligibility decision?' in page

    form = {
        "manual_no_double_funding": "passed",
        "evidence_no_double_funding": "National register",
        "override_country": "turn",
        "override_reason_country": "",
    }
    refused = officer.post(f"/applications/{app_id}/check_eligibility", data=form)
    assert refused.status_code == 422
    assert "give the reason for overriding this check" in refused.get_data(as_text=True)
    assert scenario.status(app_id) == AppState.SUBMITTED

    form["override_reason_country"] = "Registered office in Trieste"
    done = officer.post(f"/applications/{app_id}/check_eligibility", data=form)
    assert done.status_code == 302
    assert scenario.status(app_id) == AppState.ELIGIBLE
    page = officer.get(f"/applications/{app_id}").get_data(as_text=True)
    assert "Reason: Registered office in Trieste" in page

    # The applicant sees the decision, never the link to the officers' profile page.
    applicant = app.test_client()
    login(applicant, scenario.people.emails["applicant0"])
    own = applicant.get(f"/applications/{app_id}").get_data(as_text=True)
    assert f"/organisations/{org_id}" not in own
    assert "Reason: Registered office in Trieste" in own
