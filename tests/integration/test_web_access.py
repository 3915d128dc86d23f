"""Every route, as every role and as nobody: who may, who may not, and never a 500.

A route added without an entry in ``ALLOWED`` fails this test, so every new page gets an
access decision.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.routing import Rule

from grants.models import Document, Payment
from grants.runtime import Runtime
from grants.services import bank_details, mail, partners
from grants.services.documents import DrainResult
from grants.steps import REGISTRY
from tests.scenario import Scenario
from workflows.registry import get_workflow
from workflows.roles import Role
from workflows.voucher import AppState

Login = Callable[[FlaskClient, str], None]
ALL = frozenset(Role)
PUBLIC = {
    "public.home",
    "public.call",
    "public.guide",
    "auth.login",
    "static",
    # Accounts: registering, confirming the address and a forgotten password need no login.
    "account.register",
    "account.check_inbox",
    "account.confirm_email",
    "account.resend_confirmation",
    "account.forgot_password",
    "account.reset_password",
    # A staff member's invitation link: the token is the key, as for a password reset.
    "account.welcome",
    # The supported third parties with a signed agreement, for publication (360Giving).
    "publication.public_grants_json",
}
# These end the session: each role tries them after every other route.
ENDS_SESSION = {"auth.logout", "account.logout_everywhere"}
ADMIN = frozenset({Role.ADMIN})
OFFICER_ONLY = frozenset({Role.OFFICER})
EVALUATOR_ONLY = frozenset({Role.EVALUATOR})

# Endpoint -> the roles that pass the role check (others get 403). Visibility of a given
# record (another SME's application, an unassigned evaluation) is a 404 on top of this.
ALLOWED: dict[str, frozenset[Role]] = {
    "auth.logout": ALL,
    "dashboard.index": ALL,
    "dashboard.call_action": frozenset({Role.OFFICER}),
    "public.start_application": frozenset({Role.APPLICANT}),
    # Redress: the applicant files against a decision, an officer decides.
    "applications.request_redress": frozenset({Role.APPLICANT}),
    "applications.decide_redress": OFFICER_ONLY,
    # Eligibility in bulk: officers decide; auditors may follow a job.
    "eligibility_bulk.select": OFFICER_ONLY,
    "eligibility_bulk.start": OFFICER_ONLY,
    "eligibility_bulk.job": frozenset({Role.OFFICER, Role.AUDITOR}),
    # Assignment of experts, replacements, reopened scores: officers; declining: the expert.
    "assignment.page": OFFICER_ONLY,
    "assignment.confirm": OFFICER_ONLY,
    "assignment.replace": OFFICER_ONLY,
    "assignment.reopen": OFFICER_ONLY,
    "evaluator.decline": EVALUATOR_ONLY,
    # Ranking: officers preview and approve; auditors read the lists and their PDFs.
    "ranking.preview": frozenset({Role.OFFICER, Role.AUDITOR}),
    "ranking.approve": OFFICER_ONLY,
    "ranking.ranked_list_pdf": frozenset({Role.OFFICER, Role.AUDITOR}),
    "applications.detail": ALL,
    "applications.edit": frozenset({Role.APPLICANT}),
    "applications.prepare_prefinancing": frozenset({Role.FINANCE}),
    "applications.replace_evaluator": frozenset({Role.OFFICER}),
    "applications.authorise_instalment": frozenset({Role.FINANCE}),
    "applications.mark_instalment_paid": frozenset({Role.FINANCE}),
    "evaluator.detail": frozenset({Role.EVALUATOR}),
    "evaluator.declare": frozenset({Role.EVALUATOR}),
    "evaluator.scores": frozenset({Role.EVALUATOR}),
    "documents.download": ALL,
    "auditor.index": frozenset({Role.AUDITOR, Role.OFFICER}),
    "auditor.verify": frozenset({Role.AUDITOR, Role.OFFICER}),
    "auditor.export_csv": frozenset({Role.AUDITOR}),
    # The applicant's draft form saving itself; the files of an application (visibility
    # decides, as for the application); the officer's editor of a call's form versions.
    "applications.autosave": frozenset({Role.APPLICANT}),
    "applications.attachment": ALL,
    "call_forms.edit": frozenset({Role.OFFICER}),
    # The applicant's own organisation; only its manager changes it (refused with a message,
    # not a 403, for a colleague). Officers and auditors read any organisation's profile.
    "organisation.profile": frozenset({Role.APPLICANT}),
    "organisation.invite": frozenset({Role.APPLICANT}),
    "organisation.remove_member": frozenset({Role.APPLICANT}),
    "organisation.make_manager": frozenset({Role.APPLICANT}),
    "organisation.join": frozenset({Role.APPLICANT}),
    "organisation.show": frozenset({Role.OFFICER, Role.AUDITOR}),
    "account.index": ALL,
    "account.change_password": ALL,
    "account.logout_everywhere": ALL,
    # Anyone may ask; only a role the person holds is switched to (else a message, no 403).
    "account.switch_role": ALL,
    "admin.users": ADMIN,
    "admin.invite": ADMIN,
    "admin.person": ADMIN,
    "admin.set_roles": ADMIN,
    "admin.resend_invitation": ADMIN,
    "admin.deactivate_user": ADMIN,
    "admin.reactivate_user": ADMIN,
    "admin.mail_outbox": ADMIN,
    "admin.mail_message": ADMIN,
    "partners.index": frozenset({Role.OFFICER, Role.ADMIN}),
    "partners.new": frozenset({Role.OFFICER, Role.ADMIN}),
    "partners.edit": frozenset({Role.OFFICER, Role.ADMIN}),
    "partners.deactivate": frozenset({Role.OFFICER, Role.ADMIN}),
    "partners.reactivate": frozenset({Role.OFFICER, Role.ADMIN}),
    "partners.call_partners": frozenset({Role.OFFICER}),
    "experts.profile": EVALUATOR_ONLY,
    "experts.invitations": EVALUATOR_ONLY,
    "experts.accept": EVALUATOR_ONLY,
    "experts.decline": EVALUATOR_ONLY,
    "experts.index": OFFICER_ONLY,
    "experts.edit_profile": OFFICER_ONLY,
    "experts.keywords": OFFICER_ONLY,
    "experts.rename_keyword": OFFICER_ONLY,
    "experts.deactivate_keyword": OFFICER_ONLY,
    "experts.reactivate_keyword": OFFICER_ONLY,
    "experts.call_pool": OFFICER_ONLY,
    "call_builder.new": OFFICER_ONLY,
    "call_builder.basics": OFFICER_ONLY,
    "call_builder.dates": OFFICER_ONLY,
    "call_builder.money": OFFICER_ONLY,
    "call_builder.eligibility": OFFICER_ONLY,
    "call_builder.evaluation": OFFICER_ONLY,
    "call_builder.application_form": OFFICER_ONLY,
    "call_builder.review": OFFICER_ONLY,
    "call_builder.publish": OFFICER_ONLY,
    "call_builder.preview": OFFICER_ONLY,
    "call_builder.copy": OFFICER_ONLY,
    # Bank details: the SME enters and changes its own; finance verifies (four-eyes) and
    # alone sees what the bank needs to pay; auditors read; the bank's letter is not the
    # officer's to read.
    "bank_details.page": frozenset({Role.APPLICANT, Role.FINANCE, Role.AUDITOR, Role.OFFICER}),
    "bank_details.change": frozenset({Role.APPLICANT, Role.FINANCE}),
    "bank_details.change_provider": frozenset({Role.APPLICANT, Role.FINANCE}),
    "bank_details.verify": frozenset({Role.FINANCE}),
    "bank_details.reject": frozenset({Role.FINANCE}),
    "bank_details.confirmation": frozenset({Role.APPLICANT, Role.FINANCE, Role.AUDITOR}),
    "bank_details.confirm_payment": frozenset({Role.FINANCE}),
    # SEPA files: finance makes, pays and cancels them; auditors read and download them.
    "sepa.export": frozenset({Role.FINANCE}),
    "sepa.index": frozenset({Role.FINANCE, Role.AUDITOR}),
    "sepa.detail": frozenset({Role.FINANCE, Role.AUDITOR}),
    "sepa.download": frozenset({Role.FINANCE, Role.AUDITOR}),
    "sepa.mark_paid": frozenset({Role.FINANCE}),
    "sepa.cancel": frozenset({Role.FINANCE}),
    # Stopping an instalment: officers may withhold (a breach), only finance cancels;
    # repayments of a recovery order are recorded by finance.
    "applications.withhold_instalment": frozenset({Role.FINANCE, Role.OFFICER}),
    "applications.cancel_instalment": frozenset({Role.FINANCE}),
    "applications.record_repayment": frozenset({Role.FINANCE}),
    # The budget ledger of a call and its CSV.
    "ledger.call_ledger": frozenset({Role.OFFICER, Role.FINANCE, Role.AUDITOR}),
    "ledger.call_ledger_csv": frozenset({Role.OFFICER, Role.FINANCE, Role.AUDITOR}),
    # The final report: the SME fills the call's report form; officers edit that form.
    "applications.final_report_form": frozenset({Role.APPLICANT}),
    "call_forms.edit_report": OFFICER_ONLY,
    # The auditor's trail: one event in full (officers read the trail as well).
    "auditor.event": frozenset({Role.AUDITOR, Role.OFFICER}),
    # Exports: the list for auditors, officers and finance; each dataset's own readers are
    # checked per dataset in tests/integration/test_exports.py (here: the audit events).
    "exports.index": frozenset({Role.AUDITOR, Role.OFFICER, Role.FINANCE}),
    "exports.download": frozenset({Role.AUDITOR}),
    # The grant dossier of a voucher or a call: auditors only (full IBANs, every file).
    "dossier.voucher": frozenset({Role.AUDITOR}),
    "dossier.call": frozenset({Role.AUDITOR}),
    # The FSTP report to the EU and the supported third parties: programme team, auditors.
    "publication.call_summary": frozenset({Role.OFFICER, Role.AUDITOR}),
    "publication.call_summary_csv": frozenset({Role.OFFICER, Role.AUDITOR}),
    "publication.programme_summary": frozenset({Role.OFFICER, Role.AUDITOR}),
    "publication.programme_summary_csv": frozenset({Role.OFFICER, Role.AUDITOR}),
    "publication.grants_csv": frozenset({Role.OFFICER, Role.AUDITOR}),
    "publication.grants_json": frozenset({Role.OFFICER, Role.AUDITOR}),
    # applications.action: the roles of the workflow transition (checked per trigger below).
}
# Each role's login in the scenario.
WHO = {
    Role.APPLICANT: "applicant0",
    Role.OFFICER: "officer",
    Role.EVALUATOR: "evaluator1",
    Role.FINANCE: "finance1",
    Role.AUDITOR: "auditor",
    Role.ADMIN: "admin",
}


@dataclass
class World:
    """Records in every interesting state, owned by applicant0 unless said otherwise."""

    scenario: Scenario
    closed: int  # applicant0's, walked to the end: every action on it is refused
    other: int  # another SME's application
    states: dict[str, int]
    evaluation: int
    payment: int
    document: str
    attachment: int  # the quote uploaded to `closed` while it was a draft
    message: int  # a message in the mail outbox
    partner: int  # a consortium partner
    bank_account: int  # the closed voucher's verified bank details


@pytest.fixture
def world(
    sessions: sessionmaker[Session],
    render_documents: Callable[[], DrainResult],
    runtime: Runtime,
) -> World:
    scenario = Scenario(sessions, smes=5)
    closed = scenario.draft(0)
    attachment = scenario.attach(closed, runtime.storage)
    scenario.advance(closed, AppState.CLOSED)
    states = {"closed": closed}
    # Each further application stops at a different state (ranking happened above, so an
    # application left at "evaluated" stays there).
    for sme, target in enumerate(
        (AppState.DRAFT, AppState.SUBMITTED, AppState.IN_EVALUATION, AppState.EVALUATED), start=1
    ):
        app_id = scenario.draft(sme)
        scenario.advance(app_id, target)
        states[str(target)] = app_id
    render_documents()
    with sessions() as session:
        payment = session.scalars(
            select(Payment.id).where(Payment.application_id == closed)
        ).first()
        document = session.scalars(
            select(Document.id).where(Document.application_id == closed)
        ).first()
        account = bank_details.current(session, closed)
    assert payment is not None and document is not None and account is not None
    evaluator = scenario.people.evaluators[0]
    return World(
        scenario=scenario,
        closed=closed,
        other=states[str(AppState.DRAFT)],
        states=states,
        evaluation=scenario.evaluation_id(closed, evaluator),
        payment=payment,
        document=document,
        attachment=attachment,
        message=scenario.run(
            lambda s: (
                mail.queue(
                    s, to="someone@test.example", subject="Hello", body="Text", purpose="test"
                ).id
            )
        ),
        bank_account=account.id,
        partner=scenario.run(
            lambda s: (
                partners.create_partner(
                    s,
                    scenario.people.officer,
                    {"name": "Matrix partner", "short_name": f"M{scenario.tag}", "country": "HR"},
                ).id
            )
        ),
    )


def _args(rule: Rule, world: World, trigger: str = "submit") -> dict[str, object]:
    values: dict[str, object] = {
        "application_id": world.closed,
        "call_id": world.scenario.call_id,
        "evaluation_id": world.evaluation,
        "payment_id": world.payment,
        "document_id": world.document,
        "attachment_id": world.attachment,
        "trigger": trigger,
        "filename": "cascade.css",
        "organisation_id": world.scenario.people.applicants[1].organisation_id,
        "user_id": world.scenario.people.applicants[1].user_id,
        "token": "not-a-valid-invitation",
        "message_id": world.message,
        "partner_id": world.partner,
        "keyword_id": 1,  # whether it exists or not: access is decided first
        "redress_id": 1,
        "job_id": 1,
        "list_id": 1,
        "account_id": world.bank_account,
        "step": "authorise",
        "batch_id": 1,
        "order_id": 1,
        "event_id": 1,
        "dataset": "audit-events",
        "fmt": "csv",
    }
    return {name: values[name] for name in rule.arguments}


def _requests(app: Flask, world: World) -> list[tuple[str, str, str, frozenset[Role]]]:
    """(endpoint, method, url, roles allowed) for every rule and method of the app."""
    definition = get_workflow("voucher", 1)
    out = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
            if rule.endpoint == "applications.action":
                # Every step with a panel on the application page posts to this route.
                panels = [s.trigger for s in REGISTRY.values() if s.workflow == "voucher"]
                for trigger in (t for t in panels if REGISTRY["voucher", t].panel):
                    roles = frozenset(
                        r for t in definition.transitions_for(trigger) for r in t.roles
                    )
                    url = app.url_for(rule.endpoint, **_args(rule, world, trigger))
                    out.append((f"{rule.endpoint}:{trigger}", "POST", url, roles))
                continue
            if rule.endpoint == "dashboard.call_action":
                for trigger in ("publish", "close_call", "archive"):
                    url = app.url_for(rule.endpoint, **_args(rule, world, trigger))
                    out.append((f"{rule.endpoint}:{trigger}", "POST", url, ALLOWED[rule.endpoint]))
                continue
            url = app.url_for(rule.endpoint, **_args(rule, world))
            roles = ALL if rule.endpoint in PUBLIC else ALLOWED[rule.endpoint]
            out.extend((rule.endpoint, method, url, roles) for method in methods)
    return out


def test_every_route_has_an_access_decision(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    undecided = endpoints - PUBLIC - ALLOWED.keys() - {"applications.action"}
    assert not undecided, f"routes without an access decision: {sorted(undecided)}"


def _check_page(body: str, where: str) -> None:
    """Light accessibility and CSRF checks on every HTML page."""
    assert body.count("<h1") == 1, f"{where}: one h1 per page"
    assert 'class="skip-link"' in body, where
    for form in re.findall(r"<form[^>]*method=\"post\".*?</form>", body, flags=re.S):
        assert 'name="csrf_token"' in form, f"{where}: a POST form without CSRF token"
    for match in re.finditer(r"<(input|select|textarea)\b([^>]*)>", body):
        attrs = match.group(2)
        if re.search(r'type="(hidden|submit)"', attrs):
            continue
        field_id = re.search(r'id="([^"]+)"', attrs)
        labelled = field_id and f'for="{field_id.group(1)}"' in body
        # Radios and checkboxes sit inside their <label>.
        wrapped = re.search(r'type="(radio|checkbox)"', attrs)
        assert labelled or wrapped, f"{where}: a field without a label: {match.group(0)}"


def test_the_access_matrix(app: Flask, login: Login, world: World) -> None:
    requests = _requests(app, world)
    emails = world.scenario.people.emails

    # Nobody logged in: public pages answer, everything else goes to the login page.
    anonymous = app.test_client()
    for endpoint, method, url, _roles in requests:
        response = anonymous.open(url, method=method)
        response.close()  # static files and downloads hold a file until closed
        assert response.status_code < 500, (endpoint, method, url)
        if endpoint.split(":")[0] in PUBLIC:
            assert response.status_code in (200, 302), (endpoint, method, url)
        else:
            assert response.status_code == 302, (endpoint, method, url, response.status_code)
            assert "/login" in response.headers["Location"], (endpoint, url)

    for role, who in WHO.items():
        client = app.test_client()
        login(client, emails[who])
        for endpoint, method, url, roles in requests:
            if endpoint in ENDS_SESSION:
                continue  # tried last
            response = client.open(url, method=method)
            response.get_data()
            response.close()
            where = f"{role} {method} {url} ({endpoint})"
            assert response.status_code < 500, where
            if role in roles:
                assert response.status_code != 403, where
            elif endpoint.startswith("applications.action") and role == Role.ADMIN:
                # Visibility comes first: whoever may not see the application gets a 404,
                # so a forbidden step does not reveal that it exists.
                assert response.status_code == 404, f"{where}: {response.status_code}"
            else:
                assert response.status_code == 403, f"{where}: {response.status_code}"
            if response.status_code == 200 and response.mimetype == "text/html":
                _check_page(response.get_data(as_text=True), where)
        response = client.post("/account/logout-everywhere")
        assert response.status_code == 302 and "/login" in response.headers["Location"]
        assert client.get("/dashboard").status_code == 302
        login(client, emails[who])
        response = client.post("/logout")
        assert response.status_code == 302
        assert client.get("/dashboard").status_code == 302


def test_every_application_page_as_every_role(app: Flask, login: Login, world: World) -> None:
    """Who sees which application: own SME yes, others no; evaluators only when assigned."""
    emails = world.scenario.people.emails
    finance_states = {str(AppState.CLOSED)}
    evaluator_states = {str(AppState.CLOSED), str(AppState.IN_EVALUATION), str(AppState.EVALUATED)}
    for role, who in WHO.items():
        client = app.test_client()
        login(client, emails[who])
        for state, app_id in world.states.items():
            response = client.get(f"/applications/{app_id}")
            where = f"{role} sees {state} application {app_id}"
            assert response.status_code < 500, where
            match role:
                case Role.OFFICER | Role.AUDITOR:
                    expected = 200
                case Role.APPLICANT:
                    expected = 200 if app_id == world.closed else 404
                case Role.FINANCE:
                    expected = 200 if state in finance_states else 404
                case Role.EVALUATOR:
                    # An assigned expert is sent to the evaluation page.
                    expected = 302 if state in evaluator_states else 404
                case _:
                    expected = 404
            assert response.status_code == expected, f"{where}: {response.status_code}"
            if response.status_code == 200:
                _check_page(response.get_data(as_text=True), where)
