"""The call builder's review and publishing: everything that stops a draft from being
published (every problem of ``call_rules.problems``, the application form's, and the steps
still holding placeholders), shown on each step and on the review page. Publishing goes
through ``calls.publish``, so its own checks and its audit event apply too."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from forms.countries import EU_COUNTRIES
from forms.model import FieldType
from forms.schema import parse_form
from grants.errors import require_role
from grants.models import Call
from grants.services import calls
from grants.services.actor import Actor
from grants.services.call_builder_drafts import PLACEHOLDER_STEPS, placeholders, require_draft
from grants.services.call_builder_steps import Step, label, step_of
from grants.services.call_files import COUNTRIES, rules_of
from grants.services.workflow import StepResult, load_call
from workflows import call_rules
from workflows.call import CallState
from workflows.call_rules import CallRules, VoucherType
from workflows.errors import TransitionRefused
from workflows.i18n import _
from workflows.roles import Role


def _markets_question(fields: Sequence[Any]) -> bool:
    return any(
        f.type is FieldType.COUNTRY_LIST and not (f.allowed_countries & EU_COUNTRIES)
        for f in fields
    )


def form_problems(rules: CallRules, form: list[dict[str, Any]]) -> dict[str, str]:
    """What in the application form stops publishing, under the key ``form``."""
    if not form:
        return {"form": _("The call has no application form: open the form editor and save one.")}
    try:
        fields = parse_form(form)
    except ValueError as exc:
        return {"form": str(exc)}
    outside = rules.eligibility.target_markets_outside_eu
    if (
        outside
        and rules.voucher_type == VoucherType.INTERNATIONALISATION
        and not _markets_question(fields)
    ):
        return {
            "form": _(
                "Target markets outside the EU are checked: the form needs a question of type "
                "country_list that leaves out the EU (exclude_countries: [EU])."
            )
        }
    return {}


@dataclass(frozen=True)
class Review:
    """Everything that stops a draft from being published, by field."""

    problems: dict[str, str]
    # The steps still holding placeholders, each reported on its first field.
    unset: dict[str, str] = field(default_factory=dict)
    placeholders: tuple[Step, ...] = ()

    @property
    def everything(self) -> dict[str, str]:
        return self.unset | self.problems

    @property
    def clean(self) -> bool:
        return not self.problems and not self.unset

    def of_step(self, step: Step) -> dict[str, str]:
        return {path: m for path, m in self.everything.items() if step_of(path) == step}


def review(session: Session, call: Call, *, now: datetime) -> Review:
    rules = rules_of(call)
    problems = call_rules.problems(rules, now, COUNTRIES) | form_problems(rules, list(call.form))
    pending = placeholders(session, call) if call.status == CallState.DRAFT else ()
    unset = {
        PLACEHOLDER_STEPS[step]: _("Not set yet: open this step, fill it in and save it.")
        for step in pending
    }
    return Review(problems=problems, unset=unset, placeholders=pending)


def publish_draft(session: Session, actor: Actor, call_id: int, *, now: datetime) -> StepResult:
    """Publish a draft whose review is clean, through ``calls.publish`` (its checks, its
    audit event): the builder adds its own checks, never skips the service's."""
    require_role(actor, Role.OFFICER)
    call = load_call(session, call_id)
    require_draft(call)
    found = review(session, call, now=now)
    if not found.clean:
        reasons = tuple(f"{label(path)}: {message}" for path, message in found.everything.items())
        raise TransitionRefused(_("the call is not ready to publish"), reasons=reasons)
    return calls.publish(session, actor, call_id, now=now)
