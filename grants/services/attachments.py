"""Files answering a form's ``file`` fields: upload, replacement, download.

An upload is checked before anything is kept:

- the application is the person's own and still a draft (after submission nothing changes,
  whoever asks: the deadline then only leaves submitted, read-only content);
- the size is at most the field's ``max_mb`` (1 MB = 1,048,576 bytes; default 10);
- the content is sniffed from the bytes (never the browser's content type or the file name):
  PDF, PNG and JPEG by their signature (a PDF must also end with ``%%EOF``), DOCX and XLSX
  as zip files holding ``[Content_Types].xml`` and a ``word/`` or ``xl/`` part; the kind must
  be one the field accepts;
- the virus-scan hook says it is not infected (``Scanner``; by default nothing scans and the
  file is recorded as ``unscanned``; set ``CASCADE_VIRUS_SCAN_COMMAND`` to a
  ``clamdscan``-style command to scan: exit 0 clean, 1 infected, anything else refuses the
  upload until the scanner works again).

The file is stored under the document root as ``attachments/<sha256[:2]>/<sha256>`` (the same
content is stored once) and recorded with its sha256. A replacement marks the previous row
``superseded_at``; no attachment row or file is ever deleted. Every upload and replacement is
an audit event on the application.
"""

from __future__ import annotations

import io
import logging
import os
import shlex
import subprocess
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import filetype
from sqlalchemy.orm import Session

from documents.storage import DocumentStorage, sha256_hex
from forms.display import human_size
from forms.schema import FILE_KINDS, Field, FieldType
from grants.db import utcnow
from grants.models import Application, Attachment, EvaluationStatus
from grants.services import access, audit
from grants.services.actor import Actor
from grants.services.applications import (
    DraftConflict,
    ValidationFailed,
    form_fields,
)
from grants.services.workflow import NotFound, flush_or_refuse, load_own_application
from workflows.errors import TransitionRefused
from workflows.i18n import _
from workflows.roles import Role
from workflows.voucher import AppState

log = logging.getLogger(__name__)

EXTENSIONS = {"pdf": "pdf", "docx": "docx", "xlsx": "xlsx", "png": "png", "jpeg": "jpg"}
_MIME_TO_KIND = {mime: kind for kind, (mime, _label) in FILE_KINDS.items()}


# -- the virus-scan hook ---------------------------------------------------------------------


@dataclass(frozen=True)
class ScanVerdict:
    status: str  # "clean", "infected" or "unscanned"
    detail: str = ""


class ScanFailed(RuntimeError):
    """The scanner could not give a verdict; the upload is refused rather than let through."""


class Scanner(Protocol):
    def scan(self, data: bytes, filename: str) -> ScanVerdict: ...


class NoScanner:
    """The default: nothing scans, and the attachment says so (``unscanned``)."""

    def scan(self, data: bytes, filename: str) -> ScanVerdict:
        return ScanVerdict("unscanned")


class CommandScanner:
    """Runs ``command <file>`` on a temporary copy, the way ``clamdscan`` is called.

    Exit status 0 means clean, 1 infected (its output names the threat); anything else, or no
    answer within ``timeout`` seconds, raises ``ScanFailed``.
    """

    def __init__(self, command: str, timeout: float = 120.0) -> None:
        self.argv = shlex.split(command)
        if not self.argv:
            raise ValueError("the virus-scan command is empty")
        self.timeout = timeout

    def scan(self, data: bytes, filename: str) -> ScanVerdict:
        fd, path = tempfile.mkstemp(prefix="cascade-scan-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(path, 0o644)  # clamd runs as its own user
            try:
                done = subprocess.run(
                    [*self.argv, path],
                    capture_output=True,
                    text=True,
                    timeout=self.timeout,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise ScanFailed(str(exc)) from exc
        finally:
            os.unlink(path)
        output = (done.stdout or done.stderr).strip().replace(path, filename)
        if done.returncode == 0:
            return ScanVerdict("clean")
        if done.returncode == 1:
            return ScanVerdict("infected", output.splitlines()[0] if output else "")
        raise ScanFailed(f"exit status {done.returncode}: {output[:500]}")


def scanner_for(command: str | None) -> Scanner:
    return CommandScanner(command) if command and command.strip() else NoScanner()


# -- content checks --------------------------------------------------------------------------


def sniff(data: bytes) -> str | None:
    """The kind of file (a key of ``FILE_KINDS``) the bytes are, or None for anything else."""
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, ValueError):
            return None
        if "[Content_Types].xml" not in names:
            return None
        if any(n.startswith("word/") for n in names):
            return "docx"
        if any(n.startswith("xl/") for n in names):
            return "xlsx"
        return None
    guess = filetype.guess(data)
    kind = _MIME_TO_KIND.get(guess.mime) if guess is not None else None
    if kind == "pdf" and b"%%EOF" not in data[-2048:]:
        return None  # cut short or not really a PDF
    return kind if kind in ("pdf", "png", "jpeg") else None


def safe_filename(name: str, kind: str) -> str:
    """The name as the person gave it, without any path or control characters, and with the
    extension of what the file really is (``scan.pdf`` holding a PNG becomes ``scan.png``)."""
    base = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '<>:"|?*;')
    stem = base.rsplit(".", 1)[0] if "." in base.lstrip(".") else base
    stem = stem.strip(" .")[:150] or "attachment"
    return f"{stem}.{EXTENSIONS[kind]}"


def _kinds_text(kinds: tuple[str, ...]) -> str:
    labels = [_(FILE_KINDS[k][1]) for k in kinds]
    if len(labels) == 1:
        return labels[0]
    return _("%(kinds)s or %(last)s", kinds=", ".join(labels[:-1]), last=labels[-1])


def _file_field(application: Application, field_name: str) -> Field:
    for f in form_fields(application):
        if f.name == field_name and f.type is FieldType.FILE:
            return f
    raise NotFound(f"the form has no file question {field_name!r}")


def check_upload(f: Field, data: bytes) -> str:
    """The kind of an acceptable upload for ``f``; ``ValidationFailed`` says what is wrong."""
    if not data:
        raise ValidationFailed({f.name: _("The file is empty; choose the file again.")})
    if len(data) > f.file_max_bytes:
        limit = f.file_max_bytes // (1024 * 1024)
        raise ValidationFailed(
            {
                f.name: _(
                    "The file is %(size)s; files here may be at most %(limit)s MB.",
                    size=human_size(len(data)),
                    limit=limit,
                )
            }
        )
    kind = sniff(data)
    if kind is None:
        raise ValidationFailed(
            {
                f.name: _(
                    "This file is not a %(kinds)s file (checked from its content, not its "
                    "name). Save it in one of those formats and upload it again.",
                    kinds=_kinds_text(tuple(FILE_KINDS)),
                )
            }
        )
    if kind not in f.accepted_kinds:
        raise ValidationFailed(
            {
                f.name: _(
                    "This file is a %(kind)s; this question accepts %(accepted)s only.",
                    kind=_(FILE_KINDS[kind][1]),
                    accepted=_kinds_text(f.accepted_kinds),
                )
            }
        )
    return kind


def storage_key(digest: str) -> str:
    return f"attachments/{digest[:2]}/{digest}"


# -- the business actions --------------------------------------------------------------------


def upload(
    session: Session,
    actor: Actor,
    storage: DocumentStorage,
    application_id: int,
    field_name: str,
    *,
    filename: str,
    data: bytes,
    scanner: Scanner | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Attachment:
    """Attach ``data`` as the answer to the file field ``field_name`` of a draft.

    A file already answering the field is superseded (kept, marked ``superseded_at``).
    """
    application = load_own_application(session, actor, application_id)
    if application.status != AppState.DRAFT:
        raise TransitionRefused(
            _("a submitted application can no longer be changed, nor its files")
        )
    if expected_version is not None and expected_version != application.version:
        raise DraftConflict(application, expected_version)
    f = _file_field(application, field_name)
    kind = check_upload(f, data)
    verdict = (scanner or NoScanner()).scan(data, filename)
    if verdict.status == "infected":
        log.warning(
            "infected upload refused: application %s, field %s, %s",
            application.reference,
            field_name,
            verdict.detail,
        )
        raise ValidationFailed(
            {
                f.name: _(
                    "The virus check found a threat in this file (%(detail)s); it was not kept.",
                    detail=verdict.detail,
                )
                if verdict.detail
                else _("The virus check found a threat in this file; it was not kept.")
            }
        )
    digest = sha256_hex(data)
    key = storage_key(digest)
    if not storage.exists(key) and storage.put(key, data) != digest:  # pragma: no cover
        raise TransitionRefused(_("the file could not be stored; try again"))
    now = now or utcnow()
    previous = next(
        (
            a
            for a in application.attachments
            if a.field_name == field_name and a.superseded_at is None
        ),
        None,
    )
    if previous is not None:
        previous.superseded_at = now
    attachment = Attachment(
        application=application,
        field_name=field_name,
        filename=safe_filename(filename, kind),
        content_type=FILE_KINDS[kind][0],
        size=len(data),
        sha256=digest,
        storage_key=key,
        scan_status=verdict.status,
        uploaded_by_id=actor.user_id,
        uploaded_at=now,
    )
    session.add(attachment)
    flush_or_refuse(session)
    application.answers = {**(application.answers or {}), field_name: attachment.id}
    flush_or_refuse(session)
    audit.record(
        session,
        actor,
        "replace_attachment" if previous is not None else "upload_attachment",
        entity_type="application",
        entity_id=application.reference,
        before=_facts(previous) if previous is not None else {},
        after={**_facts(attachment), "version": application.version},
        application_id=application.id,
    )
    return attachment


def _facts(attachment: Attachment) -> dict[str, object]:
    return {
        "attachment_id": attachment.id,
        "field": attachment.field_name,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "scan_status": attachment.scan_status,
    }


def can_download(actor: Actor, attachment: Attachment) -> bool:
    """Whoever may see the application; an expert only once the proposal is opened to them
    (after declaring no conflict of interest)."""
    application = attachment.application
    if not access.can_view(actor, application):
        return False
    if actor.role == Role.EVALUATOR:
        if attachment.form_kind != "application":
            return False  # experts read the proposal, not the final report's evidence
        return any(
            e.evaluator_id == actor.user_id
            and e.status in (EvaluationStatus.ACCEPTED, EvaluationStatus.SUBMITTED)
            for e in application.evaluations
        )
    return True


def for_download(
    session: Session, actor: Actor, storage: DocumentStorage, attachment_id: int
) -> tuple[Attachment, bytes]:
    """The attachment and its bytes, checked against the recorded sha256."""
    attachment = session.get(Attachment, attachment_id)
    if (
        attachment is None
        or not can_download(actor, attachment)
        or access.conflict_detected(session, actor, attachment.application)
    ):
        raise NotFound(f"no attachment {attachment_id}")
    data = storage.read(attachment.storage_key)
    if sha256_hex(data) != attachment.sha256:
        raise LookupError("the stored file does not match its recorded sha256")
    return attachment, data


def history(application: Application, field_name: str) -> list[Attachment]:
    """Every file uploaded for the field, newest first."""
    return sorted(
        (
            a
            for a in application.attachments
            if a.field_name == field_name and a.form_kind == "application"
        ),
        key=lambda a: a.id,
        reverse=True,
    )
