"""What every view shares: who is acting, role checks, loading what a person may see."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from grants.errors import NotFound
from grants.models import Application, Call
from grants.runtime import current_actor, db_session, forget_reads, transaction
from grants.services import access
from grants.services.actor import Actor
from workflows import numbers
from workflows.errors import TransitionRefused
from workflows.i18n import N_
from workflows.registry import all_workflows, badge_of
from workflows.roles import Role

F = TypeVar("F", bound=Callable[..., Any])

# Statuses that are not workflow states (evaluations, documents, mails): their badge colour.
# Workflow states take theirs from the state facts beside each definition.
_OTHER_STATUS_CLASS = {
    "assigned": "warn",
    "accepted": "info",
    "conflict": "bad",
    "pending": "warn",
    "ready": "good",
    "failed": "bad",
}


# Statuses that are not workflow states: their words. A workflow state's words are the
# label in its state facts.
_OTHER_STATUS_LABEL = {
    "assigned": N_("Assigned"),
    "accepted": N_("Accepted"),
    "conflict": N_("Conflict"),
    "pending": N_("Pending"),
    "ready": N_("Ready"),
    "failed": N_("Failed"),
}


def status_label(status: str | None) -> str:
    """A status in the reader's language; a code nobody labelled reads as itself."""
    if not status:
        return ""
    status = str(status)
    for definition in all_workflows():
        if status in definition.facts:
            return gettext(definition.facts[status].label)
    if status in _OTHER_STATUS_LABEL:
        return gettext(_OTHER_STATUS_LABEL[status])
    text = status.replace("_", " ")
    return text[:1].upper() + text[1:]


def status_class(status: str | None) -> str:
    status = str(status)
    return _OTHER_STATUS_CLASS.get(status) or badge_of(status)


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
        NavItem(N_("My applications"), "dashboard.index"),
        NavItem(N_("Calls"), "public.home"),
    ],
    Role.OFFICER: [
        NavItem(N_("Dashboard"), "dashboard.index"),
        NavItem(N_("Calls"), "public.home"),
        NavItem(N_("Partners"), "partners.index"),
        NavItem(N_("Experts"), "experts.index"),
        NavItem(N_("Audit trail"), "auditor.index"),
        NavItem(N_("FSTP report"), "publication.programme_summary"),
    ],
    Role.EVALUATOR: [
        NavItem(N_("My evaluations"), "dashboard.index"),
        NavItem(N_("My call invitations"), "experts.invitations"),
        NavItem(N_("My expert profile"), "experts.profile"),
    ],
    Role.FINANCE: [
        NavItem(N_("Payments"), "dashboard.index"),
        NavItem(N_("SEPA batches"), "sepa.index"),
    ],
    Role.AUDITOR: [
        NavItem(N_("Applications"), "dashboard.index"),
        NavItem(N_("Audit trail"), "auditor.index"),
        NavItem(N_("SEPA batches"), "sepa.index"),
        NavItem(N_("FSTP report"), "publication.programme_summary"),
    ],
    Role.ADMIN: [
        NavItem(N_("Users"), "dashboard.index"),
        NavItem(N_("Partners"), "partners.index"),
    ],
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
    try:
        return access.visible_application(db_session(), actor(), application_id)
    except NotFound:
        abort(404)


def visible_call(call_id: int) -> Call:
    """Draft calls are the programme team's work in progress, not public."""
    staff = current_user.is_authenticated and Role(current_user.role) in (
        Role.OFFICER,
        Role.AUDITOR,
    )
    try:
        return access.visible_call(db_session(), call_id, staff=staff)
    except NotFound:
        abort(404)


def fresh_for_update() -> None:
    """Forget what the authorisation check read, so the service loads (and locks) current rows."""
    forget_reads()


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


def staff_call(call_id: int) -> Call:
    """Any call, drafts too, for the programme team's pages (the route checks the role)."""
    try:
        return access.visible_call(db_session(), call_id, staff=True)
    except NotFound:
        abort(404)


def switch_active(
    change: Callable[[Any], str], *, done: Callable[[str], str], back: str
) -> Response:
    """A deactivate or reactivate button: ``change(session)`` switches the row in one
    transaction and returns its name; ``done(name)`` is flashed, a refusal is flashed
    instead, an unknown row is 404. Either way, back to ``back``."""
    fresh_for_update()
    try:
        with transaction() as session:
            name = change(session)
    except NotFound:
        abort(404)
    except TransitionRefused as exc:
        flash_refused(exc)
    else:
        flash_done(done(name))
    return redirect(back)


# -- pages of long lists ---------------------------------------------------------------------

MAX_PAGE = 1_000_000
PAGE_SIZE = 50


@dataclass(frozen=True)
class Pager:
    page: int
    pages: int
    total: int


def page_number() -> int:
    """The ?page= asked for. Bounded: the offset is computed from it before the page count
    is known, and an offset beyond 64 bits is a database error, not an empty page."""
    try:
        return numbers.parse_integer(request.args.get("page", "1"), minimum=1, maximum=MAX_PAGE)
    except numbers.NumberRefused:
        return 1


def pager_for(page: int, total: int, size: int = PAGE_SIZE) -> Pager:
    pages = max((total + size - 1) // size, 1)
    return Pager(page=min(page, pages), pages=pages, total=total)
