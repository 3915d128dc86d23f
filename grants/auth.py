"""Passwords (argon2) and the login/logout pages."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from grants.app import db_session
from grants.models import User

_hasher = PasswordHasher()
# Verifying against this when the e-mail is unknown takes as long as a real check, so
# response time does not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

bp = Blueprint("auth", __name__)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User | None, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and bool(user)
    except (VerificationError, InvalidHashError):
        return False


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect after login is a phishing aid.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("dashboard.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    if request.method == "POST":
        email = request.form.get("email", "").strip().lower()
        password = request.form.get("password", "")
        user = db_session().scalar(select(User).where(func.lower(User.email) == email))
        if check_password(user, password) and user is not None and user.active:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        flash("E-mail or password is not correct.", "error")
    return render_template("auth/login.html")


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
