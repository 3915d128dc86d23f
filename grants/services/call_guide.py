"""The guide for applicants of a call, as a PDF rendered from the call itself."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from functools import lru_cache
from typing import Any

from documents.kinds import TITLES, DocumentKind
from documents.render import render_pdf
from forms.schema import parse_form
from grants import programme
from grants.formatting import format_eur, local_time, utc_time
from grants.models import Call
from grants.services.snapshots import call_facts, country_name
from workflows import scoring
from workflows.money import quantize


def guide_snapshot(call: Call) -> dict[str, Any]:
    criteria = scoring.criteria_from_config(call.criteria)
    # A stable id per call version: the same call always gives the same guide file.
    document_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"cascade:{call.reference}:{call.version}"))
    rate = quantize(call.prefinancing_percent).normalize()
    return {
        "document": {
            "id": document_id,
            "kind": str(DocumentKind.CALL_GUIDE),
            "title": TITLES[DocumentKind.CALL_GUIDE],
            "generated_at": utc_time(call.updated_at),
        },
        "programme": {
            "name": programme.PROGRAMME_NAME,
            "funding_statement": programme.FUNDING_STATEMENT,
            "disclaimer": programme.DISCLAIMER,
        },
        "call": call_facts(call),
        "application": {},
        "organisation": {},
        "event": {},
        "details": {
            "purpose": call.description,
            "opens_at": local_time(call.opens_at, call.timezone),
            "deadline": local_time(call.deadline, call.timezone),
            "deadline_utc": utc_time(call.deadline),
            "budget": format_eur(call.budget),
            "prefinancing": f"{rate:f}% of the voucher at signature" if rate else "none",
            "ranking": "in batches at each cut-off date while the call is open"
            if call.batch_ranking
            else "once, after the deadline",
            "eligible_applicants": call.eligible_applicants,
            "eligible_countries": [country_name(c) for c in call.eligible_countries],
            "cumulative_cap": format_eur(call.cumulative_cap),
            "evaluators": call.evaluators_per_application,
            "criteria": [
                {
                    "name": c.name,
                    "max": scoring.plain(c.max),
                    "threshold": scoring.plain(c.threshold),
                }
                for c in criteria
            ],
            "max_total": scoring.plain(sum((c.max for c in criteria), Decimal(0))),
            "threshold_total": scoring.plain(call.threshold_total),
            "form_fields": [
                {"label": f.label, "required": f.required, "help": f.help}
                for f in parse_form(call.form)
            ],
            "guide_text": call.applicant_guide,
        },
    }


@lru_cache(maxsize=32)
def _render(snapshot_json: str) -> bytes:
    return render_pdf(str(DocumentKind.CALL_GUIDE), json.loads(snapshot_json))


def guide_pdf(call: Call) -> bytes:
    """Rendered once per distinct content: the snapshot itself is the cache key."""
    return _render(json.dumps(guide_snapshot(call), sort_keys=True))
