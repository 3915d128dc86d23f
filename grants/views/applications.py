"""One application: its page, the applicant's draft form, and every workflow action."""

from __future__ import annotations

import io
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from documents.kinds import TITLES
from forms.schema import EXTERNAL_REFERENCES, FILE_KINDS, Field, FieldType, country_choices
from forms.validation import describe, group_rows, group_totals, normalise
from grants.app import db_session, runtime, transaction
from grants.formatting import format_eur, local_time
from grants.models import (
    Application,
    Attachment,
    AuditEvent,
    EvaluationStatus,
    Instalment,
    Payment,
    User,
)
from grants.services import (
    access,
    applications,
    attachments,
    awards,
    eligibility,
    evaluation,
    payments,
    reporting,
)
from grants.services.actor import Actor
from grants.services.applications import ValidationFailed, form_fields
from grants.services.workflow import application_workflow, available_triggers
from grants.views.common import (
    actor,
    flash_done,
    flash_refused,
    fresh_for_update,
    role,
    roles_required,
    safe_next,
    visible_application,
)
from workflows import scoring
from workflows.diagram import workflow_svg
from workflows.eligibility import MANUAL_CHECKS
from workflows.errors import TransitionRefused
from workflows.money import prefinancing_amount
from workflows.payment import PAYMENT_V1
from workflows.roles import Role
from workflows.voucher import AppState

bp = Blueprint("applications", __name__)

# The applicant sees the consensus (never an expert's own scores) once results are out.
RESULT_STATES = frozenset(
    str(s)
    for s in (
        AppState.SELECTED,
        AppState.RESERVE,
        AppState.REJECTED,
        AppState.OFFERED,
        AppState.CONTRACTED,
        AppState.DECLINED,
        AppState.REPORT_SUBMITTED,
        AppState.REPORT_APPROVED,
        AppState.PAYMENT_PREPARED,
        AppState.PAYMENT_AUTHORISED,
        AppState.PAID,
        AppState.CLOSED,
        AppState.TERMINATED,
    )
)

# Audit actions that are not workflow triggers, as a person reads them.
ACTION_LABELS = {
    "create_draft": "Draft started",
    "save_draft": "Draft saved",
    "assign_evaluator": "Evaluator assigned",
    "declare_no_conflict": "Declared no conflict of interest",
    "declare_conflict": "Declared a conflict of interest",
    "submit_scores": "Scores submitted",
    "prepare_prefinancing": "Pre-financing prepared",
    "upload_attachment": "File uploaded",
    "replace_attachment": "File replaced",
}


# -- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerRow:
    label: str
    value: str  # the answer as text (groups as numbered lines, files as name and sha256)
    long: bool = False
    table: dict[str, Any] | None = None  # a group: headers, rows, totals
    file: Attachment | None = None  # a file field: the current attachment
    earlier: tuple[Attachment, ...] = ()  # a file field: the files it replaced


def answer_rows(application: Application) -> list[AnswerRow]:
    rows = []
    files = applications.current_attachments(application)
    for f in form_fields(application):
        value = (application.answers or {}).get(f.name)
        if f.type is FieldType.GROUP:
            text = applications.group_text(f, value)
            table = applications.group_table(f, value) if text else None
            rows.append(AnswerRow(f.label, text, True, table=table))
        elif f.type is FieldType.FILE:
            current = files.get(f.name)
            earlier = tuple(a for a in attachments.history(application, f.name) if a is not current)
            text = applications.file_summary(current) if current else ""
            rows.append(AnswerRow(f.label, text, file=current, earlier=earlier))
        else:
            text = applications.display_value(f, value)
            rows.append(AnswerRow(f.label, text, f.type is FieldType.LONG_TEXT))
    return rows


def _action_label(event: AuditEvent, application: Application) -> str:
    if event.action in ACTION_LABELS:
        return ACTION_LABELS[event.action]
    if event.entity_type == "payment":
        return "Payment: " + PAYMENT_V1.label(event.action).lower()
    return application_workflow(application).label(event.action)


def timeline(application: Application, viewer: Role) -> list[dict[str, Any]]:
    events = db_session().scalars(
        select(AuditEvent)
        .where(AuditEvent.application_id == application.id)
        .order_by(AuditEvent.id)
    )
    rows: list[dict[str, Any]] = []
    for event in events:
        # The SME follows its own file, not who evaluates it or what each expert wrote.
        if viewer == Role.APPLICANT and event.entity_type not in ("application", "payment"):
            continue
        last = rows[-1] if rows else None
        if (
            last is not None
            and event.action == "save_draft" == last["event"].action
            and event.actor_id == last["event"].actor_id
        ):
            # Autosave writes many saves in a row: one line, with the latest time.
            last["saves"] += 1
            last["event"] = event
            last["label"] = f"Draft saved ({last['saves']} times)"
            continue
        rows.append(
            {
                "event": event,
                "label": _action_label(event, application),
                "before": event.before.get("status", ""),
                "after": event.after.get("status", ""),
                "saves": 1,
            }
        )
    return rows


def _user_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {u.id: u.full_name for u in session.scalars(select(User).where(User.id.in_(wanted)))}


def _active_evaluators(session: Session, exclude: set[int]) -> list[User]:
    return [
        u
        for u in session.scalars(
            select(User)
            .where(User.role == Role.EVALUATOR, User.active.is_(True))
            .order_by(User.full_name, User.id)
        )
        if u.id not in exclude
    ]


def _score_options(criterion: scoring.Criterion) -> list[str]:
    steps = int(criterion.max / scoring.HALF)
    return [scoring.plain(scoring.HALF * i) for i in range(steps + 1)]


def _action_triggers(application: Application, who: Actor) -> list[str]:
    """The workflow steps this person may do now; ranking is done for the whole call."""
    triggers = [t for t in available_triggers(application, who.role) if t in ACTIONS]
    if who.role == Role.APPLICANT and who.organisation_id != application.organisation_id:
        return []
    return triggers


def detail_context(
    application: Application,
    *,
    errors: Mapping[str, Mapping[str, str]] | None = None,
    values: Mapping[str, MultiDict[str, str]] | None = None,
) -> dict[str, Any]:
    session = db_session()
    who = actor()
    viewer = who.role
    definition = application_workflow(application)
    criteria = evaluation.criteria_of(application)
    triggers = _action_triggers(application, who)
    staff = viewer in (Role.OFFICER, Role.AUDITOR)
    own = viewer == Role.APPLICANT and who.organisation_id == application.organisation_id

    balance = payments.instalment(application, Instalment.BALANCE)
    prefinancing = payments.instalment(application, Instalment.PREFINANCING)
    names = _user_names(
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
        "answers": answer_rows(application),
        "own": own,
        "staff": staff,
        "viewer": viewer,
        "criteria": criteria,
        "show_consensus": bool(application.consensus)
        and (staff or (own and application.status in RESULT_STATES)),
        "evaluations": application.evaluations if staff else [],
        "reports": application.reports,
        "payments": application.payments,
        "names": names,
        "timeline": timeline(application, viewer),
        "documents": [d for d in application.documents if access.can_view_document(who, d)]
        if access.can_view_documents(who, application)
        else application.documents,
        "can_download": access.can_view_documents(who, application),
        "titles": {str(k): v for k, v in TITLES.items()},
        "triggers": triggers,
        "labels": {t: definition.label(t) for t in definition.triggers},
        "errors": errors or {},
        "values": values or {},
        "missing": applications.missing_for_submission(application)
        if own and application.status == AppState.DRAFT
        else [],
        "ranking_pending": viewer == Role.OFFICER and application.status == AppState.EVALUATED,
        "balance": balance,
        "prefinancing": prefinancing,
        # A retried or double-clicked submit carries the same token: one submission.
        "submission_token": secrets.token_urlsafe(24),
    }
    if "check_eligibility" in triggers:
        ctx["proposed_checks"] = eligibility.proposed_checks(application)
        ctx["manual_checks"] = MANUAL_CHECKS
    if "assign_evaluators" in triggers:
        assigned = {e.evaluator_id for e in application.evaluations}
        ctx["evaluator_choices"] = _active_evaluators(session, assigned)
    conflicted = [e for e in application.evaluations if e.status == EvaluationStatus.CONFLICT]
    if (
        viewer == Role.OFFICER
        and application.status == AppState.IN_EVALUATION
        and conflicted
        and len([e for e in application.evaluations if e.status != EvaluationStatus.CONFLICT])
        < application.call.evaluators_per_application
    ):
        assigned = {e.evaluator_id for e in application.evaluations}
        ctx["replacement_choices"] = _active_evaluators(session, assigned)
    if "close_evaluation" in triggers:
        proposal = evaluation.consensus_proposal(application)
        ctx["consensus_proposal"] = {k: scoring.plain(v) for k, v in proposal.items()}
        ctx["divergences"] = scoring.divergences(criteria, evaluation.expert_scores(application))
        ctx["score_options"] = {c.key: _score_options(c) for c in criteria}
    if "promote" in triggers:
        ctx["budget_remaining"] = awards.budget_remaining(session, application.call)
    if "prepare_payment" in triggers:
        try:
            ctx["balance_due"] = payments.balance_amount(application)
        except TransitionRefused:
            ctx["balance_due"] = None
    if "approve_report" in triggers:
        ctx["report_under_review"] = reporting.latest_report(application)
    if (
        viewer == Role.FINANCE
        and application.status == AppState.CONTRACTED
        and prefinancing is None
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


# -- the applicant's draft -------------------------------------------------------------------


@bp.app_template_filter("field_id")
def field_id(path: str) -> str:
    """An HTML id for an answer path: ``budget_lines[0].cost`` -> ``budget_lines-0-cost``."""
    return path.replace("[", "-").replace("]", "").replace(".", "-")


@bp.app_template_filter("filesize")
def filesize(size: int) -> str:
    return applications.human_size(size)


@bp.app_template_filter("extension_of")
def extension_of(kind: str) -> str:
    """What a file input's ``accept`` lists for a kind: extension and MIME type."""
    return f".{attachments.EXTENSIONS[kind]},{FILE_KINDS[kind][0]}" + (
        ",.jpeg" if kind == "jpeg" else ""
    )


@bp.app_template_global("country_choices")
def template_country_choices(f: Field) -> list[tuple[str, str]]:
    return country_choices(f)


@bp.app_template_global("must_equal_label")
def must_equal_label(f: Field, fields: list[Field]) -> str:
    if f.must_equal in EXTERNAL_REFERENCES:
        return EXTERNAL_REFERENCES[f.must_equal]
    return next((g.label for g in fields if g.name == f.must_equal), f.must_equal or "")


def _draft_values(application: Application, fields: list[Field]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": application.title,
        "requested_amount": ""
        if application.requested_amount is None
        else str(application.requested_amount),
        "declaration_signed": application.declaration_signed,
    }
    answers = application.answers or {}
    for f in fields:
        value = answers.get(f.name)
        if f.type is FieldType.YES_NO:
            values[f.name] = value is True
        elif f.type is FieldType.MULTI_CHOICE:
            values[f.name] = [str(v) for v in value] if isinstance(value, list) else []
        elif f.type is FieldType.GROUP:
            values[f.name] = [
                {k: "" if v is None else str(v) for k, v in row.items()}
                for row in group_rows(value)
                if isinstance(row, dict)
            ]
        elif f.type is FieldType.FILE:
            values[f.name] = None
        else:
            values[f.name] = "" if value is None else str(value)
    return values


_ITEM_KEY = re.compile(r"(?P<name>[a-z][a-z0-9_]*)\[(?P<index>\d{1,3})\]\.(?P<sub>[a-z][a-z0-9_]*)")


def _posted_values(fields: list[Field]) -> dict[str, Any]:
    """What the person typed, as the service takes it: groups from ``name[i].sub`` keys."""
    form = request.form
    values: dict[str, Any] = {
        "title": form.get("title", ""),
        "requested_amount": form.get("requested_amount", ""),
        "declaration_signed": "declaration_signed" in form,
    }
    items: dict[str, dict[int, dict[str, str]]] = {}
    for key in form:
        match = _ITEM_KEY.fullmatch(key)
        if match:
            rows = items.setdefault(match["name"], {})
            rows.setdefault(int(match["index"]), {})[match["sub"]] = form.get(key, "")
    for f in fields:
        if f.type is FieldType.YES_NO:
            values[f.name] = f.name in form
        elif f.type is FieldType.MULTI_CHOICE:
            values[f.name] = form.getlist(f.name)
        elif f.type is FieldType.GROUP:
            rows = items.get(f.name, {})
            values[f.name] = group_rows(
                [{sub.name: rows[i].get(sub.name, "") for sub in f.fields} for i in sorted(rows)]
            )
        elif f.type is FieldType.FILE:
            values[f.name] = None
        else:
            values[f.name] = form.get(f.name, "")
    return values


def _answers(fields: list[Field], values: Mapping[str, Any]) -> dict[str, Any]:
    return {f.name: values[f.name] for f in fields if f.type is not FieldType.FILE}


def _posted_version() -> int | None:
    raw = request.form.get("version")
    if raw is None:
        return None  # a client that does not say what it started from (the API, old pages)
    return int(raw) if raw.isdigit() else -1


def _labels(fields: list[Field], errors: Mapping[str, str]) -> dict[str, str]:
    labels = {
        "title": "Project title",
        "requested_amount": "Requested amount",
        "declaration_signed": "Declaration of honour",
    }
    return {path: labels.get(path) or describe(fields, path) for path in errors}


def _conflict_rows(
    application: Application, fields: list[Field], values: Mapping[str, Any]
) -> list[dict[str, str]]:
    """Each answer where the newer saved draft and this person's unsaved input differ."""
    rows = []
    saved_amount = application.requested_amount
    if application.title != values["title"].strip():
        rows.append(
            {"label": "Project title", "saved": application.title, "yours": values["title"]}
        )
    try:
        yours_amount = applications.parse_amount(values["requested_amount"])
    except ValidationFailed:
        yours_amount = None
    if saved_amount != yours_amount:
        rows.append(
            {
                "label": "Requested amount",
                "saved": format_eur(saved_amount),
                "yours": values["requested_amount"],
            }
        )
    saved = application.answers or {}
    yours = normalise(fields, _answers(fields, values))
    for f in fields:
        if f.type is FieldType.FILE or saved.get(f.name) == yours.get(f.name):
            continue
        if f.type is FieldType.GROUP:
            shown = (applications.group_text(f, saved.get(f.name)),)
            shown += (applications.group_text(f, yours.get(f.name)),)
        else:
            shown = (
                applications.display_value(f, saved.get(f.name)),
                applications.display_value(f, yours.get(f.name)),
            )
        rows.append({"label": f.label, "saved": shown[0], "yours": shown[1]})
    if application.declaration_signed != values["declaration_signed"]:
        rows.append(
            {
                "label": "Declaration of honour",
                "saved": "Signed" if application.declaration_signed else "Not signed",
                "yours": "Signed" if values["declaration_signed"] else "Not signed",
            }
        )
    return rows


def _render_edit(
    application: Application,
    values: dict[str, Any],
    errors: Mapping[str, str],
    status: int,
    *,
    conflict: dict[str, Any] | None = None,
) -> tuple[str, int]:
    fields = form_fields(application)
    return (
        render_template(
            "applications/edit.html",
            application=application,
            call=application.call,
            fields=fields,
            form_version=applications.form_version(application),
            values=values,
            errors=errors,
            labels=_labels(fields, errors),
            missing=applications.missing_for_submission(application),
            files=applications.current_attachments(application),
            totals={
                f.name: group_totals(f, values.get(f.name))
                for f in fields
                if f.type is FieldType.GROUP
            },
            conflict=conflict,
            submission_token=secrets.token_urlsafe(24),
        ),
        status,
    )


def _upload_files(application_id: int, fields: list[Field], version: int) -> dict[str, str]:
    """Store the files chosen in the draft form, each in its own transaction; their errors."""
    errors: dict[str, str] = {}
    rt = runtime()
    for f in fields:
        if f.type is not FieldType.FILE:
            continue
        upload = request.files.get(f.name)
        if upload is None or not upload.filename:
            continue
        data = upload.read()
        fresh_for_update()
        try:
            with transaction() as session:
                attachment = attachments.upload(
                    session,
                    actor(),
                    rt.storage,
                    application_id,
                    f.name,
                    filename=upload.filename,
                    data=data,
                    scanner=attachments.scanner_for(rt.config.virus_scan_command),
                    expected_version=version,
                )
                version = attachment.application.version
        except ValidationFailed as exc:
            errors.update(exc.errors)
        except attachments.ScanFailed:
            errors[f.name] = (
                "The virus check is not available right now, so the file was not kept. "
                "Try again in a few minutes."
            )
        except TransitionRefused as exc:
            errors[f.name] = exc.message[:1].upper() + exc.message[1:] + "."
    return errors


def _save_posted(
    session: Session, application_id: int, fields: list[Field], values: dict[str, Any]
) -> applications.SaveResult:
    """The draft as posted by the Save button or by autosave: one service call, one check."""
    return applications.save_draft(
        session,
        actor(),
        application_id,
        title=values["title"],
        requested_amount=values["requested_amount"],
        answers=_answers(fields, values),
        declaration_signed=values["declaration_signed"],
        expected_version=_posted_version(),
    )


@bp.route("/applications/<int:application_id>/edit", methods=["GET", "POST"])
@roles_required(Role.APPLICANT)
def edit(application_id: int) -> tuple[str, int] | Response:
    application = visible_application(application_id)
    if application.status != AppState.DRAFT:
        flash("This application is submitted and can no longer be edited.", "info")
        return redirect(url_for("applications.detail", application_id=application_id))
    fields = form_fields(application)
    if request.method == "GET":
        return _render_edit(application, _draft_values(application, fields), {}, 200)
    values = _posted_values(fields)
    fresh_for_update()
    try:
        with transaction() as session:
            result = _save_posted(session, application_id, fields, values)
            errors = dict(result.errors)
            version = result.application.version
    except applications.DraftConflict as exc:
        return _conflict(application_id, fields, values, exc)
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(url_for("applications.detail", application_id=application_id))
    errors.update(_upload_files(application_id, fields, version))
    if errors:
        flash(
            "Your draft is saved, but some answers need correcting before you can submit.",
            "warning",
        )
        return _render_edit(visible_application(application_id), values, errors, 422)
    flash_done("Draft saved.")
    return redirect(url_for("applications.edit", application_id=application_id))


def _conflict(
    application_id: int,
    fields: list[Field],
    values: dict[str, Any],
    exc: applications.DraftConflict,
) -> tuple[str, int]:
    db_session().expire_all()
    application = visible_application(application_id)
    chose_files = any(
        (upload := request.files.get(f.name)) is not None and upload.filename
        for f in fields
        if f.type is FieldType.FILE
    )
    flash(
        {
            "text": "Not saved: this draft was saved from another browser or by a colleague "
            "after you opened it.",
            "items": [
                "Your input is kept below, and what was saved meanwhile is shown next to it.",
                "Save again to keep your version (it replaces the other one), or reload the "
                "page to continue from the saved one.",
            ]
            + (
                ["Choose your file again: files are not kept by the browser."]
                if chose_files
                else []
            ),
        },
        "error",
    )
    conflict = {
        "version": exc.current_version,
        "saved_at": local_time(application.updated_at, application.call.timezone),
        "rows": _conflict_rows(application, fields, values),
    }
    return _render_edit(application, values, {}, 409, conflict=conflict)


@bp.route("/applications/<int:application_id>/autosave", methods=["POST"])
@roles_required(Role.APPLICANT)
def autosave(application_id: int) -> tuple[Response, int]:
    """The draft form sent by the browser's autosave: the same service and version check."""
    application = visible_application(application_id)
    if application.status != AppState.DRAFT:
        return jsonify(ok=False, reason="this application is submitted; it cannot change"), 409
    fields = form_fields(application)
    values = _posted_values(fields)
    fresh_for_update()
    try:
        with transaction() as session:
            result = _save_posted(session, application_id, fields, values)
            saved = result.application
            body = {
                "ok": True,
                "version": saved.version,
                "changed": result.changed,
                "saved_at": saved.updated_at.isoformat(),
                "errors": len(result.errors),
            }
    except applications.DraftConflict as exc:
        return jsonify(
            ok=False,
            conflict=True,
            version=exc.current_version,
            reason="saved meanwhile from another browser; use Save draft to compare",
        ), 409
    except TransitionRefused as exc:
        return jsonify(ok=False, reason=exc.message), 409
    return jsonify(body), 200


@bp.route("/attachments/<int:attachment_id>")
@roles_required(*Role)
def attachment(attachment_id: int) -> Response | tuple[str, int]:
    """A file of an application, for whoever may see the application."""
    try:
        found, data = attachments.for_download(
            db_session(), actor(), runtime().storage, attachment_id
        )
    except (LookupError, OSError):
        abort(404)
    response = send_file(
        io.BytesIO(data),
        mimetype=found.content_type,
        as_attachment=True,
        download_name=found.filename,
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.app_errorhandler(413)
def too_large(_exc: Exception) -> tuple[str, int]:
    limit = applications.human_size(current_app.config["MAX_CONTENT_LENGTH"] or 0)
    return render_template(
        "errors/error.html",
        code=413,
        title="The file is too large",
        message=f"The form with its files may be at most {limit}. Nothing was saved: go "
        "back, choose a smaller file and save again.",
    ), 413


# -- workflow actions ------------------------------------------------------------------------

Handler = Callable[[Session, Actor, int, MultiDict[str, str]], str]


def _text(form: MultiDict[str, str], name: str) -> str:
    return form.get(name, "").strip()


def _submit(s: Session, a: Actor, app_id: int, form: MultiDict[str, str]) -> str:
    applications.submit(s, a, app_id, token=form.get("submission_token") or None)
    return "Application submitted. Your submission receipt is being generated."


def _withdraw(s: Session, a: Actor, app_id: int, form: MultiDict[str, str]) -> str:
    applications.withdraw(s, a, app_id, reason=_text(form, "reason"))
    return "Application withdrawn."


def _check_eligibility(s: Session, a: Actor, app_id: int, form: MultiDict[str, str]) -> str:
    manual: dict[str, tuple[bool, str]] = {}
    errors: dict[str, str] = {}
    for key, _name in MANUAL_CHECKS:
        verdict = form.get(f"manual_{key}")
        if verdict not in ("passed", "failed"):
            errors[key] = "choose passed or failed"
            continue
        manual[key] = (verdict == "passed", form.get(f"evidence_{key}", ""))
    if errors:
        raise ValidationFailed(errors)
    result = eligibility.record_eligibility(
        s, a, app_id, manual=manual, reasons=_text(form, "reasons")
    )
    return f"Eligibility recorded: the application is {result.dest}."


def _redress(s: Session, a: Actor, app_id: int, form: MultiDict[str, str]) -> str:
    eligibility.uphold_redress(
        s, a, app_id, request=_text(form, "request"), decision=_text(form, "decision")
    )
    return "Redress upheld: the application is back for an eligibility check."


def _assign_evaluators(s: Session, a: Actor, app_id: int, form: MultiDict[str, str]) -> str:
    try:
        ids = [int(v) for v in form.getlist("evaluator_ids")]
    except ValueError:
        raise ValidationFailed({"evaluators": "choose evaluators from the list"}) from None
    evaluation.assign_evaluators(s, a, app_id, ids)
    return "Evaluators assigned. They are asked to declare any conflict of interest."


def _close_evaluation(s: Session, a: Actor, app_id: int, form: MultiDict[str, str]) -> str:
    application = s.get(Application, app_id)
    assert application is not None
    criteria = evaluation.criteria_of(application)
    evaluation.close_evaluation(
        s,
        a,
        app_id,
        scores={c.key: form.get(f"score_{c.key}", "") for c in criteria},
        comments={c.key: form.get(f"comment_{c.key}", "") for c in criteria},
    )
    return "Evaluation closed. The Evaluation Summary Report is being generated."


def _promote(s: Session, a: Actor, app_id: int, form: MultiDict[str, str]) -> str:
    awards.promote(s, a, app_id)
    return "Promoted from the reserve list: the application is selected."


def _offer(s: Session, a: Actor, app_id: int, form: MultiDict[str, str]) -> str:
    awards.offer(s, a, app_id)
    return "Voucher agreement offered to the applicant."


def _accept(s: Session, a: Actor, app_id: int, form: MultiDict[str, str]) -> str:
    awards.accept(
        s,
        a,
        app_id,
        iban=_text(form, "iban"),
        account_holder=_text(form, "account_holder"),
        signed="signed" in form,
    )
    return "Voucher agreement signed. Your signed acceptance is being generated."


def _decline(s: Session, a: Actor, app_id: int, form: MultiDict[str, str]) -> str:
    awards.decline(s, a, app_id, reason=_text(form, "reason"))
    return "You declined the voucher."


def _submit_report(s: Session, a: Actor, app_id: int, form: MultiDict[str, str]) -> str:
    reporting.submit_report(
        s,
        a,
        app_id,
        summary=form.get("summary", ""),
        claimed_costs=_text(form, "claimed_costs"),
        subcontracted_costs=_text(form, "subcontracted_costs") or "0",
    )
    return "Final report submitted."


def _approve_report(s: Session, a: Actor, app_id: int, form: MultiDict[str, str]) -> str:
    reporting.approve_report(
        s,
        a,
        app_id,
        approved_costs=_text(form, "approved_costs"),
        comments=form.get("comments", ""),
    )
    return "Report approved. Finance can now prepare the balance payment."


def _return_report(s: Session, a: Actor, app_id: int, form: MultiDict[str, str]) -> str:
    reporting.return_report(s, a, app_id, comments=form.get("comments", ""))
    return "Report returned to the applicant for revision."


def _prepare_payment(s: Session, a: Actor, app_id: int, form: MultiDict[str, str]) -> str:
    payments.prepare_payment(s, a, app_id)
    return "Balance payment prepared. Another finance officer must authorise it."


def _authorise_payment(s: Session, a: Actor, app_id: int, form: MultiDict[str, str]) -> str:
    payments.authorise_payment(s, a, app_id)
    return "Balance payment authorised."


def _mark_paid(s: Session, a: Actor, app_id: int, form: MultiDict[str, str]) -> str:
    payments.mark_paid(s, a, app_id, payment_reference=_text(form, "payment_reference"))
    return "Balance marked as paid. The remittance advice is being generated."


def _close(s: Session, a: Actor, app_id: int, form: MultiDict[str, str]) -> str:
    payments.close(s, a, app_id)
    return "Voucher closed. The closure certificate is being generated."


def _terminate(s: Session, a: Actor, app_id: int, form: MultiDict[str, str]) -> str:
    payments.terminate(s, a, app_id, reason=_text(form, "reason"))
    return "Agreement terminated. The termination notice states any amount to recover."


ACTIONS: dict[str, Handler] = {
    "submit": _submit,
    "withdraw": _withdraw,
    "check_eligibility": _check_eligibility,
    "redress": _redress,
    "assign_evaluators": _assign_evaluators,
    "close_evaluation": _close_evaluation,
    "promote": _promote,
    "offer": _offer,
    "accept": _accept,
    "decline": _decline,
    "submit_report": _submit_report,
    "approve_report": _approve_report,
    "return_report": _return_report,
    "prepare_payment": _prepare_payment,
    "authorise_payment": _authorise_payment,
    "mark_paid": _mark_paid,
    "close": _close,
    "terminate": _terminate,
}


# Form fields the page fills in by itself, not a person.
_NOT_TYPED = frozenset({"csrf_token", "submission_token", "next"})


def _roles_for(application: Application, trigger: str) -> set[Role]:
    return {r for t in application_workflow(application).transitions_for(trigger) for r in t.roles}


@bp.route("/applications/<int:application_id>/<trigger>", methods=["POST"])
@roles_required(*Role)
def action(application_id: int, trigger: str) -> tuple[str, int] | Response:
    handler = ACTIONS.get(trigger)
    if handler is None:
        abort(404)
    # Not visible first: a 403 would tell an applicant that another SME's application exists.
    application = visible_application(application_id)
    allowed = _roles_for(application, trigger)
    if not allowed:
        abort(404)
    if role() not in allowed:
        abort(403)
    form = request.form.copy()
    back = url_for("applications.detail", application_id=application_id)
    fresh_for_update()
    try:
        with transaction() as session:
            message = handler(session, actor(), application_id, form)
    except ValidationFailed as exc:
        flash("Please correct the highlighted fields.", "error")
        application = visible_application(application_id)
        ctx = detail_context(application, errors={trigger: exc.errors}, values={trigger: form})
        return render_template("applications/detail.html", **ctx), 422
    except TransitionRefused as exc:
        flash_refused(exc)
        if any(v.strip() for k, v in form.items() if k not in _NOT_TYPED):
            # A refused step (agreement box not ticked, report incomplete) keeps what the
            # person typed, as a validation error does.
            application = visible_application(application_id)
            ctx = detail_context(application, values={trigger: form})
            return render_template("applications/detail.html", **ctx), 409
        return redirect(f"{back}#actions")
    flash_done(message)
    return redirect(back)


# -- payment instalments and evaluator replacement --------------------------------------------


def _finance_step(
    application_id: int, step: Callable[[Session, Actor], object], message: str
) -> Response:
    back = safe_next(url_for("applications.detail", application_id=application_id))
    fresh_for_update()
    try:
        with transaction() as session:
            step(session, actor())
    except ValidationFailed as exc:
        flash({"text": "Please correct:", "items": list(exc.errors.values())}, "error")
        return redirect(back)
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(back)
    flash_done(message)
    return redirect(back)


@bp.route("/applications/<int:application_id>/prefinancing", methods=["POST"])
@roles_required(Role.FINANCE)
def prepare_prefinancing(application_id: int) -> Response:
    visible_application(application_id)
    return _finance_step(
        application_id,
        lambda s, a: payments.prepare_prefinancing(s, a, application_id),
        "Pre-financing prepared. Another finance officer must authorise it.",
    )


def _visible_payment(payment_id: int) -> Payment:
    payment = db_session().get(Payment, payment_id)
    if payment is None:
        abort(404)
    visible_application(payment.application_id)
    return payment


@bp.route("/payments/<int:payment_id>/authorise", methods=["POST"])
@roles_required(Role.FINANCE)
def authorise_instalment(payment_id: int) -> Response:
    payment = _visible_payment(payment_id)
    return _finance_step(
        payment.application_id,
        lambda s, a: payments.authorise_instalment(s, a, payment_id),
        "Pre-financing authorised.",
    )


@bp.route("/payments/<int:payment_id>/mark-paid", methods=["POST"])
@roles_required(Role.FINANCE)
def mark_instalment_paid(payment_id: int) -> Response:
    payment = _visible_payment(payment_id)
    reference = request.form.get("payment_reference", "")
    return _finance_step(
        payment.application_id,
        lambda s, a: payments.mark_instalment_paid(s, a, payment_id, payment_reference=reference),
        "Pre-financing marked as paid. The remittance advice is being generated.",
    )


@bp.route("/applications/<int:application_id>/replace-evaluator", methods=["POST"])
@roles_required(Role.OFFICER)
def replace_evaluator(application_id: int) -> Response:
    visible_application(application_id)
    back = url_for("applications.detail", application_id=application_id)
    try:
        evaluator_id = int(request.form.get("evaluator_id", ""))
    except ValueError:
        flash("Choose the evaluator who replaces the conflicted one.", "error")
        return redirect(f"{back}#actions")
    fresh_for_update()
    try:
        with transaction() as session:
            evaluation.replace_conflicted(session, actor(), application_id, evaluator_id)
    except ValidationFailed as exc:
        flash(
            {"text": "The evaluator could not be added:", "items": list(exc.errors.values())},
            "error",
        )
        return redirect(f"{back}#actions")
    except TransitionRefused as exc:
        flash_refused(exc)
        return redirect(f"{back}#actions")
    flash_done("Evaluator added in place of the conflicted one.")
    return redirect(back)
