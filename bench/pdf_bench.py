"""How fast the document outbox renders PDFs, against a naive WeasyPrint loop.

Enqueues BENCH_PDFS (default 60) real submission receipts through ``applications.submit``
in a fresh database, then renders them through the worker's own path (``drain`` with a pool
of CASCADE_RENDER_PROCESSES render processes, default one per core: batch claims, PDF/A-3b,
storage with fsync, results recorded). As the baseline, in the same run, the same documents'
HTML (``render_html``) goes through a bare ``HTML(string=html).write_pdf()`` loop in this one
process. Both sides are warm when timed (imports done, one render behind them; the pool's
processes started), so the figures are the steady state of a long-running worker, and both
run at the same CPU priority. Prints

    PDF pipeline: <X> PDFs/s (ratio <R> to naive WeasyPrint <Y> PDFs/s)

    python -m bench.pdf_bench
    CASCADE_RENDER_PROCESSES=1 python -m bench.pdf_bench
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python -m bench.pdf_bench
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from weasyprint import HTML

from bench.submit_bench import fresh_database, make_drafts
from documents.render import render_html
from documents.storage import DocumentStorage
from grants.cli import alembic_config
from grants.config import Config
from grants.db import make_engine, make_session_factory, unit_of_work
from grants.models import Document, DocumentStatus
from grants.services import applications
from grants.services.documents import DrainResult, RenderPool, drain


def _settle(factory: sessionmaker[Session], storage: DocumentStorage, pool: RenderPool) -> None:
    """Untimed: render (or give up on) whatever was pending before the bench's own jobs."""
    while drain(factory, storage, pool=pool) != DrainResult(0, 0):
        pass


def _enqueue_receipts(factory: sessionmaker[Session], n: int) -> list[str]:
    ids, actors = make_drafts(factory, n, f"pdf{uuid.uuid4().hex[:8]}")
    receipts = []
    for app_id, actor in zip(ids, actors, strict=True):
        with unit_of_work(factory) as session:
            result = applications.submit(session, actor, app_id)
            assert result.document is not None
            receipts.append(result.document.id)
    return receipts


def _naive(pages: list[str]) -> float:
    """Seconds for the bare loop over the documents' HTML, after one warm-up render."""
    HTML(string=pages[0]).write_pdf()
    start = time.perf_counter()
    for page in pages:
        HTML(string=page).write_pdf()
    return time.perf_counter() - start


def run(url: str) -> dict[str, Any]:
    """Measure against the database at ``url`` (migrated here); figures as numbers."""
    n = int(os.environ.get("BENCH_PDFS", "60"))
    processes = Config().render_processes
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    factory = make_session_factory(engine)
    try:
        with (
            tempfile.TemporaryDirectory() as folder,
            # At the baseline's priority: the worker nices its render processes below the
            # web ones, which here would make any other load on the machine weigh on one
            # side only.
            RenderPool(processes, niceness=0) as pool,
        ):
            storage = DocumentStorage(Path(folder))
            pool.warm_up()
            _settle(factory, storage, pool)
            receipts = _enqueue_receipts(factory, n)

            start = time.perf_counter()
            result = drain(factory, storage, pool=pool)
            pipeline_seconds = time.perf_counter() - start

            with factory() as session:
                rows = session.scalars(select(Document).where(Document.id.in_(receipts))).all()
            if result != DrainResult(rendered=n, failed=0) or any(
                row.status != DocumentStatus.READY for row in rows
            ):
                raise RuntimeError(f"the worker did not render the {n} receipts: {result}")
            pages = [render_html(row.kind, row.snapshot) for row in rows]
        naive_seconds = _naive(pages)
    finally:
        engine.dispose()
    pipeline_rate, naive_rate = n / pipeline_seconds, n / naive_seconds
    return {
        "backend": url.split(":", 1)[0],
        "documents": n,
        "processes": processes,
        "pipeline_pdfs_per_s": pipeline_rate,
        "naive_pdfs_per_s": naive_rate,
        "ratio": pipeline_rate / naive_rate,
        # The goal: the pipeline at least as fast as the naive loop.
        "goal": "≥ 1.0 of the naive loop",
        "met": pipeline_rate >= naive_rate,
    }


def line(figures: dict[str, Any]) -> str:
    return (
        f"PDF pipeline: {figures['pipeline_pdfs_per_s']:.1f} PDFs/s "
        f"(ratio {figures['ratio']:.2f} to naive WeasyPrint "
        f"{figures['naive_pdfs_per_s']:.1f} PDFs/s)"
    )


def main() -> str:
    with fresh_database() as url:
        text = line(run(url))
    print(text)
    return text


if __name__ == "__main__":
    main()
