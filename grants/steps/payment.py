"""The payment-instalment workflow's steps (the pre-financing; the balance runs through the
voucher's own prepare/authorise/mark-paid steps, which fire these inside them)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from grants.steps.model import Notice, Recipient, Step

STEPS = (
    Step(
        "payment",
        "authorise",
        done_label=_l("Payment authorised"),
        done=_l("Pre-financing authorised."),
        performed_in="the pre-financing panel on the application page",
        notify=(Notice(Recipient.APPLICANT, "payment_authorised", attach=False),),
    ),
    Step(
        "payment",
        "mark_paid",
        done_label=_l("Payment paid"),
        done=_l("Pre-financing marked as paid. The remittance advice is being generated."),
        performed_in="the pre-financing panel on the application page",
        notify=(Notice(Recipient.APPLICANT, "payment_paid"),),
    ),
    Step(
        "payment",
        "cancel",
        done_label=_l("Payment cancelled"),
        done=_l("Pre-financing order cancelled. The SME is sent the notice with your reason."),
        performed_in="the pre-financing rows of the finance dashboard (payment_stops)",
        notify=(Notice(Recipient.APPLICANT, "payment_cancelled"),),
    ),
    Step(
        "payment",
        "withhold",
        done_label=_l("Payment withheld"),
        done=_l("Pre-financing withheld. The SME is sent the notice with your reason."),
        performed_in="the pre-financing rows of the finance dashboard (payment_stops); "
        "the termination of the agreement also withholds open instalments",
        notify=(Notice(Recipient.APPLICANT, "payment_withheld"),),
    ),
)
