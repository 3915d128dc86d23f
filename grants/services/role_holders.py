"""Who holds a role: a person may hold several, so lists of officers, experts or finance
officers ask the grants, not the role a person happens to act in now."""

from __future__ import annotations

from sqlalchemy import Select, select

from grants.models import RoleGrant, User
from workflows.roles import Role


def people_holding(role: Role, *, active_only: bool = True) -> Select[tuple[User]]:
    """Accounts holding ``role``, whatever role they act in now."""
    query = select(User).join(RoleGrant, RoleGrant.user_id == User.id)
    query = query.where(RoleGrant.role == str(role))
    return query.where(User.active.is_(True)) if active_only else query
