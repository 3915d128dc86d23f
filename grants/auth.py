"""Logging in and out, passwords (argon2), and the rate limits on the account forms."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from flask import (
    Blueprint,
    Flask,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from grants.config import Config
from grants.models import User
from grants.runtime import transaction
from grants.services import accounts
from grants.services.accounts import check_password, hash_password
from grants.views.common import is_local_path
from workflows.i18n import N_

__all__ = ["bp", "check_password", "hash_password", "install_rate_limits", "start_session"]

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)

LOGIN_REFUSED = N_("E-mail or password is not correct, or the e-mail address is not confirmed yet.")


def _safe_next(target: str | None) -> str:
    return target if target and is_local_path(target) else url_for("dashboard.index")


def start_session(user: User) -> None:
    """Log ``user`` in on a brand-new session (no fixation), valid PERMANENT_SESSION_LIFETIME."""
    session.clear()
    login_user(user)
    session.permanent = True


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    refused = False
    if request.method == "POST":
        email = request.form.get("email", "")
        with transaction() as db:
            result = accounts.authenticate(db, email, request.form.get("password", ""))
        if result.user is not None:
            target = _safe_next(request.args.get("next"))
            start_session(result.user)
            log.info("login: user %s from %s", result.user.id, request.remote_addr)
            return redirect(target)
        # Not audited: failed logins are unauthenticated noise for the hash chain.
        log.warning(
            "login refused (%s) for %r from %s", result.refusal, email[:254], request.remote_addr
        )
        refused = True
    return render_template("auth/login.html", refused=refused, refused_message=_(LOGIN_REFUSED))


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.app_errorhandler(429)
def too_many_requests(_exc: HTTPException) -> tuple[str, int]:
    page = render_template(
        "errors/error.html",
        code=429,
        title=_("Too many attempts"),
        message=_(
            "For your security this form is paused after many attempts. Wait a few "
            "minutes, then try again. If you forgot your password, you can choose a new one."
        ),
    )
    return page, 429


# -- rate limits -------------------------------------------------------------------------


def _submitted_email() -> str:
    """Key for the per-address limits: stops slow guessing on one account from many IPs."""
    return "email:" + request.form.get("email", "").strip().lower()[:254]


def _logged_in_user() -> str:
    return f"user:{current_user.id}" if current_user.is_authenticated else "user:anonymous"


def _failed(response: Response) -> bool:
    # A refused login or password change shows the form again; a success redirects.
    return response.status_code != 302


@dataclass(frozen=True)
class RateLimit:
    limit: str
    key: Callable[[], str] = get_remote_address
    only_failures: bool = False


# POST only. Logins count failures, so an office behind one address logging in every
# morning is not throttled; the forms that send e-mail count every request.
RATE_LIMITS: dict[str, tuple[RateLimit, ...]] = {
    "auth.login": (
        RateLimit("10 per minute;50 per hour", only_failures=True),
        RateLimit("5 per minute;20 per hour", _submitted_email, only_failures=True),
    ),
    "account.register": (
        RateLimit("5 per minute;30 per hour"),
        RateLimit("5 per hour", _submitted_email),
    ),
    "account.resend_confirmation": (
        RateLimit("5 per minute;30 per hour"),
        RateLimit("5 per hour", _submitted_email),
    ),
    "account.forgot_password": (
        RateLimit("5 per minute;30 per hour"),
        RateLimit("5 per hour", _submitted_email),
    ),
    "account.reset_password": (RateLimit("10 per minute;50 per hour"),),
    # An invitation link sets the first password: limited like a reset link.
    "account.welcome": (RateLimit("10 per minute;50 per hour"),),
    "account.change_password": (RateLimit("10 per hour", _logged_in_user, only_failures=True),),
}


def install_rate_limits(app: Flask, config: Config) -> Limiter:
    """One limiter per app (its counters live in RATELIMIT_STORAGE_URI), wrapped around the
    POST handlers of RATE_LIMITS; a request over a limit gets the 429 page."""
    limiter = Limiter(
        key_func=get_remote_address,
        storage_uri=config.ratelimit_storage_uri,
        enabled=config.ratelimit_enabled,
        headers_enabled=True,
        key_prefix=config.ratelimit_key_prefix,
    )
    limiter.init_app(app)
    if not config.ratelimit_enabled:
        return limiter
    for endpoint, limits in RATE_LIMITS.items():
        view = app.view_functions[endpoint]
        for rule in limits:
            view = limiter.limit(
                rule.limit,
                key_func=rule.key,
                methods=["POST"],
                deduct_when=_failed if rule.only_failures else None,
            )(view)
        app.view_functions[endpoint] = view
    return limiter
