"""The consortium's partners: the list officers keep, and who counts as one.

A partner runs the consortium's calls with the others, so its organisation may never apply
to them (DOMAIN.md: not a consortium partner). An applicant organisation is recognised as a
partner by its numbers, not its name (names are typed many ways): the same VAT number, or
the same registration number in the same country, each compared in its compact form.
Deactivated partners (who left the consortium) no longer count; they are kept because calls
and eligibility decisions name them.

Every change is audited (entity type ``consortium_partner``, before/after of what changed);
only a programme officer or an administrator makes them. A call names the partner managing
it and the partners whose staff work on it (``set_call_partners``), audited on the call.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from grants.errors import NotFound, ValidationFailed, require_role
from grants.models import Call, ConsortiumPartner, Organisation
from grants.services import audit
from grants.services.actor import Actor
from grants.services.organisations.profile_form import (
    _Checker,
    _registration_number,
    _required_text,
    _text,
    _vat_number,
)
from grants.services.workflow import flush_or_refuse, load_call, load_locked
from workflows import registration_numbers
from workflows.errors import TransitionRefused
from workflows.i18n import N_, _
from workflows.roles import Role

# Who keeps the list: the programme team, and the administrator who sets the system up.
EDITORS = (Role.OFFICER, Role.ADMIN)
# The fields of the partner form, in its order, and how each reads in an error summary.
LABELS = {
    "name": N_("Legal name"),
    "short_name": N_("Short name"),
    "country": N_("Country"),
    "registration_number": N_("Registration number"),
    "vat_number": N_("VAT number"),
    "email_domain": N_("Staff e-mail domain"),
}
FIELDS = tuple(LABELS)
CALL_LABELS = {
    "managing_partner_id": N_("Managing partner"),
    "partner_ids": N_("Partners working on the call"),
}
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def error_label(key: str) -> str:
    """How an error key of the partner or call-partners form reads in an error summary."""
    label = LABELS.get(key) or CALL_LABELS.get(key)
    return _(label) if label else key


# -- reading ---------------------------------------------------------------------------------
def list_partners(session: Session, *, active_only: bool = False) -> list[ConsortiumPartner]:
    """Active partners first, each group by short name."""
    query = select(ConsortiumPartner)
    if active_only:
        query = query.where(ConsortiumPartner.active.is_(True))
    query = query.order_by(
        ConsortiumPartner.active.desc(), ConsortiumPartner.short_name, ConsortiumPartner.id
    )
    return list(session.scalars(query))


def get_partner(session: Session, partner_id: int) -> ConsortiumPartner:
    partner = session.get(ConsortiumPartner, partner_id)
    if partner is None:
        raise NotFound(f"no consortium partner {partner_id}")
    return partner


def calls_with_partners(session: Session) -> list[Call]:
    """Every call (newest deadline first) with its managing partner and partners loaded."""
    return list(
        session.scalars(
            select(Call)
            .options(selectinload(Call.managing_partner), selectinload(Call.partners))
            .order_by(Call.deadline.desc(), Call.reference)
        )
    )


def form_values(partner: ConsortiumPartner | None) -> dict[str, str]:
    """The partner as its form shows it (empty for a new one)."""
    if partner is None:
        return dict.fromkeys(FIELDS, "")
    return {name: getattr(partner, name) or "" for name in FIELDS}


def snapshot(partner: ConsortiumPartner) -> dict[str, Any]:
    """What the audit trail keeps of a partner."""
    return {name: getattr(partner, name) for name in (*FIELDS, "active")}


# -- checking the form -----------------------------------------------------------------------
def _short_name(session: Session, raw: object, partner_id: int | None) -> str:
    short = _required_text(raw, _("give the short name people use, like DLTM"), 40)
    # Unique whatever the case: "dltm" and "DLTM" would read as one partner everywhere.
    taken = session.scalar(
        select(ConsortiumPartner.id).where(
            func.lower(ConsortiumPartner.short_name) == short.lower(),
            ConsortiumPartner.id != (partner_id or 0),
        )
    )
    if taken is not None:
        raise ValueError(_("another partner already has the short name %(short)s", short=short))
    return short


def _email_domain(raw: object) -> str | None:
    """The domain of the partner staff's addresses (``dltm.it``); "@dltm.it" is read too."""
    domain = _text(raw).lower().removeprefix("@")
    if not domain:
        return None
    if not _DOMAIN.match(domain):
        raise ValueError(
            _("give the domain only, like dltm.it: what follows the @ in the staff's addresses")
        )
    return domain


def validate_partner(
    session: Session, data: Mapping[str, Any], *, partner_id: int | None = None
) -> dict[str, Any]:
    """The partner's values ready to store; ValidationFailed lists every problem at once.

    The numbers are checked and written as the organisation profile writes them (the same
    helpers), so a partner and its organisation's profile compare equal.
    """
    c = _Checker()
    values: dict[str, Any] = {
        "name": c.check(
            "name",
            lambda: _required_text(data.get("name"), _("give the partner's legal name"), 300),
            "",
        ),
        "short_name": c.check(
            "short_name", lambda: _short_name(session, data.get("short_name"), partner_id), ""
        ),
    }
    country = c.check(
        "country", lambda: registration_numbers.check_country(_text(data.get("country"))), ""
    )
    values["country"] = country
    # Optional here (a partner may be a body without one), unlike an applicant's.
    number = _text(data.get("registration_number"))
    values["registration_number"] = _registration_number(country, number, c)[0] if number else ""
    values["vat_number"] = _vat_number(country, _text(data.get("vat_number")), c)
    values["email_domain"] = c.check(
        "email_domain", lambda: _email_domain(data.get("email_domain"))
    )
    if c.errors:
        raise ValidationFailed(c.errors)
    return values


# -- changing the list -----------------------------------------------------------------------
def create_partner(session: Session, actor: Actor, data: Mapping[str, Any]) -> ConsortiumPartner:
    require_role(actor, *EDITORS)
    partner = ConsortiumPartner(**validate_partner(session, data), active=True)
    session.add(partner)
    flush_or_refuse(session)
    audit.record(
        session,
        actor,
        "create_partner",
        entity_type="consortium_partner",
        entity_id=partner.id,
        after=snapshot(partner),
    )
    return partner


def _load_partner(session: Session, partner_id: int) -> ConsortiumPartner:
    return load_locked(session, ConsortiumPartner, partner_id, "consortium partner")


def update_partner(
    session: Session, actor: Actor, partner_id: int, data: Mapping[str, Any]
) -> tuple[ConsortiumPartner, list[str]]:
    """The partner and the names of the fields that changed (none: nothing written)."""
    require_role(actor, *EDITORS)
    partner = _load_partner(session, partner_id)
    values = validate_partner(session, data, partner_id=partner.id)
    before = snapshot(partner)
    changed = [name for name in FIELDS if before[name] != values[name]]
    if not changed:
        return partner, []
    for name in changed:
        setattr(partner, name, values[name])
    flush_or_refuse(session)
    audit.record(
        session,
        actor,
        "update_partner",
        entity_type="consortium_partner",
        entity_id=partner.id,
        before={name: before[name] for name in changed},
        after={name: values[name] for name in changed},
    )
    return partner, changed


def set_active(
    session: Session, actor: Actor, partner_id: int, *, active: bool
) -> ConsortiumPartner:
    """Deactivate a partner that left the consortium (it no longer counts as one and cannot
    be chosen for a call), or reactivate it. Calls that name it keep naming it."""
    require_role(actor, *EDITORS)
    partner = _load_partner(session, partner_id)
    if partner.active == active:
        return partner
    partner.active = active
    flush_or_refuse(session)
    audit.record(
        session,
        actor,
        "reactivate_partner" if active else "deactivate_partner",
        entity_type="consortium_partner",
        entity_id=partner.id,
        before={"active": not active},
        after={"active": active},
    )
    return partner


def deactivate_partner(session: Session, actor: Actor, partner_id: int) -> ConsortiumPartner:
    return set_active(session, actor, partner_id, active=False)


def reactivate_partner(session: Session, actor: Actor, partner_id: int) -> ConsortiumPartner:
    return set_active(session, actor, partner_id, active=True)


# -- who is a partner ------------------------------------------------------------------------
@dataclass(frozen=True)
class PartnerMatch:
    """The partner an organisation was recognised as, and by what (plain words)."""

    partner: ConsortiumPartner
    basis: str


def _vat_key(country: str, vat: str | None) -> str:
    """A VAT number compared in its compact form with its country prefix (a profile keeps it
    so); one that does not check out is compared as typed, spaces, dots and dashes dropped."""
    if not vat or not vat.strip():
        return ""
    try:
        return registration_numbers.validate_vat(country, vat).upper()
    except ValueError:
        return re.sub(r"[\s.\-/]", "", vat).upper()


def _registration_key(country: str, number: str) -> tuple[str, str] | None:
    if not number or not number.strip():
        return None
    return registration_numbers.company_key(country, number)


def partner_match(session: Session, organisation: Organisation) -> PartnerMatch | None:
    """The active partner this organisation is, by VAT number first, else by registration
    number in the same country; None when it is none of them."""
    vat = _vat_key(organisation.country, organisation.vat_number)
    company = _registration_key(organisation.country, organisation.registration_number)
    by_registration: PartnerMatch | None = None
    # A handful of rows: comparing compact forms in Python keeps one rule for both sides.
    for partner in list_partners(session, active_only=True):
        if vat and vat == _vat_key(partner.country, partner.vat_number):
            return PartnerMatch(partner, f"same VAT number {vat}")
        if (
            by_registration is None
            and company is not None
            and company == _registration_key(partner.country, partner.registration_number)
        ):
            by_registration = PartnerMatch(
                partner,
                f"same registration number {company[1]} in "
                f"{registration_numbers.country_name(company[0])}",
            )
    return by_registration


def partner_matching(session: Session, organisation: Organisation) -> ConsortiumPartner | None:
    """The active consortium partner this organisation is, if any."""
    found = partner_match(session, organisation)
    return found.partner if found else None


def refuse_partner_applicant(session: Session, organisation: Organisation) -> None:
    """Stop a partner's organisation before it starts an application to a call."""
    found = partner_match(session, organisation)
    if found is None:
        return
    raise TransitionRefused(
        _(
            "%(organisation)s is %(partner)s, a partner of the consortium running this call "
            "(%(basis)s), and consortium partners cannot apply to its calls. If this is a "
            "mistake, ask the programme team to check its list of partners",
            organisation=organisation.legal_name,
            partner=found.partner.short_name,
            basis=found.basis,
        )
    )


# -- the partners of a call ------------------------------------------------------------------
def _chosen(session: Session, ids: Collection[int]) -> dict[int, ConsortiumPartner]:
    if not ids:
        return {}
    rows = session.scalars(select(ConsortiumPartner).where(ConsortiumPartner.id.in_(ids)))
    return {partner.id: partner for partner in rows}


def _call_partner_errors(
    call: Call,
    managing_partner_id: int | None,
    partner_ids: Collection[int],
    found: Mapping[int, ConsortiumPartner],
) -> dict[str, str]:
    # A partner that left may stay on a call it already worked on, never be added to one.
    kept = {p.id for p in call.partners} | {call.managing_partner_id}
    errors: dict[str, str] = {}
    managing = found.get(managing_partner_id) if managing_partner_id is not None else None
    if managing_partner_id is None:
        errors["managing_partner_id"] = _("choose the partner that manages the call")
    elif managing is None or (not managing.active and managing.id not in kept):
        errors["managing_partner_id"] = _("choose one of the consortium's active partners")
    unusable = [i for i in partner_ids if i not in found or (not found[i].active and i not in kept)]
    if unusable:
        errors["partner_ids"] = _("choose among the consortium's active partners")
    return errors


def set_call_partners(
    session: Session,
    actor: Actor,
    call_id: int,
    managing_partner_id: int | None,
    partner_ids: Collection[int],
) -> tuple[Call, bool]:
    """The partner managing the call and those whose staff work on it; the managing partner
    is always among them. The call and whether anything changed."""
    require_role(actor, Role.OFFICER)
    call = load_call(session, call_id)
    wanted = set(partner_ids) | ({managing_partner_id} if managing_partner_id else set())
    found = _chosen(session, wanted)
    errors = _call_partner_errors(call, managing_partner_id, partner_ids, found)
    if errors:
        raise ValidationFailed(errors)
    before = _call_snapshot(call)
    call.managing_partner = found[managing_partner_id] if managing_partner_id else None
    call.partners = sorted(found.values(), key=lambda p: (p.short_name, p.id))
    after = _call_snapshot(call)
    if after == before:
        return call, False
    flush_or_refuse(session)
    audit.record(
        session,
        actor,
        "set_call_partners",
        entity_type="call",
        entity_id=call.reference,
        before=before,
        after=after,
    )
    return call, True


def _call_snapshot(call: Call) -> dict[str, Any]:
    managing = call.managing_partner
    return {
        "managing_partner": managing.short_name if managing else None,
        "partners": sorted(p.short_name for p in call.partners),
    }
