"""The call builder: a programme officer makes a call step by step in the browser.

The draft call row exists from the first step on, so every later step is an update of a
draft (``update_draft_call``, audited with before/after of what changed) and the work in
progress is the same for every officer. What a step's form posts is read into
``CallRules``: numbers through ``workflows.numbers`` (as people type them), times as the
wall-clock times of the call's timezone. What cannot be stored at all is refused naming the
fields to correct; what only stops publishing is listed by ``review`` (every problem of
``call_rules.problems``, the application form's, and the steps still holding placeholders),
shown on each step and on the review page. Publishing goes through ``calls.publish``, so its
own checks and its audit event apply too.

The builder lives in four modules, gathered here under the names its callers use:

- ``call_builder_steps``: the pages (``Step``), the fields each sets, their labels;
- ``call_builder_input``: reading a posted page into rules (``read_step``, ``StepRefused``);
- ``call_builder_drafts``: starting, copying and saving drafts;
- ``call_builder_review``: what stops publishing (``review``) and ``publish_draft``.
"""

from __future__ import annotations

from grants.services.call_builder_drafts import (
    PLACEHOLDER_FIELDS,
    PLACEHOLDER_STEPS,
    Saved,
    copy_call,
    placeholders,
    require_draft,
    save_step,
    start_call,
    starting_rules,
    update_draft_call,
)
from grants.services.call_builder_input import (
    MAX_DAYS,
    MAX_ROWS,
    MAX_TEXT,
    StepRefused,
    TimeChoice,
    Typed,
    read_step,
    time_choice,
    time_paths,
)
from grants.services.call_builder_review import Review, form_problems, publish_draft, review
from grants.services.call_builder_steps import (
    CRITERION_PARTS,
    EDITABLE_STEPS,
    LABELS,
    STEP_FIELDS,
    Step,
    label,
    step_of,
)

__all__ = [
    "CRITERION_PARTS",
    "EDITABLE_STEPS",
    "LABELS",
    "MAX_DAYS",
    "MAX_ROWS",
    "MAX_TEXT",
    "PLACEHOLDER_FIELDS",
    "PLACEHOLDER_STEPS",
    "STEP_FIELDS",
    "Review",
    "Saved",
    "Step",
    "StepRefused",
    "TimeChoice",
    "Typed",
    "copy_call",
    "form_problems",
    "label",
    "placeholders",
    "publish_draft",
    "read_step",
    "require_draft",
    "review",
    "save_step",
    "start_call",
    "starting_rules",
    "step_of",
    "time_choice",
    "time_paths",
    "update_draft_call",
]
