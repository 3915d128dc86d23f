"""Record that the signed-in person opened an audit page (see ``services.audit_views``).

``audited_view(page, filters)`` from any view that shows or hands out the trail: one
``auditor_viewed`` event, unless it repeats this person's last recorded view (same page, same
filters, same target) within ``audit_views.REPEAT_WINDOW``; the note of that last view
rides in the signed session cookie, so no query and no lock decide it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from flask import session

from grants.runtime import transaction
from grants.services import audit_views
from grants.views.common import actor

# The session cookie's note of this person's last recorded view of an audit page.
_LAST_VIEW = "audit_last_view"


def audited_view(
    page: str, filters: Mapping[str, str], *, target: str = "", page_number: int | None = None
) -> None:
    key = audit_views.view_key(page, {**filters, "target": target})
    now = time.time()
    if not audit_views.should_record(session.get(_LAST_VIEW), key, now):
        return
    with transaction() as db:
        audit_views.record_view(db, actor(), page, filters, target=target, page_number=page_number)
    session[_LAST_VIEW] = [key, now]
