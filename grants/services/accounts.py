"""Accounts: registration with e-mail confirmation, login checks, password reset and change,
logout everywhere, and the administrator's (de)activation of accounts.

Nothing here tells a stranger whether an e-mail address has an account: registering a taken
address, asking for a reset or for a new confirmation link all answer the same, and only the
owner of the address learns more, by e-mail.

Links in e-mails carry signed tokens (``account_links``); e-mail addresses and passwords are
checked and hashed by ``credentials``. Both are gathered here under the names callers use.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grants.db import utcnow
from grants.models import User
from grants.services import audit
from grants.services.account_links import (
    CONFIRM_MAX_AGE,
    CONFIRM_SALT,
    RESET_MAX_AGE,
    RESET_SALT,
    Links,
    TokenProblem,
    confirmation_token,
    load_token,
    password_fingerprint,
    queue_account_exists,
    queue_confirmation,
    queue_password_changed,
    queue_reset,
    reset_token,
    token_serializer,
)
from grants.services.actor import Actor
from grants.services.credentials import (
    COMMON_PASSWORDS,
    EMAIL_PATTERN,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    check_password,
    hash_password,
    needs_rehash,
    normalise_email,
    password_errors,
)
from grants.services.workflow import NotFound
from workflows.i18n import _
from workflows.roles import Role

__all__ = [
    "COMMON_PASSWORDS",
    "CONFIRM_MAX_AGE",
    "EMAIL_PATTERN",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "RESET_MAX_AGE",
    "AccountRefused",
    "Confirmation",
    "FormErrors",
    "Links",
    "LoginRefusal",
    "LoginResult",
    "Origin",
    "TokenProblem",
    "authenticate",
    "change_password",
    "check_password",
    "confirm_email",
    "confirmation_token",
    "find_user",
    "hash_password",
    "load_token",
    "logout_everywhere",
    "normalise_email",
    "password_errors",
    "password_fingerprint",
    "register",
    "request_password_reset",
    "resend_confirmation",
    "reset_password",
    "reset_token",
    "token_serializer",
    "user_for_reset",
]

log = logging.getLogger(__name__)


# -- errors and small types --------------------------------------------------------------


class FormErrors(Exception):
    """The request was refused; ``errors`` maps each form field to what to correct."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class AccountRefused(Exception):
    """An account action that may not happen; the message tells a person why."""


@dataclass(frozen=True)
class Origin:
    """Where an anonymous request came from, for the audit trail of what it changed."""

    request_id: str | None = None
    ip: str | None = None


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))


def _actor(user: User, origin: Origin) -> Actor:
    return Actor.of(user, request_id=origin.request_id, ip=origin.ip)


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
            queue_confirmation(session, user, secret_key, links)
            return
    queue_account_exists(session, existing, secret_key, links)


class Confirmation(StrEnum):
    CONFIRMED = "confirmed"
    ALREADY = "already"


def confirm_email(session: Session, token: str, *, secret_key: str, origin: Origin) -> Confirmation:
    """Confirm the address a link was sent to; using the link again changes nothing."""
    data = load_token(secret_key, CONFIRM_SALT, token, CONFIRM_MAX_AGE)
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
        queue_confirmation(session, user, secret_key, links)


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
    if needs_rehash(user.password_hash):  # argon2 parameters were raised
        user.password_hash = hash_password(password)
        session.flush()
    return LoginResult(user)


# -- password reset and change, logout everywhere ----------------------------------------


def request_password_reset(session: Session, email: str, *, secret_key: str, links: Links) -> None:
    """Mail a one-hour reset link if the address has an active account; else do nothing."""
    user = find_user(session, email)
    if user is not None and user.active:
        queue_reset(session, user, secret_key, links)


def user_for_reset(session: Session, token: str, *, secret_key: str) -> User:
    """The account a reset link is for, or TokenProblem (expired, used, or not ours)."""
    data = load_token(secret_key, RESET_SALT, token, RESET_MAX_AGE)
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
    queue_password_changed(session, user, links)
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
    queue_password_changed(session, user, links)
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
