"""The grant dossier: built from the services, checked by verify_dossier.py run as a separate
process with the standard library only (``python -I -S``), tampered with byte by byte."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from grants.models import AuditEvent, BankAccount
from grants.runtime import Runtime
from grants.services import dossier
from grants.services.documents import drain
from tests.scenario import Scenario, pending_documents_discarded, scenario_storage
from workflows.voucher import AppState

VERIFIER = Path(__file__).resolve().parents[2] / "documents" / "verify_dossier.py"
Login = Callable[[FlaskClient, str], None]


def run_verifier(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    # -I -S: no site-packages, no user site, no environment: the standard library only.
    return subprocess.run(
        [sys.executable, "-I", "-S", str(VERIFIER), str(path), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def contracted_voucher(scenario: Scenario, runtime: Runtime) -> int:
    """A voucher with an uploaded file, rendered PDFs and a bank letter in the store."""
    app_id = scenario.draft()
    scenario.attach(app_id, runtime.storage)  # type: ignore[arg-type]
    scenario.advance(app_id, AppState.CONTRACTED)
    with scenario.sessions() as session:
        for account in session.scalars(
            select(BankAccount).where(BankAccount.application_id == app_id)
        ):
            if account.confirmation_key:  # the scenario keeps bank letters in its own store
                data = scenario_storage().read(account.confirmation_key)
                runtime.storage.put(account.confirmation_key, data)
    drain(runtime.sessions, runtime.storage)
    return app_id


@pytest.fixture(scope="module")
def built(
    sessions: sessionmaker[Session], runtime: Runtime, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, Scenario, int]]:
    with pending_documents_discarded(sessions):
        scenario = Scenario(sessions)
        app_id = contracted_voucher(scenario, runtime)
        path = tmp_path_factory.mktemp("dossier") / "voucher.zip"
        with path.open("w+b") as out, sessions() as session:
            dossier.write_voucher_dossier(
                session, runtime.storage, scenario.people.auditor, app_id, out, anchor=None
            )
        yield path, scenario, app_id
        scenario.retire_finance()


def rewritten(source: Path, target: Path, change: Callable[[str, bytes], bytes | None]) -> Path:
    """A copy of the ZIP with each entry passed through ``change`` (None drops it)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = change(info.filename, old.read(info.filename))
            if data is not None:
                new.writestr(info.filename, data)
    return target


def flip_one_byte(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]


def names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def manifest_of(path: Path) -> dict:  # type: ignore[type-arg]
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("MANIFEST.json"))


def test_an_untouched_dossier_verifies_with_the_standard_library_only(
    built: tuple[Path, Scenario, int],
) -> None:
    path, scenario, app_id = built
    done = run_verifier(path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK:" in done.stdout
    # Without an anchor the proof ends at the chain head, and the verifier says so.
    assert "not an anchor kept outside" in done.stdout

    manifest = manifest_of(path)
    reference = scenario.application(app_id).reference
    kinds = {f["kind"] for f in manifest["files"]}
    assert {
        "document",
        "events_csv",
        "events_json",
        "answers",
        "sepa",
        "application_attachment",
        "bank_confirmation",
        "chain_links",
        "verifier",
        "readme",
    } <= kinds
    assert not manifest["unavailable"]
    # Every event of the voucher is in the manifest with what recomputes its hash.
    event_ids = {e.id for e in scenario.events_of(app_id)}
    assert event_ids <= {e["id"] for e in manifest["events"]}
    documents = [f for f in manifest["files"] if f["kind"] == "document"]
    assert len(documents) == len([d for d in scenario.documents_of(app_id)])
    assert all(f["path"].startswith(f"{reference}/documents/") for f in documents)
    # Uploaded files are tied to the hash-chained event that recorded their sha256.
    assert all(
        "evidence_event" in f
        for f in manifest["files"]
        if f["kind"] in ("application_attachment", "bank_confirmation")
    )


@pytest.mark.parametrize(
    "kind",
    ["document", "events_csv", "events_json", "application_attachment", "bank_confirmation"],
)
def test_one_changed_byte_in_any_file_fails_naming_it(
    built: tuple[Path, Scenario, int], tmp_path: Path, kind: str
) -> None:
    path, _scenario, _app_id = built
    victim = next(f["path"] for f in manifest_of(path)["files"] if f["kind"] == kind)
    changed = rewritten(
        path,
        tmp_path / "changed.zip",
        lambda name, data: flip_one_byte(data) if name == victim else data,
    )
    done = run_verifier(changed)
    assert done.returncode == 1
    assert f"FAIL {victim}: its sha256 does not match the manifest" in done.stdout


def test_one_changed_byte_in_the_manifest_fails(
    built: tuple[Path, Scenario, int], tmp_path: Path
) -> None:
    path, _scenario, _app_id = built

    def change(name: str, data: bytes) -> bytes:
        # A digit of the first file's size: the JSON stays valid.
        if name != "MANIFEST.json":
            return data
        text = data.decode()
        at = text.index('"size": ') + len('"size": ')
        digit = text[at]
        return (text[:at] + ("1" if digit != "1" else "2") + text[at + 1 :]).encode()

    done = run_verifier(rewritten(path, tmp_path / "changed.zip", change))
    assert done.returncode == 1
    assert "FAIL MANIFEST.json: its sha256 does not match the one in MANIFEST.sha256" in done.stdout


def test_a_removed_or_an_added_file_fails_naming_it(
    built: tuple[Path, Scenario, int], tmp_path: Path
) -> None:
    path, _scenario, _app_id = built
    victim = next(f["path"] for f in manifest_of(path)["files"] if f["kind"] == "document")
    removed = rewritten(path, tmp_path / "removed.zip", lambda n, d: None if n == victim else d)
    done = run_verifier(removed)
    assert done.returncode == 1
    assert f"FAIL {victim}: listed in the manifest but missing from the ZIP" in done.stdout

    added = tmp_path / "added.zip"
    added.write_bytes(path.read_bytes())
    with zipfile.ZipFile(added, "a") as archive:
        archive.writestr("extra/forged.pdf", b"%PDF-1.4 forged")
    done = run_verifier(added)
    assert done.returncode == 1
    assert "FAIL extra/forged.pdf: in the ZIP but not listed in the manifest" in done.stdout


def test_a_changed_event_payload_fails_naming_the_event(
    built: tuple[Path, Scenario, int], tmp_path: Path
) -> None:
    """Even when the forger also rewrites MANIFEST.sha256, the event's hash gives it away."""
    path, _scenario, _app_id = built
    manifest = manifest_of(path)
    event = manifest["events"][0]
    forged = event["payload"].replace('"actor_role":"', '"actor_role":"x', 1)
    assert forged != event["payload"]
    event["payload"] = forged
    text = json.dumps(manifest).encode()
    digest = __import__("hashlib").sha256(text).hexdigest()

    def change(name: str, data: bytes) -> bytes:
        if name == "MANIFEST.json":
            return text
        if name == "MANIFEST.sha256":
            return f"{digest}  MANIFEST.json\n".encode()
        return data

    done = run_verifier(rewritten(path, tmp_path / "changed.zip", change))
    assert done.returncode == 1
    assert f"FAIL event {event['id']}: its hash does not match its content" in done.stdout


def test_the_proof_reaches_a_given_anchor_and_a_wrong_one_fails(
    built: tuple[Path, Scenario, int], tmp_path: Path, runtime: Runtime
) -> None:
    _path, scenario, app_id = built
    with runtime.sessions() as session:
        head = session.execute(
            select(AuditEvent.seq, AuditEvent.id, AuditEvent.hash)
            .where(AuditEvent.seq.is_not(None))
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        ).one()
    good = dossier.Anchor(count=head.seq, hash=head.hash, last_id=head.id, at="2026-12-03")
    bad = dossier.Anchor(count=head.seq, hash="f" * 64, last_id=head.id)
    beyond = dossier.Anchor(count=head.seq + 1000, hash=head.hash)
    results = {}
    for name, anchor in (("good", good), ("bad", bad), ("beyond", beyond)):
        target = tmp_path / f"{name}.zip"
        with target.open("w+b") as out, runtime.sessions() as session:
            dossier.write_voucher_dossier(
                session, runtime.storage, scenario.people.auditor, app_id, out, anchor=anchor
            )
        results[name] = run_verifier(target)
    assert results["good"].returncode == 0, results["good"].stdout
    assert "not an anchor kept outside" not in results["good"].stdout
    assert results["bad"].returncode == 1
    assert "does not have the anchor's hash" in results["bad"].stdout
    assert results["beyond"].returncode == 1
    assert "events after it were removed?" in results["beyond"].stdout


def test_cli_writes_the_dossier_into_the_current_directory_and_records_it(
    app: Flask,
    built: tuple[Path, Scenario, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sessions: sessionmaker[Session],
) -> None:
    _path, scenario, app_id = built
    reference = scenario.application(app_id).reference
    monkeypatch.chdir(tmp_path)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["dossier", reference])
    assert result.exit_code == 0, result.output
    written = tmp_path / f"{reference}-dossier.zip"
    assert written.is_file()
    assert [p.name for p in tmp_path.iterdir()] == [written.name]  # no temporary file left
    assert run_verifier(written).returncode == 0
    with sessions() as session:
        issued = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "issue_dossier", AuditEvent.entity_id == reference)
            .order_by(AuditEvent.id.desc())
        ).first()
    assert issued is not None and issued.application_id == app_id
    assert (
        issued.after["manifest_sha256"]
        == __import__("hashlib").sha256(zipfile.ZipFile(written).read("MANIFEST.json")).hexdigest()
    )

    call_reference = scenario.application(app_id).call.reference
    out_dir = tmp_path / "out"
    result = runner.invoke(args=["dossier", "--call", call_reference, "--output", str(out_dir)])
    assert result.exit_code == 0, result.output
    call_zip = out_dir / f"{call_reference}-call-dossier.zip"
    done = run_verifier(call_zip)
    assert done.returncode == 0, done.stdout
    assert any(n.startswith(f"{reference}/documents/") for n in names(call_zip))
    assert any(n.startswith("call/events.") for n in names(call_zip))

    unknown = runner.invoke(args=["dossier", "NO-SUCH-REF"])
    assert unknown.exit_code != 0 and "no voucher NO-SUCH-REF" in unknown.output
    both = runner.invoke(args=["dossier", reference, "--call", call_reference])
    assert both.exit_code != 0


def test_only_auditors_download_dossiers_from_the_web(
    app: Flask, login: Login, built: tuple[Path, Scenario, int], tmp_path: Path
) -> None:
    _path, scenario, app_id = built
    url = f"/applications/{app_id}/dossier.zip"
    call_reference = scenario.application(app_id).call.reference
    for who in ("officer", "finance1", "evaluator1", "applicant0", "admin"):
        client = app.test_client()
        login(client, scenario.people.emails[who])
        assert client.get(url).status_code == 403, who
        assert client.get(f"/audit/call-dossier?call={call_reference}").status_code == 403, who
    assert app.test_client().get(url).status_code == 302  # to the login page

    auditor = app.test_client()
    login(auditor, scenario.people.emails["auditor"])
    page = auditor.get(f"/applications/{app_id}").get_data(as_text=True)
    assert url in page
    response = auditor.get(url)
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    reference = scenario.application(app_id).reference
    assert f'filename="{reference}-dossier.zip"' in response.headers["Content-Disposition"]
    downloaded = tmp_path / "web.zip"
    downloaded.write_bytes(response.get_data())
    response.close()
    assert run_verifier(downloaded).returncode == 0
    assert auditor.get("/applications/999999999/dossier.zip").status_code == 404

    assert "/audit/call-dossier" in auditor.get("/audit").get_data(as_text=True)
    response = auditor.get(f"/audit/call-dossier?call={call_reference}")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as archive:
        assert f"{reference}/answers.json" in archive.namelist()
    response.close()
    missing = auditor.get("/audit/call-dossier?call=NO-SUCH-CALL")
    assert missing.status_code == 302


def test_a_signed_anchor_from_the_anchor_file_is_checked_when_cryptography_is_there(
    built: tuple[Path, Scenario, int], tmp_path: Path, runtime: Runtime
) -> None:
    import base64
    import dataclasses

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from grants.db import utcnow
    from grants.services import anchors

    _path, scenario, app_id = built
    key = Ed25519PrivateKey.generate()
    with runtime.sessions() as session:
        head = anchors.head(session)
    assert head is not None
    at = utcnow().replace(microsecond=0)
    text = anchors.signed_text(head.count, head.last_id, head.hash, at)
    line = {
        "v": 1,
        "count": head.count,
        "last_id": head.last_id,
        "hash": head.hash,
        "at": anchors.iso_time(at),
        "signature": base64.b64encode(key.sign(text.encode())).decode(),
        "public_key": anchors.public_key_text(key.public_key()),
    }
    anchor_file = tmp_path / "anchors.jsonl"
    anchor_file.write_text(json.dumps(line) + "\n")
    config = dataclasses.replace(runtime.config, anchor_file=anchor_file)
    anchor = dossier.latest_anchor(config)
    assert anchor is not None and anchor.signed_message == text

    target = tmp_path / "signed.zip"
    with target.open("w+b") as out, runtime.sessions() as session:
        dossier.write_voucher_dossier(
            session, runtime.storage, scenario.people.auditor, app_id, out, anchor=anchor
        )
    # With the project's packages (cryptography), the signature is checked...
    with_crypto = subprocess.run(
        [sys.executable, str(VERIFIER), str(target), "--public-key", line["public_key"]],
        capture_output=True,
        text=True,
        check=False,
    )
    assert with_crypto.returncode == 0, with_crypto.stdout
    assert "OK signature: ed25519 signature verified with the key given" in with_crypto.stdout
    # ...with another key it fails; with the standard library only it says it skipped it.
    other = anchors.public_key_text(Ed25519PrivateKey.generate().public_key())
    wrong = subprocess.run(
        [sys.executable, str(VERIFIER), str(target), "--public-key", other],
        capture_output=True,
        text=True,
        check=False,
    )
    assert wrong.returncode == 1
    assert "FAIL anchor: its ed25519 signature does not verify" in wrong.stdout
    bare = run_verifier(target)
    assert bare.returncode == 0
    assert "SKIPPED signature" in bare.stdout
