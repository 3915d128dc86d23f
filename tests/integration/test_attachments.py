"""Attachments: size limit, content sniffing, virus-scan hook, replacement history, downloads."""

from __future__ import annotations

import hashlib
import io
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.datastructures import FileStorage
from werkzeug.test import TestResponse, stream_encode_multipart

from grants.models import Application, Attachment
from grants.runtime import Runtime
from grants.services import applications, attachments, evaluation
from grants.services.applications import ValidationFailed
from tests.scenario import GOOD_ANSWERS, Scenario, form_data, pdf_bytes
from workflows.errors import TransitionRefused
from workflows.voucher import AppState

Login = Callable[[FlaskClient, str], None]
MB = 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64 + b"\xff\xd9"
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 120 + b"This program cannot be run in DOS mode"
TEXT = b"Dear evaluators,\nthis is a plain text file named like a PDF.\n"
EVERY_KIND_FORM = [
    {"name": "summary", "label": "Summary", "type": "long_text"},
    {"name": "evidence", "label": "Evidence", "type": "file"},
    {"name": "logo", "label": "Logo", "type": "file", "accept": ["png", "jpeg"], "max_mb": 1},
]


def office(*parts: str, content_types: bool = True) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        if content_types:
            archive.writestr("[Content_Types].xml", "<Types/>")
        for part in parts:
            archive.writestr(part, "<x/>")
    return buffer.getvalue()


def rows(sessions: sessionmaker[Session], app_id: int) -> list[Attachment]:
    with sessions() as session:
        return list(
            session.scalars(
                select(Attachment)
                .where(Attachment.application_id == app_id)
                .order_by(Attachment.id)
            )
        )


def upload_as_owner(
    scenario: Scenario, runtime: Runtime, app_id: int, field: str, filename: str, data: bytes
) -> Attachment:
    owner = scenario.owner(app_id)
    return scenario.run(
        lambda s: attachments.upload(
            s, owner, runtime.storage, app_id, field, filename=filename, data=data
        )
    )


def post(client: FlaskClient, url: str, data: dict[str, Any]) -> TestResponse:
    """A multipart POST, encoded in memory: the test client's own encoder leaves the temporary
    file of a large body open. ``(bytes, filename)`` values are files."""
    fields = {
        name: FileStorage(io.BytesIO(value[0]), filename=value[1])
        if isinstance(value, tuple)
        else value
        for name, value in data.items()
    }
    body, _length, boundary = stream_encode_multipart(fields, use_tempfile=False)
    return client.post(
        url, data=body.getvalue(), content_type=f"multipart/form-data; boundary={boundary}"
    )


def edit_form(client: FlaskClient, app_id: int, **files: tuple[bytes, str]) -> dict[str, Any]:
    page = client.get(f"/applications/{app_id}/edit").get_data(as_text=True)
    version = page.split('name="version" value="')[1].split('"')[0]
    data: dict[str, Any] = form_data(GOOD_ANSWERS)
    data.update(title="Project", requested_amount="8000", declaration_signed="yes", version=version)
    data.update(files)
    return data


@pytest.fixture
def every_kind(scenario: Scenario) -> int:
    """A draft in a call whose form takes any kind of file (and one for images only)."""
    call_id = scenario.add_call(form=EVERY_KIND_FORM)
    return scenario.draft(0, call_id=call_id, answers={"summary": "S"})


# -- the 10 MB limit -------------------------------------------------------------------------


def test_ten_megabytes_are_accepted_and_one_byte_more_is_refused(
    app: Flask,
    login: Login,
    scenario: Scenario,
    sessions: sessionmaker[Session],
    document_root: Path,
) -> None:
    assert app.config["MAX_CONTENT_LENGTH"] > 10 * MB + 1  # our check answers, not a 413
    app_id = scenario.draft()
    client = app.test_client()
    login(client, scenario.people.emails["applicant0"])
    url = f"/applications/{app_id}/edit"

    exactly = pdf_bytes(10 * MB)
    assert len(exactly) == 10 * MB
    response = post(client, url, edit_form(client, app_id, provider_quote=(exactly, "q.pdf")))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    (kept,) = rows(sessions, app_id)
    assert kept.size == 10 * MB and kept.content_type == "application/pdf"
    assert kept.sha256 == hashlib.sha256(exactly).hexdigest()
    assert kept.storage_key == f"attachments/{kept.sha256[:2]}/{kept.sha256}"
    on_disk = document_root / kept.storage_key
    assert hashlib.sha256(on_disk.read_bytes()).hexdigest() == kept.sha256
    assert scenario.application(app_id).answers["provider_quote"] == kept.id

    too_big = pdf_bytes(10 * MB + 1)
    response = post(client, url, edit_form(client, app_id, provider_quote=(too_big, "q.pdf")))
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "files here may be at most 10 MB" in body
    assert "Current file:" in body and "q.pdf" in body  # the first one is still the answer
    assert [a.id for a in rows(sessions, app_id)] == [kept.id]
    assert not (
        document_root / attachments.storage_key(hashlib.sha256(too_big).hexdigest())
    ).exists()


# -- what a file is --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "data", "kind", "stored_as"),
    [
        ("scan.pdf", PNG, "image/png", "scan.png"),  # named PDF, is a PNG: stored as PNG
        ("photo.JPEG", JPEG, "image/jpeg", "photo.jpg"),
        ("offer", pdf_bytes(), "application/pdf", "offer.pdf"),
        (
            "plan.docx",
            office("word/document.xml"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "plan.docx",
        ),
        (
            "budget.xls",
            office("xl/workbook.xml"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "budget.xlsx",
        ),
        ('../../etc/pass"wd\r\n.pdf', pdf_bytes(), "application/pdf", "pass'wd.pdf"),
    ],
)
def test_the_kind_comes_from_the_content(
    scenario: Scenario,
    runtime: Runtime,
    every_kind: int,
    filename: str,
    data: bytes,
    kind: str,
    stored_as: str,
) -> None:
    attachment = upload_as_owner(scenario, runtime, every_kind, "evidence", filename, data)
    assert attachment.content_type == kind
    assert attachment.filename == stored_as.replace("'", "")


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("setup.exe", EXE),
        ("invoice.pdf", EXE),  # a program renamed
        ("quote.pdf", TEXT),  # a text renamed
        ("quote.pdf", b"%PDF-1.4\n" + b"0" * 100),  # cut short: no end of file
        ("archive.docx", office("notes.txt")),  # a zip, but not an Office document
        ("archive.docx", office("word/document.xml", content_types=False)),
        ("odd.xlsx", office("ppt/slides/slide1.xml")),  # a presentation
        ("broken.docx", b"PK\x03\x04garbage"),
    ],
)
def test_other_files_are_refused(
    scenario: Scenario,
    runtime: Runtime,
    every_kind: int,
    sessions: sessionmaker[Session],
    filename: str,
    data: bytes,
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        upload_as_owner(scenario, runtime, every_kind, "evidence", filename, data)
    assert "checked from its content, not its name" in refused.value.errors["evidence"]
    assert rows(sessions, every_kind) == []


def test_a_field_takes_only_its_kinds_and_size(
    scenario: Scenario, runtime: Runtime, every_kind: int
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        upload_as_owner(scenario, runtime, every_kind, "logo", "logo.png", pdf_bytes())
    assert refused.value.errors == {
        "logo": "This file is a PDF; this question accepts PNG image or JPEG image only."
    }
    with pytest.raises(ValidationFailed, match="at most 1 MB"):
        upload_as_owner(scenario, runtime, every_kind, "logo", "logo.png", PNG + b"\0" * MB)
    with pytest.raises(ValidationFailed, match="empty"):
        upload_as_owner(scenario, runtime, every_kind, "logo", "logo.png", b"")
    with pytest.raises(LookupError, match="no file question"):
        upload_as_owner(scenario, runtime, every_kind, "summary", "x.png", PNG)
    assert upload_as_owner(scenario, runtime, every_kind, "logo", "l.png", PNG).size == len(PNG)


# -- replacing -------------------------------------------------------------------------------


def test_a_replaced_file_is_kept_in_the_history(
    app: Flask,
    login: Login,
    scenario: Scenario,
    runtime: Runtime,
    sessions: sessionmaker[Session],
) -> None:
    app_id = scenario.draft()
    first = scenario.attach(app_id, runtime.storage, filename="v1.pdf", data=pdf_bytes(marker=b"1"))
    second = scenario.attach(
        app_id, runtime.storage, filename="v2.pdf", data=pdf_bytes(marker=b"2")
    )
    old, new = rows(sessions, app_id)
    assert (old.id, new.id) == (first, second)
    assert old.superseded_at is not None and new.superseded_at is None
    assert scenario.application(app_id).answers["provider_quote"] == second
    assert runtime.storage.exists(old.storage_key) and runtime.storage.exists(new.storage_key)
    events = [e for e in scenario.events_of(app_id) if "attachment" in e.action]
    assert [e.action for e in events] == ["upload_attachment", "replace_attachment"]
    assert events[1].before["sha256"] == old.sha256 and events[1].after["sha256"] == new.sha256
    assert events[1].after["filename"] == "v2.pdf" and events[0].after["scan_status"] == "unscanned"

    officer = app.test_client()
    login(officer, scenario.people.emails["officer"])
    page = officer.get(f"/applications/{app_id}").get_data(as_text=True)
    assert f'href="/attachments/{second}">v2.pdf</a>' in page
    assert "Earlier files (1)" in page and f'href="/attachments/{first}">v1.pdf</a>' in page
    assert "File replaced" in page  # on the timeline
    assert officer.get(f"/attachments/{first}").data == pdf_bytes(marker=b"1")

    # The edit page shows the current file with its size and short sha256, and Replace.
    applicant = app.test_client()
    login(applicant, scenario.people.emails["applicant0"])
    edit = applicant.get(f"/applications/{app_id}/edit").get_data(as_text=True)
    assert "Current file:" in edit and "v2.pdf" in edit and new.sha256[:12] in edit
    assert "Replace with another file" in edit


# -- downloads -------------------------------------------------------------------------------


def test_downloads_are_checked_and_served_safely(
    app: Flask, login: Login, scenario: Scenario, runtime: Runtime
) -> None:
    app_id = scenario.draft()
    attachment_id = scenario.attach(
        app_id, runtime.storage, filename="Offre n°1 <final>.pdf", data=pdf_bytes()
    )

    def client_for(who: str | None) -> FlaskClient:
        client = app.test_client()
        if who:
            login(client, scenario.people.emails[who])
        return client

    response = client_for("applicant0").get(f"/attachments/{attachment_id}")
    assert response.status_code == 200 and response.data == pdf_bytes()
    assert response.mimetype == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Offre%20n%C2%B01%20final.pdf" in disposition
    assert "<" not in disposition and "\n" not in disposition

    assert client_for("officer").get(f"/attachments/{attachment_id}").status_code == 200
    assert client_for("auditor").get(f"/attachments/{attachment_id}").status_code == 200
    for who in ("applicant1", "evaluator1", "finance1", "admin"):
        assert client_for(who).get(f"/attachments/{attachment_id}").status_code == 404, who
    anonymous = client_for(None).get(f"/attachments/{attachment_id}")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert client_for("officer").get("/attachments/999999999").status_code == 404

    # An expert opens the files only after declaring no conflict of interest.
    scenario.advance(app_id, AppState.ELIGIBLE)
    scenario.assign(app_id)
    expert = scenario.people.evaluators[0]
    assert client_for("evaluator1").get(f"/attachments/{attachment_id}").status_code == 404
    evaluation_id = scenario.evaluation_id(app_id, expert)
    scenario.run(
        lambda s: evaluation.declare_interest(
            s, expert, evaluation_id, conflict=False, statement=""
        )
    )
    expert_client = client_for("evaluator1")
    assert expert_client.get(f"/attachments/{attachment_id}").status_code == 200
    proposal = expert_client.get(f"/evaluations/{evaluation_id}").get_data(as_text=True)
    assert f'href="/attachments/{attachment_id}"' in proposal


# -- the virus-scan hook ---------------------------------------------------------------------


@pytest.fixture
def scan_command(tmp_path: Path) -> str:
    """A clamdscan stand-in: 1 (infected) when the file holds EICAR, 2 when it holds BROKEN."""
    script = tmp_path / "fake-clamdscan"
    script.write_text(
        "#!/bin/sh\n"
        "for file; do :; done\n"  # the file is the last argument, after the options
        'if grep -q BROKEN "$file"; then echo "cannot connect to clamd" >&2; exit 2; fi\n'
        'if grep -q EICAR "$file"; then echo "$file: Eicar-Test-Signature FOUND"; exit 1; fi\n'
        'echo "$file: OK"; exit 0\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return f"{script} --no-summary"


def test_an_infected_file_is_refused_and_not_kept(
    scenario: Scenario, runtime: Runtime, sessions: sessionmaker[Session], scan_command: str
) -> None:
    app_id = scenario.draft()
    owner = scenario.owner(app_id)
    scanner = attachments.scanner_for(scan_command)

    def upload(data: bytes) -> Attachment:
        return scenario.run(
            lambda s: attachments.upload(
                s,
                owner,
                runtime.storage,
                app_id,
                "provider_quote",
                filename="quote.pdf",
                data=data,
                scanner=scanner,
            )
        )

    infected = pdf_bytes(marker=b"EICAR")
    with pytest.raises(ValidationFailed) as refused:
        upload(infected)
    message = refused.value.errors["provider_quote"]
    assert "Eicar-Test-Signature FOUND" in message and "not kept" in message
    assert "quote.pdf" in message and "/tmp" not in message
    assert rows(sessions, app_id) == []
    digest = hashlib.sha256(infected).hexdigest()
    assert not runtime.storage.exists(attachments.storage_key(digest))

    with pytest.raises(attachments.ScanFailed, match="exit status 2"):
        upload(pdf_bytes(marker=b"BROKEN"))
    assert rows(sessions, app_id) == []

    assert upload(pdf_bytes(marker=b"fine")).scan_status == "clean"
    assert isinstance(attachments.scanner_for(""), attachments.NoScanner)


def test_the_configured_scan_command_is_used_by_the_web(
    app: Flask,
    login: Login,
    scenario: Scenario,
    runtime: Runtime,
    sessions: sessionmaker[Session],
    scan_command: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime.config, "virus_scan_command", scan_command)
    app_id = scenario.draft()
    client = app.test_client()
    login(client, scenario.people.emails["applicant0"])
    url = f"/applications/{app_id}/edit"
    data = edit_form(client, app_id, provider_quote=(pdf_bytes(marker=b"EICAR"), "q.pdf"))
    data["summary"] = "Saved even though the file is refused."
    response = post(client, url, data)
    assert response.status_code == 422
    assert "The virus check found a threat in this file" in response.get_data(as_text=True)
    assert rows(sessions, app_id) == []
    assert scenario.application(app_id).answers["summary"] == data["summary"]

    data = edit_form(client, app_id, provider_quote=(pdf_bytes(marker=b"BROKEN"), "q.pdf"))
    response = post(client, url, data)
    assert "virus check is not available right now" in response.get_data(as_text=True)

    data = edit_form(client, app_id, provider_quote=(pdf_bytes(), "q.pdf"))
    assert post(client, url, data).status_code == 302
    (clean,) = rows(sessions, app_id)
    assert clean.scan_status == "clean"


# -- after submission ------------------------------------------------------------------------


def test_nothing_can_be_attached_once_submitted(
    app: Flask, login: Login, scenario: Scenario, runtime: Runtime, sessions: sessionmaker[Session]
) -> None:
    app_id = scenario.draft()
    scenario.attach(app_id, runtime.storage)
    scenario.submit(app_id)
    submitted = scenario.application(app_id)
    with pytest.raises(TransitionRefused, match="can no longer be changed"):
        scenario.attach(app_id, runtime.storage, data=pdf_bytes(marker=b"late"))
    # Nobody else may attach anything either.
    for who in (scenario.people.officer, scenario.people.applicants[1]):
        with pytest.raises(TransitionRefused):
            scenario.run(
                lambda s, who=who: attachments.upload(
                    s, who, runtime.storage, app_id, "provider_quote", filename="x", data=PNG
                )
            )
    # Through the web, the edit page is gone and a posted file changes nothing.
    client = app.test_client()
    login(client, scenario.people.emails["applicant0"])
    response = post(
        client,
        f"/applications/{app_id}/edit",
        {"provider_quote": (pdf_bytes(marker=b"x"), "q.pdf"), "version": "99"},
    )
    assert response.status_code == 302
    assert len(rows(sessions, app_id)) == 1
    after = scenario.application(app_id)
    assert after.content_sha256 == submitted.content_sha256 and after.version == submitted.version
    with sessions() as session:
        row = session.get(Application, app_id)
        assert row is not None
        assert applications.content_sha256(row) == submitted.content_sha256


def test_a_request_over_the_server_limit_gets_a_clear_page(
    app: Flask, login: Login, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)
    app_id = scenario.draft()
    client = app.test_client()
    login(client, scenario.people.emails["applicant0"])
    data = edit_form(client, app_id, provider_quote=(pdf_bytes(100 * 1024), "big.pdf"))
    response = post(client, f"/applications/{app_id}/edit", data)
    assert response.status_code == 413
    body = response.get_data(as_text=True)
    assert "The file is too large" in body and "at most 64 kB" in body
