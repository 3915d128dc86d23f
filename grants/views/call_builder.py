"""The call builder: programme officers make a call step by step, review it and publish it.

Each step is a page with a form; saving it stores the step on the draft call (created by the
first step) and moves on, or keeps everything typed and says what to correct. A call that
is no longer a draft is shown read-only, with "Copy this call" instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.wrappers import Response

from grants.db import utcnow
from grants.errors import ValidationFailed
from grants.formatting import local_time
from grants.models import Call
from grants.presenters import call_builder as pages
from grants.presenters.call_page import AsPublished, call_page, form_preview
from grants.runtime import db_session, transaction
from grants.services import access, call_builder
from grants.services.call_builder import EDITABLE_STEPS, Step
from grants.services.call_files import rules_of
from grants.views.common import (
    actor,
    flash_done,
    flash_refused,
    fresh_for_update,
    roles_required,
    staff_call,
)
from workflows.call import CallState
from workflows.call_rules import VoucherType
from workflows.errors import TransitionRefused
from workflows.roles import Role

bp = Blueprint("call_builder", __name__)

Page = tuple[str, int]


def step_url(step: Step, call_id: int) -> str:
    return url_for(f"call_builder.{step}", call_id=call_id)


def _step_page(
    call: Call | None,
    step: Step,
    *,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    choices: Mapping[str, Any] | None = None,
    refused: bool = False,
    status: int = 200,
) -> Page:
    """A step's page: the call's saved values and what on the step stops publishing, or
    (``refused``) what was typed and why it could not be saved."""
    editable = call is None or call.status == CallState.DRAFT
    found = None if call is None else call_builder.review(db_session(), call, now=utcnow())
    if call is not None and found is not None and values is None:
        rules = rules_of(call)
        values = pages.typed_values(rules, step, found.placeholders)
        # What stops publishing means nothing once the call is published.
        errors = pages.step_problems(found, step) if editable else {}
        choices = pages.time_choices(rules)
    back, forward = pages.neighbours(step)
    return (
        render_template(
            f"call_builder/{step}.html",
            call=call,
            step=step,
            steps=pages.step_links(found if editable else None, step),
            back=back,
            forward=forward,
            values=values if values is not None else {"voucher_type": VoucherType.UPSKILLING},
            errors=errors or {},
            choices=choices or {},
            refused=refused,
            editable=editable,
            label=call_builder.label,
            voucher_types=list(VoucherType),
            timezones=pages.TIMEZONES,
            country_groups=pages.country_groups,
            rows=pages.rows,
        ),
        status,
    )


@bp.route("/calls/new", methods=["GET", "POST"])
@roles_required(Role.OFFICER)
def new() -> Page | Response:
    if request.method == "GET":
        return _step_page(None, Step.BASICS)
    try:
        with transaction() as session:
            made = call_builder.start_call(session, actor(), request.form, now=utcnow())
            call_id, reference = made.id, made.reference
    except ValidationFailed as exc:
        return _step_page(
            None, Step.BASICS, values=request.form, errors=exc.errors, refused=True, status=422
        )
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(url_for("dashboard.index"))
    flash_done(_("Draft call %(reference)s started. Now set its dates.", reference=reference))
    return redirect(step_url(Step.DATES, call_id))


def _save(step: Step, call_id: int) -> Page | Response:
    call = staff_call(call_id)
    if request.method == "GET":
        return _step_page(call, step)
    fresh_for_update()
    try:
        with transaction() as session:
            saved = call_builder.save_step(
                session, actor(), call_id, step, request.form, now=utcnow()
            )
            changed = bool(saved.changed)
    except ValidationFailed as exc:
        choices = getattr(exc, "choices", {})
        return _step_page(
            staff_call(call_id),
            step,
            values=request.form,
            errors=exc.errors,
            choices=choices,
            refused=True,
            status=422,
        )
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(step_url(step, call_id))
    found = call_builder.review(db_session(), staff_call(call_id), now=utcnow())
    left = pages.step_problems(found, step)
    if left:
        # Saved, but this page still stops publishing: stay, with the problems beside their
        # fields, rather than leave them for the review.
        flash(
            ngettext(
                "Saved. %(num)s thing on this page still stops the call from being published.",
                "Saved. %(num)s things on this page still stop the call from being published.",
                len(left),
            ),
            "warning",
        )
        return redirect(step_url(step, call_id))
    flash_done(_("Saved.") if changed else _("Nothing was changed."))
    _back, forward = pages.neighbours(step)
    return redirect(step_url(forward or Step.REVIEW, call_id))


def _step_view(step: Step) -> Callable[[int], Page | Response]:
    def view(call_id: int) -> Page | Response:
        return _save(step, call_id)

    view.__name__ = f"build_{step}"
    return roles_required(Role.OFFICER)(view)


for _step in EDITABLE_STEPS:
    bp.add_url_rule(
        f"/calls/<int:call_id>/build/{_step}",
        endpoint=str(_step),
        view_func=_step_view(_step),
        methods=["GET", "POST"],
    )


@bp.route("/calls/<int:call_id>/build/form")
@roles_required(Role.OFFICER)
def application_form(call_id: int) -> str:
    call = staff_call(call_id)
    found = call_builder.review(db_session(), call, now=utcnow())
    back, forward = pages.neighbours(Step.FORM)
    return render_template(
        "call_builder/application_form.html",
        call=call,
        step=Step.FORM,
        steps=pages.step_links(found if call.status == CallState.DRAFT else None, Step.FORM),
        back=back,
        forward=forward,
        errors=found.of_step(Step.FORM) if call.status == CallState.DRAFT else {},
        editable=call.status == CallState.DRAFT,
        label=call_builder.label,
        fields=form_preview(call.form)["fields"],
    )


@bp.route("/calls/<int:call_id>/build/review")
@roles_required(Role.OFFICER)
def review(call_id: int) -> str:
    call = staff_call(call_id)
    found = call_builder.review(db_session(), call, now=utcnow())
    back, _forward = pages.neighbours(Step.REVIEW)
    return render_template(
        "call_builder/review.html",
        call=call,
        step=Step.REVIEW,
        steps=pages.step_links(found if call.status == CallState.DRAFT else None, Step.REVIEW),
        back=back,
        found=found,
        groups=pages.review_groups(found),
        editable=call.status == CallState.DRAFT,
        label=call_builder.label,
        titles=pages.TITLES,
    )


@bp.route("/calls/<int:call_id>/build/publish", methods=["POST"])
@roles_required(Role.OFFICER)
def publish(call_id: int) -> Response:
    staff_call(call_id)
    fresh_for_update()
    try:
        with transaction() as session:
            published = call_builder.publish_draft(session, actor(), call_id, now=utcnow())
            reference = published.event.entity_id
            call = session.get_one(Call, call_id)
            announced_now = access.announced(call, utcnow())
            announcement = local_time(call.publish_at, call.timezone) if call.publish_at else ""
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(url_for("call_builder.review", call_id=call_id))
    if announced_now:
        flash_done(
            _("Call %(reference)s published: applicants can see it now.", reference=reference)
        )
    else:
        flash_done(
            _(
                "Call %(reference)s published. It is announced on %(when)s: applicants see it "
                "from then, staff already now.",
                reference=reference,
                when=announcement,
            )
        )
    return redirect(url_for("public.call", call_id=call_id))


@bp.route("/calls/<int:call_id>/build/preview")
@roles_required(Role.OFFICER)
def preview(call_id: int) -> str:
    """The public call page and the empty application form, as applicants will see them."""
    call = staff_call(call_id)
    shown: Any = AsPublished(call) if call.status == CallState.DRAFT else call
    found = call_builder.review(db_session(), call, now=utcnow())
    return render_template(
        "call_builder/preview.html",
        **call_page(shown, own_application=None, now=utcnow()),
        form=form_preview(call.form),
        found=found,
        draft_id=call.id,
        is_draft=call.status == CallState.DRAFT,
    )


def _copy_page(
    source: Call, reference: str, errors: Mapping[str, str] | None = None, status: int = 200
) -> Page:
    return (
        render_template(
            "call_builder/copy.html",
            source=source,
            reference=reference,
            errors=errors or {},
            label=call_builder.label,
        ),
        status,
    )


@bp.route("/calls/<int:call_id>/copy", methods=["GET", "POST"])
@roles_required(Role.OFFICER)
def copy(call_id: int) -> Page | Response:
    source = staff_call(call_id)
    if request.method == "GET":
        return _copy_page(source, "")
    reference = request.form.get("reference", "")
    try:
        with transaction() as session:
            made = call_builder.copy_call(session, actor(), call_id, reference, now=utcnow())
            new_id, new_reference = made.id, made.reference
    except ValidationFailed as exc:
        return _copy_page(staff_call(call_id), reference, exc.errors, 422)
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(url_for("dashboard.index"))
    flash_done(
        _(
            "Draft call %(reference)s made from %(source)s, with its rules and form. Check each "
            "step: set the dates again.",
            reference=new_reference,
            source=source.reference,
        )
    )
    return redirect(step_url(Step.BASICS, new_id))
