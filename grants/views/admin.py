"""The administrator's pages: accounts (invite, a person's page with their roles,
deactivate / reactivate) and the mail outbox."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from grants.runtime import db_session, runtime, transaction
from grants.services import accounts, mail, staff, user_admin
from grants.services.workflow import NotFound
from grants.views.account import welcome_link
from grants.views.common import (
    PAGE_SIZE,
    actor,
    flash_done,
    page_number,
    pager_for,
    roles_required,
    safe_next,
)
from workflows.roles import Role

bp = Blueprint("admin", __name__, url_prefix="/admin")
PER_PAGE = PAGE_SIZE


# -- accounts ----------------------------------------------------------------------------


@bp.route("/users")
@roles_required(Role.ADMIN)
def users() -> str:
    page = page_number()
    search = request.args.get("q", "")[:254]
    role = request.args.get("role", "")
    holding = Role(role) if role in set(Role) else None
    rows, total = user_admin.list_users(
        db_session(),
        offset=(page - 1) * PER_PAGE,
        limit=PER_PAGE,
        search=search,
        role=holding,
    )
    filters = {"q": search, "role": str(holding or "")}
    return render_template(
        "admin/users.html",
        users=rows,
        pager=pager_for(page, total),
        pager_args={name: value for name, value in filters.items() if value},
        holding=holding,
        me=actor().user_id,
        search=search,
        awaits_acceptance=staff.awaits_acceptance,
    )


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])


def _ticked_roles() -> list[Role]:
    """The roles ticked on the form (none ticked is refused by the service, with the form's
    other mistakes)."""
    return staff.parse_roles(request.form.getlist("roles"))


@bp.route("/users/invite", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def invite() -> str | Response:
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            with transaction() as db:
                user = staff.invite(
                    db,
                    actor(),
                    email=request.form.get("email", ""),
                    full_name=request.form.get("full_name", ""),
                    roles=_ticked_roles(),
                    secret_key=_secret(),
                    link=welcome_link,
                )
        except accounts.FormErrors as exc:
            errors = exc.errors
        except accounts.AccountRefused as exc:
            flash(str(exc), "error")
        else:
            flash_done(
                _(
                    "%(name)s is invited: the e-mail with a link to choose a password is on its "
                    "way to %(email)s.",
                    name=user.full_name,
                    email=user.email,
                )
            )
            return redirect(url_for("admin.person", user_id=user.id))
    return render_template(
        "admin/invite.html",
        errors=errors,
        values={k: request.form.get(k, "") for k in ("full_name", "email")},
        chosen=set(request.form.getlist("roles")),
        staff_roles=staff.STAFF_ROLES,
    )


def _person_page(user_id: int, errors: dict[str, str] | None = None) -> str:
    try:
        person = user_admin.get_user(db_session(), user_id)
    except NotFound:
        abort(404)
    # After a refused change the boxes stay as they were ticked, else the roles held.
    chosen = set(request.form.getlist("roles")) if errors else {str(role) for role in person.roles}
    return render_template(
        "admin/person.html",
        person=person,
        pending=staff.awaits_acceptance(person),
        errors=errors or {},
        chosen=chosen,
        staff_roles=staff.STAFF_ROLES,
        me=actor().user_id,
    )


@bp.route("/users/<int:user_id>")
@roles_required(Role.ADMIN)
def person(user_id: int) -> str:
    return _person_page(user_id)


@bp.route("/users/<int:user_id>/roles", methods=["POST"])
@roles_required(Role.ADMIN)
def set_roles(user_id: int) -> str | Response:
    try:
        with transaction() as db:
            user = staff.set_roles(db, actor(), user_id, _ticked_roles())
    except NotFound:
        abort(404)
    except accounts.FormErrors as exc:
        return _person_page(user_id, exc.errors)
    except accounts.AccountRefused as exc:
        flash(str(exc), "error")
    else:
        flash_done(
            _(
                "The roles of %(name)s are saved; they apply from the person's next page.",
                name=user.full_name,
            )
        )
    return redirect(url_for("admin.person", user_id=user_id))


@bp.route("/users/<int:user_id>/invitation", methods=["POST"])
@roles_required(Role.ADMIN)
def resend_invitation(user_id: int) -> Response:
    try:
        with transaction() as db:
            user = staff.resend_invitation(
                db, actor(), user_id, secret_key=_secret(), link=welcome_link
            )
    except NotFound:
        abort(404)
    except accounts.AccountRefused as exc:
        flash(str(exc), "error")
    else:
        flash_done(
            _(
                "A new invitation is on its way to %(email)s; the links sent before no longer "
                "work.",
                email=user.email,
            )
        )
    return redirect(url_for("admin.person", user_id=user_id))


def _set_active(user_id: int, *, active: bool) -> Response:
    try:
        with transaction() as db:
            user = user_admin.set_active(db, actor(), user_id, active=active)
    except NotFound:
        abort(404)
    except accounts.AccountRefused as exc:
        flash(str(exc), "error")
    else:
        if active:
            flash_done(_("%(name)s can log in again.", name=user.full_name))
        else:
            flash_done(_("%(name)s is deactivated and logged out everywhere.", name=user.full_name))
    # Back where the button was: the list's page, or the person's page (its form says so).
    return redirect(safe_next(url_for("admin.users", page=request.form.get("page", "1"))))


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@roles_required(Role.ADMIN)
def deactivate_user(user_id: int) -> Response:
    return _set_active(user_id, active=False)


@bp.route("/users/<int:user_id>/reactivate", methods=["POST"])
@roles_required(Role.ADMIN)
def reactivate_user(user_id: int) -> Response:
    return _set_active(user_id, active=True)


# -- mail outbox -------------------------------------------------------------------------


@bp.route("/mail")
@roles_required(Role.ADMIN)
def mail_outbox() -> str:
    page = page_number()
    to = request.args.get("to", "").strip()
    rows, total = mail.list_outbox(
        db_session(), offset=(page - 1) * PER_PAGE, limit=PER_PAGE, to=to or None
    )
    return render_template(
        "admin/mail.html",
        messages=rows,
        pager=pager_for(page, total),
        to=to,
        status_of=mail.status_of,
        config_mail_server=runtime().config.mail_server,
    )


@bp.route("/mail/<int:message_id>")
@roles_required(Role.ADMIN)
def mail_message(message_id: int) -> str:
    with transaction() as session:
        message = mail.get_message(session, message_id)
        if message is None:
            abort(404)
        body = mail.body_for_admin(
            session, actor(), message, delivered_by_smtp=bool(runtime().config.mail_server)
        )
    return render_template(
        "admin/mail_message.html", message=message, body=body, status=mail.status_of(message)
    )
