"""The pool of experts of a call: invitations, answers, and the accepted experts the
evaluation issue assigns from (profiles and keywords are in ``experts``)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from grants import programme
from grants.db import utcnow
from grants.errors import NotFound, ValidationFailed, require_role
from grants.models import (
    Call,
    CallPoolMembership,
    ExpertProfile,
    PoolStatus,
    User,
)
from grants.services import audit, mail
from grants.services.actor import Actor

# Who keeps the keyword list, edits any expert's profile and invites experts to a pool.
from grants.services.experts import (
    EDITORS,
    MAX_APPLICATIONS,
    NOTE_MAX,
    ExpertRow,
    list_experts,
)
from grants.services.organisations.profile_form import _bounded, _Checker, _required_text
from grants.services.role_holders import people_holding
from grants.services.workflow import flush_or_refuse, load_call
from workflows import numbers
from workflows.call import CallState
from workflows.errors import TransitionRefused
from workflows.i18n import _
from workflows.roles import Role

_STATUS_ORDER = {PoolStatus.ACCEPTED: 0, PoolStatus.INVITED: 1, PoolStatus.DECLINED: 2}


# -- the pool of a call ----------------------------------------------------------------------
@dataclass(frozen=True)
class PoolEntry:
    membership: CallPoolMembership
    user: User
    profile: ExpertProfile | None


@dataclass(frozen=True)
class Invited:
    """What an invitation did: the experts invited now, and those already in the pool."""

    invited: list[User]
    already: list[PoolEntry]


def _memberships(session: Session, call_id: int) -> list[CallPoolMembership]:
    return list(
        session.scalars(
            select(CallPoolMembership)
            .where(CallPoolMembership.call_id == call_id)
            .options(
                selectinload(CallPoolMembership.user), selectinload(CallPoolMembership.invited_by)
            )
        )
    )


def _profiles(session: Session, user_ids: Collection[int]) -> dict[int, ExpertProfile]:
    if not user_ids:
        return {}
    rows = session.scalars(
        select(ExpertProfile)
        .where(ExpertProfile.user_id.in_(user_ids))
        .options(selectinload(ExpertProfile.keywords))
    )
    return {p.user_id: p for p in rows}


def pool_of(session: Session, call_id: int) -> list[PoolEntry]:
    """Everyone invited to the call's pool with their answer and profile: accepted first,
    then awaiting an answer, then declined; by name within each."""
    memberships = _memberships(session, call_id)
    profiles = _profiles(session, [m.user_id for m in memberships])
    entries = [PoolEntry(m, m.user, profiles.get(m.user_id)) for m in memberships]
    return sorted(
        entries,
        key=lambda e: (
            _STATUS_ORDER.get(PoolStatus(e.membership.status), 9),
            e.user.full_name.lower(),
            e.user.id,
        ),
    )


def pool_counts(entries: Iterable[PoolEntry]) -> dict[str, int]:
    """How many experts are in each state, and the applications the accepted ones said they
    can take (those who gave no number are not counted)."""
    counts = dict.fromkeys((str(s) for s in PoolStatus), 0)
    capacity = 0
    for entry in entries:
        counts[entry.membership.status] += 1
        if entry.membership.status == PoolStatus.ACCEPTED:
            capacity += entry.membership.max_applications or 0
    return {**counts, "capacity": capacity}


def invitable_experts(session: Session, call_id: int) -> list[ExpertRow]:
    """Active evaluators not in the call's pool yet, by name."""
    in_pool = set(
        session.scalars(
            select(CallPoolMembership.user_id).where(CallPoolMembership.call_id == call_id)
        )
    )
    return [row for row in list_experts(session) if row.user.id not in in_pool]


def calls_with_pools(session: Session) -> list[tuple[Call, dict[str, int]]]:
    """Every call not archived (newest deadline first) with how many experts are in each
    state of its pool."""
    calls = list(
        session.scalars(
            select(Call)
            .where(Call.status != CallState.ARCHIVED)
            .order_by(Call.deadline.desc(), Call.reference)
        )
    )
    rows = session.execute(
        select(CallPoolMembership.call_id, CallPoolMembership.status, func.count())
        .group_by(CallPoolMembership.call_id, CallPoolMembership.status)
        .order_by(CallPoolMembership.call_id)
    )
    counts: dict[int, dict[str, int]] = {}
    for call_id, status, count in rows:
        counts.setdefault(call_id, dict.fromkeys((str(s) for s in PoolStatus), 0))[status] = count
    empty = dict.fromkeys((str(s) for s in PoolStatus), 0)
    return [(call, counts.get(call.id, empty)) for call in calls]


def _open_for_experts(call: Call) -> None:
    if call.status == CallState.ARCHIVED:
        raise TransitionRefused(
            _("the call %(reference)s is archived: its pool is closed", reference=call.reference)
        )


def _membership_snapshot(membership: CallPoolMembership) -> dict[str, Any]:
    return {
        "status": membership.status,
        "max_applications": membership.max_applications,
        "availability_note": membership.availability_note,
        "decline_reason": membership.decline_reason,
    }


def _queue_invitation(
    session: Session, officer: Actor, call: Call, membership: CallPoolMembership, link: str
) -> None:
    user = membership.user
    body = "\n\n".join(
        (
            _("Dear %(name)s,", name=user.full_name),
            _(
                "%(officer)s invites you to the pool of experts of the call %(reference)s "
                "(%(title)s): the experts its applications are assigned to for evaluation.",
                officer=officer.name,
                reference=call.reference,
                title=call.title,
            ),
            _(
                "Please accept, saying how many applications you can take, or decline, on "
                "your page of call invitations:"
            ),
            link,
            _(
                "Before any proposal opens to you, you will declare whether you have a "
                "conflict of interest with its applicant. Keep your expert profile up to "
                "date: it is what such conflicts are checked against."
            ),
            "--\n"
            + _("%(programme)s programme team (Cascade)", programme=programme.PROGRAMME_NAME),
        )
    )
    mail.queue(
        session,
        to=user.email,
        subject=_("Invitation to evaluate for %(reference)s", reference=call.reference),
        body=body + "\n",
        purpose="expert_pool_invitation",
        # Once per membership, even if two requests raced past the pool check.
        dedupe_key=f"pool-invitation:{membership.id}",
        flush=False,
    )


def invite_to_pool(
    session: Session, officer: Actor, call_id: int, user_ids: Collection[int], *, link: str
) -> Invited:
    """Invite active evaluators to the call's pool and mail each a link (``link``: their
    page of call invitations). Experts already in the pool, whatever their answer, are left
    as they are: inviting twice changes nothing and mails nobody again."""
    require_role(officer, *EDITORS)
    # Locked: two officers inviting the same expert at once; the second waits, then skips.
    call = load_call(session, call_id)
    _open_for_experts(call)
    wanted = list(dict.fromkeys(user_ids))
    if not wanted:
        raise ValidationFailed({"user_ids": _("choose at least one expert to invite")})
    experts = {
        u.id: u for u in session.scalars(people_holding(Role.EVALUATOR).where(User.id.in_(wanted)))
    }
    if len(experts) != len(wanted):
        raise ValidationFailed(
            {
                "user_ids": _(
                    "only people holding the evaluator role, with an active account, can be invited"
                )
            }
        )
    existing = {m.user_id: m for m in _memberships(session, call.id) if m.user_id in experts}
    now = utcnow()
    new = [
        CallPoolMembership(
            call_id=call.id,
            user_id=user_id,
            user=experts[user_id],
            status=PoolStatus.INVITED,
            invited_at=now,
            invited_by_id=officer.user_id,
        )
        for user_id in wanted
        if user_id not in existing
    ]
    session.add_all(new)
    flush_or_refuse(session)
    for membership in new:
        audit.record(
            session,
            officer,
            "invite_to_pool",
            entity_type="call_pool_membership",
            entity_id=membership.id,
            after={
                "call": call.reference,
                "expert": membership.user.email,
                **_membership_snapshot(membership),
            },
        )
        _queue_invitation(session, officer, call, membership, link)
    session.flush()
    profiles = _profiles(session, list(existing))
    return Invited(
        invited=[m.user for m in new],
        already=[PoolEntry(m, m.user, profiles.get(m.user_id)) for m in existing.values()],
    )


def my_invitations(session: Session, actor: Actor) -> list[CallPoolMembership]:
    """The expert's own invitations: those awaiting an answer first, then by the call's
    deadline, latest first."""
    memberships = session.scalars(
        select(CallPoolMembership)
        .join(Call, Call.id == CallPoolMembership.call_id)
        .where(CallPoolMembership.user_id == (actor.user_id or 0))
        .options(selectinload(CallPoolMembership.call))
        .order_by(Call.deadline.desc(), Call.reference)
    )
    return sorted(memberships, key=lambda m: m.status != PoolStatus.INVITED)


def _max_applications(raw: int | str | None) -> int | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    return numbers.parse_integer(
        raw,
        field_label=_("The number of applications"),
        minimum=1,
        maximum=MAX_APPLICATIONS,
    )


def _answer(accept: bool, availability: int | str | None, reason: str, note: str) -> dict[str, Any]:
    c = _Checker()
    if accept:
        values = {
            "status": PoolStatus.ACCEPTED,
            "max_applications": c.check(
                "max_applications", lambda: _max_applications(availability)
            ),
            "availability_note": c.check(
                "availability_note", lambda: _bounded(note.strip(), NOTE_MAX), ""
            ),
            "decline_reason": "",
        }
    else:
        values = {
            "status": PoolStatus.DECLINED,
            "max_applications": None,
            "availability_note": "",
            "decline_reason": c.check(
                "decline_reason",
                lambda: _required_text(
                    reason, _("say briefly why, so the programme team can plan"), NOTE_MAX
                ),
                "",
            ),
        }
    if c.errors:
        raise ValidationFailed(c.errors)
    return values


def answer_invitation(
    session: Session,
    evaluator: Actor,
    call_id: int,
    accept: bool,
    availability: int | str | None = None,
    reason: str = "",
    *,
    note: str = "",
) -> tuple[CallPoolMembership, bool]:
    """The expert accepts (``availability``: how many applications they can take, optional;
    ``note``: when they are available) or declines (``reason`` required). An answer may be
    changed later. The membership and whether anything changed.

    Only one's own invitation can be answered: anyone else's is not found.
    """
    require_role(evaluator, Role.EVALUATOR)
    membership = session.scalars(
        select(CallPoolMembership)
        .where(
            CallPoolMembership.call_id == call_id,
            CallPoolMembership.user_id == (evaluator.user_id or 0),
        )
        .options(selectinload(CallPoolMembership.call))
        .with_for_update(of=CallPoolMembership)
    ).first()
    if membership is None:
        raise NotFound(f"no invitation to call {call_id} for this expert")
    _open_for_experts(membership.call)
    values = _answer(accept, availability, reason, note)
    before = _membership_snapshot(membership)
    if before == values:
        return membership, False
    for name, value in values.items():
        setattr(membership, name, value)
    membership.answered_at = utcnow()
    flush_or_refuse(session)
    audit.record(
        session,
        evaluator,
        "accept_pool_invitation" if accept else "decline_pool_invitation",
        entity_type="call_pool_membership",
        entity_id=membership.id,
        before=before,
        after={"call": membership.call.reference, **_membership_snapshot(membership)},
    )
    return membership, True


# -- for assigning evaluators ----------------------------------------------------------------
@dataclass(frozen=True)
class ExpertCard:
    """An expert who accepted a call's pool, with what conflict detection compares: the
    country, the organisation's e-mail domain (with the applicant's contact address and the
    consortium partners' domains) and the keywords (with the application's topic)."""

    user_id: int
    name: str
    email: str
    country: str | None
    organisation: str
    organisation_domain: str | None
    languages: tuple[str, ...]
    keywords: tuple[str, ...]
    max_applications: int | None
    availability_note: str

    @property
    def has_profile(self) -> bool:
        return self.country is not None


def suggested_experts(session: Session, call_id: int) -> list[ExpertCard]:
    """The experts who accepted the call's pool and can still evaluate (an active account
    holding the evaluator role), by name, each with their profile."""
    active = set(session.scalars(people_holding(Role.EVALUATOR).with_only_columns(User.id)))
    cards = []
    for entry in pool_of(session, call_id):
        if entry.membership.status != PoolStatus.ACCEPTED or entry.user.id not in active:
            continue
        profile = entry.profile
        cards.append(
            ExpertCard(
                user_id=entry.user.id,
                name=entry.user.full_name,
                email=entry.user.email,
                country=profile.country if profile else None,
                organisation=profile.organisation if profile else "",
                organisation_domain=profile.organisation_domain if profile else None,
                languages=tuple(profile.languages) if profile else (),
                keywords=tuple(k.label for k in profile.keywords) if profile else (),
                max_applications=entry.membership.max_applications,
                availability_note=entry.membership.availability_note,
            )
        )
    return cards
