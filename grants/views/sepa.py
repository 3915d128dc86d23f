"""SEPA credit transfer batches: finance exports authorised instalments as one pain.001
file, then marks the batch paid or cancels it; auditors read the batches and their files."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from grants.errors import NotFound, ValidationFailed
from grants.presenters import sepa as pages
from grants.runtime import db_session, runtime, transaction
from grants.services import sepa
from grants.views.common import (
    actor,
    flash_done,
    flash_refused,
    fresh_for_update,
    roles_required,
)
from workflows import numbers
from workflows.errors import TransitionRefused
from workflows.roles import Role

bp = Blueprint("sepa", __name__)

READERS = (Role.FINANCE, Role.AUDITOR)


def dashboard_data() -> dict[str, Any]:
    """For the finance dashboard's SEPA section (dashboard/_finance_sepa.html)."""
    return pages.dashboard(db_session())


bp.add_app_template_global(dashboard_data, "sepa_dashboard")


def _chosen_ids() -> tuple[set[int], bool]:
    """The instalments ticked, and whether any value sent was not an id."""
    chosen: set[int] = set()
    bad = False
    for raw in request.form.getlist("payment_id"):
        try:
            chosen.add(numbers.parse_id(raw))
        except numbers.NumberRefused:
            bad = True
    return chosen, bad


def _export_form(
    chosen: set[int],
    errors: dict[str, str],
    execution_date: str,
    status: int = 200,
    *,
    every_payable: bool = False,
) -> tuple[str, int]:
    data = pages.selection(db_session(), chosen=chosen, every_payable=every_payable)
    return render_template(
        "sepa/export.html",
        errors=errors,
        execution_date=execution_date or data["default_execution_date"].isoformat(),
        **data,
    ), status


@bp.route("/finance/sepa/export", methods=["GET", "POST"])
@roles_required(Role.FINANCE)
def export() -> Response | tuple[str, int]:
    if request.method == "GET":
        # "Select all" is a link (?all=1): it works without JavaScript.
        return _export_form(set(), {}, "", every_payable=request.args.get("all") == "1")
    chosen, bad = _chosen_ids()
    raw_date = request.form.get("execution_date", "").strip()
    errors: dict[str, str] = {}
    if bad:
        errors["payment_ids"] = _("Choose instalments from the list.")
    execution_date = pages.parse_date(raw_date)
    if execution_date is None:
        errors["execution_date"] = _("Give the requested execution date as a date.")
    if errors:
        return _export_form(chosen, errors, raw_date, 422)
    fresh_for_update()
    try:
        debtor = sepa.debtor_of(runtime().config)
        with transaction() as session:
            batch = sepa.export_batch(
                session,
                actor(),
                runtime().storage,
                debtor,
                sepa.ExportRequest(tuple(sorted(chosen)), execution_date),
            )
            batch_id, reference, count = batch.id, batch.reference, batch.count
    except ValidationFailed as exc:
        return _export_form(chosen, exc.errors, raw_date, 422)
    except TransitionRefused as exc:
        flash_refused(exc)
        return _export_form(chosen, {}, raw_date, 409)
    except NotFound:
        return _export_form(
            set(), {"payment_ids": _("An instalment chosen no longer exists.")}, raw_date, 422
        )
    flash_done(
        _(
            "SEPA file %(reference)s made with %(count)s transfers. Download it and send it "
            "to the bank; mark the batch paid once the bank has executed it.",
            reference=reference,
            count=count,
        )
    )
    return redirect(url_for("sepa.detail", batch_id=batch_id))


@bp.route("/finance/sepa")
@roles_required(*READERS)
def index() -> str:
    return render_template("sepa/index.html", **pages.batch_list(db_session()))


def _page(batch_id: int) -> dict[str, Any]:
    try:
        return pages.batch_page(db_session(), batch_id)
    except NotFound:
        abort(404)


@bp.route("/finance/sepa/<int:batch_id>")
@roles_required(*READERS)
def detail(batch_id: int) -> str:
    return render_template("sepa/batch.html", errors={}, form={}, **_page(batch_id))


@bp.route("/finance/sepa/<int:batch_id>/file.xml")
@roles_required(*READERS)
def download(batch_id: int) -> Response | tuple[str, int]:
    data = _page(batch_id)
    batch = data["batch"]
    try:
        content = sepa.read_file(runtime().storage, batch)
    except (LookupError, OSError, ValueError):
        return render_template("sepa/unavailable.html", batch=batch), 409
    response = Response(content, mimetype="application/xml")
    response.headers["Content-Disposition"] = f'attachment; filename="{batch.reference}.xml"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _paid_form(data: dict[str, Any]) -> dict[str, str]:
    form = {
        "bank_reference": request.form.get("bank_reference", "").strip(),
        "value_date": request.form.get("value_date", "").strip(),
    }
    for item in data["items"]:
        key = f"reference_{item.payment_id}"
        form[key] = request.form.get(key, "").strip()
    return form


@bp.route("/finance/sepa/<int:batch_id>/mark-paid", methods=["POST"])
@roles_required(Role.FINANCE)
def mark_paid(batch_id: int) -> Response | tuple[str, int]:
    data = _page(batch_id)
    form = _paid_form(data)
    value_date = pages.parse_date(form["value_date"])
    paid = sepa.PaidRequest(
        bank_reference=form["bank_reference"],
        value_date=value_date,
        references={
            item.payment_id: form[f"reference_{item.payment_id}"] for item in data["items"]
        },
    )
    errors: dict[str, str] = {}
    if not form["bank_reference"]:
        errors["bank_reference"] = _("Give the bank's reference for the batch.")
    if value_date is None:
        errors["value_date"] = _("Give the value date from the bank statement as a date.")
    if errors:
        return render_template("sepa/batch.html", errors=errors, form=form, **data), 422
    if request.form.get("confirmed") != "1":
        # Nothing is marked paid before the person has seen what will be.
        return render_template("sepa/confirm_paid.html", form=form, paid=paid, **data)
    fresh_for_update()
    try:
        with transaction() as session:
            sepa.mark_batch_paid(session, actor(), batch_id, paid)
    except ValidationFailed as exc:
        return render_template(
            "sepa/batch.html", errors=exc.errors, form=form, **_page(batch_id)
        ), 422
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(url_for("sepa.detail", batch_id=batch_id))
    flash_done(
        _(
            "Batch marked paid: every instalment in it is paid. The remittance advices are "
            "being generated."
        )
    )
    return redirect(url_for("sepa.detail", batch_id=batch_id))


@bp.route("/finance/sepa/<int:batch_id>/cancel", methods=["POST"])
@roles_required(Role.FINANCE)
def cancel(batch_id: int) -> Response | tuple[str, int]:
    _page(batch_id)
    reason = request.form.get("reason", "").strip()
    fresh_for_update()
    try:
        with transaction() as session:
            sepa.cancel_batch(session, actor(), batch_id, reason=reason)
    except ValidationFailed as exc:
        form = {"reason": reason}
        return render_template(
            "sepa/batch.html", errors=exc.errors, form=form, **_page(batch_id)
        ), 422
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(url_for("sepa.detail", batch_id=batch_id))
    flash(_("Batch cancelled: its instalments can go into another file."), "success")
    return redirect(url_for("sepa.detail", batch_id=batch_id))
