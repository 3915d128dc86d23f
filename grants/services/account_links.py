"""The links mailed to account owners and the mails that carry them.

Links carry tokens signed with the application's secret key (itsdangerous): a confirmation
token is valid 48 hours and names the address it confirms; a reset token is valid one hour
and carries a fingerprint of the current password hash, so it works once (the new password
changes the fingerprint) and dies when the password is changed otherwise.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from grants import programme
from grants.db import utcnow
from grants.models import User
from grants.services import mail
from grants.services.credentials import normalise_email

CONFIRM_MAX_AGE = timedelta(hours=48)
RESET_MAX_AGE = timedelta(hours=1)
CONFIRM_SALT = "cascade.confirm-email"
RESET_SALT = "cascade.reset-password"


class TokenProblem(Exception):
    """A link from an e-mail that cannot be used: ``expired`` or otherwise invalid."""

    def __init__(self, *, expired: bool) -> None:
        super().__init__("the link has expired" if expired else "the link is not valid")
        self.expired = expired


@dataclass(frozen=True)
class Links:
    """Absolute links for e-mails. The web layer knows the site's address; services don't."""

    confirm: Callable[[str], str]
    reset: Callable[[str], str]
    login: str
    forgot: str


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
    return token_serializer(secret_key, CONFIRM_SALT, issued_at).dumps(
        {"u": user.id, "e": normalise_email(user.email)}
    )


def reset_token(secret_key: str, user: User, *, issued_at: datetime | None = None) -> str:
    return token_serializer(secret_key, RESET_SALT, issued_at).dumps(
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


def queue_confirmation(session: Session, user: User, secret_key: str, links: Links) -> None:
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


def queue_account_exists(session: Session, user: User, secret_key: str, links: Links) -> None:
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


def queue_reset(session: Session, user: User, secret_key: str, links: Links) -> None:
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


def queue_password_changed(session: Session, user: User, links: Links) -> None:
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
