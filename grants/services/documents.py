"""Document jobs: written in the step's transaction, rendered after commit.

The ``documents`` row is the outbox: it is created pending, in the same transaction as the
state change and its audit event, with the snapshot to render. ``drain`` renders pending
rows outside any transaction and marks them ready; a rolled-back step leaves no job, a
crash mid-render leaves the job pending, and rendering again is harmless.

A drain claims jobs in batches: one short transaction takes up to a batch of pending rows
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and counts an attempt on each. A lease keeps the
claimed jobs from every other drain until their result is recorded: on PostgreSQL a
session-level advisory lock per job, held on a connection of the drain's own (it outlives
the claim's transaction and ends with the connection if the process dies, so a crash leaves
the job claimable); on SQLite, where BEGIN IMMEDIATE serialises claims and there is one
worker, a set shared by the drains of the process. Each job is then rendered (in this
process, or by a ``RenderPool`` of render processes), stored, and recorded in a transaction
of its own, so a document is ready as soon as it is rendered and a failure touches only its
job: it stays pending with its error for a later pass, up to ``MAX_ATTEMPTS``, then FAILED.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import threading
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Protocol

from sqlalchemy import select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from documents.kinds import TITLES, DocumentKind
from documents.render import prepare_render_process, render_outcome, render_pdf
from documents.storage import DocumentStore, sha256_hex
from grants.db import utcnow
from grants.models import Application, AuditEvent, Document, DocumentStatus
from grants.services.snapshots import build_snapshot

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
#: Jobs an in-process drain claims per transaction. Claimed jobs wait for this drain, so a
#: batch is kept small: with several workers, no one sits on work another could start.
BATCH_SIZE = 4
#: Render processes run below the web processes' CPU priority: on a shared machine a burst
#: of documents slows the rendering rather than the requests.
RENDER_NICENESS = 10
GAVE_UP = (
    "gave up after {attempts} attempts: the last one(s) ended without a result "
    "(the worker stopped while rendering)"
)


def enqueue(
    session: Session,
    *,
    application: Application,
    event: AuditEvent,
    kind: str,
    step: str,
    details: dict[str, Any],
    flush: bool = True,
) -> Document:
    """Queue the step's document. ``flush=False`` leaves the INSERT to the caller's next
    flush, so a batch of steps writes its documents in one statement."""
    doc_kind = DocumentKind(kind)
    document_id = str(uuid.uuid4())  # the snapshot carries it, so it is known before insert
    document = Document(
        id=document_id,
        kind=str(doc_kind),
        application_id=application.id,
        audit_event_id=event.id,
    )
    document.snapshot = build_snapshot(
        document_id=document_id,
        kind=str(doc_kind),
        title=TITLES[doc_kind],
        application=application,
        event=event,
        step=step,
        details=details,
    )
    session.add(document)
    if flush:
        session.flush()
    return document


def storage_key(document: Document) -> str:
    return f"{document.id[:2]}/{document.id}.pdf"


@dataclass(frozen=True)
class DrainResult:
    rendered: int
    failed: int


@dataclass(frozen=True)
class Job:
    """A claimed document: what a render needs, read in the claiming transaction."""

    id: str
    kind: str
    snapshot: dict[str, Any]
    key: str


# -- leases: a claimed job is this drain's until its result is recorded --------------------


class _Leases(Protocol):
    """Holds claimed jobs for one drain: per process on SQLite, advisory locks on PostgreSQL."""

    def take(self, doc_id: str) -> bool: ...

    def release(self, doc_id: str) -> None: ...

    def close(self) -> None: ...


class _ProcessLeases:
    """SQLite: jobs held by the drains of this process (the embedded thread, commands)."""

    _busy: ClassVar[set[str]] = set()
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self._mine: set[str] = set()

    def take(self, doc_id: str) -> bool:
        with self._lock:
            if doc_id in self._busy:
                return False
            self._busy.add(doc_id)
        self._mine.add(doc_id)
        return True

    def release(self, doc_id: str) -> None:
        if doc_id in self._mine:
            self._mine.discard(doc_id)
            with self._lock:
                self._busy.discard(doc_id)

    def close(self) -> None:
        for doc_id in list(self._mine):
            self.release(doc_id)


# The two-key form of PostgreSQL's advisory locks, in a class of its own: it cannot meet the
# audit chain's single-key lock. A collision of two ids' keys only defers one job to a pass.
_LEASE_CLASS = 0x43534444  # "CSDD"


def _lease_key(doc_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(doc_id.encode(), digest_size=4).digest(), signed=True)


class _AdvisoryLeases:
    """PostgreSQL: one advisory lock per job, on a connection held for the whole drain."""

    def __init__(self, engine: Engine) -> None:
        self._conn: Connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self._held: set[str] = set()

    def _call(self, function: str, doc_id: str) -> bool:
        statement = text(f"SELECT {function}(CAST(:cls AS integer), CAST(:key AS integer))")
        return bool(self._conn.scalar(statement, {"cls": _LEASE_CLASS, "key": _lease_key(doc_id)}))

    def take(self, doc_id: str) -> bool:
        if doc_id in self._held or not self._call("pg_try_advisory_lock", doc_id):
            return False
        self._held.add(doc_id)
        return True

    def release(self, doc_id: str) -> None:
        if doc_id in self._held:
            self._held.discard(doc_id)
            self._call("pg_advisory_unlock", doc_id)

    def close(self) -> None:
        # Session-level locks survive the pool's reset of a returned connection: drop them
        # all, or close the connection for good if that is not possible.
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock_all()"))
        except Exception:
            self._conn.invalidate()
            log.exception("could not release document leases; connection discarded")
        finally:
            self._held.clear()
            self._conn.close()


@contextmanager
def _leases(factory: sessionmaker[Session]) -> Iterator[_Leases]:
    with factory() as session:
        bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    leases: _Leases = (
        _AdvisoryLeases(engine) if engine.dialect.name == "postgresql" else _ProcessLeases()
    )
    try:
        yield leases
    finally:
        leases.close()


# -- claim, record -------------------------------------------------------------------------


@dataclass
class _Claim:
    jobs: list[Job]
    given_up: list[str]  # pending rows whose attempts were all used up, now FAILED


def _claim(factory: sessionmaker[Session], leases: _Leases, n: int, skip: Iterable[str]) -> _Claim:
    """One transaction: lease up to ``n`` of the oldest pending jobs not in ``skip``."""
    claim = _Claim([], [])
    taken: list[str] = []
    try:
        with factory() as session, session.begin():
            postgres = session.get_bind().dialect.name == "postgresql"
            seen = set(skip)
            while len(claim.jobs) + len(claim.given_up) < n:
                query = (
                    select(Document)
                    .where(Document.status == DocumentStatus.PENDING, Document.id.not_in(seen))
                    .order_by(Document.created_at, Document.id)
                    .limit(n - len(claim.jobs) - len(claim.given_up))
                )
                if postgres:
                    # Rows another drain is claiming right now are skipped, not waited for.
                    query = query.with_for_update(skip_locked=True)
                rows = session.scalars(query).all()
                if not rows:
                    break
                for document in rows:
                    seen.add(document.id)
                    if not leases.take(document.id):
                        continue  # another drain claimed it earlier and is rendering it
                    taken.append(document.id)
                    if document.attempts >= MAX_ATTEMPTS:
                        # Every attempt was counted but none recorded a result: each one
                        # took its worker down. Stop before it takes down the next one.
                        document.status = DocumentStatus.FAILED
                        document.last_error = GAVE_UP.format(attempts=document.attempts)
                        claim.given_up.append(document.id)
                        continue
                    document.attempts += 1
                    claim.jobs.append(
                        Job(document.id, document.kind, document.snapshot, storage_key(document))
                    )
    except BaseException:
        for doc_id in taken:
            leases.release(doc_id)
        raise
    for doc_id in claim.given_up:
        log.error("document %s: %s", doc_id, GAVE_UP.format(attempts=MAX_ATTEMPTS))
        leases.release(doc_id)
    return claim


def _unclaim(factory: sessionmaker[Session], jobs: Iterable[Job]) -> None:
    """Give back the attempt of claimed jobs that were never started (the drain stopped)."""
    ids = [job.id for job in jobs]
    if not ids:
        return
    try:
        with factory() as session, session.begin():
            session.execute(
                update(Document)
                .where(Document.id.in_(ids), Document.status == DocumentStatus.PENDING)
                .values(attempts=Document.attempts - 1)
            )
    except Exception:
        log.exception("could not give back the attempts of %d unstarted job(s)", len(ids))


def _record_rendered(factory: sessionmaker[Session], job: Job, digest: str, size: int) -> None:
    with factory() as session, session.begin():
        document = session.get(Document, job.id, with_for_update=True)
        if document is None or document.status == DocumentStatus.READY:
            return  # another worker finished it first: its result stands
        document.sha256 = digest
        document.size = size
        document.storage_key = job.key
        document.status = DocumentStatus.READY
        document.rendered_at = utcnow()
        document.last_error = None


def _record_failure(factory: sessionmaker[Session], job: Job, error: str) -> None:
    with factory() as session, session.begin():
        document = session.get(Document, job.id, with_for_update=True)
        if document is None or document.status != DocumentStatus.PENDING:
            return
        document.last_error = error
        if document.attempts >= MAX_ATTEMPTS:
            document.status = DocumentStatus.FAILED


def _finish(
    factory: sessionmaker[Session],
    storage: DocumentStore,
    job: Job,
    pdf: bytes | None,
    error: str | None,
) -> bool:
    """Store and record one job's outcome; True when the document is ready."""
    if pdf is not None:
        try:
            digest = storage.put(job.key, pdf)
        except Exception:
            log.exception("storing document %s failed", job.id)
            error = traceback.format_exc(limit=5)
        else:
            _record_rendered(factory, job, digest, len(pdf))
            return True
    _record_failure(factory, job, error or "no PDF and no error")
    return False


def _render_here(job: Job) -> tuple[bytes | None, str | None]:
    try:
        return render_pdf(job.kind, job.snapshot), None
    except Exception:
        log.exception("rendering document %s failed", job.id)
        return None, traceback.format_exc(limit=5)


# -- render processes ------------------------------------------------------------------------


RenderTask = Callable[[str, dict[str, Any]], tuple[bytes | None, str | None]]
Outcome = tuple[bytes | None, str | None]
#: The error of a job whose render process died under it (a crash, the OOM killer).
PROCESS_DIED = "the render process died while rendering this document (alone in its pool)"


class RenderPool:
    """Processes that render PDFs for one worker, started with 'spawn' (never forked).

    A render process imports only ``documents`` (WeasyPrint, its fonts and stylesheet, kept
    for its lifetime): it is given (kind, snapshot) and gives back the bytes or the error.
    It has no database engine, connection or store of its own to share or leak; the worker
    process claims, stores and records. When a render process dies, the pool is replaced
    and the jobs it had in flight are rendered again one at a time, so only the job that
    kills its process fails (``task`` is for tests that need one).
    """

    def __init__(
        self, processes: int, *, niceness: int = RENDER_NICENESS, task: RenderTask = render_outcome
    ) -> None:
        self.processes = max(1, processes)
        self._niceness = niceness
        self._task = task
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=prepare_render_process,
                initargs=(self._niceness,),
            )
        return self._executor

    def warm_up(self) -> None:
        """Start every process now (each renders a throw-away page), not on the first jobs."""
        pool = self._pool()
        for future in [pool.submit(os.getpid) for _ in range(self.processes)]:
            future.result()

    def submit(self, job: Job) -> Future[Outcome]:
        return self._pool().submit(self._task, job.kind, job.snapshot)

    def outcome(self, future: Future[Outcome]) -> Outcome | None:
        """The job's (pdf, error); None when a render process died (which job killed it is
        not known: every job in flight fails with it)."""
        try:
            return future.result()
        except BrokenProcessPool:
            self._discard()
            return None
        except Exception:
            return None, traceback.format_exc(limit=5)

    def _discard(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> RenderPool:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()


# -- drains ----------------------------------------------------------------------------------


class _Budget:
    """Jobs a drain may still try (``limit``), and those it tried that are still pending
    (under way, or failed: not again in this drain). A ready job leaves the pending rows by
    itself, so the list a claim excludes stays short however long the drain."""

    def __init__(self, limit: int | None, skip: Iterable[str] = ()) -> None:
        self.limit = limit
        self.tried: set[str] = set(skip)
        self.count = 0

    def room(self, wanted: int) -> int:
        return wanted if self.limit is None else max(0, min(wanted, self.limit - self.count))

    def spend(self, claim: _Claim) -> None:
        self.tried.update(job.id for job in claim.jobs)
        self.count += len(claim.jobs) + len(claim.given_up)

    def settle(self, doc_id: str, ok: bool) -> tuple[str, bool]:
        if ok:
            self.tried.discard(doc_id)
        return doc_id, ok


def _outcomes_here(
    factory: sessionmaker[Session], storage: DocumentStore, leases: _Leases, budget: _Budget
) -> Iterator[tuple[str, bool]]:
    """Claim a batch, render its jobs one after another in this process; again."""
    while n := budget.room(BATCH_SIZE):
        claim = _claim(factory, leases, n, budget.tried)
        budget.spend(claim)
        if not claim.jobs and not claim.given_up:
            return
        yield from ((doc_id, False) for doc_id in claim.given_up)
        waiting = list(claim.jobs)
        try:
            while waiting:
                job = waiting.pop(0)
                try:
                    ok = _finish(factory, storage, job, *_render_here(job))
                finally:
                    leases.release(job.id)
                yield budget.settle(job.id, ok)
        finally:
            _unclaim(factory, waiting)
            for job in waiting:
                leases.release(job.id)


def _outcomes_pooled(
    factory: sessionmaker[Session],
    storage: DocumentStore,
    leases: _Leases,
    budget: _Budget,
    pool: RenderPool,
) -> Iterator[tuple[str, bool]]:
    """Keep the pool's processes busy: claim again whenever half the jobs are done."""
    in_flight: dict[Future[Outcome], Job] = {}
    suspects: list[Job] = []  # in flight when a render process died
    exhausted = False

    def finish(job: Job, outcome: Outcome) -> tuple[str, bool]:
        try:
            pdf, error = outcome
            if pdf is None:
                log.error("rendering document %s failed:\n%s", job.id, error)
            return budget.settle(job.id, _finish(factory, storage, job, pdf, error))
        finally:
            leases.release(job.id)

    try:
        while True:
            if not exhausted and not suspects and len(in_flight) <= pool.processes:
                wanted = budget.room(2 * pool.processes - len(in_flight))
                claim = _claim(factory, leases, wanted, budget.tried) if wanted else _Claim([], [])
                budget.spend(claim)
                exhausted = len(claim.jobs) + len(claim.given_up) < wanted or not wanted
                yield from ((doc_id, False) for doc_id in claim.given_up)
                for job in claim.jobs:
                    in_flight[pool.submit(job)] = job
            if in_flight:
                done, _running = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    job = in_flight.pop(future)
                    outcome = pool.outcome(future)
                    if outcome is None:
                        suspects.append(job)
                    else:
                        yield finish(job, outcome)
            while suspects and not in_flight:
                # Alone in a new pool, the job that killed its process kills it again.
                job = suspects[0]
                outcome = pool.outcome(pool.submit(job))
                suspects.pop(0)
                yield finish(job, outcome or (None, PROCESS_DIED))
            if exhausted and not in_flight:
                return
    finally:
        unstarted = [job for future, job in in_flight.items() if future.cancel()]
        _unclaim(factory, unstarted)
        for job in [*in_flight.values(), *suspects]:
            leases.release(job.id)


def drain(
    factory: sessionmaker[Session],
    storage: DocumentStore,
    *,
    limit: int | None = None,
    pool: RenderPool | None = None,
) -> DrainResult:
    """Render pending documents until none is left (or ``limit`` were tried).

    Without ``pool`` the documents are rendered in this process; with one, by its render
    processes, this process claiming, storing and recording. A job that fails stays pending
    for a later pass, not this one.
    """
    rendered = failed = 0
    budget = _Budget(limit)
    with _leases(factory) as leases:
        outcomes = (
            _outcomes_here(factory, storage, leases, budget)
            if pool is None
            else _outcomes_pooled(factory, storage, leases, budget, pool)
        )
        try:
            for _doc_id, ok in outcomes:
                if ok:
                    rendered += 1
                else:
                    failed += 1
        finally:
            outcomes.close()
    return DrainResult(rendered, failed)


def render_one(
    factory: sessionmaker[Session], storage: DocumentStore, skip: set[str] | None = None
) -> tuple[str, bool] | None:
    """Render the oldest pending document not in ``skip``: (its id, success), or None."""
    with _leases(factory) as leases:
        outcomes = _outcomes_here(factory, storage, leases, _Budget(1, skip or ()))
        try:
            return next(outcomes, None)
        finally:
            outcomes.close()


def read_pdf(storage: DocumentStore, document: Document) -> bytes:
    if document.status != DocumentStatus.READY or not document.storage_key:
        raise LookupError("this document is still being generated")
    data = storage.read(document.storage_key)
    if sha256_hex(data) != document.sha256:
        raise LookupError("the stored file does not match its recorded sha256")
    return data
