"""The outbox worker: render pending documents, then send queued e-mail.

One pass, one loop: the embedded thread (``make run``) and ``cascade worker`` processes run
the same code, so what is tested for one holds for the other.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grants.runtime import Runtime
    from grants.services.documents import RenderPool

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PassResult:
    rendered: int = 0
    failed: int = 0
    sent: int = 0


def run_pass(rt: Runtime, pool: RenderPool | None = None) -> PassResult:
    """Let lapsed offers expire, anchor the audit chain when due, run waiting eligibility
    jobs, drain the document outbox, then deliver mail (a receipt waits for its PDF; an
    expiry notice is rendered and sent in the same pass).

    ``pool``: render processes (``cascade worker --processes N``); without it the PDFs are
    rendered in this thread. A failure of either half is logged and leaves its jobs pending
    for the next pass.
    """
    from grants.services.documents import drain
    from grants.services.eligibility_jobs import run_pending_jobs
    from grants.services.mail import deliver_pending

    rendered = failed = sent = 0
    try:
        # Not only `cascade remind` from cron: an offer lapses, and its budget goes to the
        # first reserve, within a pass of its deadline.
        expire_lapsed_offers(rt)
    except Exception:
        log.exception("offer expiry pass failed")
    try:
        # The chain head goes to the anchor file outside the database when it is due.
        from grants.services.anchors import maybe_anchor

        maybe_anchor(rt)
    except Exception:
        log.exception("anchoring failed")
    try:
        # The decisions a job records queue letters this pass then renders.
        run_pending_jobs(rt.sessions)
    except Exception:
        log.exception("eligibility jobs pass failed")
    try:
        result = drain(rt.sessions, rt.storage, pool=pool)
        rendered, failed = result.rendered, result.failed
    except Exception:
        log.exception("document pass failed")
    try:
        sent = deliver_pending(rt.sessions, rt.config)
    except Exception:
        log.exception("mail delivery pass failed")
    return PassResult(rendered, failed, sent)


def expire_lapsed_offers(rt: Runtime) -> list[str]:
    """Every offer past its acceptance deadline expires (references of those expired now)."""
    from grants.db import unit_of_work, utcnow
    from grants.services.awards import expire_due_offers

    with unit_of_work(rt.sessions) as session:
        return expire_due_offers(session, utcnow())


def work(
    rt: Runtime,
    *,
    wait: Callable[[], object],
    once: bool = False,
    report: Callable[[PassResult], None] | None = None,
    pool: RenderPool | None = None,
) -> None:
    """Passes until stopped: ``wait`` sleeps (or waits for a wake-up) between them."""
    while True:
        result = run_pass(rt, pool)
        if report is not None:
            report(result)
        if once:
            return
        wait()


class BackgroundWorker:
    """The embedded worker: passes in a daemon thread of the web process (``make run``).

    It renders in its own thread, one document after another: no render processes inside a
    web process (production runs ``cascade worker`` for that).
    """

    def __init__(self, rt: Runtime, interval: float = 5.0) -> None:
        self._rt = rt
        self._interval = interval
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cascade-outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def _wait(self) -> None:
        self._wake.wait(self._interval)
        self._wake.clear()

    def _run(self) -> None:
        self._wait()
        work(self._rt, wait=self._wait)
