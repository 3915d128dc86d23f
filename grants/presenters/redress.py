"""The redress block of the application page: the window, the requests, who may act."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from grants.models import Application, RedressRequest
from grants.services import redress
from grants.services.actor import Actor
from workflows.roles import Role


@dataclass(frozen=True)
class RedressBlock:
    window: redress.Window | None
    requests: list[RedressRequest]
    # The applicant may file now (an open window and no request against this decision).
    can_file: bool
    # An officer decides waiting requests.
    can_decide: bool
    closed: bool  # a decision that could be challenged, whose window has closed

    @property
    def shown(self) -> bool:
        return bool(self.requests) or self.can_file or self.closed


def redress_block(
    session: Session, application: Application, who: Actor, now: datetime
) -> RedressBlock:
    window = redress.window_of(session, application)
    requests = redress.requests_of(session, application.id)
    challenged = window is not None and any(r.decision_at == window.decision_at for r in requests)
    own = who.role == Role.APPLICANT and who.organisation_id == application.organisation_id
    open_now = window is not None and window.open_at(now)
    return RedressBlock(
        window=window,
        requests=requests,
        can_file=own and open_now and not challenged,
        can_decide=who.role == Role.OFFICER,
        closed=own and window is not None and not open_now and not challenged,
    )
