"""The public page of a call (``public/call.html``): what it shows, for the page itself and
for the call builder's preview, which must show a draft exactly as applicants will see it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from forms.model import Field, FieldType
from forms.schema import parse_form
from forms.validation import group_totals
from grants.models import Application, Call
from workflows import scoring
from workflows.call import CallState
from workflows.call_rules import eligibility_rules_of
from workflows.diagram import workflow_svg
from workflows.registry import get_workflow


def call_page(call: Any, *, own_application: Application | None, now: datetime) -> dict[str, Any]:
    """The context of ``public/call.html``. ``call`` is a Call, or a stand-in for one
    (``AsPublished``)."""
    definition = get_workflow(call.workflow_name, call.workflow_version)
    return {
        "call": call,
        "criteria": scoring.criteria_from_config(call.criteria),
        "diagram": workflow_svg(definition),
        "own_application": own_application,
        "deadline_passed": now >= call.deadline,
        "not_yet_open": now < call.opens_at,
        "cutoffs": [datetime.fromisoformat(moment) for moment in call.cutoffs or ()],
        "rules": eligibility_rules_of(call.eligibility_rules or {}),
    }


class AsPublished:
    """A draft call as it will read once published: the same call, its status published.

    Read-only by construction: the page only reads attributes, and nothing here can be
    written back to the row.
    """

    def __init__(self, call: Call) -> None:
        self._call = call

    @property
    def status(self) -> str:
        return str(CallState.PUBLISHED)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)


def form_preview(definition: list[Any]) -> dict[str, Any]:
    """The questions of a form definition as applicants see them on an empty form:
    what ``applications/_fields.html`` needs to draw them."""
    fields: list[Field] = parse_form(definition) if definition else []
    return {
        "fields": fields,
        "values": {},
        "errors": {},
        "totals": {f.name: group_totals(f, []) for f in fields if f.type is FieldType.GROUP},
    }
