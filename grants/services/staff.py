"""The programme's staff: the first administrator, invitations, the roles each person holds
and the one they act in.

A person may hold several roles (an officer who also authorises payments); ``users.role`` is
the one they act in now, switched from the header. Every rule that compares people (four-eyes,
an evaluator's independence) compares the person, not the role, so holding two roles never
lets one person do both halves of a check.

An invitation mails a link valid seven days; opening it lets the person choose a password,
which confirms the address. The link carries a fingerprint of the account's placeholder
password, so it works once, and a resent invitation (a new placeholder) ends the older links.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from grants import programme
from grants.db import utcnow
from grants.errors import NotFound
from grants.models import RoleGrant, User
from grants.services import audit, mail
from grants.services.accounts import (
    EMAIL_PATTERN,
    AccountRefused,
    FormErrors,
    Origin,
    TokenProblem,
    find_user,
    hash_password,
    load_token,
    normalise_email,
    password_errors,
    password_fingerprint,
    token_serializer,
)
from grants.services.actor import Actor
from grants.services.role_holders import people_holding
from workflows.i18n import _
from workflows.roles import Role

INVITATION_MAX_AGE = timedelta(days=7)
_INVITATION_SALT = "cascade.staff-invitation"
# Not an argon2 hash, so no password matches it until the person chooses one.
_PLACEHOLDER = "!invited:"

# In the order a person's acting role is chosen when they hold several.
STAFF_ROLES: tuple[Role, ...] = (
    Role.OFFICER,
    Role.FINANCE,
    Role.EVALUATOR,
    Role.AUDITOR,
    Role.ADMIN,
)


def command_line(role: Role = Role.ADMIN) -> Actor:
    """Who acts when an operator runs a `cascade` command on the server (as ``role``)."""
    return Actor(user_id=None, name="cascade command line", role=role, request_id=_rid())


def _rid() -> str:
    return f"cli-{uuid.uuid4().hex}"


def parse_roles(values: Iterable[str]) -> list[Role]:
    """Staff roles from their names (``officer``, ``finance`` …), in STAFF_ROLES order; an
    unknown name is refused, naming the known ones."""
    names = {value.strip().lower() for value in values if value.strip()}
    unknown = sorted(names - {str(role) for role in STAFF_ROLES})
    if unknown:
        raise FormErrors(
            {
                "roles": _(
                    "Unknown role %(roles)s; choose from %(known)s.",
                    roles=", ".join(unknown),
                    known=", ".join(str(role) for role in STAFF_ROLES),
                )
            }
        )
    # None at all is not refused here: ``invite`` and ``set_roles`` refuse it together with
    # the form's other mistakes.
    return [role for role in STAFF_ROLES if str(role) in names]


def _require_admin(actor: Actor) -> None:
    if actor.role != Role.ADMIN:
        raise AccountRefused(_("Only an administrator may manage staff accounts."))


def _person_errors(full_name: str, email: str) -> tuple[str, str, dict[str, str]]:
    name = " ".join(full_name.split())
    email = normalise_email(email)
    errors: dict[str, str] = {}
    if not name:
        errors["full_name"] = _("Enter the person's name.")
    elif len(name) > 200:
        errors["full_name"] = _("Use at most %(count)s characters.", count=200)
    if not email:
        errors["email"] = _("Enter an e-mail address.")
    elif len(email) > 254 or not EMAIL_PATTERN.match(email):
        errors["email"] = _("Enter an e-mail address like name@cluster.eu.")
    return name, email, errors


def _taken(session: Session, email: str) -> dict[str, str]:
    if find_user(session, email) is None:
        return {}
    return {"email": _("This address already has an account; change its roles on its page.")}


def _grant(user: User, roles: Iterable[Role], granted_by: int | None) -> None:
    held = {grant.role for grant in user.role_grants}
    for role in roles:
        if str(role) not in held:
            user.role_grants.append(RoleGrant(role=str(role), granted_by_id=granted_by))


# -- the first administrator -------------------------------------------------------------


def administrators(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(people_holding(Role.ADMIN).subquery()))


def create_admin(
    session: Session, *, email: str, full_name: str, password: str, password_confirm: str
) -> User:
    """An administrator who can log in at once (the operator typed the password on the
    server, so the address needs no confirmation link)."""
    name, email, errors = _person_errors(full_name, email)
    errors |= password_errors(password, password_confirm, email=email)
    errors |= _taken(session, email) if email and "email" not in errors else {}
    if errors:
        raise FormErrors(errors)
    user = User(
        email=email,
        full_name=name,
        password_hash=hash_password(password),
        role=Role.ADMIN,
        email_confirmed_at=utcnow(),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        command_line(),
        "create_admin",
        entity_type="user",
        entity_id=user.id,
        after={"email": email, "full_name": name, "roles": [str(Role.ADMIN)]},
    )
    return user


# -- invitations -------------------------------------------------------------------------


def invitation_token(secret_key: str, user: User, *, issued_at: datetime | None = None) -> str:
    return token_serializer(secret_key, _INVITATION_SALT, issued_at).dumps(
        {"u": user.id, "p": password_fingerprint(secret_key, user.password_hash)}
    )


def _queue_invitation(
    session: Session, user: User, actor: Actor, secret_key: str, link: Callable[[str], str]
) -> None:
    roles = ", ".join(_(role.label) for role in STAFF_ROLES if role in user.roles)
    mail.queue(
        session,
        to=user.email,
        subject=f"You are invited to {programme.PROGRAMME_NAME} on Cascade",
        body=(
            f"Hello {user.full_name},\n\n"
            f"{actor.name} invited you to work on the {programme.PROGRAMME_NAME} voucher "
            f"calls as: {roles}.\n\n"
            "Open this link within seven days to choose your password; it works once:\n\n"
            f"{link(invitation_token(secret_key, user))}\n\n"
            "If you did not expect this invitation, ignore this e-mail: nobody can log in to "
            "the account until a password is chosen with this link.\n"
            f"\n--\n{programme.PROGRAMME_NAME} programme team (Cascade)\n"
        ),
        purpose="staff_invitation",
    )


def invite(
    session: Session,
    actor: Actor,
    *,
    email: str,
    full_name: str,
    roles: Iterable[Role],
    secret_key: str,
    link: Callable[[str], str],
) -> User:
    """A staff account holding ``roles``, and a mail inviting its owner to choose a
    password."""
    _require_admin(actor)
    name, email, errors = _person_errors(full_name, email)
    roles = [role for role in STAFF_ROLES if role in set(roles)]
    if not roles:
        errors["roles"] = _("Choose at least one role.")
    errors |= _taken(session, email) if email and "email" not in errors else {}
    if errors:
        raise FormErrors(errors)
    user = User(
        email=email,
        full_name=name,
        password_hash=_PLACEHOLDER + secrets.token_hex(16),
        role=roles[0],
    )
    _grant(user, roles, actor.user_id)
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "invite_user",
        entity_type="user",
        entity_id=user.id,
        after={"email": email, "full_name": name, "roles": [str(role) for role in roles]},
    )
    _queue_invitation(session, user, actor, secret_key, link)
    return user


def _get(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    return user


def awaits_acceptance(user: User) -> bool:
    return user.email_confirmed_at is None and user.password_hash.startswith(_PLACEHOLDER)


def pending_invitations(session: Session, *, limit: int = 20) -> tuple[list[User], int]:
    """Active accounts whose invitation is not accepted yet (newest first), and how many."""
    pending = (
        User.active.is_(True),
        User.email_confirmed_at.is_(None),
        User.password_hash.startswith(_PLACEHOLDER, autoescape=True),
    )
    total = session.scalar(select(func.count()).select_from(User).where(*pending)) or 0
    users = session.scalars(
        select(User)
        .where(*pending)
        .options(selectinload(User.role_grants), selectinload(User.organisation))
        .order_by(User.created_at.desc(), User.id.desc())
        .limit(limit)
    )
    return list(users), total


def role_counts(session: Session) -> dict[Role, int]:
    """How many active accounts hold each role (a person holding two counts in both)."""
    rows = session.execute(
        select(RoleGrant.role, func.count())
        .join(User, User.id == RoleGrant.user_id)
        .where(User.active.is_(True))
        .group_by(RoleGrant.role)
    )
    counts = dict.fromkeys(Role, 0)
    counts.update({Role(role): count for role, count in rows})
    return counts


def deactivated_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User).where(User.active.is_(False))) or 0


def resend_invitation(
    session: Session, actor: Actor, user_id: int, *, secret_key: str, link: Callable[[str], str]
) -> User:
    """A fresh seven-day link; the links sent before stop working."""
    _require_admin(actor)
    user = _get(session, user_id)
    if not awaits_acceptance(user):
        raise AccountRefused(
            _("%(name)s has already accepted the invitation.", name=user.full_name)
        )
    if not user.active:
        raise AccountRefused(_("Reactivate the account before inviting its owner again."))
    user.password_hash = _PLACEHOLDER + secrets.token_hex(16)
    session.flush()
    audit.record(
        session, actor, "resend_invitation", entity_type="user", entity_id=user.id, after={}
    )
    _queue_invitation(session, user, actor, secret_key, link)
    return user


def user_for_invitation(session: Session, token: str, *, secret_key: str) -> User:
    """The account an invitation link is for, or TokenProblem (expired, used, or not ours)."""
    data = load_token(secret_key, _INVITATION_SALT, token, INVITATION_MAX_AGE)
    user = session.get(User, data.get("u")) if isinstance(data.get("u"), int) else None
    if user is None or not user.active or not awaits_acceptance(user):
        raise TokenProblem(expired=False)
    expected = password_fingerprint(secret_key, user.password_hash)
    if not hmac.compare_digest(expected, str(data.get("p", ""))):
        raise TokenProblem(expired=False)  # a newer invitation was sent since
    return user


def accept_invitation(
    session: Session,
    token: str,
    *,
    password: str,
    password_confirm: str,
    secret_key: str,
    origin: Origin,
) -> User:
    """The invited person's password; the link proves the mailbox, so the address is
    confirmed and they can log in."""
    user = user_for_invitation(session, token, secret_key=secret_key)
    errors = password_errors(password, password_confirm, email=user.email)
    if errors:
        raise FormErrors(errors)
    user.password_hash = hash_password(password)
    user.email_confirmed_at = utcnow()
    user.session_version += 1
    session.flush()
    audit.record(
        session,
        Actor.of(user, request_id=origin.request_id, ip=origin.ip),
        "accept_invitation",
        entity_type="user",
        entity_id=user.id,
        before={"email_confirmed": False},
        after={"email_confirmed": True},
    )
    return user


# -- roles -------------------------------------------------------------------------------


def set_roles(session: Session, actor: Actor, user_id: int, roles: Iterable[Role]) -> User:
    """The roles a staff member holds from now on; their next request sees them. If the
    role they act in is taken away, they act in the first one left."""
    _require_admin(actor)
    user = _get(session, user_id)
    wanted = [role for role in STAFF_ROLES if role in set(roles)]
    if Role.APPLICANT in user.roles:
        raise AccountRefused(
            _(
                "Applicant accounts belong to an SME and hold no staff role; invite the person "
                "with another address."
            )
        )
    if not wanted:
        raise FormErrors(
            {
                "roles": _(
                    "Choose at least one role; to stop someone working, deactivate the account."
                )
            }
        )
    if user.id == actor.user_id and Role.ADMIN not in wanted:
        raise AccountRefused(
            _("You cannot take away your own administrator role; ask another administrator.")
        )
    before = sorted(str(role) for role in user.roles)
    after = [str(role) for role in wanted]
    if sorted(after) == before:
        return user
    for grant in list(user.role_grants):
        if Role(grant.role) not in wanted:
            user.role_grants.remove(grant)
    _grant(user, wanted, actor.user_id)
    acting_before = user.role
    if Role(user.role) not in wanted:
        user.role = wanted[0]
    session.flush()
    audit.record(
        session,
        actor,
        "change_roles",
        entity_type="user",
        entity_id=user.id,
        before={"roles": before, "acting_role": str(acting_before)},
        after={"roles": sorted(after), "acting_role": str(user.role)},
    )
    return user


def switch_role(session: Session, actor: Actor, role: Role) -> User:
    """Act in another role the person holds (the header's switcher)."""
    user = _get(session, actor.user_id or 0)
    if role not in user.roles:
        raise AccountRefused(_("You do not hold the role %(role)s.", role=_(role.label)))
    if user.role == role:
        return user
    before = str(user.role)
    user.role = role
    session.flush()
    audit.record(
        session,
        actor,
        "switch_role",
        entity_type="user",
        entity_id=user.id,
        before={"acting_role": before},
        after={"acting_role": str(role)},
    )
    return user
