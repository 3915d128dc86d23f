"""Accounts: register, confirm the e-mail address, forgotten password, a staff member's
invitation, and "My account" (change password, log out on all devices, the role acted in)."""

from __future__ import annotations

from collections.abc import Callable

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user
from werkzeug.wrappers import Response

from grants.auth import start_session
from grants.models import User
from grants.runtime import db_session, runtime, transaction
from grants.services import accounts, staff
from grants.views.common import actor, flash_done
from workflows.roles import Role

bp = Blueprint("account", __name__)

# Pages whose address carries a token: never leak it in a Referer header or a cache.
_TOKEN_PAGES = {"account.confirm_email", "account.reset_password", "account.welcome"}


def external_url(endpoint: str, **values: str) -> str:
    """An absolute link for an e-mail: from CASCADE_PUBLIC_URL when set, else the request."""
    base = runtime().config.public_url
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def _links() -> accounts.Links:
    return accounts.Links(
        confirm=lambda token: external_url("account.confirm_email", token=token),
        reset=lambda token: external_url("account.reset_password", token=token),
        login=external_url("auth.login"),
        forgot=external_url("account.forgot_password"),
    )


def welcome_link(token: str) -> str:
    """The link of a staff invitation's e-mail (the administrator's invite page sends it)."""
    return external_url("account.welcome", token=token)


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])


def _origin() -> accounts.Origin:
    return accounts.Origin(request_id=g.get("request_id"), ip=request.remote_addr)


@bp.app_template_filter("held_roles")
def held_roles(user: User) -> list[Role]:
    """The roles a person holds, always in the same order (the switcher, the admin's lists)."""
    return [role for role in (Role.APPLICANT, *staff.STAFF_ROLES) if role in user.roles]


@bp.after_request
def protect_token_pages(response: Response) -> Response:
    if request.endpoint in _TOKEN_PAGES:
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
    return response


# -- registration and confirmation -------------------------------------------------------


@bp.route("/register", methods=["GET", "POST"])
def register() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = request.form
        try:
            with transaction() as db:
                accounts.register(
                    db,
                    full_name=form.get("full_name", ""),
                    email=form.get("email", ""),
                    password=form.get("password", ""),
                    password_confirm=form.get("password_confirm", ""),
                    secret_key=_secret(),
                    links=_links(),
                    origin=_origin(),
                )
        except accounts.FormErrors as exc:
            errors = exc.errors
        else:
            # The same answer whether or not the address already had an account.
            return redirect(url_for("account.check_inbox", sent="register"))
    return render_template(
        "auth/register.html",
        errors=errors,
        values={k: request.form.get(k, "") for k in ("full_name", "email")},
    )


@bp.route("/check-your-inbox")
def check_inbox() -> str:
    sent = request.args.get("sent", "register")
    if sent not in {"register", "confirm", "reset"}:
        sent = "register"
    return render_template("auth/check_inbox.html", sent=sent)


@bp.route("/confirm/<token>")
def confirm_email(token: str) -> str:
    try:
        with transaction() as db:
            outcome = accounts.confirm_email(db, token, secret_key=_secret(), origin=_origin())
    except accounts.TokenProblem as exc:
        return render_template("auth/link_problem.html", kind="confirm", expired=exc.expired)
    return render_template("auth/confirmed.html", already=outcome == accounts.Confirmation.ALREADY)


def _link_by_mail(send: Callable[..., None], *, sent: str, template: str) -> str | Response:
    """A page asking for a link by e-mail address. ``send`` mails it only when the address
    has a fitting account; the answer is the same either way, so it reveals no account."""
    if request.method == "POST":
        with transaction() as db:
            send(db, request.form.get("email", ""), secret_key=_secret(), links=_links())
        return redirect(url_for("account.check_inbox", sent=sent))
    return render_template(template, email=request.args.get("email", ""))


@bp.route("/confirm/resend", methods=["GET", "POST"])
def resend_confirmation() -> str | Response:
    return _link_by_mail(accounts.resend_confirmation, sent="confirm", template="auth/resend.html")


# -- forgotten password ------------------------------------------------------------------


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password() -> str | Response:
    return _link_by_mail(accounts.request_password_reset, sent="reset", template="auth/forgot.html")


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> str | Response:
    errors: dict[str, str] = {}
    try:
        if request.method == "POST":
            try:
                with transaction() as db:
                    user = accounts.reset_password(
                        db,
                        token,
                        password=request.form.get("password", ""),
                        password_confirm=request.form.get("password_confirm", ""),
                        secret_key=_secret(),
                        links=_links(),
                        origin=_origin(),
                    )
            except accounts.FormErrors as exc:
                errors = exc.errors
            else:
                start_session(user)
                flash_done(
                    _(
                        "Your new password is set and you are logged in. Every other session "
                        "of your account was logged out."
                    )
                )
                return redirect(url_for("dashboard.index"))
        user = accounts.user_for_reset(db_session(), token, secret_key=_secret())
    except accounts.TokenProblem as exc:
        return render_template("auth/link_problem.html", kind="reset", expired=exc.expired)
    return render_template("auth/reset.html", errors=errors, email=user.email)


# -- a staff member's invitation --------------------------------------------------------


@bp.route("/welcome/<token>", methods=["GET", "POST"])
def welcome(token: str) -> str | Response:
    errors: dict[str, str] = {}
    try:
        if request.method == "POST":
            try:
                with transaction() as db:
                    user = staff.accept_invitation(
                        db,
                        token,
                        password=request.form.get("password", ""),
                        password_confirm=request.form.get("password_confirm", ""),
                        secret_key=_secret(),
                        origin=_origin(),
                    )
            except accounts.FormErrors as exc:
                errors = exc.errors
            else:
                start_session(user)
                flash_done(
                    _(
                        "Welcome, %(name)s. Your password is set and you are logged in.",
                        name=user.full_name,
                    )
                )
                return redirect(url_for("dashboard.index"))
        user = staff.user_for_invitation(db_session(), token, secret_key=_secret())
    except accounts.TokenProblem as exc:
        return render_template("auth/welcome.html", user=None, expired=exc.expired)
    return render_template("auth/welcome.html", user=user, errors=errors)


# -- my account --------------------------------------------------------------------------


def _account_page(errors: dict[str, str] | None = None) -> str:
    return render_template("account/index.html", user=current_user, errors=errors or {})


@bp.route("/account")
@login_required
def index() -> str:
    return _account_page()


@bp.route("/account/password", methods=["POST"])
@login_required
def change_password() -> str | Response:
    try:
        with transaction() as db:
            user = accounts.change_password(
                db,
                actor(),
                current=request.form.get("current_password", ""),
                password=request.form.get("password", ""),
                password_confirm=request.form.get("password_confirm", ""),
                links=_links(),
            )
    except accounts.FormErrors as exc:
        return _account_page(exc.errors)
    # The raised session version ended every session; this one continues on a fresh login.
    start_session(user)
    flash_done(_("Your password is changed. Your other sessions were logged out."))
    return redirect(url_for("account.index"))


@bp.route("/account/logout-everywhere", methods=["POST"])
@login_required
def logout_everywhere() -> Response:
    with transaction() as db:
        accounts.logout_everywhere(db, actor())
    logout_user()
    session.clear()
    flash(_("You are logged out on every device, this one included."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/role", methods=["POST"])
@login_required
def switch_role() -> Response:
    try:
        # One name from the header's list; a name that is no staff role is refused here.
        chosen = staff.parse_roles([request.form.get("role", "")])
        if len(chosen) != 1:
            raise accounts.FormErrors({"role": _("Choose one of the roles you hold.")})
        with transaction() as db:
            staff.switch_role(db, actor(), chosen[0])
    except accounts.FormErrors:
        flash(_("Choose one of the roles you hold."), "error")
    except accounts.AccountRefused as exc:
        flash(str(exc), "error")
    else:
        flash_done(_("You now act as %(role)s.", role=_(chosen[0].label)))
    return redirect(url_for("dashboard.index"))
