"""The S3-compatible document store, against a real S3 API over HTTP (moto's server).

moto's server speaks the S3 REST protocol on a loopback port, so these tests exercise what
production does: boto3 signing and sending requests, the server's answers and errors.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from flask import Flask
from flask.testing import FlaskClient
from moto.server import ThreadedMotoServer
from sqlalchemy import select

from documents.storage import DocumentStorage, S3DocumentStorage, open_storage, sha256_hex
from grants import create_app
from grants.config import Config
from grants.models import Document, DocumentStatus
from grants.runtime import Runtime
from grants.services.documents import drain
from tests.scenario import Scenario

REGION = "eu-west-3"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """An S3 API on a free loopback port, with throwaway credentials in the environment."""
    with pytest.MonkeyPatch.context() as env:
        # boto3's usual chain, as in production; no file of this machine's may interfere.
        env.setenv("AWS_ACCESS_KEY_ID", "test-access-key")
        env.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            env.delenv(name, raising=False)
        env.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture
def s3(s3_endpoint: str) -> Any:
    """A plain boto3 client, to look at the bucket independently of the store under test."""
    return boto3.session.Session(region_name=REGION).client("s3", endpoint_url=s3_endpoint)


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"cascade-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


@pytest.fixture
def store(s3_endpoint: str, bucket: str) -> S3DocumentStorage:
    return S3DocumentStorage(bucket, "documents", endpoint_url=s3_endpoint, region=REGION)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# -- the store's contract, as the local store keeps it -------------------------------------------


def test_put_then_read_round_trips_and_returns_the_sha256(store: S3DocumentStorage) -> None:
    key = "2026/ab/receipt.pdf"
    assert not store.exists(key)
    digest = store.put(key, PDF)
    assert digest == sha256_hex(PDF) == hashlib.sha256(PDF).hexdigest()
    assert store.exists(key)
    assert store.read(key) == PDF


def test_put_sends_the_type_and_digests_the_server_checks(
    store: S3DocumentStorage, s3: Any, bucket: str
) -> None:
    sent: list[dict[str, str]] = []

    def capture(request: Any, **_kwargs: Any) -> None:
        sent.append(
            {
                k.lower(): v.decode() if isinstance(v, bytes) else v
                for k, v in request.headers.items()
            }
        )

    store.client.meta.events.register("before-send.s3.PutObject", capture)
    store.put("2026/cd/letter.pdf", PDF)
    (headers,) = sent
    assert headers["content-type"] == "application/pdf"
    assert headers["x-amz-checksum-sha256"] == b64(hashlib.sha256(PDF).digest())
    assert headers["content-md5"] == b64(hashlib.md5(PDF).digest())
    # As a header, not the chunked trailer encoding some S3-compatible stores refuse.
    assert "aws-chunked" not in headers.get("content-encoding", "")

    head = s3.head_object(Bucket=bucket, Key="documents/2026/cd/letter.pdf", ChecksumMode="ENABLED")
    assert head["ContentType"] == "application/pdf"
    assert head["ChecksumSHA256"] == b64(hashlib.sha256(PDF).digest())


def test_attachments_without_an_extension_are_not_labelled_pdf(
    store: S3DocumentStorage, s3: Any, bucket: str
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    store.put("attachments/ab/abcdef", png)
    head = s3.head_object(Bucket=bucket, Key="documents/attachments/ab/abcdef")
    assert head["ContentType"] == "application/octet-stream"


def test_a_missing_key_raises_what_the_local_store_raises(
    store: S3DocumentStorage, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError) as local:
        DocumentStorage(tmp_path).read("2026/ab/missing.pdf")
    with pytest.raises(FileNotFoundError) as remote:
        store.read("2026/ab/missing.pdf")
    assert type(remote.value) is type(local.value)
    assert remote.value.errno == local.value.errno
    assert remote.value.filename == f"s3://{store.bucket}/documents/2026/ab/missing.pdf"
    assert not store.exists("2026/ab/missing.pdf")


@pytest.mark.parametrize(
    "key", ["", "../escape.pdf", "/abs.pdf", "a/../../b.pdf", "a\\b.pdf", "a\x00.pdf", "a//b.pdf"]
)
def test_keys_are_refused_as_the_local_store_refuses_them(
    store: S3DocumentStorage, s3: Any, bucket: str, tmp_path: Path, key: str
) -> None:
    with pytest.raises(ValueError, match="invalid storage key"):
        DocumentStorage(tmp_path).path(key)
    for action in (lambda: store.put(key, PDF), lambda: store.read(key), lambda: store.exists(key)):
        with pytest.raises(ValueError, match="invalid storage key"):
            action()
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0  # nothing reached the bucket


def test_putting_the_same_key_again_replaces_the_object(
    store: S3DocumentStorage, s3: Any, bucket: str
) -> None:
    key = "2026/ef/receipt.pdf"
    store.put(key, b"first")
    assert store.put(key, b"second") == sha256_hex(b"second")
    assert store.read(key) == b"second"
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == ["documents/2026/ef/receipt.pdf"]


def test_objects_live_under_the_prefix_and_prefixes_do_not_mix(
    s3_endpoint: str, s3: Any, bucket: str
) -> None:
    one = S3DocumentStorage(bucket, "/tenant-one/docs/", endpoint_url=s3_endpoint, region=REGION)
    two = S3DocumentStorage(bucket, "tenant-two", endpoint_url=s3_endpoint, region=REGION)
    bare = S3DocumentStorage(bucket, endpoint_url=s3_endpoint, region=REGION)
    one.put("2026/ab/x.pdf", b"one")
    two.put("2026/ab/x.pdf", b"two")
    bare.put("2026/ab/x.pdf", b"bare")

    def listed(prefix: str) -> list[str]:
        response = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
        return [o["Key"] for o in response.get("Contents", [])]

    assert listed("tenant-one/") == ["tenant-one/docs/2026/ab/x.pdf"]
    assert listed("tenant-two/") == ["tenant-two/2026/ab/x.pdf"]
    assert listed("2026/") == ["2026/ab/x.pdf"]
    assert (one.read("2026/ab/x.pdf"), two.read("2026/ab/x.pdf")) == (b"one", b"two")
    assert not one.exists("docs/2026/ab/x.pdf")


def test_a_store_that_cannot_answer_raises_an_os_error_not_missing(s3_endpoint: str) -> None:
    # A wrong bucket is a misconfiguration, not a missing document: it must not read as one.
    store = S3DocumentStorage("no-such-bucket", endpoint_url=s3_endpoint, region=REGION)
    for action in (lambda: store.read("a.pdf"), lambda: store.put("a.pdf", PDF)):
        with pytest.raises(OSError, match="no-such-bucket") as raised:
            action()
        assert not isinstance(raised.value, FileNotFoundError)


def test_open_storage_chooses_the_store_from_the_location(tmp_path: Path) -> None:
    local = open_storage(tmp_path / "docs")
    assert isinstance(local, DocumentStorage) and local.root == tmp_path / "docs"
    assert isinstance(open_storage(str(tmp_path)), DocumentStorage)
    remote = open_storage("s3://bucket-name/some/prefix", endpoint_url="http://x:9000")
    assert isinstance(remote, S3DocumentStorage)
    assert (remote.bucket, remote.prefix, remote.endpoint_url) == (
        "bucket-name",
        "some/prefix",
        "http://x:9000",
    )
    bare = open_storage("s3://bucket-name")
    assert isinstance(bare, S3DocumentStorage) and bare.prefix == ""
    for wrong in ("s4://bucket", "s3://", "s3://bucket/../up"):
        with pytest.raises(ValueError):
            open_storage(wrong)


def test_config_reads_the_store_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCUMENT_ROOT", str(tmp_path / "root"))
    for name in ("DOCUMENT_STORE", "S3_ENDPOINT_URL", "S3_REGION"):
        monkeypatch.delenv(name, raising=False)
    config = Config(secret_key="x")
    assert config.document_location() == tmp_path / "root"  # today's behaviour

    monkeypatch.setenv("DOCUMENT_STORE", "s3://cascade-docs/prod")
    monkeypatch.setenv("S3_ENDPOINT_URL", "http://minio:9000")
    monkeypatch.setenv("S3_REGION", "fr-par")
    config = Config(secret_key="x")
    assert config.document_location() == "s3://cascade-docs/prod"
    assert (config.s3_endpoint_url, config.s3_region) == ("http://minio:9000", "fr-par")


# -- end to end: the app renders into the bucket and serves from it -----------------------------


@pytest.fixture
def s3_app(
    app: Flask,  # the shared app: its fixture builds the database with Alembic
    database_url: str,
    s3_endpoint: str,
    bucket: str,
    tmp_path: Path,
) -> Iterator[Flask]:
    config = Config(
        database_url=database_url,
        # The local directory stays empty: a document found there would mean S3 was bypassed.
        document_root=tmp_path / "unused-documents",
        document_store=f"s3://{bucket}/cascade",
        s3_endpoint_url=s3_endpoint,
        s3_region=REGION,
        secret_key="test-secret",
        testing=True,
        csrf_enabled=False,
        inprocess_worker=False,
        ratelimit_enabled=False,
    )
    flask_app = create_app(config)
    yield flask_app
    flask_app.extensions["cascade"].engine.dispose()


def test_a_rendered_document_goes_to_s3_and_is_downloaded_from_it(
    s3_app: Flask,
    scenario: Scenario,
    s3: Any,
    bucket: str,
    login: Callable[[FlaskClient, str], None],
) -> None:
    runtime: Runtime = s3_app.extensions["cascade"]
    assert isinstance(runtime.storage, S3DocumentStorage)
    app_id = scenario.draft()
    scenario.submit(app_id)

    assert drain(runtime.sessions, runtime.storage).failed == 0
    with runtime.sessions() as session:
        receipt = session.scalars(select(Document).where(Document.application_id == app_id)).one()
    assert receipt.status == DocumentStatus.READY and receipt.storage_key and receipt.sha256

    stored = s3.get_object(Bucket=bucket, Key=f"cascade/{receipt.storage_key}")
    assert stored["ContentType"] == "application/pdf"
    assert sha256_hex(stored["Body"].read()) == receipt.sha256
    assert not (runtime.config.document_root / receipt.storage_key).exists()

    client = s3_app.test_client()
    login(client, scenario.people.emails["applicant0"])
    download = client.get(f"/documents/{receipt.id}")
    assert download.status_code == 200
    assert download.mimetype == "application/pdf"
    assert download.data.startswith(b"%PDF-")
    assert sha256_hex(download.data) == receipt.sha256
    assert len(download.data) == receipt.size
