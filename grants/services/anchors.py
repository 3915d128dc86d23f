"""Anchors: the chain head written outside the database, and the auditor's full check.

The hash chain catches a changed, removed or reordered event, but not the removal of the
last events (truncation) nor a tail rewritten with hashes recomputed. An anchor is the chain
head at one instant: its event count, last event id, that event's hash and the UTC time,
appended as one JSON line to a file outside the database (``CASCADE_ANCHOR_FILE``) that is
never rewritten, optionally signed with an ed25519 key (``CASCADE_ANCHOR_KEY``) so that a
copy handed to an auditor cannot be forged either. ``verify_everything`` then checks the
chain, every anchor against it, and the business rows against the trail (reconciliation).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grants.config import Config
from grants.db import unit_of_work, utcnow
from grants.models import AuditEvent
from grants.services.audit import ChainReport, compute_hash, verify_chain
from grants.services.reconciliation import ReconciliationReport, reconcile_trail
from workflows.i18n import _

if TYPE_CHECKING:
    from grants.runtime import Runtime

VERSION = 1
# Where `cascade audit anchor-key` writes the private key unless told otherwise.
DEFAULT_KEY_NAME = "audit-anchor-key.pem"


class AnchorError(Exception):
    """An anchor cannot be written or a key cannot be read: the message says why."""


@dataclass(frozen=True)
class Head:
    """The chain's last linked event: ``count`` events (its position), its id and hash."""

    count: int
    last_id: int
    hash: str


@dataclass(frozen=True)
class Anchor:
    count: int
    last_id: int
    hash: str
    at: datetime
    # base64 ed25519 signature of ``signed_text()`` and the signer's public key, or None.
    signature: str | None = None
    public_key: str | None = None
    line: int = 0

    def signed_text(self) -> str:
        return signed_text(self.count, self.last_id, self.hash, self.at)


def signed_text(count: int, last_id: int, digest: str, at: datetime) -> str:
    body = {"v": VERSION, "count": count, "last_id": last_id, "hash": digest, "at": iso_time(at)}
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def iso_time(at: datetime) -> str:
    """An anchor's time as written: UTC, to the second."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- keys --------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def public_key_text(key: Ed25519PublicKey) -> str:
    """The public key as the auditor is given it: base64 of its 32 raw bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _b64(raw)


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """An ed25519 private key from a PEM file, or a file holding its 32 bytes in base64."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise AnchorError(
            _("cannot read the anchor key %(path)s: %(error)s", path=str(path), error=exc.strerror)
        ) from None
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(
                base64.b64decode(data.strip(), validate=True)
            )
    except (ValueError, TypeError) as exc:
        raise AnchorError(
            _(
                "the anchor key %(path)s is not an ed25519 private key (%(error)s)",
                path=str(path),
                error=str(exc),
            )
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AnchorError(
            _("the anchor key %(path)s is not an ed25519 private key", path=str(path))
        )
    return key


def load_public_key(value: str) -> Ed25519PublicKey:
    """The auditor's public key: a file (PEM, or base64 of the raw key) or the base64 text."""
    path = Path(value)
    data = path.read_bytes() if len(value) < 4096 and path.is_file() else value.encode()
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_public_key(data)
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(data.strip(), validate=True))
    except (ValueError, TypeError) as exc:
        raise AnchorError(
            _("the public key is not an ed25519 public key (%(error)s)", error=str(exc))
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise AnchorError(_("the public key is not an ed25519 public key"))
    return key


def generate_key_pair(path: Path) -> str:
    """A new signing key in ``path`` (PEM, readable by its owner only; never overwritten)
    and its public key beside it (``path``.pub, PEM). Returns the public key as text."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise AnchorError(
            _("%(path)s exists already: a key is never overwritten", path=str(path))
        ) from None
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    public = key.public_key()
    Path(f"{path}.pub").write_bytes(
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return public_key_text(public)


# -- the chain head ----------------------------------------------------------------------------


def head(session: Session) -> Head | None:
    table = AuditEvent.__table__
    row = session.execute(
        select(table.c.seq, table.c.id, table.c.hash)
        .where(table.c.seq.is_not(None))
        .order_by(table.c.seq.desc())
        .limit(1)
    ).first()
    return Head(row.seq, row.id, row.hash) if row is not None else None


def _tail_problem(session: Session, since: Anchor | None) -> str | None:
    """Why the chain after ``since`` (the whole chain when None) is not intact, or None."""
    if since is None:
        report = verify_chain(session)
        return None if report.ok else f"event {report.first_bad_id}: {report.problem}"
    table = AuditEvent.__table__
    anchored = session.execute(
        select(table.c.id, table.c.hash).where(table.c.seq == since.count)
    ).first()
    if anchored is None or (anchored.id, anchored.hash) != (since.last_id, since.hash):
        return _(
            "the chain no longer holds the head of the last anchor (%(at)s)", at=iso_time(since.at)
        )
    expected_prev, expected_seq = since.hash, since.count + 1
    statement = (
        select(table)
        .where(table.c.seq > since.count)
        .order_by(table.c.seq)
        .execution_options(yield_per=1000)
    )
    with session.execute(statement) as events:
        for event in events:
            if event.seq != expected_seq or event.prev_hash != expected_prev:
                return _("event %(id)s does not follow the event before it", id=event.id)
            if compute_hash(event) != event.hash:
                return _("event %(id)s: its content does not match its hash", id=event.id)
            expected_prev, expected_seq = event.hash, expected_seq + 1
    return None


# -- the anchor file ---------------------------------------------------------------------------


def _parse(text: str, number: int) -> Anchor:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not an object")
    at = datetime.fromisoformat(str(data["at"]).replace("Z", "+00:00"))
    return Anchor(
        count=int(data["count"]),
        last_id=int(data["last_id"]),
        hash=str(data["hash"]),
        at=at if at.tzinfo else at.replace(tzinfo=UTC),
        signature=data.get("signature"),
        public_key=data.get("public_key"),
        line=number,
    )


def read_anchors(path: Path) -> Iterator[Anchor | str]:
    """Each line of the anchor file: an anchor, or what is wrong with the line."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                yield _parse(text, number)
            except (ValueError, KeyError, TypeError):
                yield _(
                    "anchor line %(line)s is not an anchor: the file was damaged or edited",
                    line=number,
                )


def latest(config: Config) -> Anchor | None:
    """The last anchor written (count, last_id, hash, at, signature), or None. Reads the end
    of the file only."""
    path = config.anchor_file
    try:
        with path.open("rb") as stream:
            stream.seek(0, os.SEEK_END)
            size = stream.tell()
            stream.seek(max(size - 65536, 0))
            tail = stream.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
    for text in reversed(tail.splitlines()):
        if text.strip():
            try:
                return _parse(text, 0)
            except (ValueError, KeyError, TypeError):
                return None
    return None


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Append-only: O_APPEND, a lock against a second writer (the worker and the command),
    # and fsync before reporting success.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def write_anchor(session: Session, config: Config, *, now: datetime | None = None) -> Anchor:
    """Append the current chain head to the anchor file, signed when a key is set. Refused
    while the chain since the last anchor (the whole chain for the first) is not intact:
    anchoring a tampered chain would vouch for it."""
    key = load_private_key(config.anchor_key) if config.anchor_key else None
    current = head(session)
    if current is None:
        raise AnchorError(_("the audit trail is empty: there is nothing to anchor"))
    problem = _tail_problem(session, latest(config))
    if problem is not None:
        raise AnchorError(_("not anchored, the chain is broken: %(problem)s", problem=problem))
    at = (now or utcnow()).replace(microsecond=0)
    record: dict[str, Any] = {
        "v": VERSION,
        "count": current.count,
        "last_id": current.last_id,
        "hash": current.hash,
        "at": iso_time(at),
    }
    if key is not None:
        text = signed_text(current.count, current.last_id, current.hash, at)
        record["signature"] = _b64(key.sign(text.encode("utf-8")))
        record["public_key"] = public_key_text(key.public_key())
    _append(config.anchor_file, json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n")
    return Anchor(
        current.count,
        current.last_id,
        current.hash,
        at,
        record.get("signature"),
        record.get("public_key"),
    )


def maybe_anchor(rt: Runtime, *, now: datetime | None = None) -> Anchor | None:
    """For the worker's pass: an anchor when CASCADE_ANCHOR_EVERY_MINUTES have passed since
    the last one and the chain grew since; None otherwise (or when it is set to 0)."""
    config = rt.config
    if config.anchor_every_minutes <= 0:
        return None
    now = now or utcnow()
    last = latest(config)
    if last is not None and now - last.at < timedelta(minutes=config.anchor_every_minutes):
        return None
    with unit_of_work(rt.sessions) as session:
        current = head(session)
        if current is None or (
            last is not None and (current.count, current.hash) == (last.count, last.hash)
        ):
            return None
        return write_anchor(session, config, now=now)


# -- checking ----------------------------------------------------------------------------------


@dataclass
class AnchorCheck:
    checked: int = 0
    signatures_checked: int = 0
    problems: list[str] = field(default_factory=list)


def _signature_problem(anchor: Anchor, key: Ed25519PublicKey) -> str | None:
    if not anchor.signature:
        return _("anchor line %(line)s is not signed", line=anchor.line)
    try:
        key.verify(base64.b64decode(anchor.signature), anchor.signed_text().encode("utf-8"))
    except (InvalidSignature, ValueError):
        return _(
            "anchor line %(line)s: its signature does not match (the line was forged or "
            "edited, or signed with another key)",
            line=anchor.line,
        )
    return None


def _positions(session: Session, counts: list[int]) -> dict[int, tuple[int, str | None]]:
    table = AuditEvent.__table__
    found: dict[int, tuple[int, str | None]] = {}
    for start in range(0, len(counts), 500):
        chunk = counts[start : start + 500]
        rows = session.execute(
            select(table.c.seq, table.c.id, table.c.hash).where(table.c.seq.in_(chunk))
        )
        found.update({row.seq: (row.id, row.hash) for row in rows})
    return found


def check_anchors(
    session: Session, path: Path, public_key: Ed25519PublicKey | None = None
) -> AnchorCheck:
    """Every anchor of the file against the chain: an anchored head the chain no longer
    holds is a truncation, another hash at an anchored position a rewritten history."""
    check = AnchorCheck()
    anchors: list[Anchor] = []
    for item in read_anchors(path):
        if isinstance(item, str):
            check.problems.append(item)
        else:
            anchors.append(item)
    table = AuditEvent.__table__
    length = session.scalar(select(func.max(table.c.seq))) or 0
    positions = _positions(session, sorted({a.count for a in anchors}))
    previous: Anchor | None = None
    for anchor in anchors:
        check.checked += 1
        if previous is not None and anchor.count < previous.count:
            check.problems.append(
                _(
                    "anchor line %(line)s records fewer events (%(count)s) than the line "
                    "before (%(before)s): the anchor file was edited",
                    line=anchor.line,
                    count=anchor.count,
                    before=previous.count,
                )
            )
        previous = anchor
        if public_key is not None:
            check.signatures_checked += 1
            if (problem := _signature_problem(anchor, public_key)) is not None:
                check.problems.append(problem)
        found = positions.get(anchor.count)
        if found is None:
            check.problems.append(
                _(
                    "truncated: the anchor of %(at)s (line %(line)s) records %(count)s events "
                    "ending with event %(id)s, but the chain has %(length)s events",
                    at=iso_time(anchor.at),
                    line=anchor.line,
                    count=anchor.count,
                    id=anchor.last_id,
                    length=length,
                )
            )
        elif found != (anchor.last_id, anchor.hash):
            check.problems.append(
                _(
                    "history rewritten: the anchor of %(at)s (line %(line)s) records event "
                    "%(id)s with hash %(hash)s at position %(count)s, the chain now has event "
                    "%(found_id)s with hash %(found_hash)s there",
                    at=iso_time(anchor.at),
                    line=anchor.line,
                    id=anchor.last_id,
                    hash=anchor.hash[:16],
                    count=anchor.count,
                    found_id=found[0],
                    found_hash=(found[1] or "")[:16],
                )
            )
    return check


@dataclass
class Verification:
    chain: ChainReport
    anchors: AnchorCheck
    reconciliation: ReconciliationReport

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.anchors.problems and self.reconciliation.ok

    def problems(self) -> list[str]:
        """Each problem found, in words: the chain's, the anchors', then every mismatch."""
        found = []
        if not self.chain.ok:
            found.append(
                _(
                    "audit chain broken at event %(id)s: %(problem)s",
                    id=self.chain.first_bad_id,
                    problem=self.chain.problem,
                )
            )
        found.extend(self.anchors.problems)
        found.extend(str(m) for m in self.reconciliation.mismatches)
        hidden = self.reconciliation.count - len(self.reconciliation.mismatches)
        if hidden > 0:
            found.append(_("and %(count)s more differences", count=hidden))
        return found


def verify_everything(
    session: Session,
    config: Config,
    *,
    public_key: Ed25519PublicKey | None = None,
    application_ids: Collection[int] | None = None,
    chain: ChainReport | None = None,
) -> Verification:
    """The chain, the anchors (signatures too when ``public_key`` is given, else with the
    configured key's public half when one is set) and the reconciliation of the business
    rows (of ``application_ids`` only, when given). ``chain``: the chain's report when
    the caller has it already."""
    if public_key is None and config.anchor_key:
        public_key = load_private_key(config.anchor_key).public_key()
    return Verification(
        chain=chain if chain is not None else verify_chain(session),
        anchors=check_anchors(session, config.anchor_file, public_key),
        reconciliation=reconcile_trail(session, application_ids=application_ids),
    )
