"""How much `cascade audit verify` costs over hashing the same rows by hand.

Writes BENCH_EVENTS audit events (default 20,000) into a fresh database, then times
``audit.verify_chain`` against a bare loop: the same SELECT through the database driver's
own cursor (no SQLAlchemy), hashing each row's canonical text with hashlib. Prints one line
per figure, ``NAME: VALUE (ratio R to BASELINE)``.

    python -m bench.verify_bench
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python -m bench.verify_bench
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass

from alembic import command
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from bench.submit_bench import fresh_database
from grants.cli import alembic_config
from grants.db import make_engine, make_session_factory
from grants.models import AuditEvent
from grants.services import audit
from grants.services.actor import Actor
from workflows.roles import Role


def write_events(factory: sessionmaker[Session], n: int) -> None:
    actor = Actor(user_id=None, name="Bench", role=Role.ADMIN, request_id="bench")
    with factory() as session, session.begin():
        for i in range(n):
            audit.record(
                session,
                actor,
                "bench",
                entity_type="bench",
                entity_id=i,
                after={"i": i, "note": "x" * 40},
            )


def chain_order() -> str:
    """The chain position: ``seq`` where the table has it, else the id."""
    return "seq" if "seq" in AuditEvent.__table__.columns else "id"


def bare_hash(engine: Engine) -> int:
    """The floor: the driver's cursor and hashlib, no ORM, no type processing. Streams the
    rows (a server-side cursor on PostgreSQL) as ``verify`` does, so a long chain fits."""
    names = [c.name for c in AuditEvent.__table__.columns]
    prev = names.index("prev_hash")
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        postgres = engine.dialect.name == "postgresql"
        cursor = driver.cursor(name="bare_hash") if postgres else raw.cursor()  # type: ignore[union-attr]
        if postgres:
            cursor.itersize = 1000
        cursor.execute(f"SELECT {', '.join(names)} FROM audit_events ORDER BY {chain_order()}")
        count = 0
        for row in cursor:
            text = json.dumps([str(v) for v in row], separators=(",", ":"))
            hashlib.sha256((str(row[prev]) + text).encode("utf-8")).hexdigest()
            count += 1
        cursor.close()
        return count
    finally:
        raw.close()


def migrate(url: str) -> None:
    command.upgrade(alembic_config(url), "head")


@dataclass(frozen=True)
class VerifyFigures:
    events: int
    verify_rate: float
    bare_rate: float
    ok: bool

    @property
    def ratio(self) -> float:
        return self.verify_rate / self.bare_rate


def measure(url: str, n: int, *, warm: bool = True) -> VerifyFigures:
    """Time ``audit.verify_chain`` and the bare loop over the n events already at ``url``
    (``warm``: one untimed bare pass first, to bring the table into the caches)."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    try:
        if warm:
            bare_hash(engine)
        start = time.perf_counter()
        bare = bare_hash(engine)
        bare_seconds = time.perf_counter() - start
        with factory() as session:
            start = time.perf_counter()
            report = audit.verify_chain(session)
            verify_seconds = time.perf_counter() - start
    finally:
        engine.dispose()
    ok = report.ok and report.checked == bare == n
    return VerifyFigures(n, n / verify_seconds, n / bare_seconds, ok)


def main() -> None:
    n = int(os.environ.get("BENCH_EVENTS", "20000"))
    with fresh_database() as url:
        migrate(url)
        engine = make_engine(url)
        write_events(make_session_factory(engine), n)
        engine.dispose()
        figures = measure(url, n)
    assert figures.ok, figures
    backend = url.split(":", 1)[0]
    print(
        f"audit verify ({backend}, {n} events): {figures.verify_rate:.0f} events/s "
        f"(ratio {figures.ratio:.2f} to bare hashlib over the same rows, "
        f"{figures.bare_rate:.0f} events/s)"
    )


if __name__ == "__main__":
    main()
