"""Review findings: redirects that leave the site, and typed input lost on a refused step."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from grants.services import applications
from grants.services.actor import Actor
from tests.scenario import Scenario
from workflows.voucher import AppState

Login = Callable[[FlaskClient, str], None]


@pytest.mark.parametrize("target", ["/%09/evil.example", "/%0a/evil.example", "/%0d/evil.example"])
def test_a_next_address_with_a_control_character_does_not_leave_the_site(
    client: FlaskClient, scenario: Scenario, target: str
) -> None:
    # Browsers drop tabs and line breaks from a Location: "/\t/evil.example" is
    # "//evil.example", another site.
    response = client.post(
        f"/login?next={target}",
        data={"email": scenario.people.emails["applicant0"], "password": Scenario.PASSWORD},
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "evil.example" not in location
    assert location.endswith("/dashboard")


def test_a_refused_acceptance_keeps_the_iban_and_account_holder_typed(
    client: FlaskClient, login: Login, scenario: Scenario
) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.OFFERED)
    login(client, scenario.people.emails["applicant0"])
    # The agreement box is not ticked: the step is refused, and what was typed stays.
    response = client.post(
        f"/applications/{app_id}/accept",
        data={"iban": "IT60X0542811101000000123456", "account_holder": "Holder Typed S.r.l."},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "voucher agreement has not been signed" in body
    assert 'value="IT60X0542811101000000123456"' in body
    assert 'value="Holder Typed S.r.l."' in body
    assert scenario.status(app_id) == AppState.OFFERED


def test_a_refused_final_report_keeps_the_summary_typed(
    client: FlaskClient, login: Login, scenario: Scenario
) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.CONTRACTED)
    login(client, scenario.people.emails["applicant0"])
    summary = "Four engineers trained; the pilot ran in March with the prime contractor."
    response = client.post(
        f"/applications/{app_id}/submit_report",
        data={"summary": summary, "claimed_costs": "0", "subcontracted_costs": "0"},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "final report is incomplete" in body
    assert summary in body
    assert scenario.status(app_id) == AppState.CONTRACTED


def test_the_applicant_gets_the_evaluation_summary_only_once_the_results_are_out(
    client: FlaskClient, login: Login, scenario: Scenario, render_documents: Callable[[], object]
) -> None:
    # The page shows the consensus to the SME only with the result (RESULT_STATES); the
    # Evaluation Summary Report, which carries the same scores, must wait for it too.
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.EVALUATED)
    render_documents()
    esr = next(d for d in scenario.documents_of(app_id) if d.kind == "evaluation_summary_report")
    login(client, scenario.people.emails["applicant0"])
    assert client.get(f"/documents/{esr.id}").status_code == 404
    assert esr.id not in client.get(f"/applications/{app_id}").get_data(as_text=True)

    scenario.rank()
    assert scenario.status(app_id) == AppState.SELECTED
    assert client.get(f"/documents/{esr.id}").status_code == 200
    assert esr.id in client.get(f"/applications/{app_id}").get_data(as_text=True)


def test_the_csv_audit_export_cannot_smuggle_a_spreadsheet_formula(
    client: FlaskClient, scenario: Scenario, login: Callable[[FlaskClient, str], None]
) -> None:
    """A person's name is user-controlled text; Excel would run "=HYPERLINK(...)" as a formula."""
    from grants.models import User

    evil = '=HYPERLINK("http://evil.example","click")'
    applicant = scenario.people.applicants[0]

    def rename(session: Session) -> None:
        user = session.get(User, applicant.user_id)
        assert user is not None
        user.full_name = evil

    scenario.run(rename)
    renamed = Actor(applicant.user_id, evil, applicant.role, applicant.organisation_id)
    app_id = scenario.run(
        lambda s: applications.create_draft(s, renamed, scenario.call_id, title="x").id
    )
    login(client, scenario.people.emails["auditor"])
    response = client.get("/audit/export.csv")
    body = response.get_data(as_text=True)
    response.close()  # the export streams from a spooled temporary file
    rows = [r for r in csv.DictReader(io.StringIO(body)) if r["application_id"] == str(app_id)]
    assert rows and all(r["actor_name"] == "'" + evil for r in rows)
    assert not any(cell.startswith("=") for r in rows for cell in r.values())


def test_the_admin_never_reads_a_sign_in_link_unseen(
    client: FlaskClient, scenario: Scenario, login: Callable[[FlaskClient, str], None]
) -> None:
    """DOMAIN.md: an admin may never act as another user without it being audited."""
    from sqlalchemy import select

    from grants.models import AuditEvent
    from grants.services import mail

    link = "http://127.0.0.1:5000/password/reset/abc.def-ghi"
    message_id = scenario.run(
        lambda s: (
            mail.queue(
                s,
                to="someone@sme.example",
                subject="Reset your password",
                body=f"Open {link} within an hour.",
                purpose="reset_password",
            ).id
        )
    )
    # With SMTP the recipient has the mail: the admin sees no link at all.
    with scenario.sessions() as session:
        message = mail.get_message(session, message_id)
        assert message is not None
        shown = mail.body_for_admin(session, scenario.people.admin, message, delivered_by_smtp=True)
    assert link not in shown and "link hidden" in shown

    # Without SMTP the outbox is the only delivery: the link shows, and reading it is audited.
    login(client, scenario.people.emails["admin"])
    page = client.get(f"/admin/mail/{message_id}").get_data(as_text=True)
    assert link in page
    with scenario.sessions() as session:
        reads = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "read_mail_with_link",
                AuditEvent.entity_id == str(message_id),
                AuditEvent.actor_id == scenario.people.admin.user_id,
            )
        ).all()
    assert len(reads) == 1
