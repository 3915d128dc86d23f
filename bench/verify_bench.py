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

from alembic import command
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from bench.submit_bench import fresh_database
from grants.cli import alembic_config
from grants.db import make_engine, make_session_factory
from grants.services import audit
from grants.services.actor import Actor
from workflows.roles import Role

COLUMNS = (
    "id, occurred_at, actor_id, actor_name, actor_role, action, entity_type, entity_id, "
    "application_id, before, after, request_id, ip, prev_hash, hash"
)


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


def bare_hash(engine: Engine) -> int:
    """The floor: the driver's cursor and hashlib, no ORM, no type processing."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(f"SELECT {COLUMNS} FROM audit_events ORDER BY id")
        count = 0
        for row in cursor.fetchall():
            text = json.dumps([str(v) for v in row], separators=(",", ":"))
            hashlib.sha256((str(row[13]) + text).encode("utf-8")).hexdigest()
            count += 1
        return count
    finally:
        raw.close()


def main() -> None:
    n = int(os.environ.get("BENCH_EVENTS", "20000"))
    with fresh_database() as url:
        command.upgrade(alembic_config(url), "head")
        engine = make_engine(url)
        factory = make_session_factory(engine)
        write_events(factory, n)
        bare_hash(engine)  # warm the cache of the database
        start = time.perf_counter()
        bare = bare_hash(engine)
        bare_seconds = time.perf_counter() - start
        with factory() as session:
            start = time.perf_counter()
            report = audit.verify_chain(session)
            verify_seconds = time.perf_counter() - start
        engine.dispose()
    assert report.ok and report.checked == bare == n, report
    backend = url.split(":", 1)[0]
    verify_rate, bare_rate = n / verify_seconds, n / bare_seconds
    print(
        f"audit verify ({backend}, {n} events): {verify_rate:.0f} events/s "
        f"(ratio {verify_rate / bare_rate:.2f} to bare hashlib over the same rows, "
        f"{bare_rate:.0f} events/s)"
    )


if __name__ == "__main__":
    main()
