"""The auditor's reading is itself on the record: who opened which audit page, with what.

Pages that show the trail or hand it out (the trail, an event, exports, dossiers) write one
``auditor_viewed`` event naming the page and the filters in force. It is an ordinary event:
written in its own short transaction and linked at commit, like any other, so it holds the
chain lock only for the instant of linking (see ``audit.link_pending``).

Not every request writes one: ``should_record`` lets a view skip a repeat of the same page
with the same filters within ``REPEAT_WINDOW`` (paging through one result, reloading it). The
filters name the set of events read, so the first view of a set within the window records
what was seen; a new filter, another event, another export is recorded at once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from grants.models import AuditEvent
from grants.services import audit
from grants.services.actor import Actor

VIEWED = "auditor_viewed"
REPEAT_WINDOW = timedelta(seconds=60)


def view_key(page: str, filters: Mapping[str, Any]) -> str:
    """What makes two views the same view: the page and its filters (not the page number)."""
    body = json.dumps([page, {k: v for k, v in filters.items() if v}], sort_keys=True)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]


def should_record(last: Any, key: str, now: float) -> bool:
    """``last``: the (key, unix time) of this person's last recorded view, or anything else
    when there is none (it comes from the signed session cookie)."""
    if not isinstance(last, list | tuple) or len(last) != 2:
        return True
    last_key, at = last
    if last_key != key or not isinstance(at, int | float):
        return True
    return not (0 <= now - at < REPEAT_WINDOW.total_seconds())


def record_view(
    session: Session,
    actor: Actor,
    page: str,
    filters: Mapping[str, Any] | None = None,
    *,
    target: str = "",
    page_number: int | None = None,
) -> AuditEvent:
    """One ``auditor_viewed`` event: the page (an endpoint's name), what it was about
    (``target``: an event's number, a reference) and the filters in force."""
    after: dict[str, Any] = {"page": page}
    if target:
        after["target"] = target
    if filters:
        after["filters"] = {k: v for k, v in filters.items() if v}
    if page_number is not None and page_number > 1:
        after["page_number"] = page_number
    return audit.record(
        session,
        actor,
        VIEWED,
        entity_type="audit_page",
        entity_id=(f"{page}:{target}" if target else page)[:60],
        after=after,
    )
