"""The people who act in a cascade-funding programme."""

from enum import StrEnum

from workflows.i18n import N_


class Role(StrEnum):
    APPLICANT = "applicant"
    OFFICER = "officer"
    EVALUATOR = "evaluator"
    FINANCE = "finance"
    AUDITOR = "auditor"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Role.APPLICANT: N_("Applicant (SME)"),
    Role.OFFICER: N_("Programme officer"),
    Role.EVALUATOR: N_("Evaluator"),
    Role.FINANCE: N_("Finance officer"),
    Role.AUDITOR: N_("Auditor"),
    Role.ADMIN: N_("Administrator"),
}
