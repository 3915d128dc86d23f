"""The call workflow's steps, performed from the officer dashboard."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from grants.services import calls
from grants.steps.model import Step

DASHBOARD = "the officer dashboard (a button per call)"

STEPS = (
    Step(
        "call",
        "publish",
        done_label=_l("Call published"),
        done=_l("Call published: it is now {state}."),
        perform=lambda s, a, i, f: calls.publish(s, a, i),
        performed_in=DASHBOARD,
    ),
    Step(
        "call",
        "close_call",
        done_label=_l("Call closed"),
        done=_l("Call closed: it is now {state}."),
        perform=lambda s, a, i, f: calls.close_call(s, a, i),
        confirm=_l(
            "Close the call? No application can be submitted after this; unsubmitted drafts "
            "stay drafts."
        ),
        performed_in=DASHBOARD,
    ),
    Step(
        "call",
        "start_evaluation",
        done_label=_l("Evaluation started"),
        done=_l("Evaluation started: the call is now {state}."),
        perform=lambda s, a, i, f: calls.start_evaluation(s, a, i),
        confirm=_l(
            "Start the evaluation? The call's submissions are final from now on and go to "
            "eligibility and the experts."
        ),
        performed_in=DASHBOARD,
    ),
    Step(
        "call",
        "publish_results",
        done_label=_l("Results published"),
        done=_l("Results published: the call is now {state}."),
        perform=lambda s, a, i, f: calls.publish_results(s, a, i),
        confirm=_l("Publish the results? Every applicant can then read their outcome."),
        performed_in=DASHBOARD,
    ),
    Step(
        "call",
        "archive",
        done_label=_l("Call archived"),
        done=_l("Call archived."),
        perform=lambda s, a, i, f: calls.archive(s, a, i),
        confirm=_l(
            "Archive the call? It is kept read-only for audit and leaves the working lists."
        ),
        performed_in=DASHBOARD,
    ),
)
