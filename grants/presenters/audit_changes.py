"""An audit event in words: what happened, and each field's value before and after it.

The trail stores before/after as JSON with the services' own keys and raw values; a reader
gets field labels, money as EUR amounts, times in the programme's timezone, statuses and
roles as words, and IBANs masked unless they may see them (finance and auditors).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext
from flask_babel.speaklater import LazyString

from grants import programme, steps
from grants.formatting import local_time
from grants.models import AuditEvent
from grants.presenters.application_page import ACTION_LABELS, event_label
from grants.services.bank_details import iban_for
from grants.views.common import status_label
from workflows.i18n import N_
from workflows.money import format_eur
from workflows.roles import Role

# Audit actions that are neither workflow steps nor in the timeline's words, as people read
# them. (A step reads as its registry ``done_label``; see ``grants/steps``.)
MORE_ACTION_LABELS = {
    "auditor_viewed": N_("Audit pages viewed"),
    "export_started": N_("Export started"),
    "export_finished": N_("Export finished"),
    "issue_dossier": N_("Grant dossier issued"),
    "issue_call_dossier": N_("Call dossier issued"),
    "accept_invitation": N_("Invitation accepted"),
    "accept_pool_invitation": N_("Invitation to the expert pool accepted"),
    "add_expertise_keyword": N_("Expertise keyword added"),
    "approve_ranking": N_("Ranking approved"),
    "bank_confirmation_added": N_("Bank confirmation added"),
    "bank_details_entered": N_("Bank details entered"),
    "bank_details_changed": N_("Bank details changed"),
    "bank_details_rejected": N_("Bank details rejected"),
    "bank_details_verified": N_("Bank details verified"),
    "build_call": N_("Call drafted"),
    "cancel_sepa_batch": N_("SEPA batch cancelled"),
    "change_roles": N_("Roles changed"),
    "confirm_email": N_("E-mail address confirmed"),
    "conflict_detected": N_("Conflict of interest detected"),
    "copy_call": N_("Call copied"),
    "create_admin": N_("Administrator created"),
    "create_call": N_("Call created"),
    "create_organisation": N_("Organisation registered"),
    "create_partner": N_("Consortium partner added"),
    "decline_assignment": N_("Assignment declined"),
    "export_sepa_batch": N_("SEPA batch exported"),
    "invite_member": N_("Member invited"),
    "invite_to_pool": N_("Expert invited to the pool"),
    "invite_user": N_("Staff member invited"),
    "issue_recovery_order": N_("Recovery order issued"),
    "join_organisation": N_("Joined an organisation"),
    "logout_everywhere": N_("Signed out everywhere"),
    "mark_sepa_batch_paid": N_("SEPA batch marked paid"),
    "password_change": N_("Password changed"),
    "password_reset": N_("Password reset"),
    "reactivate_expertise_keyword": N_("Expertise keyword switched on or off"),
    "reactivate_partner": N_("Consortium partner switched on or off"),
    "reactivate_user": N_("Account switched on or off"),
    "read_mail_with_link": N_("Mail with a link read"),
    "record_repayment": N_("Repayment recorded"),
    "register": N_("Account registered"),
    "remove_member": N_("Member removed"),
    "rename_expertise_keyword": N_("Expertise keyword renamed"),
    "reopen_scores": N_("Scores reopened"),
    "replace_report_file": N_("Final report file replaced"),
    "resend_invitation": N_("Invitation sent again"),
    "resubmit_scores": N_("Scores submitted again"),
    "save_report_draft": N_("Final report draft saved"),
    "set_call_partners": N_("Call partners set"),
    "start_bulk_eligibility": N_("Eligibility checks started in bulk"),
    "switch_role": N_("Acting role switched"),
    "transfer_manager": N_("Organisation manager changed"),
    "update_draft_call": N_("Call draft changed"),
    "update_expert_profile": N_("Expert profile changed"),
    "update_form": N_("Application form changed"),
    "update_organisation": N_("Organisation details changed"),
    "update_partner": N_("Consortium partner changed"),
    "update_report_form": N_("Final report form changed"),
}

# The stored keys of before/after, as people read them.
FIELD_LABELS = {
    "status": N_("Status"),
    "title": N_("Title"),
    "requested_amount": N_("Requested amount"),
    "awarded_amount": N_("Awarded amount"),
    "amount": N_("Amount"),
    "instalment": N_("Instalment"),
    "eligibility": N_("Eligibility"),
    "consensus": N_("Consensus scores"),
    "total_score": N_("Total score"),
    "total": N_("Total"),
    "scores": N_("Scores"),
    "rank": N_("Rank"),
    "reasons": N_("Reasons"),
    "reason": N_("Reason"),
    "decided_by_id": N_("Decided by (user number)"),
    "decided_at": N_("Decided at"),
    "iban": N_("IBAN"),
    "iban_masked": N_("IBAN"),
    "iban_valid": N_("IBAN valid"),
    "debtor_iban": N_("Debtor IBAN"),
    "account_holder": N_("Account holder"),
    "holder": N_("Account holder"),
    "bic": N_("BIC"),
    "payee": N_("Payee"),
    "bank_status": N_("Bank details status"),
    "bank_account_id": N_("Bank account number (internal)"),
    "confirmation_sha256": N_("Bank confirmation (sha256)"),
    "changed_after_acceptance": N_("Changed after acceptance"),
    "agreement_signed_at": N_("Agreement signed at"),
    "agreement_signed": N_("Agreement signed"),
    "offer_deadline": N_("Offer deadline"),
    "released": N_("Amount released"),
    "recovery_amount": N_("Amount to recover"),
    "approved_costs": N_("Approved costs"),
    "claimed_costs": N_("Claimed costs"),
    "statement": N_("Statement"),
    "kind": N_("Kind"),
    "grounds": N_("Grounds"),
    "email": N_("E-mail"),
    "email_confirmed": N_("E-mail confirmed"),
    "full_name": N_("Name"),
    "roles": N_("Roles"),
    "role": N_("Role"),
    "acting_role": N_("Acting role"),
    "session_version": N_("Sign-in version"),
    "label": N_("Label"),
    "active": N_("Active"),
    "expert": N_("Expert"),
    "to": N_("To"),
    "purpose": N_("Purpose"),
    "sha256": N_("sha256"),
    "version": N_("Version"),
    "attachment_id": N_("File number"),
    "filename": N_("File name"),
    "field_name": N_("Form field"),
    "size": N_("Size (bytes)"),
    "count": N_("Number of payments"),
    "control_sum": N_("Control sum"),
    "execution_date": N_("Execution date"),
    "payment_ids": N_("Payments"),
    "end_to_end_ids": N_("End-to-end references"),
    "storage_key": N_("Stored as"),
    "call": N_("Call"),
    "call_id": N_("Call"),
    "copied_from": N_("Copied from"),
    "reference": N_("Reference"),
    "budget": N_("Budget"),
    "max_per_voucher": N_("Maximum per voucher"),
    "deadline": N_("Deadline"),
    "opens_at": N_("Opens"),
    "payment_reference": N_("Payment reference"),
    "report_form_version": N_("Report form version"),
    "fields": N_("Fields"),
    "summary": N_("Summary"),
    "comments": N_("Comments"),
    "user_id": N_("User number"),
    # An auditor's page view (audit_views.record_view).
    "page": N_("Page"),
    "page_number": N_("Page number"),
    "filters": N_("Filters"),
    "target": N_("About"),
    "organisation": N_("Organisation"),
    "actor": N_("Person"),
    "action": N_("Action"),
    "date_from": N_("From"),
    "date_to": N_("To"),
}

# The pages whose views are audited (audit_views.record_view), by endpoint.
PAGE_LABELS = {
    "auditor.index": N_("Audit trail"),
    "auditor.event": N_("Audit event"),
    "auditor.export_csv": N_("Audit trail export (CSV)"),
}

# What an event is about (its entity type), as people read it.
ENTITY_LABELS = {
    "application": N_("Application"),
    "call": N_("Call"),
    "call_pool_membership": N_("Expert pool membership"),
    "consortium_partner": N_("Consortium partner"),
    "evaluation": N_("Evaluation"),
    "expert_profile": N_("Expert profile"),
    "expertise_keyword": N_("Expertise keyword"),
    "mail": N_("Mail"),
    "organisation": N_("Organisation"),
    "payment": N_("Payment"),
    "recovery_order": N_("Recovery order"),
    "redress": N_("Redress request"),
    "sepa_batch": N_("SEPA batch"),
    "user": N_("Account"),
    "audit_page": N_("Audit page"),
}

MONEY_FIELDS = frozenset(
    {
        "requested_amount",
        "awarded_amount",
        "amount",
        "released",
        "recovery_amount",
        "approved_costs",
        "claimed_costs",
        "control_sum",
        "budget",
        "max_per_voucher",
        # The SME's size figures in a submission's organisation snapshot.
        "turnover",
        "balance_sheet",
        "previous_turnover",
        "previous_balance_sheet",
    }
)
STATUS_FIELDS = frozenset({"status", "bank_status"})
ROLE_FIELDS = frozenset({"role", "acting_role", "roles"})
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
EMPTY = "—"


def action_label(event: AuditEvent) -> str:
    """What the event did, in words: never the internal trigger name."""
    if event.action in MORE_ACTION_LABELS:
        return gettext(MORE_ACTION_LABELS[event.action])
    return str(event_label(event))


def entity_words(event: AuditEvent) -> str:
    """What the event is about: ``Payment 12``, ``Audit page: Audit event 40``."""
    if event.entity_type == "audit_page":
        page, _, target = event.entity_id.partition(":")
        words = gettext(PAGE_LABELS[page]) if page in PAGE_LABELS else page
        return f"{words} {target}".strip()
    kind = ENTITY_LABELS.get(event.entity_type)
    label = gettext(kind) if kind else field_label(event.entity_type)
    return f"{label} {event.entity_id}"


def field_label(key: str) -> str:
    if key in FIELD_LABELS:
        return gettext(FIELD_LABELS[key])
    text = str(key).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _role_words(value: str) -> str:
    try:
        return gettext(Role(value).label)
    except ValueError:
        return str(value)


def format_value(key: str, value: Any, reader_role: str) -> str:
    """One stored value as a person reads it."""
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if isinstance(value, dict):
        return "; ".join(
            f"{field_label(k)}: {format_value(k, v, reader_role)}" for k, v in value.items()
        )
    if isinstance(value, list):
        return ", ".join(format_value(key, v, reader_role) for v in value)
    if "iban" in key and "masked" not in key and "valid" not in key:
        return iban_for(str(value), reader_role) or EMPTY
    return _scalar(key, value)


def _scalar(key: str, value: Any) -> str:
    if key in MONEY_FIELDS:
        try:
            return format_eur(Decimal(str(value)))
        except InvalidOperation:
            return str(value)
    if key in STATUS_FIELDS:
        return status_label(str(value))
    if key in ROLE_FIELDS:
        return _role_words(str(value))
    if key == "page" and value in PAGE_LABELS:
        return gettext(PAGE_LABELS[value])
    if key == "action" and isinstance(value, str):
        # An auditor's filter (audit_trail.action_options): its key read back as its words.
        from grants.presenters.audit_trail import action_options  # here: they import us

        return next((o.label for o in action_options() if o.key == value), value)
    if isinstance(value, str) and _DATETIME.match(value):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return local_time(moment, programme.PROGRAMME_TIMEZONE)
    return str(value)


@dataclass(frozen=True)
class ChangeRow:
    label: str
    before: str
    after: str
    changed: bool


def change_rows(
    event: AuditEvent, reader_role: str, *, changed_only: bool = False
) -> list[ChangeRow]:
    """Every field of the event's before and after, in words, after's order first."""
    before = event.before or {}
    after = event.after or {}
    keys = list(after) + [k for k in before if k not in after]
    rows = []
    for key in keys:
        old = format_value(key, before.get(key), reader_role) if key in before else EMPTY
        new = format_value(key, after.get(key), reader_role) if key in after else EMPTY
        changed = before.get(key) != after.get(key) or (key in before) != (key in after)
        if changed_only and not changed:
            continue
        rows.append(ChangeRow(field_label(key), old, new, changed))
    return rows


def step_label_key(text: str | LazyString) -> str:
    """The English words of a label, as a stable key in links (``evaluators-assigned``)."""
    english = text._args[0] if isinstance(text, LazyString) and text._args else str(text)
    return re.sub(r"[^a-z0-9]+", "-", str(english).lower()).strip("-")


def step_labels() -> dict[tuple[str, str], str | LazyString]:
    """Every workflow step's ``done_label``, by (workflow, trigger)."""
    return {key: s.done_label for key, s in steps.REGISTRY.items()}


def other_action_labels() -> dict[str, str]:
    """The audit actions that are not steps, with their (English) words."""
    return {**ACTION_LABELS, **MORE_ACTION_LABELS}
