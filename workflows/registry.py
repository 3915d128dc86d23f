"""Every workflow version the engine knows; a call pins one by name and version."""

from workflows.call import CALL_V1
from workflows.definition import WorkflowDefinition
from workflows.payment import PAYMENT_V1
from workflows.voucher import VOUCHER_V1

_ALL = {(d.name, d.version): d for d in (VOUCHER_V1, CALL_V1, PAYMENT_V1)}

DEFAULT_APPLICATION_WORKFLOW = VOUCHER_V1


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
