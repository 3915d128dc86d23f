"""Blueprints: thin views that parse, authorise, call one service and render."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, render_template
from flask_babel import gettext
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from grants import programme
from grants.formatting import format_eur, local_time, utc_time
from grants.presenters.application_page import event_label
from grants.services.snapshots import country_name
from grants.services.workflow import NotFound
from grants.views.common import nav_for, status_class, status_label
from workflows.call_rules import VoucherType
from workflows.roles import Role
from workflows.scoring import plain


def _error_page(code: int, title: str, message: str) -> tuple[str, int]:
    return render_template("errors/error.html", code=code, title=title, message=message), code


def register_blueprints(app: Flask) -> None:
    from grants import auth
    from grants.views import (
        account,
        admin,
        applications,
        assignment,
        auditor,
        bank_details,
        call_builder,
        call_forms,
        dashboard,
        documents,
        dossier,
        eligibility_bulk,
        evaluator,
        experts,
        exports,
        ledger,
        organisation,
        partners,
        public,
        publication,
        ranking,
        sepa,
    )

    for blueprint in (
        auth.bp,
        public.bp,
        dashboard.bp,
        applications.bp,
        call_forms.bp,
        call_builder.bp,
        evaluator.bp,
        assignment.bp,
        documents.bp,
        auditor.bp,
        dossier.bp,
        organisation.bp,
        partners.bp,
        experts.bp,
        account.bp,
        admin.bp,
        ranking.bp,
        eligibility_bulk.bp,
        bank_details.bp,
        ledger.bp,
        publication.bp,
        sepa.bp,
        exports.bp,
    ):
        app.register_blueprint(blueprint)

    # The login page points to the demo logins only on a demo instance.
    app.config.setdefault("CASCADE_DEMO", os.environ.get("CASCADE_DEMO", "0") == "1")
    _register_template_helpers(app)
    _register_error_pages(app)


def _register_template_helpers(app: Flask) -> None:
    app.add_template_filter(format_eur, "eur")
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(utc_time, "utc")
    app.add_template_filter(country_name, "country_name")
    app.add_template_filter(status_label, "status_label")
    app.add_template_filter(status_class, "status_class")
    app.add_template_filter(plain, "plain")
    app.add_template_filter(event_label, "event_label")
    app.add_template_global(local_time, "local_time")
    app.add_template_global(format_eur, "format_eur")

    @app.template_filter("short_hash")
    def short_hash(value: str | None) -> str:
        return f"{value[:12]}…" if value else ""

    @app.template_filter("role_label")
    def role_label(value: str) -> str:
        try:
            return gettext(Role(value).label)
        except ValueError:
            return value

    @app.template_filter("voucher_type_label")
    def voucher_type_label(value: str) -> str:
        try:
            return gettext(VoucherType(value).label)
        except ValueError:
            return value

    @app.template_filter("inline_svg")
    def inline_svg(value: str) -> Markup:
        # The diagram is drawn by workflows.diagram, which escapes every text it writes.
        return Markup(value)

    @app.context_processor
    def layout_context() -> dict[str, Any]:
        user = current_user if current_user and current_user.is_authenticated else None
        return {
            "programme_name": programme.PROGRAMME_NAME,
            "funding_statement": programme.FUNDING_STATEMENT,
            "current_role": Role(user.role) if user else None,
            "nav": nav_for(Role(user.role)) if user else [],
        }


def _register_error_pages(app: Flask) -> None:
    @app.errorhandler(NotFound)
    def service_not_found(_exc: NotFound) -> tuple[str, int]:
        return _error_page(404, "Page not found", "There is nothing here, or you may not see it.")

    @app.errorhandler(CSRFError)
    def csrf_error(_exc: CSRFError) -> tuple[str, int]:
        return _error_page(
            400,
            "The form has expired",
            "For your security the form could not be accepted. Go back, reload the page "
            "and send it again.",
        )

    @app.errorhandler(403)
    def forbidden(_exc: HTTPException) -> tuple[str, int]:
        return _error_page(
            403, "You may not do this", "Your role does not give access to this page or action."
        )

    @app.errorhandler(404)
    def not_found(_exc: HTTPException) -> tuple[str, int]:
        return _error_page(404, "Page not found", "There is nothing here, or you may not see it.")

    @app.errorhandler(405)
    def method_not_allowed(_exc: HTTPException) -> tuple[str, int]:
        return _error_page(
            405, "Not available this way", "This address only accepts a form sent from a page."
        )

    @app.errorhandler(500)
    def server_error(_exc: Exception) -> tuple[str, int]:
        return _error_page(
            500,
            "Something went wrong",
            "Nothing was changed. Please try again; if it happens again, tell the programme team.",
        )
