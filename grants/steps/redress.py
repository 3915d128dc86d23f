"""The redress request's steps: an officer upholds or rejects it from the application page
(grants/views/applications/redress.py); the letter and the notice go to the applicant."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from grants.steps.model import Notice, Recipient, Step

WHERE = "the redress request on the application page"

STEPS = (
    Step(
        "redress",
        "uphold",
        done_label=_l("Redress request upheld"),
        done=_l("Redress request upheld. The applicant receives the decision letter."),
        performed_in=WHERE,
        notify=(Notice(Recipient.APPLICANT, "redress_decision"),),
    ),
    Step(
        "redress",
        "reject",
        done_label=_l("Redress request rejected"),
        done=_l("Redress request rejected. The applicant receives the decision letter."),
        performed_in=WHERE,
        notify=(Notice(Recipient.APPLICANT, "redress_decision"),),
    ),
)
