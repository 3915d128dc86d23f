"""Outgoing e-mail through an outbox: queued in the business transaction, sent after commit.

When SMTP is configured (MAIL_SERVER), `deliver_pending` sends queued messages; otherwise
they stay in `mail_outbox`, where the admin reads them (and tests assert on them).

Delivery is at least once: a message is marked sent after the SMTP server accepted it, so a
crash in between sends it again on the next pass. A failed attempt is recorded
(``attempts``, ``last_error``) and retried on a later pass after a growing pause, up to
``MAX_ATTEMPTS``; the admin's outbox shows what could not be sent. A message with a
``document_id`` waits until that PDF is rendered and goes out with it attached.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from documents.storage import DocumentStore, open_storage
from grants.config import Config
from grants.db import utcnow
from grants.models import Document, DocumentStatus, MailMessage
from grants.services import audit
from grants.services.actor import Actor
from grants.services.documents import read_pdf

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
SMTP_TIMEOUT = 30.0
# Pause before retrying a failed message: 30 s, 1, 2, 4 ... minutes, at most an hour. Kept in
# this process's memory (the schema has no "next attempt" column); a restart retries at once.
_RETRY_BASE = 30.0
_RETRY_MAX = 3600.0
_retry_not_before: dict[tuple[str, int], float] = {}  # (database, message id) -> when
_retry_lock = threading.Lock()


def queue(
    session: Session,
    *,
    to: str,
    subject: str,
    body: str,
    purpose: str,
    application_id: int | None = None,
    document_id: str | None = None,
    dedupe_key: str | None = None,
    flush: bool = True,
) -> MailMessage:
    """Queue a mail in the caller's transaction; ``flush=False`` leaves the INSERT to the
    caller's next flush (a batch of steps writes its mails in one statement)."""
    message = MailMessage(
        dedupe_key=dedupe_key,
        to_address=to.strip().lower(),
        subject=subject,
        body_text=body,
        purpose=purpose,
        application_id=application_id,
        document_id=document_id,
    )
    session.add(message)
    if flush:
        session.flush()
    return message


# -- reading the outbox (admin) -----------------------------------------------------------


def list_outbox(
    session: Session, *, offset: int = 0, limit: int = 50, to: str | None = None
) -> tuple[list[MailMessage], int]:
    """A page of the outbox, newest first, and how many messages match."""
    where = []
    if to:
        where.append(MailMessage.to_address.contains(to.strip().lower(), autoescape=True))
    total = session.scalar(select(func.count()).select_from(MailMessage).where(*where)) or 0
    messages = session.scalars(
        select(MailMessage)
        .where(*where)
        .order_by(MailMessage.created_at.desc(), MailMessage.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(messages), total


def get_message(session: Session, message_id: int) -> MailMessage | None:
    return session.get(MailMessage, message_id)


# Links in these messages log a person in or change who they are: whoever reads them can act
# as that person.
_SECRET_LINK = re.compile(r"\S*/(?:confirm|password/reset|organisation/join|welcome)/\S+")


def body_for_admin(
    session: Session, actor: Actor, message: MailMessage, *, delivered_by_smtp: bool
) -> str:
    """What the admin's outbox shows of a message.

    With SMTP configured the recipient gets the mail, so sign-in and reset links are hidden:
    an admin must never be able to act as another user. Without SMTP (a local or demo set-up)
    the outbox is the only way the link reaches anyone, so it is shown, and the reading is
    audited, so that acting on it is never invisible.
    """
    if delivered_by_smtp:
        return _SECRET_LINK.sub("[link hidden: it was sent to the recipient]", message.body_text)
    if _SECRET_LINK.search(message.body_text):
        audit.record(
            session,
            actor,
            "read_mail_with_link",
            entity_type="mail",
            entity_id=message.id,
            after={"to": message.to_address, "purpose": message.purpose},
        )
    return message.body_text


def status_of(message: MailMessage) -> str:
    """sent / pending / failed (gave up) / retrying, for the admin's outbox."""
    if message.sent_at is not None:
        return "sent"
    if message.attempts >= MAX_ATTEMPTS:
        return "failed"
    return "retrying" if message.attempts else "pending"


# -- delivery ----------------------------------------------------------------------------


def retry_delay(attempts: int) -> float:
    return min(_RETRY_BASE * 2 ** max(attempts - 1, 0), _RETRY_MAX)


class _ConnectionFailed(Exception):
    """The SMTP server could not be reached or refused us: stop this pass."""


class _Smtp:
    """One SMTP connection for a delivery pass, opened when the first message needs it."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        cfg = self._config
        assert cfg.mail_server
        conn = smtplib.SMTP(cfg.mail_server, cfg.mail_port, timeout=SMTP_TIMEOUT)
        try:
            conn.ehlo()
            if cfg.mail_use_tls:  # raises if the server does not offer STARTTLS
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            if cfg.mail_username:
                conn.login(cfg.mail_username, cfg.mail_password or "")
        except BaseException:
            conn.close()
            raise
        return conn

    def send(self, email: EmailMessage, recipient: str) -> None:
        """Send one message to ``recipient`` (the envelope never follows the headers).

        A refusal of this message raises SMTPException; an unreachable or broken server
        raises _ConnectionFailed (the rest of the pass waits).
        """
        try:
            if self._conn is None:
                self._conn = self._connect()
        except (smtplib.SMTPException, OSError) as exc:
            raise _ConnectionFailed(_describe(exc)) from exc
        try:
            self._conn.send_message(email, to_addrs=[recipient])
        except smtplib.SMTPServerDisconnected as exc:
            self.close()
            raise _ConnectionFailed(_describe(exc)) from exc
        except smtplib.SMTPException:  # (a subclass of OSError) this message was refused
            raise
        except OSError as exc:  # the network failed mid-message
            self.close()
            raise _ConnectionFailed(_describe(exc)) from exc

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _sender_domain(mail_from: str) -> str:
    address = parseaddr(mail_from)[1]
    return address.rpartition("@")[2] or "localhost"


def _attachment_name(document: Document) -> str:
    reference = document.application.reference if document.application else "document"
    name = f"{reference}-{document.kind.replace('_', '-')}.pdf"
    return re.sub(r"[^A-Za-z0-9._-]", "-", name)


class _Refused(Exception):
    """This message cannot be sent; ``permanent`` when trying again cannot help."""

    def __init__(self, error: str, *, permanent: bool) -> None:
        super().__init__(error)
        self.error = error
        self.permanent = permanent


def _refusal(exc: smtplib.SMTPException) -> _Refused:
    # SMTP replies 4xx for "try later", 5xx for "never" (RFC 5321, 4.2.1).
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
    else:
        codes = [getattr(exc, "smtp_code", 0)]
    return _Refused(_describe(exc), permanent=bool(codes) and min(codes) >= 500)


def _compose(
    session: Session, storage: DocumentStore, config: Config, message: MailMessage
) -> EmailMessage:
    """The e-mail for an outbox row, or _Refused when it cannot be built."""
    if parseaddr(message.to_address)[1] != message.to_address or "@" not in message.to_address:
        raise _Refused(f"not a valid e-mail address: {message.to_address!r}", permanent=True)
    body = message.body_text
    pdf: tuple[bytes, str] | None = None
    if message.document_id:
        document = session.get(Document, message.document_id)
        if document is None:
            raise _Refused(f"document {message.document_id} does not exist", permanent=True)
        if document.status == DocumentStatus.READY:
            try:
                pdf = (read_pdf(storage, document), _attachment_name(document))
            except (LookupError, OSError, ValueError) as exc:  # the store may come back
                raise _Refused(f"attachment: {_describe(exc)}", permanent=False) from exc
        else:  # failed for good: send the message, say where the PDF is
            body += (
                "\n\nThe PDF could not be attached to this e-mail; you find it with your "
                "application in Cascade.\n"
            )
    email = EmailMessage()
    try:
        email["From"] = config.mail_from
        email["To"] = message.to_address
        email["Subject"] = message.subject
    except ValueError as exc:  # a header with a line break
        raise _Refused(_describe(exc), permanent=True) from exc
    email["Date"] = format_datetime(utcnow())
    email["Message-ID"] = make_msgid(
        idstring=f"cascade-{message.id}", domain=_sender_domain(config.mail_from)
    )
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(body)
    if pdf is not None:
        email.add_attachment(pdf[0], maintype="application", subtype="pdf", filename=pdf[1])
    return email


def _claim(
    session: Session, exclude: set[int], *, lock: bool, holding: set[int]
) -> MailMessage | None:
    query = (
        select(MailMessage)
        .outerjoin(Document, Document.id == MailMessage.document_id)
        .where(
            MailMessage.sent_at.is_(None),
            MailMessage.attempts < MAX_ATTEMPTS,
            MailMessage.id.not_in(exclude | holding),
            # A receipt waits for its PDF: sending it without would lose the attachment.
            or_(MailMessage.document_id.is_(None), Document.status != DocumentStatus.PENDING),
        )
        .order_by(MailMessage.created_at, MailMessage.id)
        .limit(1)
    )
    if lock:
        # Several `cascade worker` processes may deliver together: each takes another row,
        # and keeps it locked while talking to the SMTP server, so none is sent twice.
        query = query.with_for_update(skip_locked=True, of=MailMessage)
    return session.scalars(query).first()


def _record(message: MailMessage, failure: _Refused | None, now: float, database: str) -> None:
    message.attempts += 1
    with _retry_lock:
        if failure is None:
            message.sent_at = utcnow()
            message.last_error = None
            _retry_not_before.pop((database, message.id), None)
            return
        message.last_error = failure.error[:2000]
        if failure.permanent:  # no use trying again: the outbox shows it as given up
            message.attempts = max(message.attempts, MAX_ATTEMPTS)
        _retry_not_before[database, message.id] = now + retry_delay(message.attempts)
    if message.attempts >= MAX_ATTEMPTS:
        log.error("giving up on mail %s to %s: %s", message.id, message.to_address, failure.error)
    else:
        log.warning(
            "mail %s to %s not sent (will retry): %s",
            message.id,
            message.to_address,
            failure.error,
        )


def deliver_pending(
    factory: sessionmaker[Session],
    config: Config,
    *,
    limit: int | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Send unsent outbox messages through SMTP; return how many were sent.

    Without MAIL_SERVER this does nothing: the messages stay in the outbox. A message whose
    PDF is still being rendered waits for a later pass; one that failed waits for its retry
    time (``clock`` is the process's monotonic clock; tests move it).
    """
    if not config.mail_server:
        return 0
    storage = open_storage(
        config.document_location(),
        endpoint_url=config.s3_endpoint_url,
        region=config.s3_region,
    )
    smtp = _Smtp(config)
    sent = 0
    tried: set[int] = set()
    now = clock()
    database = repr(factory.kw.get("bind"))
    with _retry_lock:
        holding = {
            mid
            for (db, mid), not_before in _retry_not_before.items()
            if db == database and not_before > now
        }
    try:
        while limit is None or len(tried) < limit:
            with factory() as session:
                # PostgreSQL: row lock held during the SMTP exchange. SQLite: its lock is
                # database-wide, so commit the claim and send without holding it (one
                # process delivers there).
                hold_lock = session.get_bind().dialect.name == "postgresql"
                message = _claim(session, tried, lock=hold_lock, holding=holding)
                if message is None:
                    return sent
                tried.add(message.id)
                stop = False
                failure: _Refused | None = None
                email: EmailMessage | None = None
                try:
                    email = _compose(session, storage, config, message)
                except _Refused as exc:
                    failure = exc
                if not hold_lock:
                    session.commit()
                if email is not None:
                    try:
                        smtp.send(email, message.to_address)
                    except smtplib.SMTPException as exc:
                        failure = _refusal(exc)
                    except _ConnectionFailed as exc:
                        failure, stop = _Refused(str(exc), permanent=False), True
                if not hold_lock:
                    fresh = session.get(MailMessage, message.id, populate_existing=True)
                    assert fresh is not None
                    message = fresh
                _record(message, failure, clock(), database)
                session.commit()
                if failure is None:
                    sent += 1
                if stop:  # the server is unreachable: the rest waits for a later pass
                    return sent
        return sent
    finally:
        smtp.close()
