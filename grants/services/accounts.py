"""Accounts: registration with e-mail confirmation, login checks, password reset and change,
logout everywhere, and the administrator's (de)activation of accounts.

Nothing here tells a stranger whether an e-mail address has an account: registering a taken
address, asking for a reset or for a new confirmation link all answer the same, and only the
owner of the address learns more, by e-mail.

Links in e-mails carry tokens signed with the application's secret key (itsdangerous):
a confirmation token is valid 48 hours and names the address it confirms; a reset token is
valid one hour and carries a fingerprint of the current password hash, so it works once
(the new password changes the fingerprint) and dies when the password is changed otherwise.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grants import programme
from grants.db import utcnow
from grants.models import User
from grants.services import audit, mail
from grants.services.actor import Actor
from grants.services.workflow import NotFound
from workflows.i18n import _
from workflows.roles import Role

log = logging.getLogger(__name__)

CONFIRM_MAX_AGE = timedelta(hours=48)
RESET_MAX_AGE = timedelta(hours=1)
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256  # argon2 takes any length; a megabyte "password" is a DoS attempt
_CONFIRM_SALT = "cascade.confirm-email"
_RESET_SALT = "cascade.reset-password"

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

# One @, a dot in the domain, and none of the characters that would make it several
# addresses or a display name in a mail header.
_NOT_IN_ADDRESS = r"@\s,;:<>()\[\]\"\\"
EMAIL_PATTERN = re.compile(
    rf"^[^{_NOT_IN_ADDRESS}]+@[^{_NOT_IN_ADDRESS}]+\.[^{_NOT_IN_ADDRESS}.]+$"
)
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this when the e-mail is unknown takes as long as a real check, so
    response time does not reveal which accounts exist. Made on first use, not at import:
    argon2 takes tens of megabytes, which every command (an export, a worker) would carry."""
    return _hasher.hash("not-a-real-password")


# -- passwords ---------------------------------------------------------------------------


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


# -- errors and small types --------------------------------------------------------------


class FormErrors(Exception):
    """The request was refused; ``errors`` maps each form field to what to correct."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class AccountRefused(Exception):
    """An account action that may not happen; the message tells a person why."""


class TokenProblem(Exception):
    """A link from an e-mail that cannot be used: ``expired`` or otherwise invalid."""

    def __init__(self, *, expired: bool) -> None:
        super().__init__("the link has expired" if expired else "the link is not valid")
        self.expired = expired


@dataclass(frozen=True)
class Origin:
    """Where an anonymous request came from, for the audit trail of what it changed."""

    request_id: str | None = None
    ip: str | None = None


@dataclass(frozen=True)
class Links:
    """Absolute links for e-mails. The web layer knows the site's address; services don't."""

    confirm: Callable[[str], str]
    reset: Callable[[str], str]
    login: str
    forgot: str


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))


def _actor(user: User, origin: Origin) -> Actor:
    return Actor.of(user, request_id=origin.request_id, ip=origin.ip)


# -- tokens ------------------------------------------------------------------------------


def token_serializer(
    secret_key: str, salt: str, issued_at: datetime | None = None
) -> URLSafeTimedSerializer:
    if issued_at is None:
        return URLSafeTimedSerializer(secret_key, salt=salt)
    stamp = int(issued_at.timestamp())

    class IssuedAt(TimestampSigner):  # a token as if issued at ``issued_at`` (tests)
        def get_timestamp(self) -> int:
            return stamp

    return URLSafeTimedSerializer(secret_key, salt=salt, signer=IssuedAt)


def load_token(secret_key: str, salt: str, token: str, max_age: timedelta) -> dict[str, Any]:
    try:
        data = token_serializer(secret_key, salt).loads(token, max_age=int(max_age.total_seconds()))
    except SignatureExpired as exc:
        raise TokenProblem(expired=True) from exc
    except BadData as exc:
        raise TokenProblem(expired=False) from exc
    if not isinstance(data, dict):
        raise TokenProblem(expired=False)
    return data


def password_fingerprint(secret_key: str, password_hash: str) -> str:
    # Keyed, so the token (readable, only signed) says nothing usable about the hash.
    digest = hmac.new(secret_key.encode(), password_hash.encode(), hashlib.sha256)
    return digest.hexdigest()[:24]


def confirmation_token(secret_key: str, user: User, *, issued_at: datetime | None = None) -> str:
    return token_serializer(secret_key, _CONFIRM_SALT, issued_at).dumps(
        {"u": user.id, "e": normalise_email(user.email)}
    )


def reset_token(secret_key: str, user: User, *, issued_at: datetime | None = None) -> str:
    return token_serializer(secret_key, _RESET_SALT, issued_at).dumps(
        {"u": user.id, "p": password_fingerprint(secret_key, user.password_hash)}
    )


# -- mails -------------------------------------------------------------------------------

_SIGNATURE = f"\n--\n{programme.PROGRAMME_NAME} programme team (Cascade)\n"


def _queue_account_mail(
    session: Session, user: User, *, subject: str, text: str, purpose: str
) -> None:
    """Every account mail: to the account's address, greeting its owner by name, the
    programme named in the subject, signed by the programme team."""
    mail.queue(
        session,
        to=user.email,
        subject=f"{subject} - {programme.PROGRAMME_NAME}",
        body=f"Hello {user.full_name},\n\n{text}" + _SIGNATURE,
        purpose=purpose,
    )


def _queue_confirmation(session: Session, user: User, secret_key: str, links: Links) -> None:
    link = links.confirm(confirmation_token(secret_key, user))
    _queue_account_mail(
        session,
        user,
        subject="Confirm your e-mail address",
        text=(
            f"An account for the {programme.PROGRAMME_NAME} vouchers was created with this "
            "e-mail address. Confirm that it is yours by opening this link within 48 hours:\n\n"
            f"{link}\n\n"
            "If you did not create this account, ignore this e-mail: nobody can log in to it "
            "until the address is confirmed.\n"
        ),
        purpose="confirm_email",
    )


def _queue_account_exists(session: Session, user: User, secret_key: str, links: Links) -> None:
    unconfirmed = ""
    if user.email_confirmed_at is None and user.active:
        unconfirmed = (
            "Your e-mail address is not confirmed yet. Confirm it with this link, valid for "
            f"48 hours:\n\n{links.confirm(confirmation_token(secret_key, user))}\n\n"
        )
    _queue_account_mail(
        session,
        user,
        subject="Someone tried to register with your e-mail address",
        text=(
            "Someone, perhaps you, tried to register a new account with this e-mail address. "
            "It already has an account, so no new account was created and yours is "
            "unchanged.\n\n"
            f"{unconfirmed}"
            f"If it was you, log in here: {links.login}\n"
            f"Forgot your password? Choose a new one here: {links.forgot}\n\n"
            "If it was not you, you can ignore this e-mail.\n"
        ),
        purpose="account_exists",
    )


def _queue_reset(session: Session, user: User, secret_key: str, links: Links) -> None:
    link = links.reset(reset_token(secret_key, user))
    _queue_account_mail(
        session,
        user,
        subject="Choose a new password",
        text=(
            "Someone, perhaps you, asked to reset the password of your account. Open this "
            "link within one hour to choose a new password; it works once:\n\n"
            f"{link}\n\n"
            "If you did not ask for this, ignore this e-mail: your password stays as it "
            "is.\n"
        ),
        purpose="reset_password",
    )


def _queue_password_changed(session: Session, user: User, links: Links) -> None:
    when = utcnow().strftime("%d %B %Y at %H:%M UTC")
    _queue_account_mail(
        session,
        user,
        subject="Your password was changed",
        text=(
            f"The password of your account was changed on {when}, and every session that "
            "was logged in with the old password was logged out.\n\n"
            "If you did not do this, choose a new password at once here and tell the "
            f"programme team: {links.forgot}\n"
        ),
        purpose="password_changed",
    )


# -- registration and confirmation -------------------------------------------------------


def register(
    session: Session,
    *,
    full_name: str,
    email: str,
    password: str,
    password_confirm: str,
    secret_key: str,
    links: Links,
    origin: Origin,
) -> None:
    """Create an unconfirmed applicant account and mail a confirmation link.

    An address that already has an account gets a notice instead, and the caller answers
    exactly as for a new account: registration never reveals who has an account.
    """
    name = " ".join(full_name.split())
    email = normalise_email(email)
    errors: dict[str, str] = {}
    if not name:
        errors["full_name"] = _("Enter your name.")
    elif len(name) > 200:
        errors["full_name"] = _("Use at most %(count)s characters.", count=200)
    if not email:
        errors["email"] = _("Enter your e-mail address.")
    elif len(email) > 254 or not EMAIL_PATTERN.match(email):
        errors["email"] = _("Enter an e-mail address like name@company.eu.")
    errors |= password_errors(password, password_confirm, email=email)
    if errors:
        raise FormErrors(errors)

    # Hashed whether or not the address is taken, so both answers take as long.
    password_hash = hash_password(password)
    existing = find_user(session, email)
    if existing is None:
        user = User(
            email=email,
            full_name=name,
            password_hash=password_hash,
            role=Role.APPLICANT,
            active=True,
            email_confirmed_at=None,
        )
        try:
            with session.begin_nested():
                session.add(user)
                session.flush()
        except IntegrityError:  # a concurrent registration of the same address won
            existing = find_user(session, email)
            if existing is None:
                raise
        else:
            audit.record(
                session,
                _actor(user, origin),
                "register",
                entity_type="user",
                entity_id=user.id,
                after={"role": str(Role.APPLICANT), "email_confirmed": False},
            )
            _queue_confirmation(session, user, secret_key, links)
            return
    _queue_account_exists(session, existing, secret_key, links)


class Confirmation(StrEnum):
    CONFIRMED = "confirmed"
    ALREADY = "already"


def confirm_email(session: Session, token: str, *, secret_key: str, origin: Origin) -> Confirmation:
    """Confirm the address a link was sent to; using the link again changes nothing."""
    data = load_token(secret_key, _CONFIRM_SALT, token, CONFIRM_MAX_AGE)
    user = session.get(User, data.get("u")) if isinstance(data.get("u"), int) else None
    if user is None or normalise_email(user.email) != data.get("e") or not user.active:
        raise TokenProblem(expired=False)
    if user.email_confirmed_at is not None:
        return Confirmation.ALREADY
    user.email_confirmed_at = utcnow()
    audit.record(
        session,
        _actor(user, origin),
        "confirm_email",
        entity_type="user",
        entity_id=user.id,
        before={"email_confirmed": False},
        after={"email_confirmed": True},
    )
    session.flush()
    return Confirmation.CONFIRMED


def resend_confirmation(session: Session, email: str, *, secret_key: str, links: Links) -> None:
    """Mail a fresh confirmation link if the address has an unconfirmed, active account.

    Otherwise nothing happens; the caller answers the same either way.
    """
    user = find_user(session, email)
    if user is not None and user.active and user.email_confirmed_at is None:
        _queue_confirmation(session, user, secret_key, links)


# -- login -------------------------------------------------------------------------------


class LoginRefusal(StrEnum):
    BAD_CREDENTIALS = "bad credentials"
    INACTIVE = "deactivated account"
    UNCONFIRMED = "e-mail address not confirmed"


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    refusal: LoginRefusal | None = None


def authenticate(session: Session, email: str, password: str) -> LoginResult:
    """Check a login. The caller shows every refusal with the same generic message."""
    if len(password) > MAX_PASSWORD_LENGTH:  # no account has one; don't hash megabytes
        return LoginResult(None, LoginRefusal.BAD_CREDENTIALS)
    user = find_user(session, email)
    if not check_password(user, password) or user is None:
        return LoginResult(None, LoginRefusal.BAD_CREDENTIALS)
    if not user.active:
        return LoginResult(None, LoginRefusal.INACTIVE)
    if user.email_confirmed_at is None:
        return LoginResult(None, LoginRefusal.UNCONFIRMED)
    if _hasher.check_needs_rehash(user.password_hash):  # argon2 parameters were raised
        user.password_hash = hash_password(password)
        session.flush()
    return LoginResult(user)


# -- password reset and change, logout everywhere ----------------------------------------


def request_password_reset(session: Session, email: str, *, secret_key: str, links: Links) -> None:
    """Mail a one-hour reset link if the address has an active account; else do nothing."""
    user = find_user(session, email)
    if user is not None and user.active:
        _queue_reset(session, user, secret_key, links)


def user_for_reset(session: Session, token: str, *, secret_key: str) -> User:
    """The account a reset link is for, or TokenProblem (expired, used, or not ours)."""
    data = load_token(secret_key, _RESET_SALT, token, RESET_MAX_AGE)
    user = session.get(User, data.get("u")) if isinstance(data.get("u"), int) else None
    if user is None or not user.active:
        raise TokenProblem(expired=False)
    expected = password_fingerprint(secret_key, user.password_hash)
    if not hmac.compare_digest(expected, str(data.get("p", ""))):
        raise TokenProblem(expired=False)  # already used, or the password changed since
    return user


def _new_password(session: Session, user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    # Every session logged in with the old password ends (the login id carries the version).
    user.session_version += 1
    session.flush()


def reset_password(
    session: Session,
    token: str,
    *,
    password: str,
    password_confirm: str,
    secret_key: str,
    links: Links,
    origin: Origin,
) -> User:
    """Set a new password from a reset link; the link then stops working.

    Opening the link proves the mailbox is the owner's, so an unconfirmed address becomes
    confirmed too.
    """
    user = user_for_reset(session, token, secret_key=secret_key)
    errors = password_errors(password, password_confirm, email=user.email)
    if errors:
        raise FormErrors(errors)
    before = {"session_version": user.session_version}
    _new_password(session, user, password)
    after: dict[str, Any] = {"session_version": user.session_version}
    if user.email_confirmed_at is None:
        user.email_confirmed_at = utcnow()
        before["email_confirmed"], after["email_confirmed"] = False, True
    audit.record(
        session,
        _actor(user, origin),
        "password_reset",
        entity_type="user",
        entity_id=user.id,
        before=before,
        after=after,
    )
    _queue_password_changed(session, user, links)
    return user


def change_password(
    session: Session,
    actor: Actor,
    *,
    current: str,
    password: str,
    password_confirm: str,
    links: Links,
) -> User:
    """The logged-in user's new password; every other session of theirs ends."""
    user = session.get(User, actor.user_id)
    if user is None:
        raise NotFound("no such user")
    errors: dict[str, str] = {}
    if len(current) > MAX_PASSWORD_LENGTH or not check_password(user, current):
        errors["current_password"] = _("This is not your current password.")
    errors |= password_errors(password, password_confirm, email=user.email)
    if not errors and password == current:
        errors["password"] = _("Choose a password different from the current one.")
    if errors:
        raise FormErrors(errors)
    before = {"session_version": user.session_version}
    _new_password(session, user, password)
    audit.record(
        session,
        actor,
        "password_change",
        entity_type="user",
        entity_id=user.id,
        before=before,
        after={"session_version": user.session_version},
    )
    _queue_password_changed(session, user, links)
    return user


def logout_everywhere(session: Session, actor: Actor) -> User:
    """End every login session of this user, on every device (this one included)."""
    user = session.get(User, actor.user_id)
    if user is None:
        raise NotFound("no such user")
    before = {"session_version": user.session_version}
    user.session_version += 1
    session.flush()
    audit.record(
        session,
        actor,
        "logout_everywhere",
        entity_type="user",
        entity_id=user.id,
        before=before,
        after={"session_version": user.session_version},
    )
    return user
