"""Production serving: gunicorn runs the web app, outbox workers run beside it.

The web processes keep no state of their own: no PDF thread (documents and mail are the
outbox workers' job), rate-limit counters in RATELIMIT_STORAGE_URI (Redis with several
processes or nodes), documents under a shared DOCUMENT_ROOT, data in PostgreSQL. Several
machines can each run `cascade serve` against one database; `--outbox-workers 0` on some
of them leaves the rendering to others (`cascade worker` claims jobs with SKIP LOCKED).
Each outbox worker renders with CASCADE_RENDER_PROCESSES processes (default: one per core),
niced below the web processes so that a burst of PDFs yields the CPU to requests; stopping
the server stops them (SIGTERM lets the renders under way finish).
"""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from grants.config import Config

log = logging.getLogger(__name__)
# The `cascade worker` processes the gunicorn master started, stopped when it exits.
_outbox: list[subprocess.Popen[bytes]] = []


def web_config(config: Config | None = None) -> Config:
    """The settings of a web process: the embedded PDF thread is off."""
    return dataclasses.replace(config or Config(), inprocess_worker=False)


def _start_outbox_workers(count: int) -> None:
    for _ in range(count):
        # The same interpreter and environment as this server: same database and storage.
        _outbox.append(subprocess.Popen([sys.executable, "-m", "grants.cli", "worker"]))
    if count:
        log.info("started %d outbox worker(s)", count)


def _stop_outbox_workers() -> None:
    for process in _outbox:
        process.terminate()
    for process in _outbox:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    _outbox.clear()


class CascadeServer(BaseApplication):  # type: ignore[misc]  # gunicorn is untyped
    """gunicorn with the app factory; the master also supervises the outbox workers."""

    def __init__(self, options: dict[str, Any], outbox_workers: int) -> None:
        self.options = options
        self.outbox_workers = outbox_workers
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        self.cfg.set("when_ready", lambda _server: _start_outbox_workers(self.outbox_workers))
        self.cfg.set("on_exit", lambda _server: _stop_outbox_workers())

    def load(self) -> Flask:
        from grants import create_app

        return create_app(web_config())


def serve(host: str, port: int, *, workers: int, outbox_workers: int) -> None:
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "sync",
        "timeout": 60,
        # Each worker opens its own database connections after the fork, never the master's.
        "preload_app": False,
        "accesslog": "-",
    }
    CascadeServer(options, outbox_workers).run()
