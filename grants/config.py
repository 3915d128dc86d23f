"""Configuration from environment variables, with local defaults that just work."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"


def _secret_key() -> str:
    """A stable local secret so sessions survive restarts; production sets SECRET_KEY."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = INSTANCE / "secret_key"
    if not path.exists():
        INSTANCE.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _web_workers() -> int:
    # gunicorn's rule of thumb for sync workers, capped: each holds a database connection.
    return min(2 * (os.cpu_count() or 1) + 1, 9)


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


@dataclass
class Config:
    database_url: str = field(
        default_factory=lambda: os.environ.get(
            "DATABASE_URL", f"sqlite:///{INSTANCE / 'cascade.db'}"
        )
    )
    # Where rendered PDFs and uploaded attachments live (see `document_location`). The local
    # directory: with several web nodes or workers it must be one shared filesystem (NFS).
    document_root: Path = field(
        default_factory=lambda: Path(os.environ.get("DOCUMENT_ROOT", INSTANCE / "documents"))
    )
    # DOCUMENT_STORE: unset, the directory above; a path, that directory instead;
    # `s3://bucket/optional/prefix`, objects in an S3-compatible bucket, which every node
    # reaches without a shared filesystem. Credentials follow boto3's usual chain
    # (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, or an instance role).
    document_store: str | None = field(default_factory=lambda: _env("DOCUMENT_STORE"))
    # S3_ENDPOINT_URL: the S3 API of MinIO, Ceph, Scaleway... (e.g. http://minio:9000);
    # unset, AWS itself. S3_REGION: the bucket's region (unset: boto3's AWS_REGION chain).
    s3_endpoint_url: str | None = field(default_factory=lambda: _env("S3_ENDPOINT_URL"))
    s3_region: str | None = field(default_factory=lambda: _env("S3_REGION"))
    secret_key: str = field(default_factory=_secret_key, repr=False)
    # Render PDFs in a background thread of the web process (the embedded default);
    # production runs `cascade worker` processes instead and turns this off.
    inprocess_worker: bool = field(
        default_factory=lambda: os.environ.get("CASCADE_INPROCESS_WORKER", "1") == "1"
    )
    testing: bool = False
    csrf_enabled: bool = True
    session_cookie_secure: bool = field(
        default_factory=lambda: os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"
    )
    # The largest request (a draft form with its files); each file field has its own limit
    # (max_mb, default 10 MB, at most 25 MB), checked with a clear message below this one.
    max_request_mb: int = field(
        default_factory=lambda: int(os.environ.get("CASCADE_MAX_REQUEST_MB", "32"))
    )
    # A clamdscan-style command run on every upload (exit 0 clean, 1 infected); empty: the
    # files are stored unscanned.
    virus_scan_command: str = field(
        default_factory=lambda: os.environ.get("CASCADE_VIRUS_SCAN_COMMAND", "")
    )
    # A login session ends after this long without a request (each request renews the
    # cookie; its signature also expires, so a copied cookie does not outlive it).
    session_lifetime: timedelta = field(
        default_factory=lambda: timedelta(hours=float(os.environ.get("SESSION_LIFETIME_HOURS", 8)))
    )
    # Where the site is reached, e.g. https://vouchers.example.eu: links in e-mails are built
    # from it. Unset, they follow the request's Host header, which is fine locally; in
    # production set it, or a forged Host header could send reset links elsewhere.
    public_url: str | None = field(default_factory=lambda: _env("CASCADE_PUBLIC_URL"))
    # Flask-Limiter: login and the mail-sending forms are rate limited per IP and per e-mail.
    # memory:// counts per process; with several web processes use a shared store (redis://).
    ratelimit_enabled: bool = field(
        default_factory=lambda: os.environ.get("RATELIMIT_ENABLED", "1") == "1"
    )
    ratelimit_storage_uri: str = field(
        default_factory=lambda: os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    )
    # Several deployments (or test runs) may share one Redis: each counts under its prefix.
    ratelimit_key_prefix: str = field(
        default_factory=lambda: os.environ.get("RATELIMIT_KEY_PREFIX", "cascade")
    )
    # `cascade serve`: gunicorn's web worker processes and the outbox workers beside them.
    web_workers: int = field(
        default_factory=lambda: int(os.environ.get("CASCADE_WEB_WORKERS", "0")) or _web_workers()
    )
    outbox_workers: int = field(
        default_factory=lambda: int(os.environ.get("CASCADE_OUTBOX_WORKERS", "1"))
    )
    # Processes each `cascade worker` renders PDFs with (1: in the worker process itself).
    render_processes: int = field(
        default_factory=lambda: (
            int(os.environ.get("CASCADE_RENDER_PROCESSES", "0")) or os.cpu_count() or 1
        )
    )
    # Outgoing mail: sent through SMTP when MAIL_SERVER is set; otherwise it stays in the
    # outbox table, where the admin reads it (Admin → Mail outbox).
    mail_server: str | None = field(default_factory=lambda: _env("MAIL_SERVER"))
    mail_port: int = field(default_factory=lambda: int(os.environ.get("MAIL_PORT", "587")))
    mail_use_tls: bool = field(  # STARTTLS; refuses to send if the server does not offer it
        default_factory=lambda: os.environ.get("MAIL_USE_TLS", "1") == "1"
    )
    mail_username: str | None = field(default_factory=lambda: _env("MAIL_USERNAME"))
    mail_password: str | None = field(default_factory=lambda: _env("MAIL_PASSWORD"), repr=False)
    mail_from: str = field(
        default_factory=lambda: os.environ.get("MAIL_FROM", "Cascade <noreply@localhost>")
    )

    # The consortium's account that SEPA credit transfer files debit (Finance → SEPA export).
    # The defaults are a demo account (a well-known example IBAN): set all three in production.
    # An export is refused while the IBAN or BIC is not valid.
    sepa_debtor_name: str = field(
        default_factory=lambda: os.environ.get(
            "CASCADE_SEPA_DEBTOR_NAME", "DEMO Cascade consortium (test account)"
        )
    )
    sepa_debtor_iban: str = field(
        default_factory=lambda: os.environ.get("CASCADE_SEPA_DEBTOR_IBAN", "DE89370400440532013000")
    )
    sepa_debtor_bic: str = field(
        default_factory=lambda: os.environ.get("CASCADE_SEPA_DEBTOR_BIC", "COBADEFFXXX")
    )

    # `cascade audit anchor`: the chain head is appended, one JSON line per anchor, to this
    # file outside the database (keep a copy elsewhere: write-once storage, the auditor);
    # signed with the ed25519 private key in CASCADE_ANCHOR_KEY (a PEM or base64 key file,
    # made by `cascade audit anchor-key`) when set. The worker anchors every
    # CASCADE_ANCHOR_EVERY_MINUTES minutes when the chain grew (0: only by the command).
    anchor_file: Path = field(
        default_factory=lambda: Path(
            os.environ.get("CASCADE_ANCHOR_FILE", INSTANCE / "audit-anchors.jsonl")
        )
    )
    anchor_key: str | None = field(default_factory=lambda: _env("CASCADE_ANCHOR_KEY"), repr=False)
    anchor_every_minutes: int = field(
        default_factory=lambda: int(os.environ.get("CASCADE_ANCHOR_EVERY_MINUTES", "60"))
    )

    def document_location(self) -> str | Path:
        """What `documents.storage.open_storage` opens: DOCUMENT_STORE, else DOCUMENT_ROOT."""
        return self.document_store or self.document_root

    def flask_settings(self) -> dict[str, object]:
        return {
            "SECRET_KEY": self.secret_key,
            "TESTING": self.testing,
            "WTF_CSRF_ENABLED": self.csrf_enabled,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": self.session_cookie_secure,
            "REMEMBER_COOKIE_HTTPONLY": True,
            "PERMANENT_SESSION_LIFETIME": self.session_lifetime,
            "RATELIMIT_ENABLED": self.ratelimit_enabled,
            "RATELIMIT_STORAGE_URI": self.ratelimit_storage_uri,
            "RATELIMIT_HEADERS_ENABLED": True,
            "MAX_CONTENT_LENGTH": self.max_request_mb * 1024 * 1024,
            "BABEL_DEFAULT_LOCALE": "en",
            "BABEL_DEFAULT_TIMEZONE": "UTC",
            "BABEL_TRANSLATION_DIRECTORIES": str(ROOT / "grants" / "translations"),
        }
