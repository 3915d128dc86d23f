"""Publication of the supported third parties (CSV, 360Giving) and the FSTP summary."""

from __future__ import annotations

import copy
import csv
import io
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from stdnum import luhn

from grants.models import Organisation
from grants.services import applications, awards, fstp_summary, partners, publication
from tests.scenario import Scenario
from workflows.registry import application_states_where
from workflows.voucher import AppState

Login = Callable[[FlaskClient, str], None]


def _partita_iva() -> str:
    base = f"{random.randrange(1, 10**7):07d}098"
    return base + luhn.calc_check_digit(base)


def _partner(scenario: Scenario, name: str) -> int:
    officer = scenario.people.officer
    data = {
        "name": f"{name} {scenario.tag}",
        "short_name": f"P{uuid.uuid4().hex[:8].upper()}",
        "country": "IT",
        "registration_number": "",
        "vat_number": "",
        "email_domain": "",
    }
    return scenario.run(lambda s: partners.create_partner(s, officer, data).id)


@dataclass
class Built:
    scenario: Scenario
    call1: int
    call2: int
    closed: int  # SME0 (IT, valid partita IVA), call 1: paid in full and closed
    offered: int  # SME1 (FR), call 1: offered, not signed yet
    declined: int  # SME2 (NL), call 1: offered, then declined
    contracted: int  # SME0, call 2: signed, pre-financing paid
    withdrawn: int  # SME1, call 2: withdrawn after submission
    ineligible: int  # SME2, call 2: found ineligible
    partner1: int
    partner2: int
    vat: str


@pytest.fixture
def built(scenario: Scenario) -> Built:
    s = scenario
    officer = s.people.officer
    vat = _partita_iva()
    org0 = s.people.applicants[0].organisation_id
    s.run(
        lambda db: db.execute(
            update(Organisation)
            .where(Organisation.id == org0)
            .values(registration_number=vat, legal_name=f"=HYPERLINK(1) Navale {s.tag} S.r.l.")
        )
    )
    call2 = s.add_call()
    partner1, partner2 = _partner(s, "Distretto Ligure"), _partner(s, "Toulon Var")
    s.run(lambda db: partners.set_call_partners(db, officer, s.call_id, partner1, []))
    s.run(lambda db: partners.set_call_partners(db, officer, call2, partner2, []))

    closed = s.draft(0)
    s.advance(closed, AppState.CLOSED)
    offered = s.draft(1)
    s.advance(offered, AppState.OFFERED)
    declined = s.draft(2)
    s.advance(declined, AppState.OFFERED)
    s.run(lambda db: awards.decline(db, s.owner(declined), declined, reason="no longer needed"))

    contracted = s.draft(0, call_id=call2)
    s.advance(contracted, AppState.CONTRACTED)
    s.prefinancing(contracted)
    withdrawn = s.draft(1, call_id=call2)
    s.submit(withdrawn)
    s.run(
        lambda db: applications.withdraw(db, s.owner(withdrawn), withdrawn, reason="changed plans")
    )
    ineligible = s.draft(2, call_id=call2)
    s.submit(ineligible)
    s.check_eligibility(ineligible, passed=False)
    return Built(
        s,
        s.call_id,
        call2,
        closed,
        offered,
        declined,
        contracted,
        withdrawn,
        ineligible,
        partner1,
        partner2,
        vat,
    )


def _mine(built: Built, sessions: sessionmaker[Session], *, public: bool = False) -> list:
    with sessions() as session:
        found = publication.supported_third_parties(session, public=public)
    return [p for p in found if p.call_id in (built.call1, built.call2)]


def test_published_states_follow_the_awarded_fact() -> None:
    states = set(publication.PUBLISHED_STATES)
    assert states == set(application_states_where("awarded"))
    assert {AppState.OFFERED, AppState.CONTRACTED, AppState.CLOSED, AppState.TERMINATED} <= states
    assert not states & {
        AppState.WITHDRAWN,
        AppState.DECLINED,
        AppState.EXCLUDED,
        AppState.EXPIRED,
        AppState.RESERVE,
        AppState.REJECTED,
        AppState.SELECTED,
    }


def test_list_includes_awarded_vouchers_only_and_public_only_signed(
    built: Built, sessions: sessionmaker[Session]
) -> None:
    everything = {p.application_id for p in _mine(built, sessions)}
    assert everything == {built.closed, built.offered, built.contracted}
    public = {p.application_id for p in _mine(built, sessions, public=True)}
    assert public == {built.closed, built.contracted}


def test_csv_columns_and_values(built: Built, sessions: sessionmaker[Session]) -> None:
    out = io.StringIO(newline="")
    publication.write_csv(_mine(built, sessions), out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0]) == publication.CSV_COLUMNS
    by_ref = {r["reference"]: r for r in rows}
    closed = by_ref[built.scenario.application(built.closed).reference]
    # The legal name that a spreadsheet would run as a formula is made text.
    assert closed["legal_name"] == f"'=HYPERLINK(1) Navale {built.scenario.tag} S.r.l."
    assert closed["status"] == "closed"
    assert closed["country"] == "IT" and closed["country_name"] == "Italy"
    assert closed["registration_number"] == built.vat
    assert closed["org_id"] == f"IT-RI-{built.vat}"
    assert closed["sme_status"] == "small"
    assert closed["amount_awarded_eur"] == "8000.00"
    assert closed["amount_paid_eur"] == "8000.00"
    assert closed["amount_recovered_eur"] == "0.00"
    assert closed["purpose"] == f"Project 0 {built.scenario.tag}"
    assert closed["voucher_type"] == "upskilling"
    assert closed["call_reference"] == f"T-{built.scenario.tag.upper()}"
    assert closed["award_date"] and closed["agreement_signed"] and closed["final_payment"]
    assert closed["planned_start"] == "2027-02-01" and closed["planned_end"] == "2027-07-31"

    offered = by_ref[built.scenario.application(built.offered).reference]
    assert offered["status"] == "offered"
    assert offered["agreement_signed"] == "" and offered["final_payment"] == ""
    assert offered["amount_paid_eur"] == "0.00"
    assert offered["org_id"].startswith(f"{publication.grant_prefix()}-org-")
    contracted = by_ref[built.scenario.application(built.contracted).reference]
    assert contracted["amount_paid_eur"] == "4000.00"
    assert contracted["final_payment"] == ""  # only the pre-financing is paid


def test_360giving_package_validates_and_a_broken_record_fails(
    built: Built, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASCADE_360_PREFIX", "360G-leviatad")
    package = publication.threesixtygiving_package(_mine(built, sessions))
    assert publication.schema_problems(package) == []
    grants = {g["id"]: g for g in package["grants"]}
    reference = built.scenario.application(built.contracted).reference
    grant = grants[f"360G-leviatad-{reference}"]
    assert grant["currency"] == "EUR"
    assert grant["amountAwarded"] == 8000
    assert grant["amountDisbursed"] == 4000
    assert grant["recipientOrganization"][0]["id"] == f"IT-RI-{built.vat}"
    assert grant["grantProgramme"] == [
        {"code": f"T-{built.scenario.tag.upper()}-2", "title": f"Test call {built.scenario.tag}-2"}
    ]
    # FRG010 is for a grant to a grantmaker (the EU's to the consortium), not a voucher.
    assert "regrantType" not in grant
    assert [t["value"] for t in grant["disbursementTransaction"]] == [4000]
    assert grant["plannedDates"][0]["startDate"] == "2027-02-01"

    for breakage in (
        lambda g: g.pop("amountAwarded"),
        lambda g: g.update(currency="EURO"),
        lambda g: g.update(awardDate="2026-13-40"),
        lambda g: g.update(amountAwarded="8000"),
        lambda g: g["recipientOrganization"][0].pop("id"),
    ):
        broken = copy.deepcopy(package)
        breakage(broken["grants"][0])
        problems = publication.schema_problems(broken)
        assert problems and problems[0].where.startswith("grants/0"), problems
    assert publication.schema_problems({"grants": []})  # at least one grant


def test_fstp_summary_per_call_country_and_partner(
    built: Built, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        one = fstp_summary.call_summary(session, built.call1)
        programme = fstp_summary.programme_summary(session, [built.call1, built.call2])

    def figures(f: fstp_summary.Figures) -> tuple:
        return (f.received, f.eligible, f.funded, f.committed, f.paid)

    eur = Decimal
    assert figures(one.total) == (3, 3, 2, eur("16000.00"), eur("8000.00"))
    assert {line.key: figures(line.figures) for line in one.by_country} == {
        "IT": (1, 1, 1, eur("8000.00"), eur("8000.00")),
        "FR": (1, 1, 1, eur("8000.00"), eur("0.00")),
        "NL": (1, 1, 0, eur("0.00"), eur("0.00")),
    }
    two = next(c for c in programme.calls if c.call_id == built.call2)
    assert figures(two.total) == (3, 1, 1, eur("8000.00"), eur("4000.00"))
    assert figures(programme.total) == (6, 4, 3, eur("24000.00"), eur("12000.00"))
    by_partner = {line.name: figures(line.figures) for line in programme.by_partner}
    assert by_partner == {
        f"Distretto Ligure {built.scenario.tag}": figures(one.total),
        f"Toulon Var {built.scenario.tag}": figures(two.total),
    }
    by_country = {line.key: figures(line.figures) for line in programme.by_country}
    assert by_country["IT"] == (2, 2, 2, eur("16000.00"), eur("12000.00"))
    assert by_country["NL"] == (2, 1, 0, eur("0.00"), eur("0.00"))

    out = io.StringIO(newline="")
    fstp_summary.write_call_csv(one, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0]) == fstp_summary.CSV_COLUMNS
    assert [r["scope"] for r in rows] == ["total", "partner", "country", "country", "country"]
    assert rows[0]["committed_eur"] == "16000.00" and rows[0]["funded"] == "2"
    assert rows[1]["name"] == f"Distretto Ligure {built.scenario.tag}"


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("officer", True),
        ("auditor", True),
        ("finance1", False),
        ("evaluator1", False),
        ("applicant0", False),
        ("admin", False),
    ],
)
def test_access_per_role(
    built: Built, client: FlaskClient, login: Login, role: str, allowed: bool
) -> None:
    call = built.call1
    urls = [
        f"/calls/{call}/fstp-summary",
        f"/calls/{call}/fstp-summary.csv",
        "/fstp-summary",
        "/fstp-summary.csv",
        "/publication/grants.csv",
        f"/publication/grants.json?call={call}",
    ]
    for url in urls:
        assert client.get(url).status_code == 302, url  # to the login page
    login(client, built.scenario.people.emails[role])
    for url in urls:
        assert client.get(url).status_code == (200 if allowed else 403), url
    if allowed:
        page = client.get(f"/calls/{call}/fstp-summary").get_data(as_text=True)
        assert "Per country of the SME" in page and "Distretto Ligure" in page
        package = client.get(f"/publication/grants.json?call={call}").get_json()
        assert publication.schema_problems(package) == []
        assert len(package["grants"]) == 2  # closed and offered
        assert client.get("/publication/grants.json?call=abc").status_code == 404


def test_public_json_for_anyone_holds_signed_agreements_only(
    built: Built, client: FlaskClient
) -> None:
    response = client.get("/public/grants.json")
    assert response.status_code == 200
    package = response.get_json()
    assert publication.schema_problems(package) == []
    titles = {g["title"] for g in package["grants"]}
    tag = built.scenario.tag
    assert f"Project 0 {tag}" in titles  # closed and contracted (both SME0)
    assert f"Project 1 {tag}" not in titles  # only offered


def test_cli_publish_writes_csv_and_validated_360giving(
    built: Built, app: Flask, tmp_path: Path
) -> None:
    runner = app.test_cli_runner()
    target = tmp_path / "grants.json"
    reference = f"T-{built.scenario.tag.upper()}"
    result = runner.invoke(
        args=["publish", "--format", "360giving", "--call", reference, "--output", str(target)]
    )
    assert result.exit_code == 0, result.output
    package = json.loads(target.read_text(encoding="utf-8"))
    assert publication.schema_problems(package) == []
    assert len(package["grants"]) == 2
    public = runner.invoke(args=["publish", "--format", "csv", "--call", reference, "--public"])
    assert public.exit_code == 0, public.output
    rows = list(csv.DictReader(io.StringIO(public.output)))
    assert [r["status"] for r in rows] == ["closed"]
    missing = runner.invoke(args=["publish", "--call", "NO-SUCH-CALL"])
    assert missing.exit_code == 1 and "no call NO-SUCH-CALL" in missing.output
