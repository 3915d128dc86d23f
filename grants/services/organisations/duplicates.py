"""Duplicate registrations: organisations that share a registration or a VAT number."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grants.models import Organisation, User
from workflows import registration_numbers


@dataclass(frozen=True)
class OrganisationSummary:
    id: int
    legal_name: str
    country: str
    registration_number: str
    vat_number: str | None
    created_at: datetime
    users: int


@dataclass
class DuplicateGroup:
    reasons: list[str]
    organisations: list[OrganisationSummary]


def duplicate_registrations(session: Session) -> list[DuplicateGroup]:
    """Organisations that share a registration number (same country) or a VAT number.

    Not refused at registration: a second account must not be blocked by a typo or an
    impostor. Officers see the groups and decide (merge by invitation, or ineligible).
    """
    rows = session.execute(
        select(
            Organisation.id,
            Organisation.legal_name,
            Organisation.country,
            Organisation.registration_number,
            Organisation.vat_number,
            Organisation.created_at,
        ).order_by(Organisation.id)
    ).all()
    users = dict(
        session.execute(
            select(User.organisation_id, func.count(User.id))
            .where(User.organisation_id.is_not(None))
            .group_by(User.organisation_id)
        ).all()
    )
    by_key: dict[tuple[str, ...], list[int]] = {}
    for row in rows:
        country, number = registration_numbers.company_key(row.country, row.registration_number)
        if number:
            by_key.setdefault(("registration", country, number), []).append(row.id)
        vat = re.sub(r"[\s.\-/]", "", row.vat_number or "").upper()
        if vat:
            by_key.setdefault(("vat", vat), []).append(row.id)
    # Union the organisations that share any key into one group.
    parent = {row.id: row.id for row in rows}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    shared = {key: ids for key, ids in by_key.items() if len(ids) > 1}
    for ids in shared.values():
        for other in ids[1:]:
            parent[find(other)] = find(ids[0])
    by_id = {row.id: row for row in rows}
    groups: dict[int, DuplicateGroup] = {}
    members_of: dict[int, set[int]] = {}
    for key, ids in shared.items():
        root = find(ids[0])
        group = groups.setdefault(root, DuplicateGroup([], []))
        members_of.setdefault(root, set()).update(ids)
        if key[0] == "registration":
            group.reasons.append(f"same registration number {key[1]} {key[2]}")
        else:
            group.reasons.append(f"same VAT number {key[1]}")
    for root, group in groups.items():
        group.organisations = [
            OrganisationSummary(
                i,
                by_id[i].legal_name,
                by_id[i].country,
                by_id[i].registration_number,
                by_id[i].vat_number,
                by_id[i].created_at,
                users.get(i, 0),
            )
            for i in sorted(members_of[root])
        ]
    return [groups[root] for root in sorted(groups)]


def duplicates_of(session: Session, organisation_id: int) -> list[DuplicateGroup]:
    """The duplicate groups an organisation belongs to (none, usually)."""
    return [
        group
        for group in duplicate_registrations(session)
        if any(o.id == organisation_id for o in group.organisations)
    ]
