"""Every workflow version the engine knows; a call pins one by name and version."""

from workflows.call import CALL_V1
from workflows.definition import WorkflowDefinition
from workflows.payment import PAYMENT_V1
from workflows.redress import REDRESS_V1
from workflows.voucher import VOUCHER_V1

_ALL = {(d.name, d.version): d for d in (VOUCHER_V1, CALL_V1, PAYMENT_V1, REDRESS_V1)}

DEFAULT_APPLICATION_WORKFLOW = VOUCHER_V1
# Workflows whose subjects are applications (the others run calls and payments).
APPLICATION_WORKFLOWS = frozenset({"voucher"})


def get_workflow(name: str, version: int) -> WorkflowDefinition:
    try:
        return _ALL[(name, version)]
    except KeyError:
        raise LookupError(f"no workflow {name}@{version}") from None


def latest(name: str) -> WorkflowDefinition:
    versions = [d for (n, _), d in _ALL.items() if n == name]
    if not versions:
        raise LookupError(f"no workflow named {name}")
    return max(versions, key=lambda d: d.version)


def all_workflows() -> tuple[WorkflowDefinition, ...]:
    return tuple(_ALL.values())


def badge_of(status: str) -> str:
    """The badge colour of a status of any workflow (the first that knows it)."""
    for definition in _ALL.values():
        if status in definition.facts:
            return str(definition.facts[status].badge)
    return "neutral"


def application_states_where(fact: str, equals: object = True) -> tuple[str, ...]:
    """Every application state, in any workflow version, whose ``fact`` is ``equals``.

    For queries across calls, which may pin different versions of a workflow.
    """
    found = (
        s
        for d in _ALL.values()
        if d.name in APPLICATION_WORKFLOWS
        for s in d.states
        if getattr(d.fact(s), fact) == equals
    )
    return tuple(dict.fromkeys(found))
