"""Conflicts of interest detected between experts and applications.

The facts come from the database (the expert's profile, the applicant organisation, its
people's addresses, applications to the consortium's calls); the rules are
``workflows.conflicts``. Assignment refuses a detected conflict, the assignment proposal
never makes one, and an expert assigned before a conflict came to light (their profile or
the applicant's changed) can no longer open the application (``access``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from grants.models import Application, Call, ExpertProfile, Organisation, User
from grants.services.experts import PUBLIC_MAIL_DOMAINS, email_domain
from workflows import conflicts
from workflows.conflicts import Conflict
from workflows.voucher import AppState


def _domains(addresses: Iterable[str | None]) -> frozenset[str]:
    found = {email_domain(a) for a in addresses}
    return frozenset(d for d in found if d and d not in PUBLIC_MAIL_DOMAINS)


def organisation_facts(organisation: Organisation) -> conflicts.Organisation:
    return conflicts.Organisation(
        name=organisation.legal_name,
        registration_number=organisation.registration_number or "",
        vat_number=organisation.vat_number or "",
        country=organisation.country,
        domains=_domains([organisation.contact_email, *(u.email for u in organisation.users)]),
    )


def expert_facts(session: Session, user_ids: Collection[int]) -> dict[int, conflicts.Expert]:
    """The facts of each expert; one without a profile is compared by their account's
    country only (the profile is where an expert says where they work)."""
    if not user_ids:
        return {}
    users = session.scalars(select(User).where(User.id.in_(user_ids)))
    profiles = {
        p.user_id: p
        for p in session.scalars(select(ExpertProfile).where(ExpertProfile.user_id.in_(user_ids)))
    }
    facts = {}
    for user in users:
        profile: ExpertProfile | None = profiles.get(user.id)
        facts[user.id] = conflicts.Expert(
            user_id=user.id,
            name=user.full_name,
            country=profile.country if profile else user.country,
            organisation=profile.organisation if profile else "",
            organisation_number=profile.organisation_number if profile else "",
            organisation_domain=profile.organisation_domain if profile else None,
            ties=conflicts.ties_of(profile.declared_ties) if profile else (),
        )
    return facts


def _earlier(
    session: Session, experts: Iterable[conflicts.Expert], exclude: int
) -> list[conflicts.EarlierApplication]:
    """Submitted applications whose applicant could be one of the experts' organisations:
    narrowed in SQL by a word of the name, the numbers and the domain; the rules decide."""
    wanted = []
    for expert in experts:
        words = [w for w in conflicts.name_key(expert.organisation).split() if len(w) >= 3]
        if words:
            wanted.append(func.lower(Organisation.legal_name).contains(words[0]))
        number = conflicts.number_key(expert.organisation_number)
        if len(number) >= 5:
            digits = number.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
            wanted += [
                Organisation.registration_number.contains(digits),
                Organisation.vat_number.contains(digits),
            ]
        if expert.organisation_domain:
            at = f"%@{expert.organisation_domain.lower()}"
            wanted += [
                func.lower(Organisation.contact_email).like(at),
                Organisation.users.any(func.lower(User.email).like(at)),
            ]
    if not wanted:
        return []
    rows = session.scalars(
        select(Application)
        .join(Organisation, Organisation.id == Application.organisation_id)
        .where(
            Application.status != AppState.DRAFT,
            Application.id != exclude,
            or_(*wanted),
        )
        .options(
            selectinload(Application.organisation).selectinload(Organisation.users),
            selectinload(Application.call),
        )
        .order_by(Application.submitted_at, Application.id)
    )
    return [
        conflicts.EarlierApplication(
            reference=a.reference,
            call_reference=a.call.reference,
            applicant=organisation_facts(a.organisation),
        )
        for a in rows
    ]


def _facts(
    application: Application, earlier: Iterable[conflicts.EarlierApplication]
) -> conflicts.Facts:
    call: Call = application.call
    return conflicts.Facts(
        applicant=organisation_facts(application.organisation),
        reference=application.reference,
        other_countries_only=call.evaluators_from_other_countries,
        earlier=tuple(e for e in earlier if e.reference != application.reference),
    )


def detected(
    session: Session, application: Application, expert_ids: Collection[int]
) -> dict[int, list[Conflict]]:
    """The conflicts detected between the application and each expert (empty: none)."""
    experts = expert_facts(session, expert_ids)
    facts = _facts(application, _earlier(session, experts.values(), application.id))
    return {user_id: conflicts.detect(expert, facts) for user_id, expert in experts.items()}


def detected_for(session: Session, application: Application, expert_id: int) -> list[Conflict]:
    return detected(session, application, [expert_id]).get(expert_id, [])


def detected_matrix(
    session: Session, applications: Collection[Application], expert_ids: Collection[int]
) -> dict[tuple[int, int], list[Conflict]]:
    """The conflicts detected for every (application id, expert id) pair that has some;
    the applications to the consortium's calls are looked up once for all of them."""
    experts = expert_facts(session, expert_ids)
    earlier = _earlier(session, experts.values(), 0)
    found: dict[tuple[int, int], list[Conflict]] = {}
    for application in applications:
        facts = _facts(application, earlier)
        for user_id, expert in experts.items():
            hits = conflicts.detect(expert, facts)
            if hits:
                found[application.id, user_id] = hits
    return found
