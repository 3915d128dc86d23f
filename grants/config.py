"""Configuration from environment variables, with local defaults that just work."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
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


@dataclass
class Config:
    database_url: str = field(
        default_factory=lambda: os.environ.get(
            "DATABASE_URL", f"sqlite:///{INSTANCE / 'cascade.db'}"
        )
    )
    document_root: Path = field(
        default_factory=lambda: Path(os.environ.get("DOCUMENT_ROOT", INSTANCE / "documents"))
    )
    secret_key: str = field(default_factory=_secret_key)
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

    def flask_settings(self) -> dict[str, object]:
        return {
            "SECRET_KEY": self.secret_key,
            "TESTING": self.testing,
            "WTF_CSRF_ENABLED": self.csrf_enabled,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": self.session_cookie_secure,
            "REMEMBER_COOKIE_HTTPONLY": True,
            "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        }
