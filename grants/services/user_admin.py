"""The administrator's work on accounts: finding them, deactivating and reactivating.

(Invitations and the roles a person holds are in ``grants.services.staff``.)"""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from grants.errors import NotFound
from grants.models import RoleGrant, User
from grants.services import audit
from grants.services.accounts import AccountRefused
from grants.services.actor import Actor
from workflows.i18n import _
from workflows.roles import Role


def list_users(
    session: Session,
    *,
    offset: int = 0,
    limit: int = 50,
    search: str = "",
    role: Role | None = None,
) -> tuple[list[User], int]:
    """A page of accounts (by role, then name) and how many there are; ``search`` keeps the
    accounts whose name or e-mail contains it, ``role`` those holding that role."""
    where = []
    if role is not None:
        holds = select(RoleGrant.user_id).where(RoleGrant.role == str(role))
        where.append(User.id.in_(holds))
    if search.strip():
        text = search.strip().lower()
        where.append(
            or_(
                func.lower(User.email).contains(text, autoescape=True),
                func.lower(User.full_name).contains(text, autoescape=True),
            )
        )
    total = session.scalar(select(func.count()).select_from(User).where(*where)) or 0
    users = session.scalars(
        select(User)
        .where(*where)
        # The list shows every role held and the organisation: loaded with the page, not
        # one query per row.
        .options(selectinload(User.organisation), selectinload(User.role_grants))
        .order_by(User.role, User.full_name, User.id)
        .offset(offset)
        .limit(limit)
    )
    return list(users), total


def get_user(session: Session, user_id: int) -> User:
    """One account, with the roles it holds and its organisation (its page shows both)."""
    user = session.get(
        User,
        user_id,
        options=[selectinload(User.organisation), selectinload(User.role_grants)],
    )
    if user is None:
        raise NotFound("no such user")
    return user


def set_active(session: Session, actor: Actor, user_id: int, *, active: bool) -> User:
    """Deactivate (logging the account out everywhere) or reactivate an account."""
    if actor.role != Role.ADMIN:
        raise AccountRefused(_("Only an administrator may deactivate or reactivate accounts."))
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    if user.id == actor.user_id:
        raise AccountRefused(
            _("You cannot deactivate or reactivate your own account; ask another administrator.")
        )
    if user.active == active:
        return user
    before = {"active": user.active, "session_version": user.session_version}
    user.active = active
    if not active:
        user.session_version += 1
    session.flush()
    audit.record(
        session,
        actor,
        "reactivate_user" if active else "deactivate_user",
        entity_type="user",
        entity_id=user.id,
        before=before,
        after={"active": user.active, "session_version": user.session_version},
    )
    return user
