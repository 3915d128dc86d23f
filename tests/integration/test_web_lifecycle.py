"""One application from draft to closed, purely through HTTP, as each role in turn."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import and_, delete, event, func, select, update
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from grants.db import utcnow
from grants.models import (
    Application,
    Call,
    Document,
    Evaluation,
    Instalment,
    Organisation,
    Payment,
)
from grants.services import redress
from grants.services.access import FINANCE_STATES
from grants.services.documents import DrainResult
from grants.views.common import PAGE_SIZE
from tests.scenario import GOOD_ANSWERS, IBANS, KEYS, Scenario, form_data, pdf_bytes
from tests.typed_numbers import UNREADABLE, field_error
from workflows.payment import PaymentState
from workflows.voucher import AppState

Login = Callable[[FlaskClient, str], None]


class Browser:
    """One logged-in test client per person, as if each sat at their own desk."""

    def __init__(self, app: Flask, login: Login, scenario: Scenario) -> None:
        self._app = app
        self._login = login
        self._emails = scenario.people.emails
        self._clients: dict[str, FlaskClient] = {}

    def __call__(self, who: str) -> FlaskClient:
        if who not in self._clients:
            client = self._app.test_client()
            self._login(client, self._emails[who])
            self._clients[who] = client
        return self._clients[who]


def html(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def report_files() -> dict[str, Any]:
    """The files the default final report of a cost-based call requires."""
    return {
        "invoices": (io.BytesIO(pdf_bytes(marker=b"invoice")), "invoice.pdf"),
        "proof_of_payment": (io.BytesIO(pdf_bytes(marker=b"paid")), "transfer.pdf"),
    }


def post_step(client: FlaskClient, url: str, data: dict | None = None) -> TestResponse:
    """A form POST that must succeed: redirected back (POST/redirect/GET) with a success note."""
    response = client.post(url, data=data or {})
    assert response.status_code == 302, (url, response.status_code, html(response)[:2000])
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert "flash-success" in html(page), html(page)[:3000]
    return page


def draft_form(**overrides: str) -> dict[str, str]:
    form = form_data(GOOD_ANSWERS)
    form.update(title="Sonar signal processing up-skilling", requested_amount="8000")
    form["declaration_signed"] = "yes"
    form.update(overrides)
    return form


def document_count(sessions: sessionmaker[Session], app_id: int) -> int:
    with sessions() as session:
        return len(session.scalars(select(Document).where(Document.application_id == app_id)).all())


def statements_taken(app: Flask, client: FlaskClient, url: str) -> int:
    """How many SQL statements the page at ``url`` takes to answer."""
    engine = app.extensions["cascade"].engine
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200, url
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements)


@pytest.fixture
def browser(app: Flask, login: Login, scenario: Scenario) -> Browser:
    return Browser(app, login, scenario)


def test_an_application_walks_from_draft_to_closed_through_the_web(
    browser: Browser,
    scenario: Scenario,
    sessions: sessionmaker[Session],
    render_documents: Callable[[], DrainResult],
) -> None:
    applicant = browser("applicant0")
    call_id = scenario.call_id

    # The applicant starts from the public call page.
    page = applicant.get(f"/calls/{call_id}")
    assert "Start an application" in html(page)
    response = applicant.post(f"/calls/{call_id}/apply")
    assert response.status_code == 302
    app_id = int(response.headers["Location"].split("/")[2])
    assert scenario.status(app_id) == AppState.DRAFT

    # A save with a mistake keeps everything typed and says what is wrong, next to the field.
    response = applicant.post(
        f"/applications/{app_id}/edit", data=draft_form(requested_amount="8,000")
    )
    assert response.status_code == 422
    body = html(response)
    assert 'value="8,000"' in body
    assert "“8,000” could mean 8000 or 8,00" in body
    assert "Centro Formazione Navale" in body  # the rest of the answers is kept

    # Submitting an incomplete draft is refused with the list of what is missing.
    applicant.post(f"/applications/{app_id}/edit", data=draft_form(service_provider=""))
    page = applicant.post(f"/applications/{app_id}/submit", follow_redirects=True)
    assert "Service provider" in html(page)
    assert scenario.status(app_id) == AppState.DRAFT

    post_step(applicant, f"/applications/{app_id}/edit", draft_form())
    post_step(applicant, f"/applications/{app_id}/submit")
    assert scenario.status(app_id) == AppState.SUBMITTED
    documents = [document_count(sessions, app_id)]

    # Before rendering the PDF is listed as being generated and cannot be downloaded yet.
    page = html(applicant.get(f"/applications/{app_id}"))
    assert "Being generated" in page
    with sessions() as session:
        receipt = session.scalars(select(Document).where(Document.application_id == app_id)).one()
    assert applicant.get(f"/documents/{receipt.id}").status_code == 409
    render_documents()
    download = applicant.get(f"/documents/{receipt.id}")
    assert download.status_code == 200
    assert download.mimetype == "application/pdf"
    assert download.data.startswith(b"%PDF")
    assert download.headers["Cache-Control"] == "no-store"
    assert (
        f"{scenario.application(app_id).reference}-submission_receipt.pdf"
        in (download.headers["Content-Disposition"])
    )

    # Another SME cannot see it, or learn that it exists.
    other = browser("applicant1")
    assert other.get(f"/applications/{app_id}").status_code == 404
    assert other.post(f"/applications/{app_id}/withdraw", data={"reason": "x"}).status_code == 404
    assert other.get(f"/documents/{receipt.id}").status_code == 404
    assert other.post(f"/applications/{app_id}/check_eligibility").status_code == 404

    # Eligibility, with both manual checks and their evidence.
    officer = browser("officer")
    post_step(
        officer,
        f"/applications/{app_id}/check_eligibility",
        {
            "manual_sme_status": "passed",
            "evidence_sme_status": "Register extract: 14 staff",
            "manual_no_double_funding": "passed",
            "evidence_no_double_funding": "Checked against the national register",
        },
    )
    assert scenario.status(app_id) == AppState.ELIGIBLE

    e1, e2, _e3 = scenario.people.evaluators
    post_step(
        officer,
        f"/applications/{app_id}/assign_evaluators",
        {"evaluator_ids": [str(e1.user_id), str(e2.user_id)]},
    )
    assert scenario.status(app_id) == AppState.IN_EVALUATION

    # An evaluator who is not assigned cannot open it.
    outsider = browser("evaluator3")
    assert outsider.get(f"/applications/{app_id}").status_code == 404
    assert outsider.get(f"/evaluations/{scenario.evaluation_id(app_id, e1)}").status_code == 404

    # Each expert declares no conflict, then scores; the proposal opens only after the declaration.
    for who, expert, scores in (
        ("evaluator1", e1, ("4", "4.5", "4")),
        ("evaluator2", e2, ("4.5", "4", "3.5")),
    ):
        client = browser(who)
        evaluation_url = f"/evaluations/{scenario.evaluation_id(app_id, expert)}"
        before = html(client.get(evaluation_url))
        assert GOOD_ANSWERS["summary"] not in before
        assert "Declaration of conflict of interest" in before
        post_step(client, f"{evaluation_url}/declare", {"conflict": "no"})
        assert GOOD_ANSWERS["summary"] in html(client.get(evaluation_url))
        form = {f"score_{k}": v for k, v in zip(KEYS, scores, strict=True)}
        form.update({f"comment_{k}": f"{who} on {k}" for k in KEYS})
        post_step(client, f"{evaluation_url}/scores", form)
    own_page = html(browser("evaluator1").get(f"/evaluations/{scenario.evaluation_id(app_id, e1)}"))
    assert "evaluator1 on impact" in own_page
    assert "evaluator2 on impact" not in own_page  # never another expert's scores

    # The moderator closes with the consensus; the call is ranked (a cut-off batch).
    page = html(officer.get(f"/applications/{app_id}"))
    assert "Record consensus and close evaluation" in page
    consensus = {f"score_{k}": "4" for k in KEYS}
    consensus.update({f"comment_{k}": f"Consensus on {k}" for k in KEYS})
    post_step(officer, f"/applications/{app_id}/close_evaluation", consensus)
    assert scenario.status(app_id) == AppState.EVALUATED
    # The batch closes (here: the deadline passes); the officer previews, then approves.
    scenario.run(
        lambda s: s.execute(
            update(Call).where(Call.id == call_id).values(deadline=utcnow() - timedelta(minutes=1))
        )
    )
    preview = html(officer.get(f"/calls/{call_id}/ranking"))
    assert "Approve the ranked list" in preview
    assert scenario.status(app_id) == AppState.EVALUATED  # the preview changed nothing
    fingerprint = re.search(r'name="fingerprint" value="([0-9a-f]{64})"', preview)
    assert fingerprint is not None, preview[:3000]
    post_step(officer, f"/calls/{call_id}/ranking/approve", {"fingerprint": fingerprint[1]})
    assert scenario.status(app_id) == AppState.SELECTED

    # Now results are out, the applicant sees the consensus, never an expert's own scores.
    page = html(applicant.get(f"/applications/{app_id}"))
    assert "Consensus on impact" in page
    assert "evaluator1 on impact" not in page

    post_step(officer, f"/applications/{app_id}/offer")
    assert scenario.status(app_id) == AppState.OFFERED
    render_documents()  # the acceptance names the agreement PDF the page shows
    shown = re.search(
        r'name="agreement_sha256" value="([0-9a-f]{64})"',
        html(applicant.get(f"/applications/{app_id}")),
    )
    assert shown is not None
    post_step(
        applicant,
        f"/applications/{app_id}/accept",
        {
            "iban": "IT60 X054 2811 1010 0000 0123 456",
            "account_holder": "SME 0 account",
            "signed": "yes",
            "agreement_sha256": shown[1],
        },
    )
    assert scenario.status(app_id) == AppState.CONTRACTED
    # Finance verifies the bank details before any payment (tests/integration/test_bank_details).
    scenario.verify_bank_details(app_id)

    # Pre-financing: four eyes.
    finance1, finance2 = browser("finance1"), browser("finance2")
    post_step(finance1, f"/applications/{app_id}/prefinancing")
    with sessions() as session:
        payment_id = session.scalars(
            select(Payment.id).where(
                Payment.application_id == app_id, Payment.instalment == Instalment.PREFINANCING
            )
        ).one()
    page = finance1.post(f"/payments/{payment_id}/authorise", follow_redirects=True)
    assert "cannot authorise" in html(page)
    post_step(finance2, f"/payments/{payment_id}/authorise")
    post_step(finance1, f"/payments/{payment_id}/mark-paid", {"payment_reference": "SEPA-PRE-1"})
    with sessions() as session:
        assert session.get(Payment, payment_id).status == PaymentState.PAID  # type: ignore[union-attr]

    post_step(
        applicant,
        f"/applications/{app_id}/submit_report",
        {
            "summary": "Training delivered.",
            "claimed_costs": "8200",
            "subcontracted_costs": "0",
            **report_files(),
        },
    )
    assert scenario.status(app_id) == AppState.REPORT_SUBMITTED
    page = html(officer.get(f"/applications/{app_id}"))
    assert 'value="8200.00"' in page  # approved costs prefilled with the claim
    post_step(
        officer,
        f"/applications/{app_id}/approve_report",
        {"approved_costs": "8000", "comments": "In order."},
    )
    assert scenario.status(app_id) == AppState.REPORT_APPROVED

    # Balance: the computed amount is shown before preparing; the preparer cannot authorise.
    assert "Balance due: <strong>EUR 4,000.00</strong>" in html(
        finance1.get(f"/applications/{app_id}")
    )
    post_step(finance1, f"/applications/{app_id}/prepare_payment")
    assert scenario.status(app_id) == AppState.PAYMENT_PREPARED
    page = finance1.post(f"/applications/{app_id}/authorise_payment", follow_redirects=True)
    assert "cannot authorise" in html(page)
    assert scenario.status(app_id) == AppState.PAYMENT_PREPARED
    post_step(finance2, f"/applications/{app_id}/authorise_payment")
    post_step(finance1, f"/applications/{app_id}/mark_paid", {"payment_reference": "SEPA-BAL-1"})
    assert scenario.status(app_id) == AppState.PAID

    # The auditor reads everything and changes nothing.
    auditor = browser("auditor")
    assert auditor.get(f"/applications/{app_id}").status_code == 200
    for url in (
        f"/applications/{app_id}/close",
        f"/applications/{app_id}/terminate",
        f"/applications/{app_id}/edit",
        f"/applications/{app_id}/prefinancing",
        f"/payments/{payment_id}/authorise",
        f"/calls/{call_id}/actions/archive",
        f"/evaluations/{scenario.evaluation_id(app_id, e1)}/scores",
    ):
        assert auditor.post(url, data={"reason": "x"}).status_code == 403, url
    assert scenario.status(app_id) == AppState.PAID

    post_step(officer, f"/applications/{app_id}/close")
    assert scenario.status(app_id) == AppState.CLOSED

    # Every step left its document, each downloadable once rendered.
    documents.append(document_count(sessions, app_id))
    assert documents[-1] > documents[0] >= 1
    render_documents()
    page = html(applicant.get(f"/applications/{app_id}"))
    assert "Closure certificate" in page
    assert "Being generated" not in page
    with sessions() as session:
        rows = session.execute(
            select(Document.id, Document.kind).where(Document.application_id == app_id)
        ).all()
    ids = [row.id for row in rows]
    for document_id, kind in rows:
        # Payment orders carry the full IBAN: finance and auditors only.
        reader = finance1 if kind == "payment_order" else applicant
        response = reader.get(f"/documents/{document_id}")
        assert response.status_code == 200 and response.data.startswith(b"%PDF")
        if kind == "payment_order":
            assert applicant.get(f"/documents/{document_id}").status_code == 404
    # Evaluators judge proposals; the SME's letters and payments are not theirs to read.
    assert browser("evaluator1").get(f"/documents/{ids[0]}").status_code == 404

    # The timeline shows every step, with who did it.
    assert page.count('class="tl-time"') >= 20
    assert "Mark balance paid" in page


def test_a_conflicted_evaluator_steps_aside_and_is_replaced(
    browser: Browser, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.IN_EVALUATION)
    e1, _e2, e3 = scenario.people.evaluators
    expert = browser("evaluator1")
    evaluation_url = f"/evaluations/{scenario.evaluation_id(app_id, e1)}"

    response = expert.post(f"{evaluation_url}/declare", data={"conflict": "yes", "statement": ""})
    assert response.status_code == 422
    assert "describe the conflict" in html(response)
    expert.post(
        f"{evaluation_url}/declare",
        data={"conflict": "yes", "statement": "I worked for this SME last year."},
    )
    assert expert.get(f"/applications/{app_id}").status_code == 404
    assert GOOD_ANSWERS["summary"] not in html(expert.get(evaluation_url))

    officer = browser("officer")
    page = html(officer.get(f"/applications/{app_id}"))
    assert "Replace a conflicted evaluator" in page
    post_step(
        officer, f"/applications/{app_id}/replace-evaluator", {"evaluator_id": str(e3.user_id)}
    )
    with sessions() as session:
        assigned = session.scalars(
            select(Evaluation.evaluator_id).where(Evaluation.application_id == app_id)
        ).all()
    assert e3.user_id in assigned


def test_wrong_input_on_an_action_keeps_it_and_shows_the_errors(
    browser: Browser, scenario: Scenario
) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.SUBMITTED)
    officer = browser("officer")
    response = officer.post(
        f"/applications/{app_id}/check_eligibility",
        data={"evidence_no_double_funding": "Register extract"},
    )
    assert response.status_code == 422
    body = html(response)
    assert "Register extract" in body
    assert "choose passed or failed" in body
    assert scenario.status(app_id) == AppState.SUBMITTED

    # An unknown step is not a page; a step of another role is forbidden.
    assert officer.post(f"/applications/{app_id}/rank").status_code == 404
    assert officer.post(f"/applications/{app_id}/teleport").status_code == 404
    assert officer.post(f"/applications/{app_id}/submit").status_code == 403


def test_report_amounts_that_cannot_be_read_are_refused_and_change_nothing(
    browser: Browser, scenario: Scenario
) -> None:
    app_id = scenario.draft()
    scenario.advance(app_id, AppState.CONTRACTED)
    applicant, officer = browser("applicant0"), browser("officer")
    url = f"/applications/{app_id}/submit_report"
    events = scenario.totals()
    for typed, message in UNREADABLE:
        for field, field_id in (
            ("claimed_costs", "submit_report-claimed_costs"),
            ("subcontracted_costs", "submit_report-subcontracted_costs"),
        ):
            form = {"summary": "Training delivered.", "claimed_costs": "8200"}
            form["subcontracted_costs"] = "0"
            form[field] = typed
            response = applicant.post(url, data=form)
            assert response.status_code == 422, (typed, field)
            body = html(response)
            assert message in field_error(body, field_id), (typed, field)
            # The panel's error summary links to the field, as every form's summary does.
            assert f'href="#{field_id}"' in body.split('id="errors-submit_report"')[1]
            assert f'id="{field_id}"' in body
            assert f'value="{typed}"' in body and "Training delivered." in body
    assert scenario.status(app_id) == AppState.CONTRACTED
    assert scenario.application(app_id).reports == []
    assert scenario.totals() == events

    # Thousands separators are read exactly, never as cents.
    post_step(
        applicant,
        url,
        {
            "summary": "Training delivered.",
            "claimed_costs": "8.200,00",
            "subcontracted_costs": "1 000",
            **report_files(),
        },
    )
    [report] = scenario.application(app_id).reports
    assert (report.claimed_costs, report.subcontracted_costs) == (
        Decimal("8200.00"),
        Decimal("1000.00"),
    )

    url = f"/applications/{app_id}/approve_report"
    events = scenario.totals()
    for typed, message in UNREADABLE:
        response = officer.post(url, data={"approved_costs": typed, "comments": "In order."})
        assert response.status_code == 422, typed
        body = html(response)
        assert message in field_error(body, "approve_report-approved_costs"), typed
        assert f'value="{typed}"' in body
    assert scenario.status(app_id) == AppState.REPORT_SUBMITTED
    assert scenario.application(app_id).reports[0].outcome is None
    assert scenario.totals() == events
    post_step(officer, url, {"approved_costs": "8 000", "comments": "In order."})
    assert scenario.application(app_id).reports[0].approved_costs == Decimal("8000.00")


def test_submitting_an_empty_draft_lists_what_is_missing(
    browser: Browser, scenario: Scenario
) -> None:
    applicant = browser("applicant2")
    response = applicant.post(f"/calls/{scenario.call_id}/apply")
    app_id = int(response.headers["Location"].split("/")[2])
    # A second start leads to the same application: one per SME per call.
    again = applicant.post(f"/calls/{scenario.call_id}/apply")
    assert again.headers["Location"].endswith(f"/applications/{app_id}")

    # An incomplete submit keeps the applicant on the form, each answer to correct linked.
    refused = applicant.post(f"/applications/{app_id}/submit")
    assert refused.status_code == 302
    assert refused.headers["Location"].endswith(f"/applications/{app_id}/edit?check=1")
    body = html(applicant.get(refused.headers["Location"]))
    assert "Not submitted yet" in body and 'class="error-summary"' in body
    assert 'href="#title">Project title: Enter the project title.' in body
    assert "Requested amount: Enter the amount you request." in body
    assert 'href="#declaration_signed">Declaration of honour: Sign the declaration' in body
    assert 'id="draft-form"' in body
    assert scenario.status(app_id) == AppState.DRAFT


def test_the_other_paths_withdraw_redress_decline_promote_return_terminate(
    app: Flask, login: Login, sessions: sessionmaker[Session]
) -> None:
    # A budget for one voucher only, so the second goes to the reserve list.
    scenario = Scenario(sessions, smes=4, budget=Decimal("10000.00"))
    browser = Browser(app, login, scenario)
    officer = browser("officer")

    withdrawn = scenario.draft(3)
    scenario.advance(withdrawn, AppState.SUBMITTED)
    post_step(browser("applicant3"), f"/applications/{withdrawn}/withdraw", {"reason": "Later."})
    assert scenario.status(withdrawn) == AppState.WITHDRAWN

    # Ranked before the redress below: an application back in eligibility holds its batch.
    first, second = scenario.draft(0), scenario.draft(1)
    scenario.advance(first, AppState.EVALUATED, ("5", "5", "5"))
    scenario.advance(second, AppState.EVALUATED, ("4", "4", "4"))
    scenario.rank()
    assert scenario.status(first) == AppState.SELECTED
    assert scenario.status(second) == AppState.RESERVE
    assert "Promote from the reserve list" in html(officer.get(f"/applications/{second}"))

    ineligible = scenario.draft(2)
    scenario.advance(ineligible, AppState.SUBMITTED)
    scenario.check_eligibility(ineligible, passed=False)
    assert scenario.status(ineligible) == AppState.INELIGIBLE
    post_step(
        browser("applicant2"),
        f"/applications/{ineligible}/redress-request",
        {"grounds": "We are an SME: see the register."},
    )
    request_id = scenario.run(lambda s: redress.requests_of(s, ineligible))[0].id
    post_step(
        officer, f"/redress/{request_id}/decide", {"outcome": "uphold", "reasons": "Justified."}
    )
    assert scenario.status(ineligible) == AppState.SUBMITTED

    post_step(officer, f"/applications/{first}/offer")
    post_step(browser("applicant0"), f"/applications/{first}/decline", {"reason": "No time."})
    assert scenario.status(first) == AppState.DECLINED
    # The released budget went to the reserve list at once, without the officer.
    assert scenario.status(second) == AppState.SELECTED

    scenario.advance(second, AppState.REPORT_SUBMITTED)
    post_step(officer, f"/applications/{second}/return_report", {"comments": "Add invoices."})
    assert scenario.status(second) == AppState.CONTRACTED
    post_step(officer, f"/applications/{second}/terminate", {"reason": "Liquidation."})
    assert scenario.status(second) == AppState.TERMINATED


def test_dashboards_take_the_same_statements_however_many_applications(
    app: Flask, login: Login, scenario: Scenario
) -> None:
    """Each list loads what it shows with its rows: no statement per application."""

    def statements_for(who: str) -> int:
        client = app.test_client()
        login(client, scenario.people.emails[who])
        return statements_taken(app, client, "/dashboard")

    first = scenario.draft(0)
    scenario.advance(first, AppState.CONTRACTED)
    before = {who: statements_for(who) for who in ("officer", "finance1", "auditor")}
    for sme in (1, 2):
        more = scenario.draft(sme)
        scenario.advance(more, AppState.CONTRACTED)
    after = {who: statements_for(who) for who in ("officer", "finance1", "auditor")}
    assert after == before


def test_the_officer_list_is_paged_and_counted_in_the_database(
    app: Flask, login: Login, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    app_id = scenario.draft()
    scenario.submit(app_id)
    client = app.test_client()
    login(client, scenario.people.emails["officer"])
    with sessions() as session:
        total = session.scalar(select(func.count()).select_from(Application)) or 0
        submitted = session.scalar(
            select(func.count()).where(Application.status == AppState.SUBMITTED)
        )
    body = html(client.get("/dashboard"))
    assert f"All ({total})" in body
    assert body.count('<th scope="row" class="ref">') == min(total, PAGE_SIZE)
    pages = -(-total // PAGE_SIZE)
    if pages > 1:
        assert "page=2" in body and f"Page 1 of {pages}" in body
    # A page beyond the last shows the last; nonsense shows the first.
    assert f"Page {pages} of {pages}" in html(client.get("/dashboard?page=999999")) or pages == 1
    assert client.get("/dashboard?page=abc").status_code == 200
    filtered = html(client.get("/dashboard?status=submitted"))
    assert filtered.count('<th scope="row" class="ref">') == min(submitted or 0, PAGE_SIZE)
    assert scenario.application(app_id).reference in filtered or (submitted or 0) > PAGE_SIZE


# -- the finance officer's lists ----------------------------------------------------------------

# A listed voucher's reference, as each row of a dashboard list begins.
LISTED_ROW = re.compile(r'<th scope="row" class="ref"><a href="/applications/\d+">([^<]+)</a></th>')


def listed(body: str) -> list[str]:
    """The references in the chosen list only: the finance dashboard also shows recovery
    orders and SEPA batches of the whole (shared) database below it."""
    section = body.split('aria-labelledby="list-h"', 1)[1].split("</section>", 1)[0]
    return LISTED_ROW.findall(section)


PREFINANCING_STAGES = ("to_prepare", PaymentState.PREPARED, PaymentState.AUTHORISED)
BALANCE_STAGES = (AppState.REPORT_APPROVED, AppState.PAYMENT_PREPARED, AppState.PAYMENT_AUTHORISED)


class Vouchers:
    """Vouchers of the scenario's call written straight to the database (the steps that make
    them would take minutes for more than a page of them), removed again afterwards so that
    no other test sees them."""

    def __init__(self, sessions: sessionmaker[Session], scenario: Scenario) -> None:
        self._sessions = sessions
        self._scenario = scenario
        self._made: list[tuple[int, int]] = []  # (application, organisation)

    def add(self, stage: str, count: int) -> None:
        """``count`` vouchers at ``stage``: a pre-financing stage (of a contracted voucher)
        or the voucher's own status."""
        scenario = self._scenario
        preparer, authoriser = scenario.people.finance
        contracted = stage in PREFINANCING_STAGES
        with self._sessions.begin() as session:
            made = []
            for _ in range(count):
                number = len(self._made) + len(made)
                org = Organisation(
                    legal_name=f"Bulk {number} {scenario.tag} S.r.l.",
                    country="IT",
                    registration_number=f"B{scenario.tag}{number:04d}",
                )
                application = Application(
                    reference=f"T-{scenario.tag.upper()}-B{number:04d}",
                    call_id=scenario.call_id,
                    organisation=org,
                    created_by_id=scenario.people.applicants[0].user_id,
                    status=AppState.CONTRACTED if contracted else stage,
                    title=f"Bulk {number}",
                    requested_amount=Decimal("8000.00"),
                    answers={},
                    awarded_amount=Decimal("8000.00"),
                    iban=IBANS[0],
                    account_holder=f"Bulk {number} account",
                )
                session.add(application)
                if stage in (PaymentState.PREPARED, PaymentState.AUTHORISED):
                    authorised = stage == PaymentState.AUTHORISED
                    session.add(
                        Payment(
                            application=application,
                            instalment=Instalment.PREFINANCING,
                            status=stage,
                            amount=Decimal("4000.00"),
                            payee_name=application.account_holder,
                            iban=IBANS[0],
                            prepared_by_id=preparer.user_id,
                            prepared_at=utcnow(),
                            authorised_by_id=authoriser.user_id if authorised else None,
                            authorised_at=utcnow() if authorised else None,
                        )
                    )
                made.append((application, org))
            session.flush()
            self._made += [(a.id, o.id) for a, o in made]

    def remove(self) -> None:
        applications = [a for a, _ in self._made]
        with self._sessions.begin() as session:
            session.execute(delete(Payment).where(Payment.application_id.in_(applications)))
            session.execute(delete(Application).where(Application.id.in_(applications)))
            organisations = [o for _, o in self._made]
            session.execute(delete(Organisation).where(Organisation.id.in_(organisations)))


@pytest.fixture
def vouchers(sessions: sessionmaker[Session], scenario: Scenario) -> Iterator[Vouchers]:
    made = Vouchers(sessions, scenario)
    yield made
    made.remove()


def _finance_shows(sessions: sessionmaker[Session]) -> dict[str, Any]:
    """What the finance lists must show, read from the tables: every voucher under agreement
    and the pre-financing instalments waiting for authorisation, by reference; and counts."""
    agreed = Application.status.in_(FINANCE_STATES)
    prefinancing = and_(
        Payment.application_id == Application.id, Payment.instalment == Instalment.PREFINANCING
    )
    by_reference = Application.reference
    with sessions() as session:
        return {
            "vouchers": list(
                session.scalars(select(by_reference).where(agreed).order_by(by_reference))
            ),
            "prepared": list(
                session.scalars(
                    select(by_reference)
                    .join(Payment, prefinancing)
                    .where(agreed, Payment.status == PaymentState.PREPARED)
                    .order_by(by_reference)
                )
            ),
            "authorised": session.scalar(
                select(func.count())
                .select_from(Application)
                .join(Payment, prefinancing)
                .where(agreed, Payment.status == PaymentState.AUTHORISED)
            ),
            "to_prepare": session.scalar(
                select(func.count())
                .select_from(Application)
                .join(Application.call)
                .where(
                    Application.status == AppState.CONTRACTED,
                    Application.awarded_amount > 0,
                    Call.prefinancing_percent > 0,
                    # A cancelled order is prepared again; a withheld one is settled with
                    # the balance.
                    ~select(Payment.id)
                    .where(
                        prefinancing,
                        Payment.status.not_in((PaymentState.CANCELLED,)),
                    )
                    .exists(),
                )
            ),
            "balance": session.scalar(
                select(func.count()).where(Application.status.in_(BALANCE_STAGES))
            ),
        }


def _next_page(body: str) -> str:
    found = re.search(r'<a href="([^"]+)" rel="next">', body)
    assert found, "no next page"
    return unescape(found.group(1))


def test_the_finance_lists_are_paged_counted_and_filtered_in_the_database(
    app: Flask,
    login: Login,
    scenario: Scenario,
    sessions: sessionmaker[Session],
    vouchers: Vouchers,
) -> None:
    vouchers.add(PaymentState.PREPARED, PAGE_SIZE + 3)
    vouchers.add(PaymentState.AUTHORISED, 2)
    vouchers.add("to_prepare", 2)
    vouchers.add(AppState.REPORT_APPROVED, 1)
    expected = _finance_shows(sessions)
    prepared, agreed = expected["prepared"], expected["vouchers"]
    assert len(prepared) > PAGE_SIZE
    client = app.test_client()
    login(client, scenario.people.emails["finance2"])

    # Each list's count, in the database: on the lists' buttons and in the filter.
    waiting = len(prepared) + expected["authorised"] + expected["to_prepare"]
    body = html(client.get("/dashboard"))
    assert f"Pre-financing ({waiting})" in body
    assert f"Balance payments to process ({expected['balance']})" in body
    assert f"Vouchers under agreement ({len(agreed)})" in body
    assert f"All ({waiting})" in body
    assert f"Prepared ({len(prepared)})" in body
    assert f"Authorised ({expected['authorised']})" in body
    assert f"To prepare ({expected['to_prepare']})" in body
    assert len(listed(body)) == min(waiting, PAGE_SIZE)

    # Filtered to the instalments waiting for authorisation: a page of them, then the rest,
    # the filter kept from page to page.
    body = html(client.get("/dashboard?list=prefinancing&status=prepared"))
    assert listed(body) == prepared[:PAGE_SIZE]
    pages = -(-len(prepared) // PAGE_SIZE)
    assert f"Page 1 of {pages}" in body
    following = _next_page(body)
    assert parse_qs(urlsplit(following).query) == {
        "list": ["prefinancing"],
        "status": ["prepared"],
        "page": ["2"],
    }
    body = html(client.get(following))
    assert listed(body) == prepared[PAGE_SIZE : 2 * PAGE_SIZE]
    assert f"Page 2 of {pages}" in body
    assert '<option value="prepared" selected>' in body
    assert body.count("Authorise…<span") == len(prepared[PAGE_SIZE : 2 * PAGE_SIZE])

    # Every voucher under agreement, a page at a time, none twice and none left out.
    seen: list[str] = []
    url = "/dashboard?list=vouchers"
    for page in range(1, -(-len(agreed) // PAGE_SIZE) + 1):
        body = html(client.get(url))
        seen += listed(body)
        if len(seen) < len(agreed):
            url = _next_page(body)
            assert parse_qs(urlsplit(url).query) == {"list": ["vouchers"], "page": [str(page + 1)]}
    assert seen == agreed

    # A page beyond the last shows the last; nonsense shows the first; an unknown list or
    # status shows everything of the first list.
    body = html(client.get("/dashboard?list=prefinancing&status=prepared&page=999999"))
    assert f"Page {pages} of {pages}" in body
    assert listed(body) == prepared[(pages - 1) * PAGE_SIZE :]
    body = html(client.get("/dashboard?list=prefinancing&status=prepared&page=abc"))
    assert listed(body) == prepared[:PAGE_SIZE]
    body = html(client.get("/dashboard?list=nonsense&status=nonsense"))
    assert len(listed(body)) == min(waiting, PAGE_SIZE)
    assert 'aria-current="page">Pre-financing' in body


def test_the_finance_lists_take_the_same_statements_however_many_payments(
    app: Flask, login: Login, scenario: Scenario, vouchers: Vouchers
) -> None:
    """Every finance list, filtered or not, loads what it shows with its rows."""
    client = app.test_client()
    login(client, scenario.people.emails["finance2"])
    urls = ["/dashboard", "/dashboard?list=balance", "/dashboard?list=vouchers"]
    urls += [f"/dashboard?list=prefinancing&status={s}" for s in PREFINANCING_STAGES]
    urls += [f"/dashboard?list=balance&status={s}" for s in BALANCE_STAGES]
    urls += [f"{url}&page=2" for url in urls[1:]]
    for stage in (*PREFINANCING_STAGES, *BALANCE_STAGES):
        vouchers.add(stage, 1)
    before = {url: statements_taken(app, client, url) for url in urls}
    for stage in (*PREFINANCING_STAGES, *BALANCE_STAGES):
        vouchers.add(stage, PAGE_SIZE)
    after = {url: statements_taken(app, client, url) for url in urls}
    assert after == before
