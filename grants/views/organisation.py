"""The applicant's organisation: register it, keep its profile, invite colleagues.

Officers and auditors read any organisation's profile (``/organisations/<id>``), which the
officer dashboard links to from its "possible duplicate organisations" panel.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from grants.models import Organisation, User
from grants.runtime import DbSession, db_session, transaction
from grants.services import organisations
from grants.services.actor import Actor
from grants.services.applications import ValidationFailed
from grants.services.organisations import InvitationInvalid
from grants.views.common import (
    actor,
    flash_done,
    flash_refused,
    fresh_for_update,
    roles_required,
    safe_next,
)
from grants.views.public import start_draft
from workflows import registration_numbers
from workflows.errors import TransitionRefused
from workflows.roles import Role

bp = Blueprint("organisation", __name__)

# Empty rows offered under the filled ones, so a row can be added without JavaScript.
BLANK_ROWS = 2
_ROW_KEY = re.compile(r"^(related_enterprises|related_links|de_minimis_aid)-(\d{1,3})-([a-z_]+)$")


def _posted_rows(
    form: MultiDict[str, str], group: str, names: tuple[str, ...], typed: tuple[str, ...]
) -> list[dict[str, str]]:
    """Rows as typed, in order; rows marked for removal and rows left empty (nothing
    ``typed``: a select always has a value) are dropped."""
    rows: dict[int, dict[str, str]] = {}
    for key in form:
        match = _ROW_KEY.match(key)
        if match and match.group(1) == group and match.group(3) in (*names, "remove"):
            rows.setdefault(int(match.group(2)), {})[match.group(3)] = form.get(key, "")
    kept = []
    for index in sorted(rows):
        row = rows[index]
        if row.pop("remove", ""):
            continue
        if not any(row.get(n, "").strip() for n in typed):
            continue
        kept.append({n: row.get(n, "") for n in names})
    return kept


def _posted_profile(form: MultiDict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {name: form.get(name, "") for name in organisations.SCALAR_FIELDS}
    data["related_enterprises"] = _posted_rows(
        form, "related_enterprises", organisations.RELATED_FIELDS, organisations.RELATED_TYPED
    )
    data["related_links"] = _posted_rows(
        form, "related_links", organisations.LINK_FIELDS, organisations.LINK_TYPED
    )
    aid = organisations.AID_FIELDS
    data["de_minimis_aid"] = _posted_rows(form, "de_minimis_aid", aid, aid)
    return data


def _with_blank_rows(values: dict[str, Any]) -> dict[str, Any]:
    shown = dict(values)
    shown["related_enterprises"] = list(values.get("related_enterprises") or []) + [
        {"relation": "partner"} for _ in range(BLANK_ROWS)
    ]
    shown["related_links"] = list(values.get("related_links") or []) + [
        {} for _ in range(BLANK_ROWS)
    ]
    shown["de_minimis_aid"] = list(values.get("de_minimis_aid") or []) + [
        {} for _ in range(BLANK_ROWS)
    ]
    return shown


def _render(
    org: Organisation | None,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    invite_email: str = "",
    invite_errors: dict[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    shown = values if values is not None else organisations.form_values(org)
    context: dict[str, Any] = {
        "org": org,
        "manager": organisations.is_manager(db_session(), actor()),
        "values": _with_blank_rows(shown),
        "filled_rows": len(shown["related_enterprises"]),
        "filled_links": len(shown.get("related_links") or []),
        "filled_aid": len(shown["de_minimis_aid"]),
        "errors": errors or {},
        "error_label": organisations.error_label,
        "country_groups": registration_numbers.country_groups(),
        "schemes": registration_numbers.REGISTRATION_SCHEMES,
        "invite_email": invite_email,
        "invite_errors": invite_errors or {},
        "next": safe_next(""),
        "apply": _call_to_apply(),
    }
    if org is not None:
        context.update(_profile_context(org))
    template = "organisation/profile.html" if org is not None else "organisation/create.html"
    return render_template(template, **context), status


def _profile_context(org: Organisation) -> dict[str, Any]:
    session = db_session()
    return {
        "sme": organisations.sme_result(org),
        "de_minimis": organisations.de_minimis_summary(org.de_minimis_aid),
        "members": organisations.members(session, org.id),
        "scheme_note": registration_numbers.check_note(org.country, org.registration_number),
        "invite_days": organisations.INVITE_DAYS,
    }


@bp.route("/organisation", methods=["GET", "POST"])
@roles_required(Role.APPLICANT)
def profile() -> tuple[str, int] | Response:
    org = organisations.own_organisation(db_session(), actor())
    if request.method == "GET":
        return _render(org)
    data = _posted_profile(request.form)
    fresh_for_update()
    try:
        with transaction() as session:
            if org is None:
                saved = organisations.create_organisation(session, actor(), data)
                changed = ["everything"]
            else:
                result = organisations.update_profile(session, actor(), org.id, data)
                saved, changed = result.organisation, result.changed
            name = saved.legal_name
            note = registration_numbers.check_note(saved.country, saved.registration_number)
    except ValidationFailed as exc:
        return _render(
            organisations.own_organisation(db_session(), actor()),
            values=data,
            errors=exc.errors,
            status=422,
        )
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(url_for("organisation.profile"))
    if org is None:
        flash_done(
            _(
                "%(name)s is registered and you are its manager (registration number: %(note)s). "
                "You can invite colleagues from your organisation's page.",
                name=name,
                note=note,
            )
        )
        call_id = _call_to_apply()
        if call_id is not None:
            return start_draft(call_id)
        return redirect(safe_next(url_for("organisation.profile")))
    if changed:
        flash_done(
            _("Profile of %(name)s saved (registration number: %(note)s).", name=name, note=note)
        )
    else:
        flash_done(_("Nothing was changed."))
    return redirect(url_for("organisation.profile"))


def _call_to_apply() -> int | None:
    """The call the applicant was starting an application to when sent here to register the
    organisation first: once it is registered, the application starts."""
    raw = request.values.get("apply", "")
    return int(raw) if raw.isdigit() else None


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])


@bp.route("/organisation/invite", methods=["POST"])
@roles_required(Role.APPLICANT)
def invite() -> tuple[str, int] | Response:
    email = request.form.get("email", "").strip()
    fresh_for_update()
    try:
        with transaction() as session:
            message = organisations.invite(
                session,
                actor(),
                email,
                secret=_secret(),
                link=lambda token: url_for("organisation.join", token=token, _external=True),
            )
            address = message.to_address
    except ValidationFailed as exc:
        org = organisations.own_organisation(db_session(), actor())
        return _render(org, invite_email=email, invite_errors=exc.errors, status=422)
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(url_for("organisation.profile"))
    flash_done(
        _(
            "Invitation sent to %(address)s. The link works for %(days)s days.",
            address=address,
            days=organisations.INVITE_DAYS,
        )
    )
    return redirect(url_for("organisation.profile") + "#people")


def _change_member(
    change: Callable[[DbSession, Actor, int], User], user_id: int, done: Callable[[str], str]
) -> Response:
    """The manager's change to a colleague's access: the refusal, or ``done`` with the
    colleague's name, shown back on the people section."""
    fresh_for_update()
    try:
        with transaction() as session:
            name = change(session, actor(), user_id).full_name
    except TransitionRefused as exc:
        flash_refused(exc)
    else:
        flash_done(done(name))
    return redirect(url_for("organisation.profile") + "#people")


@bp.route("/organisation/members/<int:user_id>/remove", methods=["POST"])
@roles_required(Role.APPLICANT)
def remove_member(user_id: int) -> Response:
    return _change_member(
        organisations.remove_member,
        user_id,
        lambda name: _("%(name)s no longer has access to your organisation.", name=name),
    )


@bp.route("/organisation/members/<int:user_id>/manager", methods=["POST"])
@roles_required(Role.APPLICANT)
def make_manager(user_id: int) -> Response:
    return _change_member(
        organisations.transfer_manager,
        user_id,
        lambda name: _("%(name)s is now the manager of your organisation.", name=name),
    )


@bp.route("/organisation/join/<token>", methods=["GET", "POST"])
@roles_required(Role.APPLICANT)
def join(token: str) -> tuple[str, int] | Response:
    session = db_session()
    if request.method == "POST":
        fresh_for_update()
        try:
            with transaction() as session:
                org = organisations.join(session, actor(), token, secret=_secret())
                name = org.legal_name
        except TransitionRefused as exc:
            status = 400 if isinstance(exc, InvitationInvalid) else 409
            return render_template("organisation/join.html", problem=exc, token=token), status
        flash_done(_("Welcome to %(name)s: you can now work on its applications.", name=name))
        return redirect(url_for("organisation.profile"))
    try:
        invitation = organisations.read_invitation(session, token, secret=_secret())
    except InvitationInvalid as exc:
        return render_template("organisation/join.html", problem=exc, token=token), 400
    return render_template(
        "organisation/join.html",
        invitation=invitation,
        own=organisations.own_organisation(session, actor()),
        token=token,
        email_matches=str(current_user.email).lower() == invitation.email,
    ), 200


@bp.route("/organisations/<int:organisation_id>")
@roles_required(Role.OFFICER, Role.AUDITOR)
def show(organisation_id: int) -> str:
    session = db_session()
    org = organisations.get_organisation(session, actor(), organisation_id)
    return render_template(
        "organisation/show.html",
        org=org,
        applications=organisations.applications_of(session, actor(), org.id),
        duplicates=organisations.duplicates_of(session, org.id),
        **_profile_context(org),
    )
