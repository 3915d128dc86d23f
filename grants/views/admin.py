"""The administrator's pages: accounts (deactivate / reactivate) and the mail outbox."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from grants.runtime import db_session, runtime, transaction
from grants.services import accounts, mail, user_admin
from grants.services.workflow import NotFound
from grants.views.common import (
    PAGE_SIZE,
    actor,
    flash_done,
    page_number,
    pager_for,
    roles_required,
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
    rows, total = user_admin.list_users(
        db_session(), offset=(page - 1) * PER_PAGE, limit=PER_PAGE, search=search
    )
    return render_template(
        "admin/users.html",
        users=rows,
        pager=pager_for(page, total),
        pager_args={"q": search} if search else {},
        me=actor().user_id,
        search=search,
    )


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
    return redirect(url_for("admin.users", page=request.form.get("page", "1")))


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
