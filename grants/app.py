"""The application factory: configuration, extensions, blueprints and commands."""

from __future__ import annotations

import logging
import threading
import uuid

from flask import Flask, g, has_request_context, request
from flask_babel import Babel, gettext
from flask_login import LoginManager
from flask_wtf import CSRFProtect

from documents.storage import open_storage
from grants.background import BackgroundWorker
from grants.config import Config
from grants.db import make_engine, make_session_factory
from grants.models import User
from grants.runtime import Runtime, db_session
from workflows import i18n as workflows_i18n

log = logging.getLogger(__name__)
csrf = CSRFProtect()
babel = Babel()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to continue."
_worker_lock = threading.Lock()


# The languages with a catalogue under grants/translations; English is the source language.
LANGUAGES = ("en",)


def select_locale() -> str | None:
    # Commands and workers (mails, reminders) have no request: the source language.
    if not has_request_context():
        return LANGUAGES[0]
    return request.accept_languages.best_match(LANGUAGES) or LANGUAGES[0]


def create_app(config: Config | None = None) -> Flask:
    config = config or Config()
    app = Flask(__name__)
    app.config.update(config.flask_settings())
    engine = make_engine(config.database_url)
    rt = Runtime(
        config=config,
        engine=engine,
        sessions=make_session_factory(engine),
        storage=open_storage(
            config.document_location(),
            endpoint_url=config.s3_endpoint_url,
            region=config.s3_region,
        ),
    )
    app.extensions["cascade"] = rt

    csrf.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    # Messages made in pure code (refusals, field errors) are translated as they are made.
    workflows_i18n.install(gettext)

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
                    rt.worker = BackgroundWorker(rt)
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
