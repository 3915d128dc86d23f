"""Who is acting, and from where: passed to every service instead of reading the request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from grants.models import User
from workflows.roles import Role


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    name: str
    role: Role
    organisation_id: int | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    ip: str | None = None

    @classmethod
    def of(cls, user: User, *, request_id: str | None = None, ip: str | None = None) -> Actor:
        return cls(
            user_id=user.id,
            name=user.full_name,
            role=Role(user.role),
            organisation_id=user.organisation_id,
            request_id=request_id or uuid.uuid4().hex,
            ip=ip,
        )
