"""Credentials: the e-mail address a person logs in with (its form, how it is compared) and
the password (argon2 hashes, the check, the policy a new password must meet)."""

from __future__ import annotations

import functools
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from grants.models import User
from workflows.i18n import _

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256  # argon2 takes any length; a megabyte "password" is a DoS attempt

# Well-known passwords of at least 12 characters (shorter ones fail the length rule anyway),
# plus the published demo password. Compared in lower case, spaces removed.
COMMON_PASSWORDS = frozenset(
    {
        "123456789012",
        "1234567890123",
        "12345678901234",
        "123456123456",
        "123123123123",
        "098765432109",
        "1q2w3e4r5t6y",
        "1qaz2wsx3edc",
        "qwertyuiop12",
        "qwertyuiop123",
        "qwerty123456",
        "qwertyqwerty",
        "asdfghjkl123",
        "zxcvbnm12345",
        "password1234",
        "password12345",
        "password123!",
        "passwordpassword",
        "password1password1",
        "p@ssw0rd1234",
        "iloveyou1234",
        "letmein12345",
        "welcome12345",
        "welcome2024!",
        "welcome2025!",
        "welcome2026!",
        "changeme1234",
        "administrator",
        "abc123abc123",
        "abcdefghijkl",
        "monkey123456",
        "football1234",
        "baseball1234",
        "sunshine1234",
        "princess1234",
        "trustno1trustno1",
        "correcthorsebatterystaple",
        "leviatad-demo",
        "cascade12345",
        "cascadecascade",
    }
)

# -- e-mail addresses ------------------------------------------------------------------

# One @, a dot in the domain, and none of the characters that would make it several
# addresses or a display name in a mail header.
_NOT_IN_ADDRESS = r"@\s,;:<>()\[\]\"\\"
EMAIL_PATTERN = re.compile(
    rf"^[^{_NOT_IN_ADDRESS}]+@[^{_NOT_IN_ADDRESS}]+\.[^{_NOT_IN_ADDRESS}.]+$"
)


def normalise_email(email: str) -> str:
    return email.strip().lower()


# -- passwords ---------------------------------------------------------------------------

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this when the e-mail is unknown takes as long as a real check, so
    response time does not reveal which accounts exist. Made on first use, not at import:
    argon2 takes tens of megabytes, which every command (an export, a worker) would carry."""
    return _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User | None, password: str) -> bool:
    """True only for an existing user whose password matches; as slow for unknown users."""
    try:
        return _hasher.verify(user.password_hash if user else _dummy_hash(), password) and bool(
            user
        )
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker argon2 parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


def password_errors(
    password: str, confirm: str, *, email: str, field: str = "password"
) -> dict[str, str]:
    """The password policy, as field-level messages (empty when the password is fine)."""
    errors: dict[str, str] = {}
    squashed = "".join(password.lower().split())
    email = email.strip().lower()
    if len(password) < MIN_PASSWORD_LENGTH:
        errors[field] = _("Use at least %(count)s characters.", count=MIN_PASSWORD_LENGTH)
    elif len(password) > MAX_PASSWORD_LENGTH:
        errors[field] = _("Use at most %(count)s characters.", count=MAX_PASSWORD_LENGTH)
    elif email and squashed in {email, email.partition("@")[0]}:
        errors[field] = _("Do not use your e-mail address as your password.")
    elif squashed in COMMON_PASSWORDS or len(set(squashed)) < 4:
        errors[field] = _("This password is too common or too easy to guess; choose another.")
    if confirm != password:
        errors[f"{field}_confirm"] = _("The two passwords are not the same.")
    return errors
