"""The step registry: every workflow step declared once.

A step's rules (sources, destination, roles, guards, document) are data in ``workflows/``;
everything else about it lives in its entry here: the service that performs it, the panel
that asks for its input, the message shown when done, the confirmation it needs, who is
notified with which mail, and how people read it in the timeline and the audit trail. The
application page, its actions, the timeline, the notices and the tests are driven from
this registry; ``tests/unit/test_step_registry.py`` fails when a transition has no entry.
"""

from __future__ import annotations

from grants.steps import call, payment, redress, voucher
from grants.steps.model import Notice, Recipient, Step

__all__ = ["REGISTRY", "Notice", "Recipient", "Step", "find", "label_of", "step"]

REGISTRY: dict[tuple[str, str], Step] = {
    (s.workflow, s.trigger): s
    for s in (*voucher.STEPS, *call.STEPS, *payment.STEPS, *redress.STEPS)
}


def find(workflow: str, trigger: str) -> Step | None:
    return REGISTRY.get((workflow, trigger))


def step(workflow: str, trigger: str) -> Step:
    found = find(workflow, trigger)
    if found is None:
        raise LookupError(f"no registry entry for {workflow}.{trigger}")
    return found


def label_of(workflow: str, trigger: str) -> str | None:
    """How people read what happened (timeline, audit trail), or None if not a step."""
    found = find(workflow, trigger)
    return found.done_label if found else None
