"""Each payment instalment (pre-financing or balance) runs through this machine."""

from enum import StrEnum

from workflows.definition import TransitionDef, WorkflowDefinition
from workflows.i18n import N_
from workflows.roles import Role
from workflows.states import Badge, StateFacts


class PaymentState(StrEnum):
    PREPARED = "prepared"
    AUTHORISED = "authorised"
    PAID = "paid"
    CANCELLED = "cancelled"
    WITHHELD = "withheld"


P = PaymentState
FINANCE = frozenset({Role.FINANCE})

PAYMENT_FACTS = {
    P.PREPARED: StateFacts(N_("Prepared"), Badge.WARN),
    P.AUTHORISED: StateFacts(N_("Authorised"), Badge.WARN),
    P.PAID: StateFacts(N_("Paid"), Badge.GOOD),
    P.CANCELLED: StateFacts(N_("Cancelled"), Badge.NEUTRAL),
    P.WITHHELD: StateFacts(N_("Withheld"), Badge.BAD),
}

PAYMENT_V1 = WorkflowDefinition(
    name="payment",
    version=1,
    initial=P.PREPARED,
    states=tuple(str(s) for s in PaymentState),
    final_states=frozenset({P.PAID, P.CANCELLED, P.WITHHELD}),
    facts=PAYMENT_FACTS,
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
            "payment_cancelled_notice",
        ),
        TransitionDef(
            "withhold",
            (P.PREPARED, P.AUTHORISED),
            P.WITHHELD,
            frozenset({Role.FINANCE, Role.OFFICER}),
            "Withhold payment",
            ("reason_given",),
            "payment_withheld_notice",
        ),
    ),
)
