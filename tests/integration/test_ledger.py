"""A call's budget ledger: every euro held back, available, committed or paid, through a
whole lifecycle; its movements page and CSV; who may read them."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from grants.db import utcnow
from grants.models import Call
from grants.presenters import ledger as ledger_presenter
from grants.services import awards, ledger, payments, recoveries, reporting
from grants.services.ledger import CSV_HEADER, Ledger
from tests.scenario import Scenario
from workflows.ledger import Cause, Kind
from workflows.money import format_eur
from workflows.voucher import AppState

D = Decimal
HIGH, LOW = ("4.5", "4.5", "4.5"), ("3.5", "3.5", "3.5")


def read_ledger(scenario: Scenario, call_id: int) -> Ledger:
    def read(session: Session) -> Ledger:
        call = session.get(Call, call_id)
        assert call is not None
        found = ledger.call_ledger(session, call)
        # The identity, and what promotions may use is the ledger's available figure.
        f = found.figures
        assert f.budget == f.held_back + f.available + f.committed + f.paid
        assert awards.budget_remaining(session, call) == f.available
        # The trail (commitments, releases) and the rows (awards, payments) agree.
        assert found.reconciles, (found.committed_ever, f)
        return found

    return scenario.run(read)


def lifecycle_call(scenario: Scenario) -> int:
    """48,000 budget, 8,000 held back: five 8,000 vouchers fit, the sixth is a reserve."""
    return scenario.add_call(budget=D("48000.00"), reserve=D("8000.00"), cumulative_cap=D("60000"))


def build_lifecycle(scenario: Scenario) -> tuple[int, dict[str, int]]:
    call_id = lifecycle_call(scenario)
    names = "ABCDEF"
    ids = {name: scenario.draft(i, call_id=call_id) for i, name in enumerate(names)}
    for name in names:
        scenario.advance(ids[name], AppState.EVALUATED, LOW if name == "F" else HIGH)
    scenario.rank(call_id)
    assert [scenario.status(ids[n]) for n in names] == [AppState.SELECTED] * 5 + [AppState.RESERVE]
    found = read_ledger(scenario, call_id)
    assert found.figures.committed == D("40000.00") and found.figures.available == 0
    return call_id, ids


def test_the_ledger_holds_through_a_whole_lifecycle(scenario: Scenario) -> None:
    scenario = Scenario(scenario.sessions, smes=6)
    call_id, ids = build_lifecycle(scenario)
    officer = scenario.people.officer
    a, b, c, d, e, f = (ids[n] for n in "ABCDEF")

    # A: pre-financing 4,000, costs approved 6,000, balance 2,000, closed: 2,000 under-spent.
    scenario.advance(a, AppState.CONTRACTED)
    scenario.prefinancing(a)
    read_ledger(scenario, call_id)
    scenario.run(
        lambda s: reporting.submit_report(
            s, scenario.owner(a), a, summary="Part of the course.", claimed_costs="6500.00"
        )
    )
    scenario.run(
        lambda s: reporting.approve_report(s, officer, a, approved_costs="6000.00", comments="ok")
    )
    scenario.advance(a, AppState.CLOSED)
    closed = scenario.application(a)
    assert closed.awarded_amount == D("6000.00")  # the award is what was paid
    close_event = next(ev for ev in scenario.events_of(a) if ev.action == "close")
    assert D(close_event.after["released"]) == D("2000.00")

    # B declines: its 8,000 goes back and F, the reserve, is promoted automatically.
    scenario.run(lambda s: awards.offer(s, officer, b))
    scenario.run(lambda s: awards.decline(s, scenario.owner(b), b, reason="No provider."))
    assert scenario.status(f) == AppState.SELECTED
    read_ledger(scenario, call_id)

    # C: pre-financing 4,000 paid, then terminated with nothing justified: 4,000 never paid
    # is released now; the 4,000 to recover comes back as it is repaid (2,500 so far).
    scenario.advance(c, AppState.CONTRACTED)
    scenario.prefinancing(c)
    scenario.run(lambda s: payments.terminate(s, officer, c, reason="SME in liquidation."))
    before_repayment = read_ledger(scenario, call_id).figures
    finance = scenario.people.finance[0]

    def repay(session: Session) -> None:
        (order,) = recoveries.orders_of(session, c)
        recoveries.record_repayment(
            session,
            finance,
            order.id,
            amount="2500.00",
            received_on=utcnow().date().isoformat(),
            bank_reference="SEPA-BACK-1",
        )

    scenario.run(repay)
    after_repayment = read_ledger(scenario, call_id).figures
    assert after_repayment.available - before_repayment.available == D("2500.00")
    assert after_repayment.paid - before_repayment.paid == D("-2500.00")

    # D is excluded; E's offer expires: both release their 8,000 (no reserve is left).
    scenario.run(lambda s: awards.exclude(s, officer, d, reason="Double funding found."))
    scenario.run(lambda s: awards.offer(s, officer, e))
    deadline = scenario.application(e).offer_deadline
    assert deadline is not None
    scenario.run(lambda s: awards.expire_offer(s, e, deadline + timedelta(seconds=1)))

    found = read_ledger(scenario, call_id)
    figures = found.figures
    assert figures.budget == D("48000.00") and figures.held_back == D("8000.00")
    assert figures.committed == D("8000.00")  # F, selected
    assert figures.paid == D("7500.00")  # A 6,000 + C 4,000 - 2,500 repaid
    assert {cause: figures.released_by(cause) for cause in Cause} == {
        Cause.DECLINE: D("8000.00"),
        Cause.EXPIRY: D("8000.00"),
        Cause.EXCLUSION: D("8000.00"),
        Cause.TERMINATION: D("4000.00"),
        Cause.CLOSURE: D("2000.00"),
        Cause.RECOVERY: D("2500.00"),
    }
    assert figures.available == D("24500.00")
    assert found.committed_ever == D("48000.00")  # five ranked, F promoted
    kinds = defaultdict(int)
    for m in found.movements:
        kinds[m.kind] += 1
    assert kinds == {Kind.COMMITMENT: 6, Kind.PAYMENT: 3, Kind.RELEASE: 6}


def csv_rows(client: FlaskClient, call_id: int) -> list[list[str]]:
    response = client.get(f"/calls/{call_id}/ledger.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_the_csv_lists_every_movement_and_adds_up_to_the_dashboard(
    scenario: Scenario, client: FlaskClient, login: Callable[[FlaskClient, str], None]
) -> None:
    scenario = Scenario(scenario.sessions, smes=6)
    call_id, ids = build_lifecycle(scenario)
    officer = scenario.people.officer
    scenario.advance(ids["A"], AppState.CONTRACTED)
    scenario.prefinancing(ids["A"])
    scenario.run(lambda s: awards.offer(s, officer, ids["B"]))
    scenario.run(lambda s: awards.decline(s, scenario.owner(ids["B"]), ids["B"], reason="No."))
    found = read_ledger(scenario, call_id)

    login(client, scenario.people.emails["finance1"])
    header, *rows = csv_rows(client, call_id)
    assert tuple(header) == CSV_HEADER
    assert len(rows) == len(found.movements) == 5 + 1 + 1 + 1  # 6 commitments, 1 payment, 1 release
    column = {name: i for i, name in enumerate(header)}
    sums: dict[str, Decimal] = defaultdict(Decimal)
    effect = Decimal(0)
    for row in rows:
        assert row[column["call"]] == found.call.reference
        sums[row[column["movement"]]] += Decimal(row[column["amount_eur"]])
        effect += Decimal(row[column["effect_on_available_eur"]])
    figures = found.figures
    assert sums["commitment"] == figures.committed + figures.paid + figures.released_total
    assert sums["payment"] == figures.paid == D("4000.00")
    assert sums["release"] == figures.released_total == D("8000.00")
    assert figures.usable + effect == figures.available

    # The dashboards show the same figures.
    with scenario.sessions() as session:
        shown = {r.call.id: r.figures for r in ledger_presenter.finance_rows(session)}
    assert shown[call_id] == figures
    page = client.get("/dashboard").get_data(as_text=True)
    assert f"/calls/{call_id}/ledger" in page and format_eur(figures.available) in page
    client.post("/logout")
    login(client, scenario.people.emails["officer"])
    page = client.get("/dashboard").get_data(as_text=True)
    assert f"/calls/{call_id}/ledger" in page and format_eur(figures.paid) in page
    ledger_page = client.get(f"/calls/{call_id}/ledger").get_data(as_text=True)
    for m in found.movements:
        assert m.reference in ledger_page
    assert format_eur(figures.committed) in ledger_page


def test_finance_officers_and_auditors_read_the_ledger_others_may_not(
    scenario: Scenario, client: FlaskClient, login: Callable[[FlaskClient, str], None]
) -> None:
    call_id = scenario.call_id
    pages = (f"/calls/{call_id}/ledger", f"/calls/{call_id}/ledger.csv")
    for path in pages:  # not logged in: to the login page
        assert client.get(path).status_code == 302
    allowed = {"officer": 200, "finance1": 200, "auditor": 200}
    for key in ("officer", "finance1", "auditor", "evaluator1", "admin", "applicant0"):
        login(client, scenario.people.emails[key])
        for path in pages:
            assert client.get(path).status_code == allowed.get(key, 403), (key, path)
        client.post("/logout")
    login(client, scenario.people.emails["auditor"])
    assert client.get("/calls/999999999/ledger").status_code == 404
