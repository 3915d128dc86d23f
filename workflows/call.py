"""The lifecycle of a call for proposals."""

from enum import StrEnum

from workflows.definition import TransitionDef, WorkflowDefinition
from workflows.i18n import N_
from workflows.roles import Role
from workflows.states import Badge, StateFacts


class CallState(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CLOSED = "closed"
    EVALUATING = "evaluating"
    RESULTS = "results"
    ARCHIVED = "archived"


C = CallState
OFFICER = frozenset({Role.OFFICER})

CALL_FACTS = {
    C.DRAFT: StateFacts(N_("Draft"), Badge.NEUTRAL),
    C.PUBLISHED: StateFacts(N_("Published"), Badge.GOOD),
    C.CLOSED: StateFacts(N_("Closed"), Badge.NEUTRAL),
    C.EVALUATING: StateFacts(N_("Evaluating"), Badge.INFO),
    C.RESULTS: StateFacts(N_("Results"), Badge.GOOD),
    C.ARCHIVED: StateFacts(N_("Archived"), Badge.NEUTRAL),
}

CALL_V1 = WorkflowDefinition(
    name="call",
    version=1,
    initial=C.DRAFT,
    states=tuple(str(s) for s in CallState),
    final_states=frozenset({C.ARCHIVED}),
    facts=CALL_FACTS,
    transitions=(
        TransitionDef(
            "publish", (C.DRAFT,), C.PUBLISHED, OFFICER, "Publish call", ("call_configured",)
        ),
        TransitionDef(
            "close_call", (C.PUBLISHED,), C.CLOSED, OFFICER, "Close call", ("deadline_passed",)
        ),
        TransitionDef("start_evaluation", (C.CLOSED,), C.EVALUATING, OFFICER, "Start evaluation"),
        TransitionDef(
            "publish_results",
            (C.EVALUATING,),
            C.RESULTS,
            OFFICER,
            "Publish results",
            ("no_pending_applications",),
        ),
        TransitionDef("archive", (C.RESULTS,), C.ARCHIVED, OFFICER, "Archive call"),
    ),
)
