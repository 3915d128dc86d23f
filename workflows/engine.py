"""Compile workflow definitions to `transitions` machines and fire them safely.

One compiled machine per definition, shared by every request. Models are never added to
it: a throw-away subject carries the stored status and the guard context through
``Event.trigger`` so the machine keeps no reference to it and never overwrites a stored
status on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from transitions import EventData, Machine, MachineError

from workflows.definition import TransitionDef, WorkflowDefinition
from workflows.errors import TransitionRefused
from workflows.guards import GUARDS, TransitionContext, failed_guards
from workflows.i18n import _
from workflows.roles import Role


@dataclass
class _Subject:
    status: str
    ctx: TransitionContext


@dataclass(frozen=True)
class Outcome:
    source: str
    dest: str
    transition: TransitionDef


def _guard_condition(name: str) -> Any:
    guard = GUARDS[name]

    def condition(event: EventData) -> bool:
        return guard.check(event.model.ctx)

    condition.__name__ = f"guard_{name}"
    return condition


@cache
def compile_machine(definition: WorkflowDefinition) -> Machine:
    missing = {g for t in definition.transitions for g in t.guards} - GUARDS.keys()
    if missing:
        raise ValueError(f"{definition.key}: unknown guards {sorted(missing)}")
    return Machine(
        model=None,
        states=list(definition.states),
        transitions=[
            {
                "trigger": t.trigger,
                "source": list(t.sources),
                "dest": t.dest,
                "conditions": [_guard_condition(g) for g in t.guards],
            }
            for t in definition.transitions
        ],
        initial=definition.initial,
        auto_transitions=False,
        send_event=True,
        model_attribute="status",
        ignore_invalid_triggers=False,
    )


def fire(
    definition: WorkflowDefinition,
    status: str,
    trigger: str,
    role: Role | str,
    ctx: TransitionContext,
) -> Outcome:
    """Return where ``trigger`` leads from ``status``, or raise TransitionRefused.

    Nothing is changed here: the caller writes the new status, the audit event and the
    document job in one database transaction.
    """
    status = str(status)  # a StrEnum member would be looked up by its name
    candidates = definition.transitions_for(trigger)
    if not candidates:
        raise TransitionRefused(
            _(
                "'%(step)s' is not a step of the %(workflow)s workflow",
                step=trigger,
                workflow=definition.name,
            )
        )
    from_here = [t for t in candidates if status in t.sources]
    if not from_here:
        raise TransitionRefused(
            _(
                "cannot %(step)s while it is %(state)s",
                step=definition.label(trigger).lower(),
                state=status.replace("_", " "),
            )
        )
    allowed = [t for t in from_here if role in t.roles]
    if not allowed:
        raise TransitionRefused(
            _(
                "a %(role)s may not %(step)s",
                role=Role(role).label.lower(),
                step=definition.label(trigger).lower(),
            )
        )
    subject = _Subject(status=status, ctx=ctx)
    machine = compile_machine(definition)
    try:
        moved = machine.events[trigger].trigger(subject)
    except MachineError as exc:  # the definition and machine disagree: a programming error
        raise TransitionRefused(
            _("cannot %(step)s from %(state)s", step=trigger, state=status)
        ) from exc
    if not moved:
        reasons = tuple(
            dict.fromkeys(g.explain(ctx) for t in allowed for g in failed_guards(t.guards, ctx))
        )
        raise TransitionRefused(
            _("cannot %(step)s", step=definition.label(trigger).lower()), reasons=reasons
        )
    taken = next(t for t in allowed if t.dest == subject.status and status in t.sources)
    return Outcome(source=status, dest=subject.status, transition=taken)


def available_triggers(definition: WorkflowDefinition, status: str, role: Role | str) -> list[str]:
    """The steps this role may attempt from this state, in definition order."""
    status = str(status)
    return list(
        dict.fromkeys(
            t.trigger for t in definition.transitions if status in t.sources and role in t.roles
        )
    )
