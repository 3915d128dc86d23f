"""How much the service layer costs on the click-day path: submitting applications.

Pushes N drafts through ``applications.submit`` (guards, row lock, status, hash-chained
audit event, document job; one transaction each) and, in the same run and database, writes
the same rows (status update, audit row, document row) with bare SQLAlchemy, one
transaction each. Prints both rates and their ratio; the ratio is the figure to watch.

    make bench                      # SQLite file in a temporary folder
    BENCH_N=500 make bench          # more applications
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test make bench   # a fresh DB there
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import psycopg
from alembic import command
from sqlalchemy import insert, update
from sqlalchemy.orm import Session, sessionmaker

from forms.defaults import VOUCHER_FORM
from grants.cli import alembic_config
from grants.db import make_engine, make_session_factory, unit_of_work, utcnow
from grants.models import Application, AuditEvent, Document, Organisation, User
from grants.services import applications, calls
from grants.services.actor import Actor
from workflows.roles import Role
from workflows.voucher import AppState

WARMUP = 5
ANSWERS = {
    "summary": "Training of four engineers in sonar processing with an accredited provider.",
    "objectives": "Two certified engineers.",
    "strategic_technology": "Sensors and C4ISR",
    "service_provider": "Centro Formazione Navale",
    "work_plan": "M1-M3 training, M4-M6 pilot.",
    "expected_impact": "Two new tenders a year.",
    "start_date": "2027-02-01",
    "end_date": "2027-07-31",
    "provider_country": "IT",
    "budget_lines": [
        {"item": "Sonar course", "category": "Training and certification", "cost": "8000"}
    ],
    "no_double_funding": True,
}


def applicant_email(i: int, tag: str) -> str:
    return f"a{i}-{tag}@b.example"


@contextmanager
def fresh_database(admin_url: str | None = None) -> Iterator[str]:
    """A database of its own on the server of ``admin_url`` (default: BENCH_DATABASE_URL),
    dropped afterwards; without a PostgreSQL URL, a SQLite file in a temporary folder."""
    url = admin_url if admin_url is not None else os.environ.get("BENCH_DATABASE_URL", "")
    if not url.startswith("postgres"):
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    name = f"cascade_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{url.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_drafts(
    factory: sessionmaker[Session], n: int, tag: str, *, password_hash: str = "x"
) -> tuple[list[int], list[Actor]]:
    """Untimed set-up: a call, N SMEs each with one applicant and one complete draft.

    ``password_hash`` (e.g. ``accounts.hash_password(...)``, computed once) lets the
    applicants log in over HTTP; their e-mails are ``a{i}-{tag}@b.example``."""
    with unit_of_work(factory) as session:
        officer = User(
            email=f"o-{tag}@b.example", full_name="Officer", password_hash="x", role=Role.OFFICER
        )
        session.add(officer)
        session.flush()
        officer_actor = Actor.of(officer)
        now = utcnow()
        call = calls.create_call(
            session,
            officer_actor,
            calls.CallSpec(
                reference=f"B-{tag}",
                title="Bench call",
                description="",
                budget=Decimal("10000000"),
                max_per_voucher=Decimal("10000"),
                opens_at=now - timedelta(days=1),
                deadline=now + timedelta(days=60),
                form=list(VOUCHER_FORM),
            ),
        )
        calls.publish(session, officer_actor, call.id, now=call.opens_at)
        actors = []
        for i in range(n):
            org = Organisation(legal_name=f"SME {i}", country="IT", registration_number=f"{tag}{i}")
            session.add(org)
            session.flush()
            user = User(
                email=applicant_email(i, tag),
                full_name=f"Applicant {i}",
                password_hash=password_hash,
                role=Role.APPLICANT,
                organisation_id=org.id,
                # Only a confirmed address can log in and submit, and it gets the receipt.
                email_confirmed_at=utcnow(),
            )
            session.add(user)
            session.flush()
            actors.append(Actor.of(user))
        call_id = call.id
    ids = []
    for actor in actors:
        with unit_of_work(factory) as session:
            app = applications.create_draft(session, actor, call_id, title="Bench project")
            applications.save_draft(
                session,
                actor,
                app.id,
                title="Bench project",
                requested_amount="8000",
                answers=ANSWERS,
                declaration_signed=True,
            )
            ids.append(app.id)
    return ids, actors


def through_services(factory: sessionmaker[Session], ids: list[int], actors: list[Actor]) -> float:
    start = time.perf_counter()
    for app_id, actor in zip(ids, actors, strict=True):
        with unit_of_work(factory) as session:
            applications.submit(session, actor, app_id)
    return time.perf_counter() - start


def bare_sqlalchemy(factory: sessionmaker[Session], ids: list[int], actors: list[Actor]) -> float:
    """The same rows, written directly: no guards, no lock, no hash chain, no snapshot."""
    with factory() as session:
        next_seq = (
            session.query(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1).scalar() or 0
        ) + 1
    start = time.perf_counter()
    for offset, (app_id, actor) in enumerate(zip(ids, actors, strict=True)):
        with unit_of_work(factory) as session:
            now = utcnow()
            session.execute(
                update(Application)
                .where(Application.id == app_id)
                .values(status=AppState.SUBMITTED, submitted_at=now, content_sha256="0" * 64)
            )
            seq = next_seq + offset
            event_id = session.scalar(
                insert(AuditEvent)
                .returning(AuditEvent.id)
                .values(
                    seq=seq,
                    occurred_at=now,
                    actor_id=actor.user_id,
                    actor_name=actor.name,
                    actor_role=actor.role,
                    action="submit",
                    entity_type="application",
                    entity_id=str(app_id),
                    application_id=app_id,
                    before={},
                    after={},
                    prev_hash=f"{seq:064d}",
                    hash=f"{seq:064x}",
                )
            )
            session.execute(
                insert(Document).values(
                    id=str(uuid.uuid4()),
                    kind="submission_receipt",
                    application_id=app_id,
                    audit_event_id=event_id,
                    status="pending",
                    snapshot={},
                    attempts=0,
                    created_at=now,
                )
            )
    return time.perf_counter() - start


def main() -> None:
    n = int(os.environ.get("BENCH_N", "200"))
    with fresh_database() as url:
        command.upgrade(alembic_config(url), "head")
        engine = make_engine(url)
        factory = make_session_factory(engine)
        service_ids, service_actors = make_drafts(factory, n + WARMUP, "svc")
        bare_ids, bare_actors = make_drafts(factory, n + WARMUP, "bare")
        # Warm both paths (imports, compiled machine, statement caches) before timing.
        through_services(factory, service_ids[:WARMUP], service_actors[:WARMUP])
        bare_sqlalchemy(factory, bare_ids[:WARMUP], bare_actors[:WARMUP])
        service_seconds = through_services(factory, service_ids[WARMUP:], service_actors[WARMUP:])
        bare_seconds = bare_sqlalchemy(factory, bare_ids[WARMUP:], bare_actors[WARMUP:])
        engine.dispose()
    backend = url.split(":", 1)[0]
    service_rate, bare_rate = n / service_seconds, n / bare_seconds
    print(f"backend: {backend}, N = {n} submissions, one transaction each")
    print(f"through services (guards, lock, audit chain, document job): {service_rate:8.1f} /s")
    print(f"bare SQLAlchemy (same rows, no rules):                       {bare_rate:8.1f} /s")
    print(f"ratio services / bare: {service_seconds / bare_seconds:.2f}x the time")


if __name__ == "__main__":
    main()
