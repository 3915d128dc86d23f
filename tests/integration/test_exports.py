"""The data exports: five datasets in three formats, streamed, formula-safe, audited."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Callable, Iterator
from datetime import UTC
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from grants.models import Application, AuditEvent, Call, Evaluation, Payment, User
from grants.services import applications, audit, export_formats, exports, staff
from grants.services.actor import Actor
from tests.scenario import Scenario, pending_documents_discarded
from workflows.roles import Role
from workflows.voucher import AppState

Login = Callable[[FlaskClient, str], None]
FORMULA = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture(scope="module")
def paid_call(sessions: sessionmaker[Session]) -> Iterator[Scenario]:
    """One call with a paid voucher (pre-financing and balance), a ranked application and a
    draft whose title a spreadsheet would run as a formula."""
    with pending_documents_discarded(sessions):
        scenario = Scenario(sessions, smes=3)
        paid = scenario.draft(0)
        scenario.advance(paid, AppState.CONTRACTED)
        scenario.prefinancing(paid)
        scenario.advance(paid, AppState.PAID)
        ranked = scenario.draft(1)
        scenario.advance(ranked, AppState.EVALUATED)
        owner = scenario.people.applicants[2]
        # Typed by an applicant, as any title: a spreadsheet would run it.
        scenario.run(lambda s: applications.create_draft(s, owner, scenario.call_id, title=FORMULA))
        yield scenario
        scenario.retire_finance()


def _export(
    sessions: sessionmaker[Session], dataset: str, fmt: str, call_reference: str | None
) -> bytes:
    with sessions() as session, session.begin():
        started = exports.start(
            session,
            staff.command_line(Role.AUDITOR),
            dataset,
            fmt,
            call_reference=call_reference,
        )
    return b"".join(exports.stream(sessions, started))


# -- what the database holds, as each format writes it -------------------------------------


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _iso(value: Any) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def expected_rows(session: Session, dataset: str, call: Call) -> list[dict[str, Any]]:
    """The rows of ``call`` straight from the models (JSON Lines values)."""
    apps = list(
        session.scalars(
            select(Application).where(Application.call_id == call.id).order_by(Application.id)
        )
    )
    if dataset == "audit-events":
        references = {a.id: a.reference for a in apps}
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.seq.is_not(None)).order_by(AuditEvent.seq)
        )
        return [
            {
                "id": e.id,
                "seq": e.seq,
                "occurred_at": _iso(e.occurred_at),
                "action": e.action,
                "application_reference": references.get(e.application_id),
                "after": e.after,
                "hash": e.hash,
            }
            for e in events
            if e.application_id in references
            or (e.entity_type == "call" and e.entity_id == call.reference)
        ]
    if dataset == "applications":
        return [
            {
                "reference": a.reference,
                "call": call.reference,
                "title": a.title,
                "organisation": a.organisation.legal_name,
                "status": a.status,
                "requested_amount": _money(a.requested_amount),
                "submitted_at": _iso(a.submitted_at),
                "total_score": _money(a.total_score),
                "rank": a.rank,
                "awarded_amount": _money(a.awarded_amount),
            }
            for a in apps
        ]
    if dataset == "awards":
        return [
            {
                "reference": a.reference,
                "status": a.status,
                "awarded_amount": _money(a.awarded_amount),
                "agreement_signed_at": _iso(a.agreement_signed_at),
                "paid_so_far": _money(
                    sum((p.amount for p in a.payments if p.status == "paid"), Decimal("0"))
                ),
            }
            for a in apps
            if a.awarded_amount is not None
        ]
    if dataset == "scores":
        evaluations = session.scalars(
            select(Evaluation)
            .where(Evaluation.application_id.in_([a.id for a in apps]))
            .order_by(Evaluation.id)
        )
        return [
            {
                "evaluation": e.id,
                "application": e.application.reference,
                "evaluator": session.get(User, e.evaluator_id).full_name,  # type: ignore[union-attr]
                "status": e.status,
                "scores": e.scores,
                "total": _money(e.total),
                "submitted_at": _iso(e.submitted_at),
            }
            for e in evaluations
        ]
    payments = session.scalars(
        select(Payment).where(Payment.application_id.in_([a.id for a in apps])).order_by(Payment.id)
    )
    return [
        {
            "payment": p.id,
            "application": p.application.reference,
            "instalment": p.instalment,
            "status": p.status,
            "amount": _money(p.amount),
            "iban": p.iban,
            "paid_at": _iso(p.paid_at),
            "payment_reference": p.payment_reference,
        }
        for p in payments
    ]


def parse(dataset: str, fmt: str, body: bytes) -> list[dict[str, Any]]:
    """The export read back, keyed as JSON Lines keys it, values as JSON Lines holds them."""
    columns = exports.dataset(dataset).columns
    if fmt == "jsonl":
        return [json.loads(line) for line in body.decode("utf-8").splitlines()]
    if fmt == "csv":
        table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    else:
        book = load_workbook(io.BytesIO(body), read_only=True)
        table = [list(r) for sheet in book.worksheets for r in sheet.iter_rows(values_only=True)]
    header, *cells = table
    assert header == [c.label for c in columns]  # the headings, in words
    rows = []
    for line in cells:
        row = {}
        line += [None] * (len(columns) - len(line))  # a workbook drops empty trailing cells
        for column, cell in zip(columns, line, strict=True):
            value: Any = None if cell in ("", None) else cell
            if isinstance(value, str) and value.startswith("'"):
                value = value[1:]  # neutralised formula
            if value is not None and column.kind == "integer":
                value = int(value)
            if value is not None and column.kind == "json":
                value = json.loads(value)
            row[column.key] = value
        rows.append(row)
    return rows


DATASETS = ["audit-events", "applications", "scores", "awards", "payments"]


@pytest.mark.parametrize("dataset", DATASETS)
def test_each_dataset_round_trips_in_each_format(
    paid_call: Scenario, sessions: sessionmaker[Session], dataset: str
) -> None:
    with sessions() as session:
        call = session.get(Call, paid_call.call_id)
        assert call is not None
        expected = expected_rows(session, dataset, call)
        reference = call.reference
    assert expected, "the scenario made rows of this dataset"
    for fmt in ("csv", "jsonl", "xlsx"):
        got = parse(dataset, fmt, _export(sessions, dataset, fmt, reference))
        assert [{k: r[k] for k in expected[0]} for r in got] == expected, fmt
    if dataset == "audit-events":
        # The JSON Lines rows are the stored events: an auditor re-hashes them without us.
        rows = parse(dataset, "jsonl", _export(sessions, dataset, "jsonl", reference))
        for row in rows:
            shaped = type("Event", (), {**row, "occurred_at": _parsed_time(row["occurred_at"])})
            assert audit.compute_hash(shaped) == row["hash"]  # type: ignore[arg-type]


def _parsed_time(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text)


def test_money_is_a_decimal_string_and_times_are_utc(
    paid_call: Scenario, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        reference = session.get(Call, paid_call.call_id).reference  # type: ignore[union-attr]
    rows = parse("payments", "jsonl", _export(sessions, "payments", "jsonl", reference))
    assert {r["instalment"] for r in rows} == {"prefinancing", "balance"}
    for row in rows:
        assert isinstance(row["amount"], str) and Decimal(row["amount"]) > 0
        assert row["amount"] == f"{Decimal(row['amount']):.2f}"
        assert row["prepared_at"].endswith("+00:00")
        assert row["prepared_by"] and row["authorised_by"] and row["paid_by"]


def test_formulas_are_neutralised_in_csv_and_xlsx_but_exact_in_jsonl(
    paid_call: Scenario, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        reference = session.get(Call, paid_call.call_id).reference  # type: ignore[union-attr]
    body = _export(sessions, "applications", "csv", reference).decode("utf-8-sig")
    titles = [r["Title"] for r in csv.DictReader(io.StringIO(body))]
    assert "'" + FORMULA in titles and FORMULA not in titles

    book = load_workbook(
        io.BytesIO(_export(sessions, "applications", "xlsx", reference)), read_only=False
    )
    cells = [c for row in book.active.iter_rows() for c in row if "HYPERLINK" in str(c.value)]
    assert [(c.value, c.data_type) for c in cells] == [("'" + FORMULA, "s")]

    rows = parse("applications", "jsonl", _export(sessions, "applications", "jsonl", reference))
    assert FORMULA in [r["title"] for r in rows]


def test_every_export_is_audited_before_and_after(
    paid_call: Scenario, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        reference = session.get(Call, paid_call.call_id).reference  # type: ignore[union-attr]
    body = _export(sessions, "awards", "xlsx", reference)
    count = len(parse("awards", "xlsx", body))
    with sessions() as session:
        started, finished = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action.in_(["export_started", "export_finished"]))
            .order_by(AuditEvent.id.desc())
            .limit(2)
        ).all()[::-1]
    assert started.after == {"dataset": "awards", "format": "xlsx", "call": reference}
    assert started.actor_role == "auditor" and started.entity_id == "awards"
    assert finished.after == {
        "dataset": "awards",
        "format": "xlsx",
        "call": reference,
        "started_event": started.id,
        "rows": count,
    }
    with sessions() as session:
        assert audit.verify_chain(session).ok


def test_only_the_allowed_roles_may_export_a_dataset(sessions: sessionmaker[Session]) -> None:
    from grants.errors import NotFound, TransitionRefused

    officer = Actor(user_id=None, name="x", role=Role.OFFICER)
    with sessions() as session:
        with pytest.raises(TransitionRefused):
            exports.start(session, officer, "payments", "csv")
        with pytest.raises(NotFound):
            exports.start(
                session,
                staff.command_line(Role.AUDITOR),
                "scores",
                "csv",
                call_reference="NO-SUCH-CALL",
            )
        session.rollback()


# -- through the web ------------------------------------------------------------------------

ALLOWED = {
    "auditor": set(DATASETS),
    "officer": {"applications", "scores", "awards"},
    "finance1": {"payments"},
    "applicant0": set(),
    "evaluator1": set(),
    "admin": set(),
}


def test_web_exports_per_role(
    app: Flask, login: Login, paid_call: Scenario, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        reference = session.get(Call, paid_call.call_id).reference  # type: ignore[union-attr]
    anonymous = app.test_client()
    assert anonymous.get("/exports").status_code == 302
    assert anonymous.get("/exports/applications.csv").status_code == 302
    for who, allowed in ALLOWED.items():
        client = app.test_client()
        login(client, paid_call.people.emails[who])
        page = client.get(f"/exports?call={reference}")
        assert page.status_code == (200 if allowed else 403), who
        for dataset in DATASETS:
            response = client.get(f"/exports/{dataset}.jsonl?call={reference}")
            assert response.status_code == (200 if dataset in allowed else 403), (who, dataset)
            if dataset in allowed:
                assert f"/exports/{dataset}.xlsx?call={reference}" in page.get_data(as_text=True)
                assert response.headers["Cache-Control"] == "no-store"
                assert "attachment" in response.headers["Content-Disposition"]
                assert response.get_data()  # streamed to its end
            response.close()


def test_web_export_streams_each_format_and_refuses_bad_input(
    app: Flask, login: Login, paid_call: Scenario, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        call = session.get(Call, paid_call.call_id)
        assert call is not None
        expected = expected_rows(session, "payments", call)
    auditor = app.test_client()
    login(auditor, paid_call.people.emails["auditor"])
    assert "Exports (CSV, JSON Lines, Excel)" in auditor.get("/audit").get_data(as_text=True)
    for fmt, mimetype in (
        ("csv", "text/csv"),
        ("jsonl", "application/x-ndjson"),
        ("xlsx", export_formats.FORMATS["xlsx"].mimetype),
    ):
        with auditor.get(f"/exports/payments.{fmt}?call={call.reference}") as response:
            assert response.status_code == 200 and response.mimetype == mimetype
            assert response.is_streamed
            rows = parse("payments", fmt, response.get_data())
        assert [{k: r[k] for k in expected[0]} for r in rows] == expected
    assert auditor.get("/exports/nothing.csv").status_code == 404
    assert auditor.get("/exports/payments.pdf").status_code == 404
    refused = auditor.get("/exports/payments.csv?call=NO-SUCH", follow_redirects=True)
    assert "There is no call NO-SUCH." in refused.get_data(as_text=True)


def test_cli_writes_the_export_to_a_file(
    app: Flask, paid_call: Scenario, sessions: sessionmaker[Session], tmp_path: Any
) -> None:
    with sessions() as session:
        call = session.get(Call, paid_call.call_id)
        assert call is not None
        expected = expected_rows(session, "scores", call)
    target = tmp_path / "scores.xlsx"
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "export",
            "scores",
            "--format",
            "xlsx",
            "--call",
            call.reference,
            "--output",
            str(target),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = parse("scores", "xlsx", target.read_bytes())
    assert [{k: r[k] for k in expected[0]} for r in rows] == expected
    refused = runner.invoke(args=["export", "scores", "--call", "NO-SUCH"])
    assert refused.exit_code == 1 and "There is no call NO-SUCH." in refused.output


# -- bounded memory: nothing waits for the last row ---------------------------------------


def _endless_rows(read: list[int]) -> Iterator[dict[str, Any]]:
    for n in itertools.count():
        read[0] = n + 1
        yield {"n": n, "text": f"row {n}", "amount": "1.00"}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_text_writers_send_rows_before_reading_them_all(fmt: str) -> None:
    read = [0]
    keys, labels = ["n", "text", "amount"], ["Number", "Text", "Amount"]
    rows = _endless_rows(read)
    chunks = (
        export_formats.csv_chunks(keys, labels, rows)
        if fmt == "csv"
        else export_formats.jsonl_chunks(keys, rows)
    )
    first = next(chunks)
    while b"row 0" not in first:
        first += next(chunks)
    # Out after one chunk's worth of rows, from an endless source: never a list of all rows.
    assert read[0] < 10_000
    assert len(first) < 2 * export_formats.CHUNK_BYTES
    chunks.close()


def test_xlsx_writer_spools_rows_to_disk_as_they_come(monkeypatch: pytest.MonkeyPatch) -> None:
    appended: list[int] = []
    read = [0]

    def rows() -> Iterator[dict[str, Any]]:
        for n in range(3000):
            read[0] = n + 1
            # When the n-th row is read, openpyxl's write-only sheet has taken all before it.
            assert len(appended) == n
            yield {"n": n, "text": f"row {n}", "amount": "1.00"}

    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

    original = WriteOnlyWorksheet.append

    def spy(self: Any, row: Any) -> None:
        if row and row[0] != "Number":
            appended.append(1)
        original(self, row)

    monkeypatch.setattr(WriteOnlyWorksheet, "append", spy)
    body = b"".join(
        export_formats.xlsx_chunks(
            "Rows", ["n", "text", "amount"], ["Number", "Text", "Amount"], rows()
        )
    )
    assert read[0] == 3000 and len(appended) == 3000
    sheet = load_workbook(io.BytesIO(body), read_only=True).active
    assert sum(1 for _ in sheet.iter_rows()) == 3001


def test_database_rows_are_read_a_page_at_a_time(
    paid_call: Scenario,
    sessions: sessionmaker[Session],
    runtime: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(exports, "BATCH", 2)
    statements: list[str] = []
    fetched = [0]

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    with sessions() as session:
        call = session.get(Call, paid_call.call_id)
    engine = runtime.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        reader = exports.rows(sessions, exports.AUDIT_EVENTS, call)
        first = next(reader)
        selects_at_first = len(statements)
        total = 1 + sum(1 for _ in reader)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert first["seq"] is not None and total > 4
    if engine.dialect.name == "sqlite":
        # One page read for the first row; the rest page by page, BATCH rows each.
        assert selects_at_first == 1
        assert len(statements) >= total // 2
    else:
        # PostgreSQL: one statement, a server-side cursor fetching BATCH rows at a time.
        assert selects_at_first == 1 and len(statements) == 1
    fetched[0] = total


def test_small_pages_give_the_same_rows(
    paid_call: Scenario, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with sessions() as session:
        call = session.get(Call, paid_call.call_id)
    for ds in exports.DATASETS.values():
        whole = list(exports.rows(sessions, ds, call))
        monkeypatch.setattr(exports, "BATCH", 1)
        assert list(exports.rows(sessions, ds, call)) == whole, ds.name
        monkeypatch.setattr(exports, "BATCH", 1000)
