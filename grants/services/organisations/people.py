"""The organisation's people: invitations, joining, removing a member, handing over the
manager role.

Invitations are signed, expiring links (itsdangerous, keyed with the application's secret,
which the caller passes in). A link carries the organisation, the invited address and the
audit position of the invitation, so removing that person afterwards withdraws it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from grants import programme
from grants.errors import ValidationFailed
from grants.models import AuditEvent, MailMessage, Organisation, User
from grants.services import audit, mail
from grants.services.actor import Actor
from grants.services.organisations.profile import _load_user, _managed, _require_applicant
from grants.services.organisations.profile_form import _EMAIL, _text
from workflows.errors import TransitionRefused
from workflows.i18n import _
from workflows.roles import Role

INVITE_SALT = "cascade-organisation-invite"
INVITE_MAX_AGE = 7 * 24 * 3600  # seconds: an invitation link works for seven days
INVITE_DAYS = INVITE_MAX_AGE // (24 * 3600)


def members(session: Session, organisation_id: int) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .where(User.organisation_id == organisation_id)
            .order_by(User.is_org_manager.desc(), User.full_name, User.id)
        )
    )


def is_manager(session: Session, actor: Actor) -> bool:
    user = session.get(User, actor.user_id) if actor.user_id else None
    return bool(user and user.organisation_id is not None and user.is_org_manager)


def _serializer(secret: str) -> URLSafeTimedSerializer:
    if not secret:
        raise ValueError("invitations need the application's secret key")
    return URLSafeTimedSerializer(secret, salt=INVITE_SALT)


def invite(
    session: Session,
    actor: Actor,
    email: str,
    *,
    secret: str,
    link: Callable[[str], str],
) -> MailMessage:
    """The manager invites a colleague by e-mail; the link works for seven days."""
    user, org = _managed(session, actor)
    address = _text(email).lower()
    if not address:
        raise ValidationFailed({"email": _("give your colleague's e-mail address")})
    if not _EMAIL.match(address) or len(address) > 254:
        raise ValidationFailed({"email": _("give an e-mail address like name@example.eu")})
    if any(m.email.lower() == address for m in members(session, org.id)):
        raise ValidationFailed(
            {
                "email": _(
                    "%(email)s is already a member of %(organisation)s",
                    email=address,
                    organisation=org.legal_name,
                )
            }
        )
    event = audit.record(
        session,
        actor,
        "invite_member",
        entity_type="organisation",
        entity_id=org.id,
        after={"email": address},
    )
    token = _serializer(secret).dumps({"o": org.id, "e": address, "n": event.id})
    body = (
        f"Hello,\n\n{user.full_name} invites you to join {org.legal_name} on the "
        f"{programme.PROGRAMME_NAME} voucher platform, to prepare and follow its "
        f"applications together.\n\n"
        f"Log in with this e-mail address ({address}), or create an account with it first, "
        f"then open this link within {INVITE_DAYS} days:\n\n{link(token)}\n\n"
        f"If you did not expect this invitation, ignore this message.\n"
    )
    return mail.queue(
        session,
        to=address,
        subject=f"Join {org.legal_name} on the {programme.PROGRAMME_NAME} platform",
        body=body,
        purpose="organisation_invite",
    )


class InvitationInvalid(TransitionRefused):
    """The link itself no longer works: forged, cut short, expired or withdrawn."""


@dataclass(frozen=True)
class Invitation:
    organisation: Organisation
    email: str
    event_id: int


def read_invitation(
    session: Session, token: str, *, secret: str, max_age: int = INVITE_MAX_AGE
) -> Invitation:
    """The invitation a link carries, or a refusal saying why it no longer works."""
    try:
        payload = _serializer(secret).loads(token, max_age=max_age)
    except SignatureExpired:
        raise InvitationInvalid(
            _(
                "this invitation has expired (links work for %(days)s days): ask the "
                "organisation's manager to invite you again",
                days=INVITE_DAYS,
            )
        ) from None
    except BadSignature:
        raise InvitationInvalid(
            _(
                "this invitation link is not valid: check that you opened the whole link from "
                "the e-mail"
            )
        ) from None
    if not (
        isinstance(payload, dict)
        and isinstance(payload.get("o"), int)
        and isinstance(payload.get("e"), str)
        and isinstance(payload.get("n"), int)
    ):
        raise InvitationInvalid(_("this invitation link is not valid"))
    org = session.get(Organisation, payload["o"])
    if org is None:
        raise InvitationInvalid(_("the organisation of this invitation no longer exists"))
    invitation = Invitation(org, payload["e"], payload["n"])
    removals = session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity_type == "organisation",
            AuditEvent.entity_id == str(org.id),
            AuditEvent.action == "remove_member",
            AuditEvent.id > invitation.event_id,
        )
    )
    if any(e.before.get("email") == invitation.email for e in removals):
        raise InvitationInvalid(
            _(
                "this invitation was withdrawn when the account was removed from the "
                "organisation: ask the manager for a new invitation"
            )
        )
    return invitation


def join(
    session: Session,
    actor: Actor,
    token: str,
    *,
    secret: str,
    max_age: int = INVITE_MAX_AGE,
) -> Organisation:
    """The invited person, logged in with the invited address, joins the organisation.

    Joining twice is harmless: a member who opens the link again is simply a member.
    """
    _require_applicant(actor)
    invitation = read_invitation(session, token, secret=secret, max_age=max_age)
    user = _load_user(session, actor)
    org = invitation.organisation
    if user.email.lower() != invitation.email:
        raise TransitionRefused(
            _(
                "this invitation was sent to %(email)s: log in with that address to accept it",
                email=invitation.email,
            )
        )
    if user.organisation_id == org.id:
        return org
    if user.organisation_id is not None:
        raise TransitionRefused(
            _(
                "your account already belongs to another organisation: one account works for "
                "one organisation, so use another account or ask your manager to remove you "
                "first"
            )
        )
    user.organisation_id = org.id
    user.is_org_manager = False
    session.flush()
    audit.record(
        session,
        actor,
        "join_organisation",
        entity_type="organisation",
        entity_id=org.id,
        after={"email": user.email, "user_id": user.id},
    )
    return org


def _colleague(session: Session, org: Organisation, user_id: int) -> User:
    colleague = session.scalars(select(User).where(User.id == user_id).with_for_update()).first()
    if colleague is None or colleague.organisation_id != org.id:
        raise TransitionRefused(_("this person is not a member of your organisation"))
    return colleague


def remove_member(session: Session, actor: Actor, user_id: int) -> User:
    """The manager removes a colleague's access; pending invitations to them stop working."""
    manager, org = _managed(session, actor)
    if user_id == manager.id:
        raise TransitionRefused(
            _("you cannot remove yourself: hand the manager role over to a colleague first")
        )
    colleague = _colleague(session, org, user_id)
    colleague.organisation_id = None
    colleague.is_org_manager = False
    session.flush()
    audit.record(
        session,
        actor,
        "remove_member",
        entity_type="organisation",
        entity_id=org.id,
        before={"email": colleague.email.lower(), "user_id": colleague.id},
    )
    return colleague


def transfer_manager(session: Session, actor: Actor, user_id: int) -> User:
    """The manager hands the role over to a colleague, and becomes a colleague."""
    manager, org = _managed(session, actor)
    if user_id == manager.id:
        raise TransitionRefused(_("you are already the manager"))
    colleague = _colleague(session, org, user_id)
    if colleague.role != Role.APPLICANT:
        raise TransitionRefused(_("only an applicant account can manage the organisation"))
    manager.is_org_manager = False
    colleague.is_org_manager = True
    session.flush()
    audit.record(
        session,
        actor,
        "transfer_manager",
        entity_type="organisation",
        entity_id=org.id,
        before={"manager": manager.email},
        after={"manager": colleague.email},
    )
    return colleague
