"""The pages each role works on, checked with axe-core at desktop and phone widths.

Every page here is opened as the person who uses it, in a state where its step panels show;
axe-core (bundled by axe-playwright-python, run inside Debian's Chromium) must find no
serious or critical violation. With SCREENSHOT_DIR set, each page is also saved as a PNG,
for people to look at.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Browser, expect
from werkzeug.datastructures import MultiDict

from grants.db import utcnow
from grants.services import bank_details, call_builder, payments, sepa, staff
from tests.e2e.test_browser import log_in
from tests.scenario import Scenario, pdf_bytes
from workflows.roles import Role
from workflows.voucher import AppState

WIDTHS = {"desktop": 1280, "phone": 390}
BLOCKING = {"serious", "critical"}
_AXE = Axe()
# The elements that stick out to the right of the screen (outside scrollable table wrappers).
WIDEST = """
[...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
               && !e.closest('.table-wrap'))
  .slice(0, 5)
  .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))
"""


def _problems(results: dict) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"]
        if v.get("impact") in BLOCKING
    ]


@pytest.fixture(scope="module")
def world(live_app: tuple[Flask, str]) -> dict[str, object]:
    app, _base = live_app
    runtime = app.extensions["cascade"]
    scenario = Scenario(runtime.sessions, smes=10)
    submitted, offered, prepared = scenario.draft(0), scenario.draft(1), scenario.draft(2)
    # The money pages: a contracted voucher with its pre-financing prepared (the SME's report
    # form), one terminated with a recovery order, one whose pre-financing went out in a
    # SEPA file, one whose SME changed its bank details after its pre-financing was authorised
    # (blocked on the export page), one whose pre-financing waits for a file.
    contracted, terminated, exported, changed, ready = (scenario.draft(i) for i in range(5, 10))
    # Ranked before the others are submitted: a ranking waits for all of its batch.
    for app_id in (offered, prepared, contracted, terminated, exported, changed, ready):
        scenario.advance(app_id, AppState.EVALUATED)
    scenario.advance(offered, AppState.OFFERED)
    scenario.advance(prepared, AppState.REPORT_APPROVED)
    f1 = scenario.people.finance[0]
    scenario.run(lambda s: payments.prepare_payment(s, f1, prepared))
    for app_id in (contracted, terminated, exported, changed, ready):
        scenario.advance(app_id, AppState.CONTRACTED)
    for app_id in (changed, ready):
        scenario.prefinancing(app_id, until="authorised")
    prefinancing = scenario.prefinancing(contracted, until="prepared")
    scenario.prefinancing(terminated)
    officer = scenario.people.officer
    scenario.run(lambda s: payments.terminate(s, officer, terminated, reason="Liquidation."))
    to_bank = scenario.prefinancing(exported, until="authorised")
    batch = scenario.run(
        lambda s: (
            sepa.export_batch(
                s,
                f1,
                runtime.storage,
                sepa.debtor_of(runtime.config),
                sepa.ExportRequest((to_bank,), sepa.default_execution_date()),
            ).id
        )
    )
    # A call that pays the service provider directly: the SME gave the provider's account.
    direct_call = scenario.add_call(pay_provider_directly=True, prefinancing_percent=Decimal(0))
    direct = scenario.draft(5, call_id=direct_call)
    scenario.advance(direct, AppState.CONTRACTED)
    sme5 = scenario.owner(direct)
    scenario.run(
        lambda s: bank_details.change_provider(
            s,
            sme5,
            runtime.storage,
            direct,
            iban="DE89370400440532013000",
            bic="",
            name="Centro Formazione Navale S.r.l.",
            confirmation=bank_details.Upload("invoice.pdf", pdf_bytes(marker=b"provider")),
        )
    )
    owner = scenario.owner(changed)
    scenario.run(
        lambda s: bank_details.change(
            s,
            owner,
            runtime.storage,
            changed,
            iban="NL02ABNA0123456789",
            bic="",
            holder="SME account",
            confirmation=bank_details.Upload("bank.pdf", pdf_bytes(marker=b"bank")),
        )
    )
    scenario.submit(submitted)
    # Redress: one ineligible applicant may still ask, another already asked.
    may_ask, asked = scenario.draft(3), scenario.draft(4)
    for app_id in (may_ask, asked):
        scenario.submit(app_id)
        scenario.check_eligibility(app_id, passed=False)
    scenario.redress(asked, "The register shows we were founded in 2015.")
    # Staff accounts: a person invited with two roles who has not chosen a password yet (the
    # welcome link's page, the admin's page of the person), and an evaluator who also works
    # in finance (the header's role switcher).
    admin = scenario.people.admin
    links: list[str] = []

    def link(token: str) -> str:
        links.append(f"/welcome/{token}")
        return links[-1]

    invited = scenario.run(
        lambda s: (
            staff.invite(
                s,
                admin,
                email=f"invited.{scenario.tag}@test.example",
                full_name=f"Ana Kovač {scenario.tag}",
                roles=[Role.OFFICER, Role.FINANCE],
                secret_key=str(app.config["SECRET_KEY"]),
                link=link,
            ).id
        )
    )
    evaluator2 = scenario.people.evaluators[1].user_id
    assert evaluator2 is not None
    scenario.run(lambda s: staff.set_roles(s, admin, evaluator2, [Role.EVALUATOR, Role.FINANCE]))
    # A draft call in the builder, started as an officer starts one.
    building = scenario.run(
        lambda s: (
            call_builder.start_call(
                s,
                scenario.people.officer,
                MultiDict(
                    {
                        "reference": f"AX-{scenario.tag.upper()}",
                        "title": "A call being built",
                        "voucher_type": "internationalisation",
                        "purpose": "Markets outside the EU.",
                    }
                ),
                now=utcnow(),
            ).id
        )
    )
    return {
        "scenario": scenario,
        "building": building,
        "submitted": submitted,
        "offered": offered,
        "prepared": prepared,
        "invited": invited,
        "may_ask": may_ask,
        "asked": asked,
        "welcome": links[-1],
        "contracted": contracted,
        "prefinancing": prefinancing,
        "batch": batch,
        "changed": changed,
        "direct": direct,
    }


# (name, who is logged in (None: nobody), the path, a text the page shows)
PAGES: list[tuple[str, str | None, Callable[[dict[str, object]], str], str]] = [
    ("applicant-dashboard", "applicant1", lambda w: "/dashboard", "My applications"),
    ("applicant-offer", "applicant1", lambda w: f"/applications/{w['offered']}", "Sign and accept"),
    (
        "officer-eligibility",
        "officer",
        lambda w: f"/applications/{w['submitted']}",
        "Record eligibility decision",
    ),
    ("officer-dashboard", "officer", lambda w: "/dashboard", "Calls"),
    ("finance-authorise", "finance2", lambda w: f"/applications/{w['prepared']}", "Authorise"),
    ("finance-four-eyes", "finance1", lambda w: f"/applications/{w['prepared']}", "Four-eyes"),
    ("auditor-trail", "auditor", lambda w: "/audit", "hash-chained"),
    ("admin-invite", "admin", lambda w: "/admin/users/invite", "Send the invitation"),
    ("admin-person", "admin", lambda w: f"/admin/users/{w['invited']}", "Invitation pending"),
    ("admin-accounts", "admin", lambda w: "/admin/users", "Invite a person"),
    ("staff-welcome", None, lambda w: str(w["welcome"]), "Set my password and log in"),
    ("two-roles-header", "evaluator2", lambda w: "/dashboard", "My evaluations"),
    (
        "applicant-submitted",
        "applicant0",
        lambda w: f"/applications/{w['submitted']}",
        "Your application is submitted",
    ),
    ("partners", "officer", lambda w: "/partners", "Add a partner"),
    ("redress-ask", "applicant3", lambda w: f"/applications/{w['may_ask']}", "Ask for a review"),
    ("redress-decide", "officer", lambda w: f"/applications/{w['asked']}", "Record the decision"),
    (
        "eligibility-bulk",
        "officer",
        lambda w: f"/calls/{_scenario(w).call_id}/eligibility",
        "Record eligibility in bulk",
    ),
    (
        "assignment",
        "officer",
        lambda w: f"/calls/{_scenario(w).call_id}/assignment",
        "Assignment of experts",
    ),
    ("ranking", "officer", lambda w: f"/calls/{_scenario(w).call_id}/ranking", "Ranking of"),
    ("evaluator-dashboard", "evaluator1", lambda w: "/dashboard", "My evaluations"),
    (
        "call-partners",
        "officer",
        lambda w: f"/partners/calls/{_scenario(w).call_id}",
        "The partner managing the call answers for it",
    ),
    ("experts", "officer", lambda w: "/experts", "Expertise keywords"),
    ("expert-keywords", "officer", lambda w: "/experts/keywords", "Add"),
    ("call-pool", "officer", lambda w: f"/calls/{_scenario(w).call_id}/pool", "Invite"),
    ("expert-profile", "evaluator1", lambda w: "/experts/profile", "Languages"),
    ("expert-invitations", "evaluator1", lambda w: "/experts/invitations", "invitation"),
    ("builder-new", "officer", lambda w: "/calls/new", "Save and continue"),
    ("builder-dates", "officer", lambda w: f"/calls/{w['building']}/build/dates", "Deadline"),
    (
        "builder-eligibility",
        "officer",
        lambda w: f"/calls/{w['building']}/build/eligibility",
        "Eligible countries",
    ),
    (
        "builder-evaluation",
        "officer",
        lambda w: f"/calls/{w['building']}/build/evaluation",
        "Evaluation criteria",
    ),
    ("builder-review", "officer", lambda w: f"/calls/{w['building']}/build/review", "Publish"),
    ("builder-preview", "officer", lambda w: f"/calls/{w['building']}/build/preview", "Preview"),
    ("finance-dashboard", "finance1", lambda w: "/dashboard", "SEPA export"),
    (
        "bank-details-sme",
        "applicant8",
        lambda w: f"/applications/{w['changed']}/bank-details",
        "Bank details",
    ),
    (
        "bank-details-verify",
        "finance2",
        lambda w: f"/applications/{w['changed']}/bank-details",
        "Verify",
    ),
    (
        "confirm-authorise",
        "finance2",
        lambda w: f"/payments/{w['prefinancing']}/confirm/authorise",
        "IBAN",
    ),
    ("sepa-export", "finance1", lambda w: "/finance/sepa/export?all=1", "Blocked"),
    ("sepa-batch", "finance1", lambda w: f"/finance/sepa/{w['batch']}", "SEPA"),
    ("ledger", "officer", lambda w: f"/calls/{_scenario(w).call_id}/ledger", "Available"),
    (
        "report-form-editor",
        "officer",
        lambda w: f"/calls/{_scenario(w).call_id}/report-form",
        "Final report",
    ),
    (
        "applicant-report",
        "applicant5",
        lambda w: f"/applications/{w['contracted']}",
        "Save report draft",
    ),
    (
        "bank-details-provider-sme",
        "applicant5",
        lambda w: f"/applications/{w['direct']}/bank-details",
        "Service provider",
    ),
    (
        "bank-details-provider-verify",
        "finance2",
        lambda w: f"/applications/{w['direct']}/bank-details",
        "Verify the service provider",
    ),
    (
        "final-report-provider",
        "applicant5",
        lambda w: f"/applications/{w['direct']}",
        "The service provider delivered the service",
    ),
    (
        "builder-money",
        "officer",
        lambda w: f"/calls/{w['building']}/build/money",
        "Pay the service provider directly",
    ),
    (
        "auditor-trail-filtered",
        "auditor",
        lambda w: (
            f"/audit?reference={_scenario(w).application(int(w['submitted'])).reference}"
            "&date_from=bad"
        ),
        "Filter the events",
    ),
    ("auditor-event", "auditor", lambda w: "/audit/events/1", "Place in the chain"),
    (
        "fstp-summary",
        "officer",
        lambda w: f"/calls/{_scenario(w).call_id}/fstp-summary",
        "Per country of the SME",
    ),
    ("fstp-programme", "auditor", lambda w: "/fstp-summary", "Per managing partner"),
    ("exports", "auditor", lambda w: "/exports", "Audit events"),
    (
        "builder-published",
        "officer",
        lambda w: f"/calls/{_scenario(w).call_id}/build/basics",
        "Copy this call",
    ),
]


def _scenario(world: dict[str, object]) -> Scenario:
    scenario = world["scenario"]
    assert isinstance(scenario, Scenario)
    return scenario


@pytest.mark.parametrize("width", list(WIDTHS), ids=str)
@pytest.mark.parametrize(("name", "who", "path", "shows"), PAGES, ids=[p[0] for p in PAGES])
def test_pages_pass_axe_core(
    live_app: tuple[Flask, str],
    browser: Browser,
    world: dict[str, object],
    width: str,
    name: str,
    who: str | None,
    path: Callable[[dict[str, object]], str],
    shows: str,
) -> None:
    _app, base = live_app
    scenario = world["scenario"]
    assert isinstance(scenario, Scenario)
    context = browser.new_context(viewport={"width": WIDTHS[width], "height": 900})
    page = context.new_page()
    try:
        if who:
            log_in(page, base, scenario.people.emails[who])
        page.goto(base + path(world))
        expect(page.locator("main")).to_contain_text(shows)
        results = _AXE.run(page).response
        folder = os.environ.get("SCREENSHOT_DIR")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / f"{name}-{width}.png"), full_page=True)
        assert _problems(results) == []
        # Nothing spills sideways on a phone: the page is as wide as the screen.
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, (
            f"{name} is {overflow}px wider than the {width} screen: {page.evaluate(WIDEST)}"
        )
    finally:
        context.close()
