"""The click-day baseline: a bare Flask + SQLAlchemy endpoint that inserts one row.

Served by gunicorn with the same settings as the real app (2 sync workers, same database):

    BARE_DATABASE_URL=postgresql://... gunicorn -w 2 bench.bare_app:app

``POST /submit/<n>`` inserts one row into a table of its own and redirects, as the real
submit does; no login, no CSRF, no rules. ``create_table(url)`` makes the table first (the
workers must not race to create it).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from flask import Flask, redirect, request
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert
from sqlalchemy.engine import Engine
from werkzeug.wrappers import Response

from grants.db import make_engine

metadata = MetaData()
submissions = Table(
    "bench_bare_submissions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("application", Integer, nullable=False),
    Column("token", String(64), nullable=False, unique=True),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
)


def create_table(url: str) -> None:
    engine = make_engine(url)
    metadata.create_all(engine)
    engine.dispose()


def create_bare_app(url: str) -> Flask:
    app = Flask(__name__)
    engine: Engine = make_engine(url)
    app.config["BENCH_ENGINE"] = engine

    @app.post("/submit/<int:number>")
    def submit(number: int) -> Response:
        with engine.begin() as connection:
            connection.execute(
                insert(submissions).values(
                    application=number,
                    token=request.form["submission_token"],
                    submitted_at=datetime.now(UTC),
                )
            )
        return redirect(f"/applications/{number}")

    @app.get("/health")
    def health() -> str:
        return "ok"

    return app


app = create_bare_app(os.environ.get("BARE_DATABASE_URL", "sqlite://"))
