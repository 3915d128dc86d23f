"""The organisation's profile: its form checked as a whole, read back, created and changed.

Every profile change is validated as a whole first (every field's problem reported at once,
nothing written on error), then applied and audited (entity type "organisation",
before/after of what changed). The SME category is computed with ``sme.category_of`` and
stored with its explanation.

The form itself and its checks are in ``profile_form``. The refusals shared by every
manager's action (``_require_applicant``, ``_load_user``, ``_managed``) live here;
``people`` uses them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from grants.db import utcnow
from grants.models import Application, Organisation, User
from grants.services import audit
from grants.services.actor import Actor
from grants.services.organisations.profile_form import validate_profile
from grants.services.organisations.sme import SME_FIELDS
from grants.services.workflow import NotFound, load_locked
from workflows.errors import TransitionRefused
from workflows.i18n import _
from workflows.money import CENT
from workflows.numbers import plain
from workflows.roles import Role

# -- reading ---------------------------------------------------------------------------------
# The profile's single-valued fields, as forms post them; the two lists follow.
SCALAR_FIELDS = (
    "legal_name",
    "country",
    "registration_number",
    "vat_number",
    "address",
    "registered_on",
    "contact_name",
    "contact_email",
    "contact_phone",
    "headcount",
    "turnover",
    "balance_sheet",
    "accounts_year",
    "newly_established",
    "previous_headcount",
    "previous_turnover",
    "previous_balance_sheet",
    "held_category",
    "enterprise_type",
)
_PROFILE = (*SCALAR_FIELDS, "related_enterprises", "related_links", "de_minimis_aid")
_STORED = (*_PROFILE, "sme_category", "sme_explanation")
# What ``profile_snapshot`` keeps: every field the SME test and the de minimis check read.
_SNAPSHOT = (
    *SME_FIELDS,
    "enterprise_type",
    "de_minimis_aid",
    "registered_on",
    "country",
    "registration_number",
    "vat_number",
)


def snapshot(org: Organisation) -> dict[str, Any]:
    """The stored profile as plain JSON values, for the audit trail."""
    return _plain_values({name: getattr(org, name) for name in _STORED})


def profile_snapshot(org: Organisation) -> dict[str, Any]:
    """The profile as the SME test and the de minimis check read it, JSON-serialisable
    (Decimals and dates as text), to keep with an application: ``assess_sme`` gives the
    same answer on it as on the live profile."""
    return _plain_values({name: getattr(org, name) for name in _SNAPSHOT}, _SNAPSHOT)


def _plain_values(values: Mapping[str, Any], names: tuple[str, ...] = _STORED) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        value = values.get(name)
        if isinstance(value, Decimal):
            value = str(value.quantize(CENT))
        elif isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, list):
            value = [dict(v) for v in value]
        out[name] = value
    return out


def form_values(org: Organisation | None) -> dict[str, Any]:
    """The profile as the form shows it: text, and lists of rows of text."""
    if org is None:
        return {
            "enterprise_type": "autonomous",
            "related_enterprises": [],
            "related_links": [],
            "de_minimis_aid": [],
        }
    values: dict[str, Any] = {}
    for name in _PROFILE:
        value = getattr(org, name)
        if isinstance(value, Decimal):
            staff = name in ("headcount", "previous_headcount")
            value = plain(value) if staff else str(value.quantize(CENT))
        elif isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, list):
            value = [dict(v) for v in value]
        elif isinstance(value, bool):
            value = "yes" if value else ""
        elif isinstance(value, int):
            value = str(value)
        values[name] = "" if value is None else value
    return values


def own_organisation(session: Session, actor: Actor) -> Organisation | None:
    user = session.get(User, actor.user_id) if actor.user_id else None
    if user is None or user.organisation_id is None:
        return None
    return session.get(Organisation, user.organisation_id)


def get_organisation(session: Session, actor: Actor, organisation_id: int) -> Organisation:
    """For the programme team and auditors, and the organisation's own people."""
    org = session.get(Organisation, organisation_id)
    if org is None:
        raise NotFound(f"no organisation {organisation_id}")
    if actor.role in (Role.OFFICER, Role.AUDITOR):
        return org
    own = own_organisation(session, actor)
    if actor.role == Role.APPLICANT and own is not None and own.id == org.id:
        return org
    raise NotFound(f"no organisation {organisation_id}")


def applications_of(session: Session, actor: Actor, organisation_id: int) -> list[Application]:
    """The organisation's applications, for whoever may see the organisation."""
    get_organisation(session, actor, organisation_id)
    return list(
        session.scalars(
            select(Application)
            .where(Application.organisation_id == organisation_id)
            .order_by(Application.reference)
        )
    )


# -- changing the profile --------------------------------------------------------------------
def _require_applicant(actor: Actor) -> None:
    if actor.role != Role.APPLICANT:
        raise TransitionRefused(_("a %(role)s may not do this", role=_(actor.role.label).lower()))


def _load_user(session: Session, actor: Actor) -> User:
    user = session.scalars(select(User).where(User.id == actor.user_id).with_for_update()).first()
    if user is None:
        raise NotFound("no such account")
    return user


def _load_organisation(session: Session, organisation_id: int) -> Organisation:
    return load_locked(session, Organisation, organisation_id, "organisation")


def _managed(
    session: Session, actor: Actor, organisation_id: int | None = None
) -> tuple[User, Organisation]:
    """The acting manager and their organisation, or a refusal a person understands."""
    _require_applicant(actor)
    user = _load_user(session, actor)
    if user.organisation_id is None:
        raise TransitionRefused(_("your account is not linked to an organisation yet"))
    if organisation_id is not None and user.organisation_id != organisation_id:
        raise NotFound(f"no organisation {organisation_id}")
    if not user.is_org_manager:
        raise TransitionRefused(
            _(
                "only the organisation's manager may do this: ask them, or ask them to hand "
                "the manager role over to you"
            )
        )
    return user, _load_organisation(session, user.organisation_id)


def create_organisation(
    session: Session, actor: Actor, data: Mapping[str, Any], *, today: date | None = None
) -> Organisation:
    """An applicant without an organisation registers it and becomes its manager."""
    _require_applicant(actor)
    user = _load_user(session, actor)
    if user.organisation_id is not None:
        raise TransitionRefused(
            _(
                "your account already belongs to an organisation: one account works for one "
                "organisation"
            )
        )
    clean = validate_profile(data, today=today or utcnow().date())
    org = Organisation(**clean.values)
    session.add(org)
    session.flush()
    user.organisation_id = org.id
    user.is_org_manager = True
    session.flush()
    audit.record(
        session,
        actor,
        "create_organisation",
        entity_type="organisation",
        entity_id=org.id,
        after={
            **snapshot(org),
            "registration_scheme": clean.registration_scheme,
            "manager": user.email,
        },
    )
    return org


@dataclass(frozen=True)
class ProfileUpdate:
    organisation: Organisation
    changed: list[str]
    registration_scheme: str


def update_profile(
    session: Session,
    actor: Actor,
    organisation_id: int,
    data: Mapping[str, Any],
    *,
    today: date | None = None,
) -> ProfileUpdate:
    """The manager changes the profile; fields left out of ``data`` keep their value."""
    _user, org = _managed(session, actor, organisation_id)
    clean = validate_profile({**form_values(org), **data}, today=today or utcnow().date())
    before = snapshot(org)
    after = _plain_values(clean.values)
    changed = [name for name in _STORED if before[name] != after[name]]
    for name in changed:
        setattr(org, name, clean.values[name])
    if changed:
        session.flush()
        audit.record(
            session,
            actor,
            "update_organisation",
            entity_type="organisation",
            entity_id=org.id,
            before={name: before[name] for name in changed},
            after={name: after[name] for name in changed},
        )
    return ProfileUpdate(org, changed, clean.registration_scheme)
