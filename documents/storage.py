"""File storage for rendered documents, addressed by a relative key, with sha256 digests.

Two stores answer the same three calls (``DocumentStore``): a local directory, the default,
and an S3-compatible bucket, so that web nodes and workers on different machines share
documents without a shared filesystem. ``open_storage`` picks one from a location string.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import os
import tempfile
import threading
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from botocore.client import BaseClient

S3_SCHEME = "s3://"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class DocumentStore(Protocol):
    """What callers use of a store: keys are relative POSIX paths, values whole files."""

    def put(self, key: str, data: bytes) -> str:
        """Store ``data`` under ``key`` (replacing it) and return its sha256 hex digest."""
        ...

    def read(self, key: str) -> bytes:
        """The bytes under ``key``; FileNotFoundError when there are none."""
        ...

    def exists(self, key: str) -> bool: ...


def check_key(key: str) -> PurePosixPath:
    """``key`` as a relative path, or ValueError.

    Keys may come from database rows an attacker could influence (or a bug could corrupt),
    so refuse anything that could point outside the store rather than trying to normalise
    it into something "safe".
    """
    if not key or "\x00" in key or "\\" in key:
        raise ValueError(f"invalid storage key: {key!r}")
    pure = PurePosixPath(key)
    if pure.is_absolute() or any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"invalid storage key: {key!r}")
    return pure


class DocumentStorage:
    """Stores files under `root`; keys are relative POSIX paths such as `2026/ab/<uuid>.pdf`.

    The root must live outside the web root: files are served only by a view that has
    checked authorisation, never by the web server directly.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        pure = check_key(key)
        root = self.root.resolve()
        candidate = root.joinpath(*pure.parts)
        # A symlink inside the root could still lead outside it.
        if not candidate.resolve().is_relative_to(root):
            raise ValueError(f"storage key escapes the storage root: {key!r}")
        return candidate

    def put(self, key: str, data: bytes) -> str:
        """Write `data` under `key` atomically and return its sha256 hex digest.

        An existing file under the same key is replaced: document jobs are re-run after a
        crash, and the caller records the digest it gets back.
        """
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # The temporary file sits in the target's directory so that os.replace is a rename
        # within one filesystem, hence atomic: readers see the old file or the new one,
        # never a half-written PDF.
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
        self._fsync_dir(target.parent)
        return sha256_hex(data)

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    @staticmethod
    def _fsync_dir(directory: Path) -> None:
        # Without syncing the directory, the rename itself may be lost on power failure
        # even though the file content was synced; the documents row would then point
        # at nothing. Some platforms cannot open directories, hence the suppress.
        with contextlib.suppress(OSError):
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


class S3DocumentStorage:
    """Stores files as objects of an S3-compatible bucket (AWS, MinIO, Ceph, Scaleway...).

    A key ``2026/ab/<uuid>.pdf`` becomes the object ``<prefix>/2026/ab/<uuid>.pdf``. Keys are
    checked as for the local store, although a bucket has no ``..``: the same key must mean
    the same document whichever store a deployment uses. The bucket must not be public:
    documents are served only by a view that has checked authorisation. Credentials come
    from boto3's usual chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, an
    instance role).
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
    ) -> None:
        if not bucket or "/" in bucket or bucket.strip() != bucket:
            raise ValueError(f"invalid bucket name: {bucket!r}")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if self.prefix:
            check_key(self.prefix)
        self.endpoint_url = endpoint_url
        self.region = region
        self._client: BaseClient | None = None
        self._client_lock = threading.Lock()

    @property
    def client(self) -> BaseClient:
        # Built on first use, not when the store is opened: the mail pass opens a store on
        # every run and most runs read nothing, while building a client loads botocore's S3
        # model. One client is shared by threads (boto3 clients are thread-safe).
        with self._client_lock:
            if self._client is None:
                self._client = _s3_client(self.endpoint_url, self.region)
            return self._client

    def object_key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def url(self, key: str) -> str:
        """Where ``key`` lives, for messages and logs."""
        return f"{S3_SCHEME}{self.bucket}/{self.object_key(key)}"

    def put(self, key: str, data: bytes) -> str:
        """Upload ``data`` as the object for ``key`` and return its sha256 hex digest.

        A PUT replaces the whole object at once: readers see the old object or the new one.
        """
        object_key = self.object_key(key)
        digest = hashlib.sha256(data)
        md5 = hashlib.md5(data, usedforsecurity=False)
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=object_key,
                Body=data,
                ContentType=_content_type(key),
                # The server recomputes these digests and refuses the upload when the bytes
                # it received differ, so the sha256 the caller records is the one the store
                # checked. SHA-256 is checked by AWS and current MinIO/Ceph; Content-MD5 by
                # every S3-compatible store, including older ones that ignore the newer
                # header. Given as a header, the checksum also keeps botocore from sending
                # the chunked trailer encoding that several of those stores refuse.
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=_b64(digest.digest()),
                ContentMD5=_b64(md5.digest()),
            )
        except (BotoCoreError, ClientError) as exc:
            raise _storage_error("writing", self.url(key), exc) from exc
        return digest.hexdigest()

    def read(self, key: str) -> bytes:
        url = self.url(key)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
            return response["Body"].read()
        except ClientError as exc:
            if _error_code(exc) in _MISSING:
                # What the local store raises for a missing file, so callers handle both.
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), url) from exc
            raise _storage_error("reading", url, exc) from exc
        except BotoCoreError as exc:
            raise _storage_error("reading", url, exc) from exc

    def exists(self, key: str) -> bool:
        url = self.url(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if _error_code(exc) in _MISSING:
                return False
            raise _storage_error("checking", url, exc) from exc
        except BotoCoreError as exc:
            raise _storage_error("checking", url, exc) from exc
        return True


# GetObject answers NoSuchKey for a missing object; HeadObject has no body, so only its status.
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _storage_error(doing: str, url: str, exc: Exception) -> OSError:
    # An OSError, as the local store's failures are: callers that show "document
    # unavailable" on a disk error do the same when the object store is down or refuses.
    hint = ""
    if isinstance(exc, ClientError) and _error_code(exc) in {"AccessDenied", "403"}:
        # Without s3:ListBucket, S3 answers 403 instead of 404 for a missing object.
        hint = " (the credentials need s3:GetObject, s3:PutObject and s3:ListBucket)"
    return OSError(f"document storage: {doing} {url} failed: {exc}{hint}")


def _content_type(key: str) -> str:
    # Rendered documents are PDFs; uploaded attachments share the store under keys without
    # an extension, and their real type is recorded in the database, not here.
    return "application/pdf" if key.endswith(".pdf") else "application/octet-stream"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _s3_client(endpoint_url: str | None, region: str | None) -> BaseClient:
    # Imported here: boto3 takes a quarter of a second to import, which every process
    # (web, worker, each CLI command) of a deployment on the local store would pay.
    import boto3
    from botocore.config import Config

    config = Config(
        # Self-hosted stores (MinIO, Ceph) rarely have the wildcard DNS that virtual-hosted
        # addressing (bucket.host) needs; they and AWS all accept path-style requests.
        s3={"addressing_style": "path"} if endpoint_url else None,
        # botocore waits 60 s by default: a page download should fail long before that.
        connect_timeout=5,
        read_timeout=30,
        retries={"mode": "standard"},
    )
    # A session of its own: boto3's default session is module state and not thread-safe.
    session = boto3.session.Session(region_name=region)
    return session.client("s3", endpoint_url=endpoint_url, config=config)


def open_storage(
    location: str | Path,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> DocumentStore:
    """The store at ``location``: ``s3://bucket/optional/prefix``, else a local directory.

    ``endpoint_url`` and ``region`` apply to S3 only (unset endpoint: AWS itself).
    """
    text = str(location)
    if text.lower().startswith(S3_SCHEME):
        bucket, _, prefix = text[len(S3_SCHEME) :].partition("/")
        return S3DocumentStorage(bucket, prefix, endpoint_url=endpoint_url, region=region)
    if "://" in text:
        # A typo such as "s4://docs" must not quietly become a local folder of that name.
        raise ValueError(f"unsupported document store {text!r}: use a directory or s3://")
    return DocumentStorage(Path(location))
