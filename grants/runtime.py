"""What a running app holds, and the per-request unit of work that views and commands use.

Kept apart from the factory (``grants.app``) so that views import it without importing the
factory that registers them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import current_app, g, request
from flask_login import current_user
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from documents.storage import DocumentStore
from grants.background import BackgroundWorker
from grants.config import Config
from grants.db import committing
from grants.services.actor import Actor

# The unit of work's type, for views' type hints: they hand it to services, never query it.
DbSession = Session


@dataclass
class Runtime:
    """What the app holds for its lifetime: database, document store, outbox worker."""

    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    storage: DocumentStore
    worker: BackgroundWorker | None = None


def runtime() -> Runtime:
    return current_app.extensions["cascade"]


def db_session() -> Session:
    """The request's session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = runtime().sessions()
    return g.db_session


@contextmanager
def transaction() -> Iterator[Session]:
    """One business action from a view or command: commit, or roll back on any error."""
    with committing(db_session()) as session:
        yield session
    worker = runtime().worker
    if worker is not None:
        worker.wake()


def forget_reads() -> None:
    """Forget what was read so far in this request, so a service loads (and locks) current
    rows instead of trusting an earlier read."""
    session = db_session()
    # The signed-in person stays as loaded: the request was authorised with that row, and
    # reloading it would cost every step one more query (a role change applies from the
    # person's next request).
    user = current_user._get_current_object() if current_user else None
    for loaded in list(session.identity_map.values()):
        if loaded is not user:
            session.expire(loaded)


def current_actor() -> Actor:
    return Actor.of(
        current_user,
        request_id=g.get("request_id"),
        ip=request.remote_addr if request else None,
    )
