"""Final reports defined by the call, reports due and overdue, and the agreement signed by its
fingerprint (grants/services/report_forms.py, reporting.py, awards.accept)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from documents.render import render_html
from grants.db import utcnow
from grants.models import Application, AuditEvent, Document
from grants.services import awards, report_forms, reporting
from grants.services.expectations import report_due
from grants.services.reminders import send_due
from tests.scenario import Scenario, pdf_bytes
from workflows.errors import TransitionRefused
from workflows.voucher import AppState

Login = Callable[[FlaskClient, str], None]


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def contracted(scenario: Scenario, **call: Any) -> int:
    call_id = scenario.add_call(**call) if call else None
    app_id = scenario.draft(call_id=call_id) if call_id else scenario.draft()
    scenario.advance(app_id, AppState.CONTRACTED)
    return app_id


def upload(scenario: Scenario, runtime: Any, app_id: int, field: str, name: str) -> int:
    owner = scenario.owner(app_id)
    return scenario.run(
        lambda s: (
            report_forms.upload_report_file(
                s, owner, runtime.storage, app_id, field, filename=name, data=pdf_bytes(marker=b"x")
            ).id
        )
    )


# -- the report form ----------------------------------------------------------------------------


def test_a_cost_based_report_needs_its_files_and_keeps_the_draft_when_refused(
    app: Flask, client: FlaskClient, login: Login, scenario: Scenario, runtime: Any
) -> None:
    app_id = contracted(scenario)
    login(client, scenario.people.emails["applicant0"])
    page = html(client.get(f"/applications/{app_id}"))
    # The call-defined default form, posted to the report's own view as multipart.
    assert f'action="/applications/{app_id}/final-report"' in page
    assert 'enctype="multipart/form-data"' in page.split('id="action-submit_report"')[1][:400]
    for label in ("Invoices from the voucher service provider", "Proof of payment"):
        assert label in page
    assert 'id="submit_report-claimed_costs"' in page

    summary = "Four engineers trained by the accredited provider in March."
    form = {"summary": summary, "claimed_costs": "8 200", "subcontracted_costs": "0"}
    refused = client.post(f"/applications/{app_id}/final-report", data=form)
    assert refused.status_code == 409
    body = html(refused)
    assert "final report is incomplete" in body
    assert "Upload Invoices from the voucher service provider." in body
    assert 'id="submit_report-proof_of_payment-error"' in body
    assert summary in body and 'value="8 200"' in body
    assert scenario.status(app_id) == AppState.CONTRACTED
    with scenario.sessions() as session:
        application = session.get(Application, app_id)
        assert application is not None
        draft = report_forms.draft_of(session, application)
        assert draft is not None and draft.answers["summary"] == summary  # the draft is kept
        assert draft.answers["claimed_costs"] == "8200.00"

    # A file the field does not take is refused by its content, the rest saved.
    wrong = client.post(
        f"/applications/{app_id}/final-report",
        data={**form, "action": "save", "invoices": (io.BytesIO(b"not a pdf"), "inv.pdf")},
        content_type="multipart/form-data",
    )
    assert wrong.status_code == 422
    assert "not a" in html(wrong)

    saved = client.post(
        f"/applications/{app_id}/final-report",
        data={
            **form,
            "action": "save",
            "invoices": (io.BytesIO(pdf_bytes(marker=b"invoice")), "invoice-2027-14.pdf"),
            "proof_of_payment": (io.BytesIO(pdf_bytes(marker=b"paid")), "transfer.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert saved.status_code == 302
    assert scenario.status(app_id) == AppState.CONTRACTED  # saved, not submitted
    submitted = client.post(f"/applications/{app_id}/final-report", data=form)
    assert submitted.status_code == 302, html(submitted)[:2000]
    assert scenario.status(app_id) == AppState.REPORT_SUBMITTED

    [report] = scenario.application(app_id).reports
    assert str(report.claimed_costs) == "8200.00" and report.summary == summary
    assert report.form_id is not None and isinstance(report.answers["invoices"], int)
    event = next(e for e in scenario.events_of(app_id) if e.action == "submit_report")
    assert set(event.after["files"]) == {"invoices", "proof_of_payment"}
    receipt = next(d for d in scenario.documents_of(app_id) if d.kind == "report_acknowledgement")
    letter = render_html("report_acknowledgement", receipt.snapshot)
    assert "invoice-2027-14.pdf" in letter and event.after["files"]["invoices"] in letter

    # The officer reviewing and the auditor see the answers and download the files.
    for role in ("officer", "auditor"):
        reader = app.test_client()
        login(reader, scenario.people.emails[role])
        page = html(reader.get(f"/applications/{app_id}"))
        assert "invoice-2027-14.pdf" in page and "transfer.pdf" in page
        download = reader.get(f"/attachments/{report.answers['invoices']}")
        assert download.status_code == 200 and download.data.startswith(b"%PDF")


def test_the_subcontracting_limit_is_read_from_the_form(scenario: Scenario, runtime: Any) -> None:
    app_id = contracted(scenario)
    owner = scenario.owner(app_id)
    for field, name in (("invoices", "i.pdf"), ("proof_of_payment", "p.pdf")):
        upload(scenario, runtime, app_id, field, name)
    scenario.run(
        lambda s: report_forms.save_report_draft(
            s,
            owner,
            app_id,
            answers={"summary": "Done.", "claimed_costs": "8000", "subcontracted_costs": "2500"},
        )
    )
    with pytest.raises(reporting.ValidationFailed) as refused:
        scenario.run(lambda s: reporting.submit_report(s, owner, app_id))
    assert "25%" in refused.value.errors["subcontracted_costs"]
    assert scenario.status(app_id) == AppState.CONTRACTED


def test_a_lump_sum_report_asks_for_proof_of_delivery_not_costs(
    client: FlaskClient, login: Login, scenario: Scenario, runtime: Any
) -> None:
    app_id = contracted(scenario, cost_basis="lump_sum")
    login(client, scenario.people.emails["applicant0"])
    page = html(client.get(f"/applications/{app_id}"))
    assert "Proof of delivery" in page
    assert 'name="claimed_costs"' not in page
    owner = scenario.owner(app_id)
    scenario.run(
        lambda s: report_forms.save_report_draft(
            s, owner, app_id, answers={"summary": "The fair was attended; leads attached."}
        )
    )
    with pytest.raises(TransitionRefused, match="Proof of delivery"):
        scenario.run(lambda s: reporting.submit_report(s, owner, app_id))
    upload(scenario, runtime, app_id, "proof_of_delivery", "acceptance-certificate.pdf")
    scenario.run(lambda s: reporting.submit_report(s, owner, app_id))
    [report] = scenario.application(app_id).reports
    assert report.claimed_costs == 0 and "proof_of_delivery" in report.answers


def test_the_officer_edits_the_report_form_and_started_reports_keep_theirs(
    client: FlaskClient, login: Login, scenario: Scenario, runtime: Any
) -> None:
    app_id = contracted(scenario)
    call_id = scenario.application(app_id).call_id
    owner = scenario.owner(app_id)
    scenario.run(
        lambda s: report_forms.save_report_draft(s, owner, app_id, answers={"summary": "Half."})
    )
    login(client, scenario.people.emails["officer"])
    page = html(client.get(f"/calls/{call_id}/report-form"))
    assert "Final report form" in page and "proof_of_payment" in page
    assert "Current version: <strong>1</strong>" in page  # the default, saved by the draft

    no_costs = "- {name: summary, label: What was done, type: long_text, required: true}\n"
    refused = client.post(
        f"/calls/{call_id}/report-form", data={"definition": no_costs, "action": "save"}
    )
    assert refused.status_code == 422 and "claimed_costs" in html(refused)

    text = no_costs + (
        "- {name: claimed_costs, label: Costs (EUR), type: money, required: true}\n"
        "- {name: timesheets, label: Timesheets, type: file, required: true, accept: [xlsx]}\n"
    )
    preview = client.post(f"/calls/{call_id}/report-form", data={"definition": text})
    assert preview.status_code == 200 and "Timesheets" in html(preview)
    saved = client.post(
        f"/calls/{call_id}/report-form", data={"definition": text, "action": "save"}
    )
    assert saved.status_code == 302
    with scenario.sessions() as session:
        versions = report_forms.report_form_versions(session, call_id)
        assert [v.version for v in versions] == [2, 1]
        application = session.get(Application, app_id)
        assert application is not None
        assert report_forms.form_for(session, application)[0] == 1  # the draft keeps v1
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.entity_type == "call")
        ).all()
        assert "update_report_form" in actions
    # The application form's editor is the same page, its versions apart.
    assert "Timesheets" not in html(client.get(f"/calls/{call_id}/form"))


# -- reports due and overdue ------------------------------------------------------------------


def test_reports_due_and_overdue_are_flagged_and_reminded(
    app: Flask,
    client: FlaskClient,
    login: Login,
    scenario: Scenario,
    sessions: sessionmaker[Session],
) -> None:
    app_id = contracted(scenario)
    application = scenario.application(app_id)
    due = report_due(application)
    assert due is not None
    login(client, scenario.people.emails["applicant0"])
    assert f"Report due on {due.isoformat()}" in html(client.get(f"/applications/{app_id}"))
    assert f"Final report due on {due.isoformat()}" in html(client.get("/dashboard"))

    # The activity ended long ago: the report is overdue.
    ended = date.today() - timedelta(days=application.call.report_window_days + 10)
    answers = {**application.answers, "end_date": ended.isoformat()}
    with sessions.begin() as session:
        session.execute(update(Application).where(Application.id == app_id).values(answers=answers))
    overdue = ended + timedelta(days=application.call.report_window_days)
    assert f"Overdue since {overdue.isoformat()}" in html(client.get(f"/applications/{app_id}"))
    assert f"Final report overdue since {overdue.isoformat()}" in html(client.get("/dashboard"))
    officer = app.test_client()
    login(officer, scenario.people.emails["officer"])
    dashboard = html(officer.get("/dashboard"))
    assert "Final reports due" in dashboard
    assert f"Overdue since {overdue.isoformat()}" in dashboard
    sent = scenario.run(lambda s: send_due(s, utcnow()))
    assert [i.mail for i in sent if i.reference == application.reference] == ["report_overdue"]


# -- the agreement signed by its fingerprint --------------------------------------------------


def offered(scenario: Scenario) -> int:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.OFFERED)
    return app_id


def accept(scenario: Scenario, app_id: int, sha: str) -> object:
    owner = scenario.owner(app_id)
    return scenario.run(
        lambda s: awards.accept(
            s,
            owner,
            app_id,
            iban="IT60X0542811101000000123456",
            account_holder="SME account",
            signed=True,
            agreement_sha256=sha,
        )
    )


def agreement(scenario: Scenario, app_id: int) -> Document:
    return next(d for d in scenario.documents_of(app_id) if d.kind == "voucher_agreement")


def test_the_acceptance_names_the_agreement_it_signs(
    client: FlaskClient,
    login: Login,
    scenario: Scenario,
    render_documents: Callable[[], object],
) -> None:
    app_id = offered(scenario)
    login(client, scenario.people.emails["applicant0"])
    assert "still being prepared" in html(client.get(f"/applications/{app_id}"))
    with pytest.raises(TransitionRefused, match="still being prepared, reload in a moment"):
        accept(scenario, app_id, "")
    render_documents()
    sha = agreement(scenario, app_id).sha256
    assert sha is not None
    page = html(client.get(f"/applications/{app_id}"))
    assert f'name="agreement_sha256" value="{sha}"' in page
    with pytest.raises(TransitionRefused, match="not the current one"):
        accept(scenario, app_id, "0" * 64)
    assert scenario.status(app_id) == AppState.OFFERED

    response = client.post(
        f"/applications/{app_id}/accept",
        data={
            "iban": "IT60 X054 2811 1010 0000 0123 456",
            "account_holder": "SME 0 account",
            "signed": "yes",
            "agreement_sha256": sha.upper(),
        },
    )
    assert response.status_code == 302, html(response)[:2000]
    assert scenario.status(app_id) == AppState.CONTRACTED
    event = next(e for e in scenario.events_of(app_id) if e.action == "accept")
    assert event.after["agreement_sha256"] == sha
    signed = next(d for d in scenario.documents_of(app_id) if d.kind == "signed_acceptance")
    assert signed.snapshot["details"]["agreement_sha256"] == sha
    assert sha in render_html("signed_acceptance", signed.snapshot)


def test_a_web_acceptance_without_the_fingerprint_is_refused(
    client: FlaskClient, login: Login, scenario: Scenario
) -> None:
    app_id = offered(scenario)
    login(client, scenario.people.emails["applicant0"])
    response = client.post(
        f"/applications/{app_id}/accept",
        data={"iban": "IT60X0542811101000000123456", "account_holder": "A", "signed": "yes"},
    )
    assert response.status_code == 409
    assert "still being prepared" in html(response)
    assert scenario.status(app_id) == AppState.OFFERED


def test_the_agreement_states_when_the_final_report_is_due(scenario: Scenario) -> None:
    app_id = offered(scenario)
    due = report_due(scenario.application(app_id))
    assert due is not None
    document = agreement(scenario, app_id)
    details = document.snapshot["details"]
    assert details["reporting_deadline"] == due.isoformat()
    text = re.sub(
        r"\s+", " ", re.sub(r"<[^>]+>", "", render_html("voucher_agreement", document.snapshot))
    )
    assert f"The final report is due by {due.isoformat()}" in text
    assert f"within {scenario.application(app_id).call.report_window_days} days" in text
    assert any(due.isoformat() in o for o in details["obligations"])
