"""The application factory and the per-request unit of work."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask, current_app, g, request
from flask_login import LoginManager, current_user
from flask_wtf import CSRFProtect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from documents.storage import DocumentStorage
from grants.config import Config
from grants.db import make_engine, make_session_factory
from grants.models import User
from grants.services.actor import Actor

log = logging.getLogger(__name__)
csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to continue."
_worker_lock = threading.Lock()


@dataclass
class Runtime:
    """What the app holds for its lifetime: database, document store, render worker."""

    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    storage: DocumentStorage
    worker: DocumentWorker | None = None


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
    session = db_session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    worker = runtime().worker
    if worker is not None:
        worker.wake()


def current_actor() -> Actor:
    return Actor.of(
        current_user,
        request_id=g.get("request_id"),
        ip=request.remote_addr if request else None,
    )


class DocumentWorker:
    """Renders pending documents in a background thread of this process (embedded mode)."""

    def __init__(self, rt: Runtime, interval: float = 5.0) -> None:
        self._rt = rt
        self._interval = interval
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cascade-documents", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        from grants.services.documents import drain
        from grants.services.mail import deliver_pending

        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                drain(self._rt.sessions, self._rt.storage)
            except Exception:  # keep the thread alive; the jobs stay pending
                log.exception("document worker pass failed")
            try:  # after the drain: a receipt goes out once its PDF is rendered
                deliver_pending(self._rt.sessions, self._rt.config)
            except Exception:  # the messages stay in the outbox for a later pass
                log.exception("mail delivery pass failed")


def create_app(config: Config | None = None) -> Flask:
    config = config or Config()
    app = Flask(__name__)
    app.config.update(config.flask_settings())
    engine = make_engine(config.database_url)
    rt = Runtime(
        config=config,
        engine=engine,
        sessions=make_session_factory(engine),
        storage=DocumentStorage(config.document_root),
    )
    app.extensions["cascade"] = rt

    csrf.init_app(app)
    login_manager.init_app(app)

    @login_manager.user_loader
    def load_user(session_id: str) -> User | None:
        # "<user id>:<session version>": a raised version (logout everywhere, password
        # reset) invalidates every session that carries the old one.
        user_id, _, version = session_id.partition(":")
        if not user_id.isdigit() or not version.isdigit():
            return None
        user = db_session().get(User, int(user_id))
        if user is None or user.session_version != int(version):
            return None
        return user

    @app.before_request
    def assign_request_id() -> None:
        g.request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
        # Started by the first request, so CLI commands sharing this factory never spawn it.
        if config.inprocess_worker and not config.testing and rt.worker is None:
            with _worker_lock:
                if rt.worker is None:
                    rt.worker = DocumentWorker(rt)
                    rt.worker.start()

    @app.teardown_appcontext
    def close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    from grants.views import register_blueprints

    register_blueprints(app)
    from grants.auth import install_rate_limits

    install_rate_limits(app, config)
    from grants.cli import register_commands

    register_commands(app)
    return app
