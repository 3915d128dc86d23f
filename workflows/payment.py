"""Each payment instalment (pre-financing or balance) runs through this machine."""

from enum import StrEnum

from workflows.definition import TransitionDef, WorkflowDefinition
from workflows.roles import Role


class PaymentState(StrEnum):
    PREPARED = "prepared"
    AUTHORISED = "authorised"
    PAID = "paid"
    CANCELLED = "cancelled"
    WITHHELD = "withheld"


P = PaymentState
FINANCE = frozenset({Role.FINANCE})

PAYMENT_V1 = WorkflowDefinition(
    name="payment",
    version=1,
    initial=P.PREPARED,
    states=tuple(str(s) for s in PaymentState),
    final_states=frozenset({P.PAID, P.CANCELLED, P.WITHHELD}),
    transitions=(
        TransitionDef(
            "authorise",
            (P.PREPARED,),
            P.AUTHORISED,
            FINANCE,
            "Authorise payment",
            ("four_eyes",),
            "payment_order",
        ),
        TransitionDef(
            "mark_paid", (P.AUTHORISED,), P.PAID, FINANCE, "Mark paid", (), "remittance_advice"
        ),
        TransitionDef(
            "cancel",
            (P.PREPARED, P.AUTHORISED),
            P.CANCELLED,
            FINANCE,
            "Cancel payment",
            ("reason_given",),
        ),
        TransitionDef(
            "withhold",
            (P.PREPARED, P.AUTHORISED),
            P.WITHHELD,
            frozenset({Role.FINANCE, Role.OFFICER}),
            "Withhold payment",
            ("reason_given",),
        ),
    ),
)
