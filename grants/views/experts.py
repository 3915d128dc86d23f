"""The expert pool: the evaluator's profile and call invitations; the officer's keyword list,
list of experts and each call's pool."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from grants.errors import NotFound, ValidationFailed
from grants.models import Call, User
from grants.runtime import db_session, transaction
from grants.services import expert_pool, experts
from grants.views.common import (
    actor,
    flash_done,
    flash_refused,
    fresh_for_update,
    roles_required,
    staff_call,
    switch_active,
)
from workflows import conflicts, registration_numbers
from workflows.errors import TransitionRefused
from workflows.roles import Role

bp = Blueprint("experts", __name__)


@bp.app_template_filter("language_name")
def language_name(code: str) -> str:
    return experts.language_name(code)


# -- profiles --------------------------------------------------------------------------------
def _expert(user_id: int) -> User:
    try:
        return experts.expert(db_session(), user_id)
    except NotFound:
        abort(404)


def _posted_profile() -> dict[str, Any]:
    form = request.form
    return {
        "country": form.get("country", ""),
        "organisation": form.get("organisation", ""),
        "organisation_domain": form.get("organisation_domain", ""),
        "languages": form.getlist("languages"),
        "other_languages": form.get("other_languages", ""),
        "keyword_ids": form.getlist("keyword_ids"),
        "bio": form.get("bio", ""),
        "organisation_number": form.get("organisation_number", ""),
        "ties": _posted_ties(),
    }


def _posted_ties() -> list[dict[str, str]]:
    """The rows of declared ties as posted (``ties.<row>.<part>``), in row order."""
    rows: dict[int, dict[str, str]] = {}
    for key, value in request.form.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "ties" and parts[1].isdigit() and len(parts[1]) < 3:
            rows.setdefault(int(parts[1]), {})[parts[2]] = value
    return [rows[row] for row in sorted(rows)]


def _profile_form(
    user: User,
    *,
    own: bool,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> tuple[str, int]:
    session = db_session()
    profile = experts.profile_of(session, user.id)
    held = {k.id for k in profile.keywords} if profile else set()
    # Withdrawn keywords are offered only to the profiles that already carry them.
    offered = [k for k in experts.list_keywords(session) if k.active or k.id in held]
    return (
        render_template(
            "experts/profile.html",
            expert=user,
            profile=profile,
            own=own,
            values=values if values is not None else experts.form_values(user, profile),
            errors=errors or {},
            error_label=experts.error_label,
            keywords=offered,
            eu_languages=sorted(experts.EU_LANGUAGES, key=experts.language_name),
            country_groups=registration_numbers.country_groups(),
            relation_labels=conflicts.RELATION_LABELS,
        ),
        422 if errors else 200,
    )


def _save_profile(user_id: int, *, own: bool, done: str) -> tuple[str, int] | Response:
    data = _posted_profile()
    fresh_for_update()
    try:
        with transaction() as session:
            _profile, changed = experts.save_profile(session, actor(), user_id, data)
    except NotFound:
        abort(404)
    except ValidationFailed as exc:
        return _profile_form(_expert(user_id), own=own, values=data, errors=exc.errors)
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(request.path)
    flash_done(done if changed else _("Nothing was changed."))
    return redirect(request.path)


@bp.route("/experts/profile", methods=["GET", "POST"])
@roles_required(Role.EVALUATOR)
def profile() -> tuple[str, int] | Response:
    user_id = actor().user_id or 0
    if request.method == "GET":
        return _profile_form(_expert(user_id), own=True)
    return _save_profile(user_id, own=True, done=_("Your expert profile is saved."))


@bp.route("/experts/<int:user_id>/profile", methods=["GET", "POST"])
@roles_required(*experts.EDITORS)
def edit_profile(user_id: int) -> tuple[str, int] | Response:
    user = _expert(user_id)
    if request.method == "GET":
        return _profile_form(user, own=False)
    return _save_profile(
        user_id, own=False, done=_("The profile of %(name)s is saved.", name=user.full_name)
    )


# -- the evaluator's invitations -------------------------------------------------------------
def _invitations_page(
    *, errors: dict[str, str] | None = None, values: dict[str, str] | None = None
) -> tuple[str, int]:
    session = db_session()
    me = actor()
    return (
        render_template(
            "experts/invitations.html",
            invitations=expert_pool.my_invitations(session, me),
            has_profile=experts.profile_of(session, me.user_id or 0) is not None,
            errors=errors or {},
            values=values or {},
            error_label=experts.error_label,
        ),
        422 if errors else 200,
    )


@bp.route("/experts/invitations")
@roles_required(Role.EVALUATOR)
def invitations() -> tuple[str, int]:
    return _invitations_page()


def _answer(call_id: int, *, accept: bool) -> tuple[str, int] | Response:
    # Each invitation has its own form on the page: its fields carry the call's id.
    values = {
        name: request.form.get(f"{name}-{call_id}", "")
        for name in ("max_applications", "availability_note", "decline_reason")
    }
    fresh_for_update()
    try:
        with transaction() as session:
            membership, changed = expert_pool.answer_invitation(
                session,
                actor(),
                call_id,
                accept,
                values["max_applications"],
                values["decline_reason"],
                note=values["availability_note"],
            )
            reference = membership.call.reference
    except NotFound:
        abort(404)
    except ValidationFailed as exc:
        errors = {f"{name}-{call_id}": message for name, message in exc.errors.items()}
        return _invitations_page(
            errors=errors, values={f"{k}-{call_id}": v for k, v in values.items()}
        )
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(url_for("experts.invitations"))
    if not changed:
        flash_done(_("Nothing was changed."))
    elif accept:
        flash_done(_("You are in the pool of experts of %(reference)s.", reference=reference))
    else:
        flash_done(_("You declined the invitation to %(reference)s.", reference=reference))
    return redirect(url_for("experts.invitations"))


@bp.route("/experts/invitations/<int:call_id>/accept", methods=["POST"])
@roles_required(Role.EVALUATOR)
def accept(call_id: int) -> tuple[str, int] | Response:
    return _answer(call_id, accept=True)


@bp.route("/experts/invitations/<int:call_id>/decline", methods=["POST"])
@roles_required(Role.EVALUATOR)
def decline(call_id: int) -> tuple[str, int] | Response:
    return _answer(call_id, accept=False)


# -- the officer's list of experts -----------------------------------------------------------
def _keyword_filter(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 10 else None


@bp.route("/experts")
@roles_required(*experts.EDITORS)
def index() -> str:
    session = db_session()
    chosen = {
        "keyword": request.args.get("keyword", ""),
        "country": request.args.get("country", "").strip().upper()[:2],
        "language": request.args.get("language", "").strip().lower()[:2],
    }
    rows = experts.list_experts(
        session,
        keyword_id=_keyword_filter(chosen["keyword"]),
        country=chosen["country"],
        language=chosen["language"],
    )
    everyone = experts.list_experts(session) if any(chosen.values()) else rows
    # The filters offer only what some profile has: a choice that can only find nobody helps no one.
    countries = sorted({r.profile.country for r in everyone if r.profile})
    languages = sorted({code for r in everyone if r.profile for code in r.profile.languages})
    return render_template(
        "experts/index.html",
        rows=rows,
        total=len(everyone),
        chosen=chosen,
        keywords=experts.list_keywords(session),
        countries=countries,
        languages=languages,
        calls=expert_pool.calls_with_pools(session),
    )


# -- the keyword list ------------------------------------------------------------------------
def _keywords_page(
    *, errors: dict[str, str] | None = None, values: dict[str, str] | None = None
) -> tuple[str, int]:
    return (
        render_template(
            "experts/keywords.html",
            keywords=experts.list_keywords(db_session()),
            errors=errors or {},
            values=values or {},
            error_label=experts.error_label,
        ),
        422 if errors else 200,
    )


@bp.route("/experts/keywords", methods=["GET", "POST"])
@roles_required(*experts.EDITORS)
def keywords() -> tuple[str, int] | Response:
    if request.method == "GET":
        return _keywords_page()
    label = request.form.get("label", "")
    try:
        with transaction() as session:
            added = experts.add_keyword(session, actor(), label).label
    except ValidationFailed as exc:
        return _keywords_page(errors=exc.errors, values={"label": label})
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(url_for("experts.keywords"))
    flash_done(_("%(label)s is on the list of keywords.", label=added))
    return redirect(url_for("experts.keywords"))


@bp.route("/experts/keywords/<int:keyword_id>/rename", methods=["POST"])
@roles_required(*experts.EDITORS)
def rename_keyword(keyword_id: int) -> tuple[str, int] | Response:
    label = request.form.get("label", "")
    fresh_for_update()
    try:
        with transaction() as session:
            keyword, changed = experts.rename_keyword(session, actor(), keyword_id, label)
            renamed = keyword.label
    except NotFound:
        abort(404)
    except ValidationFailed as exc:
        key = f"label-{keyword_id}"
        return _keywords_page(errors={key: exc.errors["label"]}, values={key: label})
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(url_for("experts.keywords"))
    if changed:
        flash_done(_("The keyword is now %(label)s.", label=renamed))
    else:
        flash_done(_("Nothing was changed."))
    return redirect(url_for("experts.keywords"))


def _set_keyword_active(keyword_id: int, *, active: bool) -> Response:
    def done(label: str) -> str:
        if active:
            return _("%(label)s is offered again.", label=label)
        return _(
            "%(label)s is no longer offered; the profiles that carry it keep it.",
            label=label,
        )

    return switch_active(
        lambda session: (
            experts.set_keyword_active(session, actor(), keyword_id, active=active).label
        ),
        done=done,
        back=url_for("experts.keywords"),
    )


@bp.route("/experts/keywords/<int:keyword_id>/deactivate", methods=["POST"])
@roles_required(*experts.EDITORS)
def deactivate_keyword(keyword_id: int) -> Response:
    return _set_keyword_active(keyword_id, active=False)


@bp.route("/experts/keywords/<int:keyword_id>/reactivate", methods=["POST"])
@roles_required(*experts.EDITORS)
def reactivate_keyword(keyword_id: int) -> Response:
    return _set_keyword_active(keyword_id, active=True)


# -- a call's pool ---------------------------------------------------------------------------
def _pool_page(
    call: Call, *, errors: dict[str, str] | None = None, chosen: set[int] | None = None
) -> tuple[str, int]:
    session = db_session()
    entries = expert_pool.pool_of(session, call.id)
    return (
        render_template(
            "experts/pool.html",
            call=call,
            entries=entries,
            counts=expert_pool.pool_counts(entries),
            invitable=expert_pool.invitable_experts(session, call.id),
            chosen=chosen or set(),
            errors=errors or {},
            error_label=experts.error_label,
        ),
        422 if errors else 200,
    )


@bp.route("/calls/<int:call_id>/pool", methods=["GET", "POST"])
@roles_required(*experts.EDITORS)
def call_pool(call_id: int) -> tuple[str, int] | Response:
    call = staff_call(call_id)
    if request.method == "GET":
        return _pool_page(call)
    chosen = [int(v) for v in request.form.getlist("user_ids") if v.isdigit() and len(v) < 10]
    link = url_for("experts.invitations", _external=True, _anchor=f"call-{call_id}")
    fresh_for_update()
    try:
        with transaction() as session:
            done = expert_pool.invite_to_pool(session, actor(), call_id, chosen, link=link)
            invited = [u.full_name for u in done.invited]
            already = [e.user.full_name for e in done.already]
    except NotFound:
        abort(404)
    except ValidationFailed as exc:
        return _pool_page(staff_call(call_id), errors=exc.errors, chosen=set(chosen))
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(url_for("experts.call_pool", call_id=call_id))
    if invited:
        flash_done(
            _(
                "Invited and mailed: %(names)s.",
                names=", ".join(invited),
            )
        )
    if already:
        flash_done(_("Already in the pool, left as they are: %(names)s.", names=", ".join(already)))
    return redirect(url_for("experts.call_pool", call_id=call_id))
