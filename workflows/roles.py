"""The people who act in a cascade-funding programme."""

from enum import StrEnum


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
    Role.APPLICANT: "Applicant (SME)",
    Role.OFFICER: "Programme officer",
    Role.EVALUATOR: "Evaluator",
    Role.FINANCE: "Finance officer",
    Role.AUDITOR: "Auditor",
    Role.ADMIN: "Administrator",
}
