"""The expert pool: expertise keywords, expert profiles, and each call's pool of experts.

Evaluators are people holding the evaluator role. Each keeps a profile of the facts a
conflict-of-interest check compares with an applicant's (DOMAIN.md: independent experts,
conflicted experts step aside): the country they work in, their organisation and its e-mail
domain, the languages they can evaluate in and their fields of expertise, chosen from a
keyword list the programme officers keep (free text would never match an application's).

An officer invites experts to a call's pool; each accepts, saying how many applications
they can take, or declines with a reason, and may change the answer later.
``suggested_experts`` gives the experts who accepted, with their profiles, for assigning
evaluators and detecting conflicts of interest.

Every change is audited with what it changed: ``expertise_keyword``, ``expert_profile`` and
``call_pool_membership`` events.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pycountry
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from grants.errors import NotFound, ValidationFailed, require_role
from grants.models import (
    ConsortiumPartner,
    ExpertiseKeyword,
    ExpertProfile,
    User,
    expert_profile_keywords,
)
from grants.services import audit
from grants.services.actor import Actor
from grants.services.organisations.profile_form import _bounded, _Checker, _required_text, _text
from grants.services.partners import _DOMAIN
from grants.services.role_holders import people_holding
from grants.services.workflow import flush_or_refuse, load_locked
from workflows import conflicts, registration_numbers
from workflows.errors import TransitionRefused
from workflows.i18n import N_, _
from workflows.roles import Role

# Who keeps the keyword list, edits any expert's profile and invites experts to a pool.
EDITORS = (Role.OFFICER,)

# Each field of the forms, and how it reads in an error summary.
LABELS = {
    "label": N_("Keyword"),
    "country": N_("Country"),
    "organisation": N_("Organisation"),
    "organisation_domain": N_("Organisation's e-mail domain"),
    "languages": N_("Languages"),
    "other_languages": N_("Other languages"),
    "keyword_ids": N_("Expertise"),
    "bio": N_("Short biography"),
    "organisation_number": N_("Organisation's registration or VAT number"),
    "ties": N_("Organisations you are tied to"),
    "user_ids": N_("Experts to invite"),
    "max_applications": N_("Applications you can take"),
    "availability_note": N_("Availability"),
    "decline_reason": N_("Reason"),
}
PROFILE_FIELDS = (
    "country",
    "organisation",
    "organisation_number",
    "organisation_domain",
    "languages",
    "bio",
    "declared_ties",
)
# Empty rows the profile form offers below the declared ties, to add some.
EMPTY_TIE_ROWS = 2
KEYWORD_MAX = 100
BIO_MAX = 1500
NOTE_MAX = 1000
# More than this is surely a typing error: a call rarely has that many applications.
MAX_APPLICATIONS = 500

# The EU's 24 official languages (ISO 639-1): the profile offers them as boxes to tick.
EU_LANGUAGES = (
    "bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr",
    "hu", "it", "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv",
)  # fmt: skip
# Addresses at these providers say nothing about where a person works: comparing them with
# an applicant's would flag everyone who uses the same mailbox provider.
PUBLIC_MAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
        "yahoo.com", "icloud.com", "me.com", "proton.me", "protonmail.com", "aol.com",
        "gmx.de", "gmx.net", "web.de", "libero.it", "virgilio.it", "orange.fr", "free.fr",
        "laposte.net", "wanadoo.fr", "ziggo.nl", "kpnmail.nl", "telenet.be", "skynet.be",
    }
)  # fmt: skip
# The order pools are listed in: those who can evaluate first.


def error_label(key: str) -> str:
    """How an error key reads in an error summary; a per-row key (``label-7``,
    ``max_applications-12``) reads as its field."""
    if key.startswith("ties."):
        return _(LABELS["ties"])
    name = key if key in LABELS else key.rpartition("-")[0]
    return _(LABELS[name]) if name in LABELS else key


# -- languages and domains -------------------------------------------------------------------
def language_name(code: str) -> str:
    """The English name of an ISO 639-1 code (without ISO's dating: "Modern Greek")."""
    language = pycountry.languages.get(alpha_2=code) if len(code) == 2 else None
    if language is None:
        return code
    return re.sub(r"\s*\(.*\)$", "", str(language.name))


def _language_code(typed: str) -> str:
    """The ISO 639-1 code of a language typed as a code (``hr``, ``hrv``) or an English
    name (``Croatian``); ValueError naming it otherwise."""
    text = typed.strip()
    # Codes first: ``lookup`` alone reads "en" as the name of the En language, which has
    # no two-letter code.
    language = (
        pycountry.languages.get(alpha_2=text.lower())
        if len(text) == 2
        else pycountry.languages.get(alpha_3=text.lower())
        if len(text) == 3
        else None
    )
    if language is None:
        try:
            language = pycountry.languages.lookup(text)
        except LookupError:
            language = None
    code = getattr(language, "alpha_2", None)
    if not code:
        raise ValueError(
            _(
                "%(language)s is not a language with a two-letter ISO 639-1 code: type the "
                "code, like uk, or the English name, like Ukrainian",
                language=text,
            )
        )
    return str(code)


def _typed_list(raw: object) -> list[str]:
    if raw is None:
        return []
    items = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, Iterable) else [raw]
    return [p.strip() for item in items for p in re.split(r"[,;]", str(item)) if p.strip()]


def _languages(data: Mapping[str, Any], c: _Checker) -> list[str]:
    """The codes ticked (``languages``) and typed (``other_languages``), sorted, each once."""
    codes: set[str] = set()
    for key in ("languages", "other_languages"):
        for typed in _typed_list(data.get(key)):
            code = c.check(key, lambda typed=typed: _language_code(typed))
            if code is None:
                break  # one message per field: the first language it does not know
            codes.add(code)
    if not codes and not {"languages", "other_languages"} & c.errors.keys():
        c.errors["languages"] = _("choose at least one language you can evaluate in")
    return sorted(codes)


def email_domain(address: str | None) -> str | None:
    """What follows the @ of an address, lower case; None for no address."""
    if not address or "@" not in address:
        return None
    return address.rpartition("@")[2].strip().lower() or None


def _organisation_domain(raw: object) -> str | None:
    domain = _text(raw).lower().removeprefix("@")
    if not domain:
        return None
    if not _DOMAIN.match(domain):
        raise ValueError(
            _("give the domain only, like dltm.it: what follows the @ in your work address")
        )
    if domain in PUBLIC_MAIL_DOMAINS:
        raise ValueError(
            _(
                "%(domain)s is a public mail provider, not an organisation: give your "
                "organisation's domain, or leave it empty if you work independently",
                domain=domain,
            )
        )
    return domain


def default_domain(user: User) -> str:
    """The profile's first guess at the organisation's domain: the person's own address's,
    unless it is a public mail provider's."""
    domain = email_domain(user.email) or ""
    return "" if domain in PUBLIC_MAIL_DOMAINS else domain


def partner_domains(session: Session) -> frozenset[str]:
    """The e-mail domains of the consortium's active partners: an expert working for one is
    not independent of the calls it runs."""
    rows = session.scalars(
        select(ConsortiumPartner.email_domain).where(
            ConsortiumPartner.active.is_(True), ConsortiumPartner.email_domain.is_not(None)
        )
    )
    return frozenset(domain.lower() for domain in rows if domain)


# -- the keyword list ------------------------------------------------------------------------
def list_keywords(session: Session, *, active_only: bool = False) -> list[ExpertiseKeyword]:
    """Active keywords first, each group alphabetically."""
    query = select(ExpertiseKeyword)
    if active_only:
        query = query.where(ExpertiseKeyword.active.is_(True))
    return list(
        session.scalars(
            query.order_by(
                ExpertiseKeyword.active.desc(),
                func.lower(ExpertiseKeyword.label),
                ExpertiseKeyword.id,
            )
        )
    )


def _keyword_label(session: Session, raw: object, keyword_id: int | None) -> str:
    label = _required_text(raw, _("give the keyword, like Underwater acoustics"), KEYWORD_MAX)
    # Unique whatever the case: "Sonar" and "sonar" would split the experts between them.
    taken = session.scalar(
        select(ExpertiseKeyword.id).where(
            func.lower(ExpertiseKeyword.label) == label.lower(),
            ExpertiseKeyword.id != (keyword_id or 0),
        )
    )
    if taken is not None:
        raise ValueError(_("the keyword %(label)s is already on the list", label=label))
    return label


def _checked_label(session: Session, raw: object, keyword_id: int | None = None) -> str:
    try:
        return _keyword_label(session, raw, keyword_id)
    except ValueError as exc:
        raise ValidationFailed({"label": str(exc)}) from None


def add_keyword(session: Session, actor: Actor, label: str) -> ExpertiseKeyword:
    require_role(actor, *EDITORS)
    keyword = ExpertiseKeyword(label=_checked_label(session, label), active=True)
    session.add(keyword)
    flush_or_refuse(session)
    audit.record(
        session,
        actor,
        "add_expertise_keyword",
        entity_type="expertise_keyword",
        entity_id=keyword.id,
        after={"label": keyword.label, "active": True},
    )
    return keyword


def rename_keyword(
    session: Session, actor: Actor, keyword_id: int, label: str
) -> tuple[ExpertiseKeyword, bool]:
    """The keyword and whether its label changed. Profiles carrying it show the new label:
    a rename corrects the words, it does not change the field of expertise."""
    require_role(actor, *EDITORS)
    keyword = load_locked(session, ExpertiseKeyword, keyword_id, "expertise keyword")
    new = _checked_label(session, label, keyword.id)
    if new == keyword.label:
        return keyword, False
    before = keyword.label
    keyword.label = new
    flush_or_refuse(session)
    audit.record(
        session,
        actor,
        "rename_expertise_keyword",
        entity_type="expertise_keyword",
        entity_id=keyword.id,
        before={"label": before},
        after={"label": new},
    )
    return keyword, True


def set_keyword_active(
    session: Session, actor: Actor, keyword_id: int, *, active: bool
) -> ExpertiseKeyword:
    """A deactivated keyword is no longer offered; profiles that carry it keep it."""
    require_role(actor, *EDITORS)
    keyword = load_locked(session, ExpertiseKeyword, keyword_id, "expertise keyword")
    if keyword.active == active:
        return keyword
    keyword.active = active
    flush_or_refuse(session)
    audit.record(
        session,
        actor,
        "reactivate_expertise_keyword" if active else "deactivate_expertise_keyword",
        entity_type="expertise_keyword",
        entity_id=keyword.id,
        before={"active": not active},
        after={"active": active},
    )
    return keyword


# -- profiles --------------------------------------------------------------------------------
def expert(session: Session, user_id: int) -> User:
    """A person holding the evaluator role (active or not), or NotFound."""
    found = session.scalar(
        people_holding(Role.EVALUATOR, active_only=False).where(User.id == user_id)
    )
    if found is None:
        raise NotFound(f"no expert {user_id}")
    return found


def profile_of(session: Session, user_id: int) -> ExpertProfile | None:
    return session.scalar(
        select(ExpertProfile)
        .where(ExpertProfile.user_id == user_id)
        .options(selectinload(ExpertProfile.keywords))
    )


def form_values(user: User, profile: ExpertProfile | None) -> dict[str, Any]:
    """The profile as its form shows it; a new one starts from the account's country and
    the domain of its address."""
    if profile is None:
        return {
            "country": user.country or "",
            "organisation": "",
            "organisation_domain": default_domain(user),
            "languages": [],
            "other_languages": "",
            "keyword_ids": [],
            "bio": "",
            "organisation_number": "",
            "ties": [{}] * EMPTY_TIE_ROWS,
        }
    return {
        "country": profile.country,
        "organisation": profile.organisation,
        "organisation_domain": profile.organisation_domain or "",
        "languages": [code for code in profile.languages if code in EU_LANGUAGES],
        "other_languages": ", ".join(c for c in profile.languages if c not in EU_LANGUAGES),
        "keyword_ids": [str(k.id) for k in profile.keywords],
        "bio": profile.bio,
        "organisation_number": profile.organisation_number,
        "ties": [*profile.declared_ties, *[{}] * EMPTY_TIE_ROWS],
    }


def _keywords(
    session: Session, raw: object, held: Collection[int], c: _Checker
) -> list[ExpertiseKeyword]:
    """The keywords ticked: active ones, or inactive ones the profile already carries (a
    keyword withdrawn from the list stays where it was, never gets added)."""
    ids = set()
    for typed in _typed_list(raw):
        if not typed.isdigit() or len(typed) > 9:
            c.errors["keyword_ids"] = _("choose keywords from the list")
            return []
        ids.add(int(typed))
    if not ids:
        return []
    found = {
        k.id: k
        for k in session.scalars(select(ExpertiseKeyword).where(ExpertiseKeyword.id.in_(ids)))
    }
    if ids - found.keys():
        c.errors["keyword_ids"] = _("choose keywords from the list")
        return []
    withdrawn = sorted(k.label for k in found.values() if not k.active and k.id not in held)
    if withdrawn:
        c.errors["keyword_ids"] = _(
            "%(labels)s is no longer offered: choose among the active keywords",
            labels=", ".join(withdrawn),
        )
        return []
    return sorted(found.values(), key=lambda k: (k.label.lower(), k.id))


def _ties(raw: object, c: _Checker) -> list[dict[str, str]]:
    """The organisations the expert declares a tie with, as the profile stores them."""
    rows = [r for r in raw if isinstance(r, Mapping)] if isinstance(raw, list) else []
    ties, errors = conflicts.parse_ties(rows)
    c.errors.update(errors)
    return conflicts.ties_json(ties)


def validate_profile(
    session: Session, data: Mapping[str, Any], *, held_keyword_ids: Collection[int] = ()
) -> dict[str, Any]:
    """The profile's values ready to store; ValidationFailed lists every problem at once."""
    c = _Checker()

    def country() -> str:
        try:
            return registration_numbers.check_country(_text(data.get("country")))
        except ValueError:
            raise ValueError(_("choose the country where you work")) from None

    values: dict[str, Any] = {
        "country": c.check("country", country, ""),
        "organisation": c.check(
            "organisation",
            lambda: _required_text(
                data.get("organisation"),
                _("give the organisation you work for, or Independent expert"),
                300,
            ),
            "",
        ),
        "organisation_domain": c.check(
            "organisation_domain", lambda: _organisation_domain(data.get("organisation_domain"))
        ),
        "languages": _languages(data, c),
        "bio": c.check("bio", lambda: _bounded(str(data.get("bio") or "").strip(), BIO_MAX), ""),
        "organisation_number": c.check(
            "organisation_number",
            lambda: _bounded(_text(data.get("organisation_number")), conflicts.TIE_NUMBER_MAX),
            "",
        ),
        "declared_ties": _ties(data.get("ties"), c),
        "keywords": _keywords(session, data.get("keyword_ids"), held_keyword_ids, c),
    }
    if c.errors:
        raise ValidationFailed(c.errors)
    return values


def profile_snapshot(profile: ExpertProfile) -> dict[str, Any]:
    """What the audit trail keeps of a profile (keywords by their label at the time)."""
    return {
        **{name: getattr(profile, name) for name in PROFILE_FIELDS},
        "languages": list(profile.languages),
        "keywords": [k.label for k in profile.keywords],
    }


def _may_edit(actor: Actor, user_id: int) -> None:
    if actor.role in EDITORS:
        return
    if actor.role == Role.EVALUATOR and actor.user_id == user_id:
        return
    raise TransitionRefused(_("only the expert or a programme officer may change this profile"))


def save_profile(
    session: Session, actor: Actor, user_id: int, data: Mapping[str, Any]
) -> tuple[ExpertProfile, list[str]]:
    """Create or update an expert's profile: the expert's own, or any one by an officer.

    The profile and the names of what changed (none: nothing written). Without an
    ``organisation_domain`` key at all (a command, the demo), the domain of the person's
    address is taken; an empty one means the expert gives none.
    """
    _may_edit(actor, user_id)
    user = expert(session, user_id)
    profile = session.scalar(
        select(ExpertProfile)
        .where(ExpertProfile.user_id == user_id)
        .options(selectinload(ExpertProfile.keywords))
        .with_for_update(of=ExpertProfile)
    )
    if "organisation_domain" not in data:
        data = {**data, "organisation_domain": default_domain(user)}
    if "ties" not in data:
        # A command or the demo saving the rest leaves the declared ties as they are.
        data = {**data, "ties": list(profile.declared_ties) if profile else []}
    held = {k.id for k in profile.keywords} if profile else set()
    values = validate_profile(session, data, held_keyword_ids=held)
    before = profile_snapshot(profile) if profile else {}
    if profile is None:
        profile = ExpertProfile(user_id=user.id)
        session.add(profile)
    for name in PROFILE_FIELDS:
        setattr(profile, name, values[name])
    profile.keywords = values["keywords"]
    after = profile_snapshot(profile)
    changed = [name for name in after if before.get(name) != after[name]]
    if before and not changed:
        return profile, []
    flush_or_refuse(session)
    audit.record(
        session,
        actor,
        "update_expert_profile" if before else "create_expert_profile",
        entity_type="expert_profile",
        entity_id=profile.id,
        before={name: before[name] for name in changed} if before else {},
        after={"expert": user.email, **{name: after[name] for name in changed}},
    )
    return profile, changed


@dataclass(frozen=True)
class ExpertRow:
    """An evaluator and their profile (None until they fill it in)."""

    user: User
    profile: ExpertProfile | None


def list_experts(
    session: Session,
    *,
    keyword_id: int | None = None,
    country: str = "",
    language: str = "",
) -> list[ExpertRow]:
    """The active evaluators by name, each with their profile; a filter keeps only the
    profiles that match it (so experts without one drop out)."""
    query = (
        people_holding(Role.EVALUATOR)
        .outerjoin(ExpertProfile, ExpertProfile.user_id == User.id)
        .add_columns(ExpertProfile)
        .options(selectinload(ExpertProfile.keywords))
        .order_by(User.full_name, User.id)
    )
    if country:
        query = query.where(ExpertProfile.country == country.upper())
    if keyword_id is not None:
        query = query.where(
            ExpertProfile.id.in_(
                select(expert_profile_keywords.c.profile_id).where(
                    expert_profile_keywords.c.keyword_id == keyword_id
                )
            )
        )
    rows = [ExpertRow(user, profile) for user, profile in session.execute(query)]
    if language:
        # A JSON list is matched alike on both backends by reading it: a pool is tens of people.
        rows = [r for r in rows if r.profile and language.lower() in r.profile.languages]
    return rows
