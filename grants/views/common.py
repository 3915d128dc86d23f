"""What every view shares: who is acting, role checks, loading what a person may see."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import abort, flash, request, url_for
from flask_login import current_user, login_required

from grants.app import current_actor, db_session
from grants.models import Application, Call
from grants.services import access
from grants.services.actor import Actor
from grants.services.workflow import NotFound
from workflows.call import CallState
from workflows.errors import TransitionRefused
from workflows.roles import Role

F = TypeVar("F", bound=Callable[..., Any])

# How each status reads and which colour family its badge takes.
_STATUS_CLASS = {
    "draft": "neutral",
    "submitted": "info",
    "eligible": "info",
    "in_evaluation": "info",
    "evaluated": "info",
    "reserve": "warn",
    "selected": "good",
    "offered": "good",
    "contracted": "good",
    "report_submitted": "info",
    "report_approved": "good",
    "payment_prepared": "warn",
    "payment_authorised": "warn",
    "paid": "good",
    "closed": "neutral",
    "withdrawn": "neutral",
    "ineligible": "bad",
    "rejected": "bad",
    "declined": "neutral",
    "terminated": "bad",
    # calls
    "published": "good",
    "evaluating": "info",
    "results": "good",
    "archived": "neutral",
    # payments, evaluations and documents
    "prepared": "warn",
    "authorised": "warn",
    "cancelled": "neutral",
    "withheld": "bad",
    "assigned": "warn",
    "accepted": "info",
    "conflict": "bad",
    "pending": "warn",
    "ready": "good",
    "failed": "bad",
}


def status_label(status: str | None) -> str:
    if not status:
        return ""
    text = str(status).replace("_", " ")
    return text[:1].upper() + text[1:]


def status_class(status: str | None) -> str:
    return _STATUS_CLASS.get(str(status), "neutral")


@dataclass(frozen=True)
class NavItem:
    label: str
    endpoint: str
    kwargs: tuple[tuple[str, str], ...] = ()

    @property
    def url(self) -> str:
        return url_for(self.endpoint, **dict(self.kwargs))


_NAV: dict[Role, list[NavItem]] = {
    Role.APPLICANT: [
        NavItem("My applications", "dashboard.index"),
        NavItem("Calls", "public.home"),
    ],
    Role.OFFICER: [
        NavItem("Dashboard", "dashboard.index"),
        NavItem("Calls", "public.home"),
        NavItem("Audit trail", "auditor.index"),
    ],
    Role.EVALUATOR: [NavItem("My evaluations", "dashboard.index")],
    Role.FINANCE: [NavItem("Payments", "dashboard.index")],
    Role.AUDITOR: [
        NavItem("Applications", "dashboard.index"),
        NavItem("Audit trail", "auditor.index"),
    ],
    Role.ADMIN: [NavItem("Users", "dashboard.index")],
}


def nav_for(role: Role) -> list[NavItem]:
    return _NAV.get(role, [])


def role() -> Role:
    return Role(current_user.role)


def actor() -> Actor:
    return current_actor()


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Logged in (else to the login page) and one of ``roles`` (else 403)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if Role(current_user.role) not in roles:
                abort(403)
            return view(*args, **kwargs)

        return login_required(wrapper)  # type: ignore[return-value]

    return decorate


def visible_application(application_id: int) -> Application:
    """The application, if this person may see it; otherwise 404 (never 403: an applicant
    must not learn that another SME's application exists)."""
    application = db_session().get(Application, application_id)
    if application is None:
        abort(404)
    try:
        access.require_view(actor(), application)
    except NotFound:
        abort(404)
    return application


def visible_call(call_id: int) -> Call:
    """Draft calls are the programme team's work in progress, not public."""
    call = db_session().get(Call, call_id)
    if call is None:
        abort(404)
    staff = current_user.is_authenticated and Role(current_user.role) in (
        Role.OFFICER,
        Role.AUDITOR,
    )
    if call.status == CallState.DRAFT and not staff:
        abort(404)
    return call


def fresh_for_update() -> None:
    """Forget what the authorisation check read, so the service loads (and locks) current rows."""
    db_session().expire_all()


def flash_refused(exc: TransitionRefused) -> None:
    text = exc.message[:1].upper() + exc.message[1:]
    reasons = [r[:1].upper() + r[1:] for r in exc.reasons]
    flash({"text": text + ("." if not reasons else ":"), "items": reasons}, "error")


def flash_done(message: str) -> None:
    flash(message, "success")


def is_local_path(target: str | None) -> bool:
    """Only paths on this site: an open redirect is a phishing aid. Browsers read a
    backslash as a slash, so "/\\evil.example" would leave the site too; they also drop tabs
    and line breaks, so "/\\t/evil.example" is "//evil.example" (and a line break cannot go
    in a header at all)."""
    return (
        bool(target)
        and target.startswith("/")
        and not target.startswith("//")
        and ("\\" not in target)
        and not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target)
    )


def safe_next(default: str) -> str:
    target = request.form.get("next") or request.args.get("next")
    return target if target and is_local_path(target) else default
