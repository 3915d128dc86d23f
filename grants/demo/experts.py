"""The demo's expert pool: the strategic technologies as expertise keywords, a profile for
each demo evaluator, and both of them in the open call's pool, having accepted.

Driven through the services like the rest of the demo; only what is missing is added, so
loading it again changes nothing (and a demo loaded before the pool existed gets it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from forms.defaults import STRATEGIC_TECHNOLOGIES
from grants.db import unit_of_work
from grants.demo.call_specs import INTERNATIONALISATION
from grants.models import Call, CallPoolMembership, PoolStatus, User
from grants.services import expert_pool, experts
from grants.services.actor import Actor
from workflows.roles import Role

OFFICER = "officer@leviatad.example"
# Where `make run` serves the demo: the invitation mails link there.
DEMO_SITE = "http://127.0.0.1:5000"
# Each demo evaluator's profile (keywords by label) and what they answered the open call.
DEMO_EXPERTS: dict[str, dict[str, Any]] = {
    "evaluator1@leviatad.example": {
        "profile": {
            "country": "NL",
            "organisation": "Maritime Research Institute Netherlands",
            "organisation_domain": "marin.example",
            "languages": ["nl", "en", "de"],
            "bio": "Naval architect; fifteen years of model testing and simulation of "
            "hull and propulsion designs for navies and shipyards.",
            "keywords": ["Digital twins and simulation", "Green propulsion and energy"],
            # Declared after the up-skilling evaluation: a conflict detected since, so the
            # expert no longer opens Den Helder's proposals and is never proposed for them.
            "ties": [
                {
                    "name": "Den Helder Maritime Sensors B.V.",
                    "number": "64387215",
                    "relation": "advised",
                }
            ],
        },
        "max_applications": 6,
        "note": "Not available in the last week of the evaluation period.",
    },
    "evaluator2@leviatad.example": {
        "profile": {
            "country": "HR",
            "organisation": "University of Split, Faculty of Maritime Studies",
            "organisation_domain": "pfst.example",
            "languages": ["hr", "en", "it"],
            "bio": "Associate professor of marine electronics: underwater sensors, C4ISR "
            "integration and the cyber security of ship systems.",
            "keywords": ["Sensors and C4ISR", "Cyber security for naval platforms"],
        },
        "max_applications": 4,
        "note": "",
    },
}


def _person(session: Session, email: str, role: Role) -> Actor | None:
    user = session.scalar(select(User).where(User.email == email))
    if user is None or user.role != role:
        return None
    return Actor.of(user, request_id="demo")


def add_expert_pool(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        officer = _person(session, OFFICER, Role.OFFICER)
        call = session.scalar(select(Call).where(Call.reference == INTERNATIONALISATION))
        if officer is None or call is None:
            return
        known = {k.label.lower(): k for k in experts.list_keywords(session)}
        for label in STRATEGIC_TECHNOLOGIES:
            if label.lower() not in known:
                known[label.lower()] = experts.add_keyword(session, officer, label)
        pool: dict[str, Actor] = {}
        for email, spec in DEMO_EXPERTS.items():
            expert = _person(session, email, Role.EVALUATOR)
            if expert is None or expert.user_id is None:
                continue
            pool[email] = expert
            if experts.profile_of(session, expert.user_id) is None:
                data = {k: v for k, v in spec["profile"].items() if k != "keywords"}
                data["keyword_ids"] = [
                    str(known[k.lower()].id) for k in spec["profile"]["keywords"]
                ]
                experts.save_profile(session, expert, expert.user_id, data)
        if not pool:
            return
        # Experts already in the pool are left as they are (and not mailed again).
        expert_pool.invite_to_pool(
            session,
            officer,
            call.id,
            [e.user_id for e in pool.values() if e.user_id],
            link=f"{DEMO_SITE}/experts/invitations#call-{call.id}",
        )
        for email, expert in pool.items():
            status = session.scalar(
                select(CallPoolMembership.status).where(
                    CallPoolMembership.call_id == call.id,
                    CallPoolMembership.user_id == expert.user_id,
                )
            )
            if status != PoolStatus.INVITED:
                continue  # answered before: the demo never overrides an answer
            spec = DEMO_EXPERTS[email]
            expert_pool.answer_invitation(
                session, expert, call.id, True, spec["max_applications"], "", note=spec["note"]
            )
