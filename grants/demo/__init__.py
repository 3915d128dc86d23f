"""The LEVIATAD demo: the four partner clusters, two calls, one user per role, a dozen SMEs,
every workflow state.

Everything is driven through the services, exactly as people would through the UI, so the
demo's audit trail, documents and states are real. Loading it twice changes nothing.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from documents.storage import DocumentStorage
from grants.demo.builder import DemoBuilder
from grants.demo.builder import load_demo as load_story
from grants.demo.call_specs import INTERNATIONALISATION, UPSKILLING, brussels_five_pm, demo_calls
from grants.demo.content import TOPICS, demo_answers, quote_pdf
from grants.demo.experts import DEMO_EXPERTS, add_expert_pool
from grants.demo.partners import (
    DEMO_CALL_PARTNERS,
    DEMO_PARTNERS,
    PARTNER_ACCOUNT,
    PARTNER_PROFILE,
)
from grants.demo.people import (
    DEMO_PASSWORD,
    DEMO_SMES,
    DEMO_USERS,
    DUPLICATE_ACCOUNT,
    DUPLICATE_PROFILE,
    demo_profiles,
)

__all__ = [
    "DEMO_CALL_PARTNERS",
    "DEMO_EXPERTS",
    "DEMO_PARTNERS",
    "DEMO_PASSWORD",
    "DEMO_SMES",
    "DEMO_USERS",
    "DUPLICATE_ACCOUNT",
    "DUPLICATE_PROFILE",
    "INTERNATIONALISATION",
    "PARTNER_ACCOUNT",
    "PARTNER_PROFILE",
    "TOPICS",
    "UPSKILLING",
    "DemoBuilder",
    "add_expert_pool",
    "brussels_five_pm",
    "demo_answers",
    "demo_calls",
    "demo_profiles",
    "load_demo",
    "load_story",
    "quote_pdf",
]


def load_demo(factory: sessionmaker[Session], storage: DocumentStorage | None = None) -> bool:
    """Create the demo unless it is already there (True when it was created now), then add
    what it lacks of the expert pool (nothing when it is there)."""
    created = load_story(factory, storage)
    add_expert_pool(factory)
    return created
