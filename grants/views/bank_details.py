"""A voucher's bank details: the SME changes them, finance verifies or rejects them, and
finance confirms payee, IBAN and amount before authorising or marking paid an instalment."""

from __future__ import annotations

import io
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from grants.errors import NotFound
from grants.models import Application, Instalment
from grants.presenters import bank_details as presenter
from grants.runtime import db_session, runtime, transaction
from grants.services import access, bank_details
from grants.services.applications import ValidationFailed
from grants.services.attachments import scanner_for
from grants.views.common import (
    actor,
    flash_done,
    flash_refused,
    fresh_for_update,
    roles_required,
    safe_next,
    visible_application,
)
from workflows.errors import TransitionRefused
from workflows.roles import Role

bp = Blueprint("bank_details", __name__)

# Who opens the bank details page: the SME itself, finance, and those who oversee.
READERS = (Role.APPLICANT, Role.FINANCE, Role.AUDITOR, Role.OFFICER)
# The confirmation steps on a payment order.
CONFIRMABLE = ("authorise", "mark-paid")


@bp.app_template_filter("iban")
def iban_filter(value: str | None, role: str | None = None) -> str:
    """``{{ iban|iban(current_role) }}``: full in groups of four for finance and auditors,
    masked for everyone else."""
    return bank_details.iban_for(value, role or "")


def _page(
    application: Application,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    reject_errors: dict[str, str] | None = None,
    reject_values: dict[str, str] | None = None,
    provider_errors: dict[str, str] | None = None,
    provider_values: dict[str, str] | None = None,
    provider_reject_errors: dict[str, str] | None = None,
    provider_reject_values: dict[str, str] | None = None,
) -> str:
    ctx = presenter.review(db_session(), application, actor())
    return render_template(
        "bank_details/page.html",
        application=application,
        call=application.call,
        bank=ctx,
        errors=errors or {},
        values=values or {},
        reject_errors=reject_errors or {},
        reject_values=reject_values or {},
        provider_errors=provider_errors or {},
        provider_values=provider_values or {},
        provider_reject_errors=provider_reject_errors or {},
        provider_reject_values=provider_reject_values or {},
    )


def _confirmation_upload() -> bank_details.Upload | None:
    upload = request.files.get(bank_details.CONFIRMATION_FIELD)
    if upload is None or not upload.filename:
        return None
    return bank_details.Upload(upload.filename, upload.read())


@bp.route("/applications/<int:application_id>/bank-details")
@roles_required(*READERS)
def page(application_id: int) -> str:
    application = visible_application(application_id)
    return _page(application)


@bp.route("/applications/<int:application_id>/bank-details", methods=["POST"])
@roles_required(Role.APPLICANT, Role.FINANCE)
def change(application_id: int) -> str | tuple[str, int] | Response:
    application = visible_application(application_id)
    values = {k: request.form.get(k, "") for k in ("iban", "bic", "account_holder")}
    confirmation = _confirmation_upload()
    rt = runtime()
    fresh_for_update()
    try:
        with transaction() as session:
            bank_details.change(
                session,
                actor(),
                rt.storage,
                application_id,
                iban=values["iban"],
                bic=values["bic"],
                holder=values["account_holder"],
                confirmation=confirmation,
                scanner=scanner_for(rt.config.virus_scan_command),
            )
    except ValidationFailed as exc:
        flash(_("Please correct the highlighted fields."), "error")
        application = visible_application(application_id)
        return _page(application, errors=exc.errors, values=values), 422
    except TransitionRefused as exc:
        flash_refused(exc)
        application = visible_application(application_id)
        return _page(application, values=values), 409
    flash_done(
        _(
            "Bank details saved. Finance verifies them before the next payment; no payment "
            "is made until then."
        )
    )
    return redirect(url_for("bank_details.page", application_id=application_id))


@bp.route("/applications/<int:application_id>/bank-details/provider", methods=["POST"])
@roles_required(Role.APPLICANT, Role.FINANCE)
def change_provider(application_id: int) -> str | tuple[str, int] | Response:
    """The service provider's account, on a call paying the provider directly."""
    application = visible_application(application_id)
    if not bank_details.pays_provider(application):
        abort(404)
    values = {k: request.form.get(k, "") for k in ("iban", "bic", "account_holder")}
    confirmation = _confirmation_upload()
    rt = runtime()
    fresh_for_update()
    try:
        with transaction() as session:
            bank_details.change_provider(
                session,
                actor(),
                rt.storage,
                application_id,
                iban=values["iban"],
                bic=values["bic"],
                name=values["account_holder"],
                confirmation=confirmation,
                scanner=scanner_for(rt.config.virus_scan_command),
            )
    except ValidationFailed as exc:
        flash(_("Please correct the highlighted fields."), "error")
        application = visible_application(application_id)
        return _page(application, provider_errors=exc.errors, provider_values=values), 422
    except TransitionRefused as exc:
        flash_refused(exc)
        application = visible_application(application_id)
        return _page(application, provider_values=values), 409
    flash_done(
        _(
            "The service provider's bank details are saved. Finance verifies them before the "
            "voucher is paid; nothing is paid until then."
        )
    )
    return redirect(
        url_for("bank_details.page", application_id=application_id, _anchor="provider-h")
    )


def _review(account_id: int, perform: Any, message: str) -> str | tuple[str, int] | Response:
    application_id = _application_of_account(account_id)
    back = url_for("bank_details.page", application_id=application_id)
    fresh_for_update()
    try:
        with transaction() as session:
            perform(session)
    except ValidationFailed as exc:
        flash(_("Please correct the highlighted fields."), "error")
        application = visible_application(application_id)
        posted = dict(request.form.items())
        if bank_details.is_provider_account(db_session(), account_id):
            return _page(
                application, provider_reject_errors=exc.errors, provider_reject_values=posted
            ), 422
        return _page(application, reject_errors=exc.errors, reject_values=posted), 422
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(back)
    flash_done(message)
    return redirect(back)


def _application_of_account(account_id: int) -> int:
    try:
        application = bank_details.application_of(db_session(), account_id)
    except NotFound:
        abort(404)
    return visible_application(application.id).id


@bp.route("/bank-details/<int:account_id>/verify", methods=["POST"])
@roles_required(Role.FINANCE)
def verify(account_id: int) -> str | tuple[str, int] | Response:
    return _review(
        account_id,
        lambda s: bank_details.verify(s, actor(), account_id),
        _("Bank details verified: payments to this account may go ahead."),
    )


@bp.route("/bank-details/<int:account_id>/reject", methods=["POST"])
@roles_required(Role.FINANCE)
def reject(account_id: int) -> str | tuple[str, int] | Response:
    reason = request.form.get("reason", "")
    return _review(
        account_id,
        lambda s: bank_details.reject(s, actor(), account_id, reason=reason),
        _("Bank details rejected. The SME is told why by mail and enters them again."),
    )


@bp.route("/bank-details/<int:account_id>/confirmation")
@roles_required(Role.APPLICANT, Role.FINANCE, Role.AUDITOR)
def confirmation(account_id: int) -> Response:
    try:
        account, data = bank_details.confirmation_for_download(
            db_session(), actor(), runtime().storage, account_id
        )
    except (LookupError, OSError):
        abort(404)
    response = send_file(
        io.BytesIO(data),
        mimetype=account.confirmation_content_type or "application/octet-stream",
        as_attachment=True,
        download_name=account.confirmation_filename or "bank-confirmation",
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.route("/payments/<int:payment_id>/confirm/<step>")
@roles_required(Role.FINANCE)
def confirm_payment(payment_id: int, step: str) -> str:
    """Payee, IBAN, BIC and amount to check before authorising or marking paid; its button
    posts to the step itself (pre-financing instalment or the voucher's balance step)."""
    if step not in CONFIRMABLE:
        abort(404)
    try:
        payment = access.visible_payment(db_session(), actor(), payment_id)
    except NotFound:
        abort(404)
    balance = payment.instalment == Instalment.BALANCE
    if balance:
        trigger = "authorise_payment" if step == "authorise" else "mark_paid"
        action = url_for(
            "applications.action", application_id=payment.application_id, trigger=trigger
        )
    else:
        endpoint = (
            "applications.authorise_instalment"
            if step == "authorise"
            else "applications.mark_instalment_paid"
        )
        action = url_for(endpoint, payment_id=payment_id)
    back = safe_next(url_for("applications.detail", application_id=payment.application_id))
    return render_template(
        "bank_details/confirm_payment.html",
        step=step,
        action=action,
        back=back,
        balance=balance,
        **presenter.payment_summary(db_session(), payment, actor()),
    )
