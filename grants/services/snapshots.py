"""The frozen data a document is rendered from, taken at the step that produced it."""

from __future__ import annotations

from typing import Any

import pycountry

from grants import programme
from grants.formatting import format_eur, local_time, utc_time
from grants.models import Application, AuditEvent, Call, Organisation
from workflows.money import quantize


def country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return country.name if country else code


def call_facts(call: Call) -> dict[str, Any]:
    return {
        "reference": call.reference,
        "title": call.title,
        "timezone": call.timezone,
        "deadline": local_time(call.deadline, call.timezone),
        "max_per_voucher": format_eur(call.max_per_voucher),
        "funding_rate": f"{quantize(call.funding_rate).normalize():f}%",
    }


def application_facts(application: Application) -> dict[str, Any]:
    return {
        "reference": application.reference,
        "title": application.title,
        "status": application.status,
        "requested_amount": format_eur(application.requested_amount),
        "awarded_amount": format_eur(application.awarded_amount),
        "submitted_at": local_time(application.submitted_at, application.call.timezone),
    }


def organisation_facts(organisation: Organisation) -> dict[str, Any]:
    return {
        "legal_name": organisation.legal_name,
        "country": country_name(organisation.country),
        "registration_number": organisation.registration_number,
        "address": organisation.address,
    }


def build_snapshot(
    *,
    document_id: str,
    kind: str,
    title: str,
    application: Application,
    event: AuditEvent,
    step: str,
    details: dict[str, Any],
) -> dict[str, Any]:
    return {
        "document": {
            "id": document_id,
            "kind": kind,
            "title": title,
            "generated_at": utc_time(event.occurred_at),
        },
        "programme": {
            "name": programme.PROGRAMME_NAME,
            "funding_statement": programme.FUNDING_STATEMENT,
            "disclaimer": programme.DISCLAIMER,
        },
        "call": call_facts(application.call),
        "application": application_facts(application),
        "organisation": organisation_facts(application.organisation),
        "event": {
            "seq": event.id,
            "action": event.action,
            # How people name the step (the document never shows the internal trigger).
            "step": step,
            "actor": event.actor_name,
            "role": event.actor_role,
            "at": utc_time(event.occurred_at),
        },
        "details": details,
    }
