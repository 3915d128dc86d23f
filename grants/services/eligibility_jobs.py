"""Eligibility for many applications of a call at once: started by an officer, run by the
worker, all or nothing.

``start_job`` records the officer's selection as a job row (and audits it); the worker's
``run_pending_jobs`` claims one job at a time and decides its whole selection, with the
same checks, events, letters and notices as one decision each, in the transaction that
marks the job done. A failure anywhere rolls all of it back and the job says which
application failed and that none was decided. The claim is the job row locked
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite takes the write lock at BEGIN), so two
workers never run one job, and a worker that dies leaves it pending with nothing decided.
An application already decided (by hand, meanwhile) is skipped: none is decided twice.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from grants.db import unit_of_work, utcnow
from grants.errors import NotFound, ValidationFailed, require_role
from grants.models import Application, Document, DocumentStatus, EligibilityJob, JobStatus, User
from grants.services import audit, eligibility, organisations
from grants.services.actor import Actor
from grants.services.workflow import load_call
from workflows.errors import TransitionRefused
from workflows.i18n import _
from workflows.roles import Role
from workflows.voucher import AppState

log = logging.getLogger(__name__)
EVIDENCE_MAX = 1000
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
FAILED_NOTHING_DECIDED = (
    "{reference}: {error}. Nothing was recorded: no application of the selection was decided."
)


@dataclass(frozen=True)
class Candidate:
    """A submitted application of the call, with what its automatic checks propose."""

    id: int
    reference: str
    organisation: str
    country: str
    failed: list[str]  # the names of the checks not met

    @property
    def proposed_eligible(self) -> bool:
        return not self.failed


def candidates(session: Session, actor: Actor, call_id: int) -> list[Candidate]:
    """The call's applications waiting for eligibility, each with its proposal."""
    require_role(actor, Role.OFFICER)
    rows = session.scalars(
        select(Application)
        .where(Application.call_id == call_id, Application.status == AppState.SUBMITTED)
        .options(joinedload(Application.organisation), joinedload(Application.call))
        .order_by(Application.submitted_at, Application.id)
    ).all()
    groups = organisations.duplicate_registrations(session)
    found = []
    for application in rows:
        checks = eligibility.proposed_checks(application, duplicates=groups)
        profile = eligibility.evidence_profile(application).values
        found.append(
            Candidate(
                application.id,
                application.reference,
                application.organisation.legal_name,
                str(profile.get("country") or application.organisation.country),
                [c["name"] for c in checks if not c["passed"]],
            )
        )
    return found


def _waiting_job(session: Session, call_id: int) -> EligibilityJob | None:
    return session.scalars(
        select(EligibilityJob).where(EligibilityJob.active_call_id == call_id)
    ).first()


def waiting_job(session: Session, call_id: int) -> EligibilityJob | None:
    """The call's job still waiting for the worker, if any."""
    return _waiting_job(session, call_id)


def start_job(
    session: Session,
    actor: Actor,
    call_id: int,
    application_ids: Sequence[int],
    *,
    evidence: str,
    token: str,
) -> EligibilityJob:
    """Queue eligibility for the selected applications of a call, as proposed.

    ``token`` is the start form's: the same token again (a double click, a retried request)
    returns the job it started. One job per call waits at a time.
    """
    require_role(actor, Role.OFFICER)
    if not TOKEN_RE.fullmatch(token or ""):
        raise TransitionRefused(_("the form is damaged; reload the page and try again"))
    # Locked: two starts for one call queue here, and the second sees the first's job.
    call = load_call(session, call_id)
    again = session.scalars(select(EligibilityJob).where(EligibilityJob.token == token)).first()
    if again is not None:
        if again.call_id != call_id:
            raise TransitionRefused(_("the form is damaged; reload the page and try again"))
        return again
    errors: dict[str, str] = {}
    evidence = evidence.strip()
    if not evidence:
        errors["evidence"] = _("give the evidence for the no-double-funding check")
    elif len(evidence) > EVIDENCE_MAX:
        errors["evidence"] = _("keep the evidence within %(max)d characters", max=EVIDENCE_MAX)
    ids = sorted(set(application_ids))
    if not ids:
        errors["applications"] = _("select at least one application")
    if errors:
        raise ValidationFailed(errors)
    waiting = _waiting_job(session, call_id)
    if waiting is not None:
        raise TransitionRefused(
            _(
                "eligibility is already being recorded for %(count)d applications of this "
                "call; wait for that job to finish",
                count=waiting.total,
            )
        )
    found = dict(
        session.execute(
            select(Application.id, Application.reference).where(
                Application.id.in_(ids),
                Application.call_id == call_id,
                Application.status == AppState.SUBMITTED,
            )
        ).all()
    )
    if len(found) != len(ids):
        raise ValidationFailed(
            {
                "applications": _(
                    "%(count)d of the selected applications no longer wait for eligibility "
                    "(decided or withdrawn meanwhile); reload the page and select again",
                    count=len(ids) - len(found),
                )
            }
        )
    job = EligibilityJob(
        call_id=call.id,
        active_call_id=call.id,
        token=token,
        started_by_id=actor.user_id,
        status=JobStatus.PENDING,
        application_ids=ids,
        evidence=evidence,
        total=len(ids),
        results=[],
    )
    session.add(job)
    session.flush()
    audit.record(
        session,
        actor,
        "start_bulk_eligibility",
        entity_type="call",
        entity_id=call.reference,
        after={
            "job": job.id,
            "applications": [found[i] for i in ids],
            "no_double_funding_evidence": evidence,
        },
    )
    return job


def get_job(session: Session, actor: Actor, call_id: int, job_id: int) -> EligibilityJob:
    require_role(actor, Role.OFFICER, Role.AUDITOR)
    job = session.get(EligibilityJob, job_id)
    if job is None or job.call_id != call_id:
        raise NotFound(f"no eligibility job {job_id}")
    return job


def letters_ready(session: Session, job: EligibilityJob) -> int:
    """How many of the job's decision letters are rendered."""
    ids = [r["document_id"] for r in job.results if r.get("document_id")]
    if not ids:
        return 0
    return (
        session.scalar(
            select(func.count())
            .select_from(Document)
            .where(Document.id.in_(ids), Document.status == DocumentStatus.READY)
        )
        or 0
    )


# -- the worker's side ------------------------------------------------------------------------


def _claim(session: Session) -> EligibilityJob | None:
    query = (
        select(EligibilityJob)
        .where(EligibilityJob.status == JobStatus.PENDING)
        .order_by(EligibilityJob.created_at, EligibilityJob.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        # A job another worker is running is skipped, not waited for.
        query = query.with_for_update(skip_locked=True)
    return session.scalars(query).first()


def _decide_all(session: Session, job: EligibilityJob) -> None:
    """Every selected application decided as proposed, in the caller's transaction."""
    officer = session.get_one(User, job.started_by_id)
    actor = Actor(
        officer.id, officer.full_name, Role.OFFICER, request_id=f"eligibility-job-{job.id}"
    )
    groups = organisations.duplicate_registrations(session)
    manual = {"no_double_funding": (True, job.evidence)}
    results: list[dict[str, object]] = []
    for app_id in job.application_ids:
        application = session.get_one(Application, app_id)
        current = {"id": app_id, "reference": application.reference}
        try:
            if application.status != AppState.SUBMITTED:
                results.append({**current, "outcome": "skipped", "status": application.status})
                continue
            step = eligibility.record_eligibility(
                session, actor, app_id, manual=manual, duplicates=groups
            )
        except Exception as exc:
            raise _Failed(application.reference, str(exc) or type(exc).__name__) from exc
        results.append(
            {
                **current,
                "outcome": step.dest,
                "document_id": step.document.id if step.document else None,
            }
        )
    job.results = results
    job.eligible = sum(1 for r in results if r["outcome"] == AppState.ELIGIBLE)
    job.ineligible = sum(1 for r in results if r["outcome"] == AppState.INELIGIBLE)
    job.skipped = sum(1 for r in results if r["outcome"] == "skipped")
    job.status = JobStatus.DONE
    job.active_call_id = None
    job.finished_at = utcnow()
    job.attempts += 1


class _Failed(Exception):
    def __init__(self, reference: str, error: str) -> None:
        super().__init__(f"{reference}: {error}")
        self.reference = reference
        self.error = error


def _record_failure(factory: sessionmaker[Session], job_id: int, failure: _Failed) -> None:
    with unit_of_work(factory) as session:
        job = session.get(EligibilityJob, job_id, with_for_update=True)
        if job is None or job.status != JobStatus.PENDING:
            return
        job.status = JobStatus.FAILED
        job.active_call_id = None
        job.finished_at = utcnow()
        job.attempts += 1
        job.error = FAILED_NOTHING_DECIDED.format(reference=failure.reference, error=failure.error)


def run_pending_jobs(factory: sessionmaker[Session], *, limit: int | None = None) -> int:
    """Run waiting jobs, one transaction each, until none is left (or ``limit`` ran)."""
    ran = 0
    while limit is None or ran < limit:
        job_id: int | None = None
        try:
            with unit_of_work(factory) as session:
                job = _claim(session)
                if job is None:
                    return ran
                job_id = job.id
                _decide_all(session, job)
        except _Failed as failure:
            assert job_id is not None
            log.warning("eligibility job %s failed: %s", job_id, failure)
            _record_failure(factory, job_id, failure)
        ran += 1
    return ran
