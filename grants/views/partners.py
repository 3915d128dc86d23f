"""The consortium's partners: the list officers and administrators keep, and the partners of
each call (the officer's choice of who manages it and whose staff work on it)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from grants.errors import NotFound, ValidationFailed
from grants.models import Call, ConsortiumPartner
from grants.runtime import db_session, transaction
from grants.services import partners
from grants.views.common import (
    actor,
    flash_done,
    flash_refused,
    fresh_for_update,
    role,
    roles_required,
    staff_call,
    switch_active,
)
from workflows import registration_numbers
from workflows.errors import TransitionRefused
from workflows.roles import Role

bp = Blueprint("partners", __name__, url_prefix="/partners")


@bp.route("")
@roles_required(*partners.EDITORS)
def index() -> str:
    session = db_session()
    return render_template(
        "partners/index.html",
        partners=partners.list_partners(session),
        # Officers choose each call's partners; the administrator keeps the list only.
        calls=partners.calls_with_partners(session) if role() == Role.OFFICER else [],
    )


def _posted() -> dict[str, str]:
    return {name: request.form.get(name, "") for name in partners.FIELDS}


def _form(
    partner: ConsortiumPartner | None,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    return (
        render_template(
            "partners/form.html",
            partner=partner,
            values=values if values is not None else partners.form_values(partner),
            errors=errors or {},
            error_label=partners.error_label,
            country_groups=registration_numbers.country_groups(),
        ),
        status,
    )


def _partner(partner_id: int) -> ConsortiumPartner:
    try:
        return partners.get_partner(db_session(), partner_id)
    except NotFound:
        abort(404)


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*partners.EDITORS)
def new() -> tuple[str, int] | Response:
    if request.method == "GET":
        return _form(None)
    data = _posted()
    try:
        with transaction() as session:
            short_name = partners.create_partner(session, actor(), data).short_name
    except ValidationFailed as exc:
        return _form(None, values=data, errors=exc.errors, status=422)
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(url_for("partners.index"))
    flash_done(_("%(short)s is on the list of consortium partners.", short=short_name))
    return redirect(url_for("partners.index"))


@bp.route("/<int:partner_id>/edit", methods=["GET", "POST"])
@roles_required(*partners.EDITORS)
def edit(partner_id: int) -> tuple[str, int] | Response:
    partner = _partner(partner_id)
    if request.method == "GET":
        return _form(partner)
    data = _posted()
    fresh_for_update()
    try:
        with transaction() as session:
            saved, changed = partners.update_partner(session, actor(), partner_id, data)
            short_name = saved.short_name
    except NotFound:
        abort(404)
    except ValidationFailed as exc:
        return _form(_partner(partner_id), values=data, errors=exc.errors, status=422)
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(url_for("partners.index"))
    if changed:
        flash_done(_("%(short)s is saved.", short=short_name))
    else:
        flash_done(_("Nothing was changed."))
    return redirect(url_for("partners.index"))


def _set_active(partner_id: int, *, active: bool) -> Response:
    def done(short: str) -> str:
        if active:
            return _("%(short)s is an active partner again.", short=short)
        return _(
            "%(short)s is deactivated: its organisation no longer counts as a partner, "
            "and it cannot be chosen for a call.",
            short=short,
        )

    return switch_active(
        lambda session: partners.set_active(session, actor(), partner_id, active=active).short_name,
        done=done,
        back=url_for("partners.index"),
    )


@bp.route("/<int:partner_id>/deactivate", methods=["POST"])
@roles_required(*partners.EDITORS)
def deactivate(partner_id: int) -> Response:
    return _set_active(partner_id, active=False)


@bp.route("/<int:partner_id>/reactivate", methods=["POST"])
@roles_required(*partners.EDITORS)
def reactivate(partner_id: int) -> Response:
    return _set_active(partner_id, active=True)


# -- the partners of a call ------------------------------------------------------------------
def _id(value: str) -> int | None:
    # Anything but a row id is no choice at all; the service says what is missing.
    return int(value) if value.isdigit() and len(value) < 10 else None


def _call_form(
    call: Call, *, chosen: dict[str, Any] | None = None, errors: dict[str, str] | None = None
) -> tuple[str, int]:
    if chosen is None:
        chosen = {
            "managing_partner_id": call.managing_partner_id,
            "partner_ids": {p.id for p in call.partners},
        }
    # Deactivated partners are offered only where the call already names them.
    named = chosen["partner_ids"] | {call.managing_partner_id} | {p.id for p in call.partners}
    offered = [p for p in partners.list_partners(db_session()) if p.active or p.id in named]
    return (
        render_template(
            "partners/call.html",
            call=call,
            offered=offered,
            chosen=chosen,
            errors=errors or {},
            error_label=partners.error_label,
        ),
        422 if errors else 200,
    )


@bp.route("/calls/<int:call_id>", methods=["GET", "POST"])
@roles_required(Role.OFFICER)
def call_partners(call_id: int) -> tuple[str, int] | Response:
    call = staff_call(call_id)
    if request.method == "GET":
        return _call_form(call)
    managing = _id(request.form.get("managing_partner_id", ""))
    working = [i for i in map(_id, request.form.getlist("partner_ids")) if i is not None]
    fresh_for_update()
    try:
        with transaction() as session:
            saved, changed = partners.set_call_partners(
                session, actor(), call_id, managing, working
            )
            reference = saved.reference
    except ValidationFailed as exc:
        chosen = {"managing_partner_id": managing, "partner_ids": set(working)}
        return _call_form(staff_call(call_id), chosen=chosen, errors=exc.errors)
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(url_for("partners.call_partners", call_id=call_id))
    if changed:
        flash_done(_("The partners of %(reference)s are saved.", reference=reference))
    else:
        flash_done(_("Nothing was changed."))
    return redirect(url_for("partners.call_partners", call_id=call_id))
