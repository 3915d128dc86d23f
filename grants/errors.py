"""Domain errors and the checks that raise them, shared by every service and view."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workflows.errors import TransitionRefused
from workflows.i18n import _
from workflows.roles import Role

if TYPE_CHECKING:
    from grants.models import Application
    from grants.services.actor import Actor

__all__ = ["NotFound", "TransitionRefused", "ValidationFailed", "require_own", "require_role"]


class ValidationFailed(ValueError):
    """Input a person must correct; ``errors`` maps a field name to what is wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class NotFound(LookupError):
    """The thing asked for does not exist, or this person may not know it exists."""


def require_role(actor: Actor, *roles: Role) -> None:
    if actor.role not in roles:
        role = _(actor.role.label).lower()
        raise TransitionRefused(_("a %(role)s may not do this", role=role))


def require_own(actor: Actor, application: Application) -> None:
    if actor.role != Role.APPLICANT or actor.organisation_id != application.organisation_id:
        raise TransitionRefused(_("only the applicant organisation's staff may do this"))
