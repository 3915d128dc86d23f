#!/usr/bin/env python3
"""Check a Cascade grant dossier (a ZIP) offline, with Python's standard library only.

    python3 verify_dossier.py DOSSIER.zip [--public-key KEY]

What it checks, printing one line per problem ("FAIL <file or event>: what is wrong"):

1. MANIFEST.json is there and its sha256 is the one in MANIFEST.sha256;
2. every file the manifest lists is in the ZIP with that size and sha256, and no other file
   is; a file whose sha256 was also recorded in the database (documents, attachments, bank
   letters) matches it, and one named by an audit event matches what that event recorded;
3. every audit event: its hash is sha256(prev_hash + payload) recomputed from the canonical
   payload, the payload names the same id and prev_hash, and the events.json files hold
   exactly those events with those values;
4. the chain (chain/links.csv): positions follow each other without a gap, each link's
   prev_hash is the hash before it, every event of the dossier sits in it, and it reaches
   the anchor: the link at the anchor's position has the anchor's hash;
5. the anchor's ed25519 signature, only if the ``cryptography`` package is installed (it
   says so when the check is skipped); ``--public-key`` (hex, base64 or a file holding
   either) gives the key you trust instead of the one the dossier carries.

Exit status 0 when nothing failed, 1 otherwise (2 for a wrong command line).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import csv
import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

MANIFEST = "MANIFEST.json"
MANIFEST_SUM = "MANIFEST.sha256"
GENESIS = "0" * 64
CHUNK = 1024 * 1024


class Report:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.notes: list[str] = []

    def fail(self, where: str, what: str) -> None:
        self.failures.append(f"FAIL {where}: {what}")

    def note(self, text: str) -> None:
        self.notes.append(text)


def _sha256_of(archive: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with archive.open(name) as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _decode_key(text: str) -> bytes:
    text = text.strip()
    candidate = Path(text)
    if len(text) < 200 and candidate.is_file():
        text = candidate.read_text(encoding="utf-8").strip()
    try:
        return bytes.fromhex(text)
    except ValueError:
        pass
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not hex or base64: {text[:20]}...") from exc


def check_manifest(archive: zipfile.ZipFile, report: Report) -> dict[str, Any] | None:
    names = set(archive.namelist())
    if MANIFEST not in names:
        report.fail(MANIFEST, "missing from the ZIP")
        return None
    digest, _size = _sha256_of(archive, MANIFEST)
    if MANIFEST_SUM not in names:
        report.fail(MANIFEST_SUM, "missing from the ZIP")
    else:
        recorded = archive.read(MANIFEST_SUM).decode("utf-8", "replace").split()
        if not recorded or recorded[0] != digest:
            report.fail(MANIFEST, "its sha256 does not match the one in MANIFEST.sha256")
    try:
        manifest = json.loads(archive.read(MANIFEST).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        report.fail(MANIFEST, f"not valid JSON ({exc})")
        return None
    if not isinstance(manifest, dict) or not str(manifest.get("format", "")).startswith(
        "cascade-dossier/"
    ):
        report.fail(MANIFEST, "not a Cascade dossier manifest")
        return None
    return manifest


def check_files(
    archive: zipfile.ZipFile,
    manifest: dict[str, Any],
    events: dict[int, dict[str, Any]],
    report: Report,
) -> None:
    names = {n for n in archive.namelist() if not n.endswith("/")}
    listed: set[str] = set()
    for entry in manifest.get("files", []):
        path = entry.get("path", "")
        listed.add(path)
        if path not in names:
            report.fail(path, "listed in the manifest but missing from the ZIP")
            continue
        digest, size = _sha256_of(archive, path)
        if size != entry.get("size"):
            report.fail(path, f"size {size} bytes, the manifest says {entry.get('size')}")
        if digest != entry.get("sha256"):
            report.fail(path, "its sha256 does not match the manifest (the file was changed)")
        recorded = entry.get("recorded_sha256")
        if recorded and recorded != digest:
            report.fail(path, "its sha256 does not match the one recorded in the database")
        evidence = entry.get("evidence_event")
        if evidence is not None:
            event = events.get(int(evidence))
            after = (event or {}).get("after") or {}
            if event is None:
                report.fail(
                    path, f"the audit event {evidence} that recorded it is not in the dossier"
                )
            elif digest not in [v for v in after.values() if isinstance(v, str)]:
                report.fail(path, f"its sha256 is not the one audit event {evidence} recorded")
    for extra in sorted(names - listed - {MANIFEST, MANIFEST_SUM}):
        report.fail(extra, "in the ZIP but not listed in the manifest")


def check_events(manifest: dict[str, Any], report: Report) -> dict[int, dict[str, Any]]:
    """Every event's hash recomputed from its payload; returns the parsed payloads by id."""
    parsed: dict[int, dict[str, Any]] = {}
    for item in manifest.get("events", []):
        event_id = item.get("id")
        where = f"event {event_id}"
        payload = item.get("payload", "")
        prev_hash = item.get("prev_hash") or ""
        recomputed = hashlib.sha256((prev_hash + payload).encode("utf-8")).hexdigest()
        if recomputed != item.get("hash"):
            report.fail(where, "its hash does not match its content (the event was changed)")
        try:
            body = json.loads(payload)
        except json.JSONDecodeError as exc:
            report.fail(where, f"its payload is not valid JSON ({exc})")
            continue
        if body.get("id") != event_id:
            report.fail(where, f"its payload names event {body.get('id')}")
        if body.get("prev_hash") != prev_hash:
            report.fail(where, "its payload's prev_hash is not the event's prev_hash")
        parsed[event_id] = body
    return parsed


def check_event_files(
    archive: zipfile.ZipFile,
    manifest: dict[str, Any],
    events: dict[int, dict[str, Any]],
    report: Report,
) -> None:
    """The events.json of each folder holds exactly that folder's events, as hashed."""
    by_group: dict[str, set[int]] = {}
    hashes = {item.get("id"): item.get("hash") for item in manifest.get("events", [])}
    for item in manifest.get("events", []):
        by_group.setdefault(item.get("group"), set()).add(item.get("id"))
    for entry in manifest.get("files", []):
        if entry.get("kind") != "events_json" or entry.get("path") not in archive.namelist():
            continue
        path = entry["path"]
        try:
            rows = json.loads(archive.read(path).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            report.fail(path, f"not valid JSON ({exc})")
            continue
        seen: set[int] = set()
        for row in rows:
            event_id = row.get("id")
            seen.add(event_id)
            body = events.get(event_id)
            if body is None:
                report.fail(path, f"event {event_id} is not in the manifest")
                continue
            shown = {k: v for k, v in row.items() if k not in ("seq", "hash")}
            if shown != body:
                report.fail(path, f"event {event_id} differs from its hashed payload")
            if row.get("hash") != hashes.get(event_id):
                report.fail(path, f"event {event_id} has another hash than in the manifest")
        missing = by_group.get(entry.get("group"), set()) - seen
        if missing:
            report.fail(path, f"events {sorted(missing)} of the manifest are missing")


def check_chain(
    archive: zipfile.ZipFile, manifest: dict[str, Any], report: Report
) -> dict[int, str]:
    """The links from the first event to the head; returns hash by position."""
    chain = manifest.get("chain", {})
    path = chain.get("links_file", "chain/links.csv")
    if path not in archive.namelist():
        report.fail(path, "the chain links are missing")
        return {}
    by_seq: dict[int, str] = {}
    ids: dict[int, int] = {}
    prevs: dict[int, str] = {}
    expected_seq = int(chain.get("first_seq", 1))
    previous_hash: str | None = GENESIS if expected_seq == 1 else None
    with archive.open(path) as handle:
        rows = csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8", newline=""))
        for row in rows:
            try:
                seq = int(row["seq"])
                event_id = int(row["id"])
            except (KeyError, TypeError, ValueError):
                report.fail(path, f"unreadable line {rows.line_num}")
                return by_seq
            if seq != expected_seq:
                report.fail(path, f"position {expected_seq} is missing (found {seq})")
                return by_seq
            if previous_hash is not None and row["prev_hash"] != previous_hash:
                report.fail(
                    path, f"position {seq} (event {event_id}) is not linked to the one before"
                )
            by_seq[seq] = row["hash"]
            ids[seq] = event_id
            prevs[seq] = row["prev_hash"]
            previous_hash = row["hash"]
            expected_seq += 1
    last = int(chain.get("last_seq", 0))
    if by_seq and max(by_seq) != last:
        report.fail(path, f"the links end at position {max(by_seq)}, the manifest says {last}")
    for item in manifest.get("events", []):
        seq = item.get("seq")
        where = f"event {item.get('id')}"
        if seq not in by_seq:
            report.fail(where, f"its position {seq} is not in the chain links")
        elif (ids[seq], prevs[seq], by_seq[seq]) != (
            item.get("id"),
            item.get("prev_hash"),
            item.get("hash"),
        ):
            report.fail(where, f"the chain link at position {seq} is another event or hash")
    return by_seq


def check_anchor(
    manifest: dict[str, Any], by_seq: dict[int, str], public_key: str | None, report: Report
) -> None:
    anchor = manifest.get("anchor") or {}
    count = anchor.get("count")
    if not isinstance(count, int) or not anchor.get("hash"):
        report.fail("anchor", "the manifest has no anchor")
        return
    if anchor.get("source") != "anchor":
        report.note(
            "NOTE anchor: the chain head when the dossier was built, not an anchor kept outside "
            "the database: the chain is checked up to it, but nothing independent vouches for it."
        )
    chain = manifest.get("chain", {})
    first = int(chain.get("first_seq", 1))
    if count > int(chain.get("last_seq", 0)):
        report.fail(
            "anchor",
            f"it covers {count} events but the chain in this dossier ends at position "
            f"{chain.get('last_seq')} (events after it were removed?)",
        )
    elif count < first:
        report.note(
            f"NOTE anchor: at position {count}, before this dossier's first event ({first}): "
            "no event here is covered by it yet; take the dossier again after the next anchor."
        )
    elif by_seq.get(count) != anchor.get("hash"):
        report.fail("anchor", f"the chain link at position {count} does not have the anchor's hash")
    else:
        newer = [e["id"] for e in manifest.get("events", []) if e.get("seq", 0) > count]
        if newer:
            report.note(
                f"NOTE anchor: {len(newer)} event(s) came after the anchor (ids {newer[:10]}...): "
                "they are linked to the chain head, not yet to an anchor."
            )
    check_signature(anchor, public_key, report)


def _public_key(key_text: str) -> Any:
    """An ed25519 public key from hex or base64 text, or a file (PEM, hex or base64)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    is_file = len(key_text) < 4096 and Path(key_text).is_file()
    data = Path(key_text).read_bytes() if is_file else key_text.encode()
    if b"-----BEGIN" in data:
        key = load_pem_public_key(data)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an ed25519 key")
        return key
    return Ed25519PublicKey.from_public_bytes(_decode_key(data.decode()))


def check_signature(anchor: dict[str, Any], public_key: str | None, report: Report) -> None:
    signature = anchor.get("signature")
    if not signature:
        report.note("NOTE signature: the anchor is not signed")
        return
    try:
        import cryptography.hazmat.primitives.asymmetric.ed25519  # noqa: F401
        from cryptography.exceptions import InvalidSignature
    except ImportError:
        report.note(
            "SKIPPED signature: the anchor's ed25519 signature was not checked "
            "(the cryptography package is not installed)"
        )
        return
    message = anchor.get("signed_message")
    key_text = public_key or anchor.get("public_key")
    if not message or not key_text:
        report.fail("anchor", "signed, but the dossier lacks the signed message or the public key")
        return
    if not _names_anchor(message, anchor):
        report.fail("anchor", "the signed message is not about this anchor's count and hash")
    try:
        key = _public_key(key_text)
        key.verify(_decode_key(signature), message.encode("utf-8"))
    except (ValueError, InvalidSignature):
        report.fail("anchor", "its ed25519 signature does not verify")
        return
    source = "the key given" if public_key else "the key the dossier carries"
    report.note(f"OK signature: ed25519 signature verified with {source}")


def _names_anchor(message: str, anchor: dict[str, Any]) -> bool:
    """Whether the signed text is about this anchor: Cascade signs a JSON object with its
    count, last event id and hash."""
    try:
        body = json.loads(message)
    except json.JSONDecodeError:
        return anchor["hash"] in message and str(anchor["count"]) in message
    if not isinstance(body, dict):
        return False
    same = body.get("count") == anchor["count"] and body.get("hash") == anchor["hash"]
    return same and (anchor.get("last_id") is None or body.get("last_id") == anchor["last_id"])


def verify(path: Path, public_key: str | None = None) -> Report:
    report = Report()
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        report.fail(str(path), f"not a readable ZIP file ({exc})")
        return report
    with archive:
        manifest = check_manifest(archive, report)
        if manifest is None:
            return report
        events = check_events(manifest, report)
        check_files(archive, manifest, events, report)
        check_event_files(archive, manifest, events, report)
        by_seq = check_chain(archive, manifest, report)
        check_anchor(manifest, by_seq, public_key, report)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check a Cascade grant dossier offline.")
    parser.add_argument("dossier", type=Path, help="the dossier ZIP file")
    parser.add_argument(
        "--public-key",
        default=None,
        help="the anchors' ed25519 public key you trust (hex, base64, or a file holding it)",
    )
    args = parser.parse_args(argv)
    report = verify(args.dossier, args.public_key)
    for line in report.failures:
        print(line)
    for line in report.notes:
        print(line)
    if report.failures:
        print(f"FAILED: {len(report.failures)} problem(s) in {args.dossier}")
        return 1
    print(f"OK: {args.dossier} is intact and its events are linked to the anchor")
    return 0


if __name__ == "__main__":
    sys.exit(main())
