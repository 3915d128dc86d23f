"""One application's page: its facts, answers, timeline, documents and allowed steps."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from flask import (
    redirect,
    render_template,
    url_for,
)
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from documents.kinds import TITLES
from grants import steps
from grants.db import utcnow
from grants.models import (
    STEPPED_ASIDE,
    Application,
    Instalment,
)
from grants.presenters import application_page as page
from grants.presenters import bank_details as bank_presenter
from grants.presenters import final_report, step_panels
from grants.presenters.redress import redress_block
from grants.runtime import db_session
from grants.services import (
    access,
    evaluation,
    payments,
)
from grants.services.actor import Actor
from grants.services.workflow import available_triggers
from grants.steps import Step
from grants.views.applications import bp
from grants.views.common import (
    actor,
    role,
    roles_required,
    visible_application,
)
from workflows.diagram import workflow_svg
from workflows.money import prefinancing_amount
from workflows.payment import PaymentState
from workflows.roles import Role
from workflows.voucher import AppState


def _steps(application: Application, who: Actor) -> list[Step]:
    """The steps this person may do now that have a panel here (ranking is call-wide)."""
    if who.role == Role.APPLICANT and who.organisation_id != application.organisation_id:
        return []
    found = (
        steps.find(application.workflow.name, t) for t in available_triggers(application, who.role)
    )
    return [s for s in found if s is not None and s.panel]


def detail_context(
    application: Application,
    *,
    errors: Mapping[str, Mapping[str, str]] | None = None,
    values: Mapping[str, MultiDict[str, str]] | None = None,
) -> dict[str, Any]:
    session = db_session()
    who = actor()
    viewer = who.role
    definition = application.workflow
    facts = definition.fact(application.status)
    criteria = evaluation.criteria_of(application)
    available = _steps(application, who)
    staff = viewer in (Role.OFFICER, Role.AUDITOR)
    own = viewer == Role.APPLICANT and who.organisation_id == application.organisation_id

    balance = payments.instalment(application, Instalment.BALANCE)
    prefinancing = payments.instalment(application, Instalment.PREFINANCING)
    names = page.user_names(
        session,
        {p.prepared_by_id for p in application.payments}
        | {p.authorised_by_id for p in application.payments}
        | {p.paid_by_id for p in application.payments}
        | {r.reviewed_by_id for r in application.reports},
    )
    ctx: dict[str, Any] = {
        "application": application,
        "call": application.call,
        "definition": definition,
        "diagram": workflow_svg(definition, current=application.status),
        "answers": page.answer_rows(application),
        "own": own,
        "staff": staff,
        "viewer": viewer,
        "criteria": criteria,
        "show_consensus": bool(application.consensus) and (staff or (own and facts.results_out)),
        "evaluations": application.evaluations if staff else [],
        "reports": application.reports,
        "payments": application.payments,
        "names": names,
        "timeline": page.timeline(session, application, viewer),
        "documents": [d for d in application.documents if access.can_view_document(who, d)]
        if access.can_view_documents(who, application)
        else application.documents,
        "can_download": access.can_view_documents(who, application),
        "titles": {str(k): v for k, v in TITLES.items()},
        "steps": available,
        "blocked": {},
        "errors": errors or {},
        "values": values or {},
        # Ranking is a step of this application done for the whole call, elsewhere.
        "ranking_pending": "rank" in available_triggers(application, viewer),
        "balance": balance,
        "prefinancing": prefinancing,
        # A retried or double-clicked submit carries the same token: one submission.
        "submission_token": secrets.token_urlsafe(24),
        "redress": redress_block(session, application, who, utcnow()),
        "redress_errors": {},
        "redress_values": {},
        "bank": bank_presenter.for_application(session, application, who),
    }
    # The reports' call-defined answers and files, and when the report is due.
    ctx.update(final_report.report_context(session, application))
    for step in available:
        if step.context is not None:
            extra = step.context(session, application, who)
            if "blocked" in extra:
                ctx["blocked"][step.trigger] = extra.pop("blocked")
            ctx.update(extra)
    conflicted = [e for e in application.evaluations if e.status in STEPPED_ASIDE]
    if (
        viewer == Role.OFFICER
        and application.status == AppState.IN_EVALUATION
        and conflicted
        and len([e for e in application.evaluations if e.status not in STEPPED_ASIDE])
        < application.call.evaluators_per_application
    ):
        assigned = {e.evaluator_id for e in application.evaluations}
        ctx["replacement_choices"] = step_panels.active_evaluators(session, assigned)
    if (
        viewer == Role.FINANCE
        and application.status == AppState.CONTRACTED
        # None yet, or a cancelled order to prepare again (a withheld one goes with the balance).
        and (prefinancing is None or prefinancing.status == PaymentState.CANCELLED)
    ):
        ctx["prefinancing_due"] = prefinancing_amount(
            application.awarded_amount or Decimal(0), application.call.prefinancing_percent
        )
    return ctx


@bp.route("/applications/<int:application_id>")
@roles_required(*Role)
def detail(application_id: int) -> str | Response:
    application = visible_application(application_id)
    if role() == Role.EVALUATOR:
        # An expert works from the evaluation page, which opens the proposal only after the
        # conflict-of-interest declaration.
        own = next(e for e in application.evaluations if e.evaluator_id == actor().user_id)
        return redirect(url_for("evaluator.detail", evaluation_id=own.id))
    return render_template("applications/detail.html", **detail_context(application))
