"""Mail delivery through SMTP (a small SMTP server of our own on 127.0.0.1), the outbox
without SMTP, retries, PDF attachments, and the admin's outbox pages."""

from __future__ import annotations

import base64
import hashlib
import socket
import socketserver
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from grants.config import Config
from grants.db import utcnow
from grants.models import Document, DocumentStatus, MailMessage
from grants.services import mail
from grants.services.documents import DrainResult
from tests.scenario import Scenario

Login = Callable[[FlaskClient, str], None]
USER, PASSWORD = "cascade", "smtp-secret"


# -- a minimal SMTP server ---------------------------------------------------------------


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpState:
    received: list[Received] = field(default_factory=list)
    refuse: dict[str, int] = field(default_factory=dict)  # recipient -> reply code (4xx/5xx)
    authenticated: list[str] = field(default_factory=list)

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.recipients]


class _Handler(socketserver.StreamRequestHandler):
    """Enough of RFC 5321 for smtplib: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, QUIT."""

    server: _Server

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        state = self.server.state
        sender, recipients = "", []
        self.reply("220 test.example ESMTP")
        while line := self.rfile.readline():
            command = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = command.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250-test.example")
                self.reply("250-8BITMIME")
                self.reply("250 AUTH PLAIN")
            elif verb == "AUTH":
                _auth, _mech, initial = [*command.split(" ", 2), ""][:3]
                _, user, password = base64.b64decode(initial).decode().split("\0")
                if (user, password) == (USER, PASSWORD):
                    state.authenticated.append(user)
                    self.reply("235 2.7.0 Authentication successful")
                else:
                    self.reply("535 5.7.8 Authentication failed")
            elif verb == "MAIL":
                sender = command.partition(":")[2].split()[0].strip("<>")
                recipients = []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipient = command.partition(":")[2].split()[0].strip("<>")
                if code := state.refuse.get(recipient):
                    self.reply(f"{code} {code // 100}.1.1 Mailbox unavailable")
                else:
                    recipients.append(recipient)
                    self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(data[1:] if data.startswith(b"..") else data)
                state.received.append(Received(sender, recipients, b"".join(lines)))
                self.reply("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = SmtpState()


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpState, int]]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.state, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mail_config(port: int | None, document_root: Path, **overrides: object) -> Config:
    settings: dict[str, object] = {
        "database_url": "sqlite://",  # unused by deliver_pending
        "document_root": document_root,
        "secret_key": "test-secret",
        "mail_server": "127.0.0.1" if port else None,
        "mail_port": port or 587,
        "mail_use_tls": False,  # the test server speaks no TLS
        "mail_username": USER,
        "mail_password": PASSWORD,
        "mail_from": "LEVIATAD vouchers <vouchers@leviatad.example>",
        **overrides,
    }
    return Config(**settings)  # type: ignore[arg-type]


class Clock:
    """The delivery's monotonic clock, moved by hand; each test's starts after all earlier
    ones, so a retry pause left by an earlier test has always passed."""

    start = 1_000_000.0

    def __init__(self) -> None:
        Clock.start += 1_000_000.0
        self.now = Clock.start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outbox_emptied(sessions: sessionmaker[Session], smtp: tuple[SmtpState, int]) -> None:
    """What other tests left unsent counts as sent, so each test here sees only its own
    messages (the database is shared by the whole run; sending them all through the test
    server took minutes once the run had queued thousands)."""
    with sessions.begin() as session:
        session.execute(
            update(MailMessage).where(MailMessage.sent_at.is_(None)).values(sent_at=utcnow())
        )
    smtp[0].received.clear()
    smtp[0].authenticated.clear()


def queue(sessions: sessionmaker[Session], to: str, **kw: object) -> int:
    fields: dict[str, object] = {"subject": "Hello", "body": "Grüße aus Genova.", "purpose": "test"}
    fields.update(kw)
    with sessions() as session, session.begin():
        return mail.queue(session, to=to, **fields).id  # type: ignore[arg-type]


def row(sessions: sessionmaker[Session], message_id: int) -> MailMessage:
    with sessions() as session:
        message = session.get(MailMessage, message_id)
        assert message is not None
        return message


def address() -> str:
    return f"sme-{uuid.uuid4().hex[:10]}@test.example"


# -- delivery ----------------------------------------------------------------------------


def test_without_a_mail_server_messages_stay_in_the_outbox(
    sessions: sessionmaker[Session], document_root: Path
) -> None:
    message_id = queue(sessions, address())
    assert mail.deliver_pending(sessions, mail_config(None, document_root)) == 0
    message = row(sessions, message_id)
    assert message.sent_at is None and message.attempts == 0 and message.last_error is None


@pytest.mark.usefixtures("outbox_emptied")
def test_smtp_delivery_with_the_pdf_attached(
    sessions: sessionmaker[Session],
    smtp: tuple[SmtpState, int],
    document_root: Path,
    scenario: Scenario,
    render_documents: Callable[[], DrainResult],
    clock: Clock,
) -> None:
    state, port = smtp
    config = mail_config(port, document_root)
    app_id = scenario.draft()
    scenario.submit(app_id)  # the submission receipt: a document job, pending
    (receipt,) = [d for d in scenario.documents_of(app_id) if d.status == DocumentStatus.PENDING]
    applicant = address()
    plain = queue(sessions, applicant, subject="Your account", purpose="confirm_email")
    with_pdf = queue(
        sessions,
        applicant,
        subject="Your submission receipt",
        body="Your application is submitted; the receipt is attached.",
        purpose="submission_receipt",
        application_id=app_id,
        document_id=receipt.id,
    )

    # The receipt waits for its PDF; the plain message goes. (Counts are not asserted: the
    # submission may queue mail of its own.)
    mail.deliver_pending(sessions, config, clock=clock)
    assert row(sessions, plain).sent_at is not None
    waiting = row(sessions, with_pdf)
    assert waiting.sent_at is None and waiting.attempts == 0
    (first,) = state.to(applicant)
    assert state.authenticated == [USER]
    email = first.message
    assert first.sender == "vouchers@leviatad.example"
    assert email["From"] == "LEVIATAD vouchers <vouchers@leviatad.example>"
    assert email["To"] == applicant and email["Subject"] == "Your account"
    assert email["Message-ID"].endswith("@leviatad.example>")
    assert email.get_content().strip() == "Grüße aus Genova."

    render_documents()
    assert mail.deliver_pending(sessions, config, clock=clock) >= 1
    sent = row(sessions, with_pdf)
    assert sent.sent_at is not None and sent.attempts == 1 and sent.last_error is None
    email = state.to(applicant)[1].message
    assert email["Subject"] == "Your submission receipt"
    (attachment,) = list(email.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    reference = scenario.application(app_id).reference
    assert attachment.get_filename() == f"{reference}-submission-receipt.pdf"
    pdf = attachment.get_content()
    assert pdf.startswith(b"%PDF")
    with sessions() as session:
        document = session.get(Document, receipt.id)
        assert document is not None
        assert hashlib.sha256(pdf).hexdigest() == document.sha256
    # Sent once: another pass sends nothing again.
    assert mail.deliver_pending(sessions, config, clock=clock) == 0
    assert len(state.to(applicant)) == 2


@pytest.mark.usefixtures("outbox_emptied")
def test_a_failed_delivery_is_recorded_and_retried_later(
    sessions: sessionmaker[Session],
    smtp: tuple[SmtpState, int],
    document_root: Path,
    clock: Clock,
) -> None:
    state, port = smtp
    busy, good = address(), address()
    state.refuse[busy] = 451  # "try again later"
    deferred = queue(sessions, busy)
    fine = queue(sessions, good)

    # One recipient deferred: recorded on that message; the other still goes.
    assert mail.deliver_pending(sessions, mail_config(port, document_root), clock=clock) == 1
    message = row(sessions, deferred)
    assert message.sent_at is None and message.attempts == 1
    assert message.last_error and "451" in message.last_error
    assert mail.status_of(message) == "retrying"
    assert row(sessions, fine).sent_at is not None

    # The server is down: the attempt is recorded and the pass stops.
    del state.refuse[busy]
    later = queue(sessions, good)
    clock.now += mail.retry_delay(1) + 1
    down = mail_config(closed_port(), document_root)
    assert mail.deliver_pending(sessions, down, clock=clock) == 0
    message = row(sessions, deferred)
    assert message.attempts == 2 and "Connection" in (message.last_error or "")
    assert row(sessions, later).attempts == 0  # not tried after the connection failed

    # Back up, but the failed message waits for its pause; the new one goes at once.
    config = mail_config(port, document_root)
    assert mail.deliver_pending(sessions, config, clock=clock) == 1
    assert row(sessions, deferred).sent_at is None
    assert row(sessions, later).sent_at is not None
    clock.now += mail.retry_delay(2) + 1
    assert mail.deliver_pending(sessions, config, clock=clock) == 1
    message = row(sessions, deferred)
    assert message.sent_at is not None and message.attempts == 3 and message.last_error is None
    assert [r.recipients for r in state.to(busy)] == [[busy]]


@pytest.mark.usefixtures("outbox_emptied")
def test_delivery_gives_up_after_the_last_attempt(
    sessions: sessionmaker[Session],
    smtp: tuple[SmtpState, int],
    document_root: Path,
    clock: Clock,
) -> None:
    state, port = smtp
    busy = address()
    state.refuse[busy] = 450
    message_id = queue(sessions, busy)
    config = mail_config(port, document_root)
    for _ in range(mail.MAX_ATTEMPTS + 2):
        mail.deliver_pending(sessions, config, clock=clock)
        clock.now += 2 * 3600
    message = row(sessions, message_id)
    assert message.attempts == mail.MAX_ATTEMPTS and message.sent_at is None
    assert mail.status_of(message) == "failed"


@pytest.mark.usefixtures("outbox_emptied")
def test_a_permanent_refusal_is_not_retried(
    sessions: sessionmaker[Session],
    smtp: tuple[SmtpState, int],
    document_root: Path,
    clock: Clock,
) -> None:
    state, port = smtp
    unknown = address()
    state.refuse[unknown] = 550  # no such mailbox
    refused = queue(sessions, unknown)
    not_an_address = queue(sessions, f"a,{address()}")  # would parse as two addresses
    mail.deliver_pending(sessions, mail_config(port, document_root), clock=clock)
    for message_id, error in ((refused, "550"), (not_an_address, "not a valid e-mail address")):
        message = row(sessions, message_id)
        assert mail.status_of(message) == "failed" and message.sent_at is None
        assert error in (message.last_error or "")
    assert state.received == []


@pytest.mark.usefixtures("outbox_emptied")
def test_registration_mail_reaches_the_smtp_server(
    client: FlaskClient,
    sessions: sessionmaker[Session],
    smtp: tuple[SmtpState, int],
    document_root: Path,
    clock: Clock,
) -> None:
    state, port = smtp
    email = address()
    client.post(
        "/register",
        data={
            "full_name": "Ana Horvat",
            "email": email,
            "password": "sonar buoy harbour lantern",
            "password_confirm": "sonar buoy harbour lantern",
        },
    )
    assert mail.deliver_pending(sessions, mail_config(port, document_root), clock=clock) == 1
    (received,) = state.to(email)
    body = received.message.get_content()
    assert "Ana Horvat" in body and "http://localhost/confirm/" in body


# -- the admin's outbox ------------------------------------------------------------------


def test_the_outbox_is_for_the_admin_only(
    client: FlaskClient, login: Login, scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    to = address()
    older = queue(sessions, to, subject="Older message", body="first body")
    newer = queue(sessions, to, subject="Newer message", body="Line one\nLine <two>")

    anonymous = client.get("/admin/mail")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    for who in ("applicant0", "officer", "evaluator1", "finance1", "auditor"):
        other = client.application.test_client()
        login(other, scenario.people.emails[who])
        assert other.get("/admin/mail").status_code == 403, who
        assert other.get(f"/admin/mail/{newer}").status_code == 403, who

    login(client, scenario.people.emails["admin"])
    page = client.get(f"/admin/mail?to={to}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.index("Newer message") < html.index("Older message")  # newest first
    assert "No SMTP server is configured" in html
    assert f'href="/admin/mail/{older}"' in html

    detail = client.get(f"/admin/mail/{newer}").get_data(as_text=True)
    assert "Line one\nLine &lt;two&gt;" in detail and to in detail
    assert client.get("/admin/mail/999999999").status_code == 404
    assert "Mail outbox" in client.get("/dashboard").get_data(as_text=True)

    with sessions() as session:
        ids = session.scalars(select(MailMessage.id).where(MailMessage.to_address == to))
        assert sorted(ids) == [older, newer]
