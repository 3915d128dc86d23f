"""Render a document snapshot to HTML and to a PDF/A file with WeasyPrint.

The snapshot is the only input: it is taken when the workflow step happens and stored, so
rendering it again later gives the same document whatever the database says by then.
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import threading
import time
import traceback
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined, Environment, FileSystemLoader
from markupsafe import Markup
from weasyprint import CSS, HTML
from weasyprint.css import ColorProfile
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError, URLFetcher

from documents.kinds import TITLES, DocumentKind

__all__ = [
    "PDF_VARIANT",
    "REQUIRED_FIELDS",
    "DocumentRenderError",
    "SnapshotError",
    "prepare_render_process",
    "render_html",
    "render_outcome",
    "render_pdf",
]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
_BASE_URL = TEMPLATES_DIR.as_uri() + "/"
#: The documents' one stylesheet. render_pdf hands it to WeasyPrint already parsed;
#: render_html inlines it, so that the HTML on its own shows (and prints) the same document.
STYLESHEET = TEMPLATES_DIR / "document.css"
_STYLESHEET_TEXT = STYLESHEET.read_text(encoding="utf-8")

#: PDF/A-3b: archival, fonts embedded, and unlike PDF/A-1/2 it would allow attaching the
#: snapshot JSON to the PDF later without changing the variant.
PDF_VARIANT = "pdf/a-3b"

#: Fields without which a document is not a valid record: the EU visibility obligation
#: (programme name, disclaimer) and the identifiers an auditor looks a document up by.
#: Everything else, and every `details` key, is optional and renders as empty.
REQUIRED_FIELDS: tuple[tuple[str, str], ...] = (
    ("document", "id"),
    ("document", "generated_at"),
    ("programme", "name"),
    ("programme", "disclaimer"),
    ("call", "reference"),
    ("application", "reference"),
)

# PDF/A needs an output intent. WeasyPrint 70 builds its sRGB one from a file it never
# closes (a ResourceWarning per render, an error under this project's pytest settings), so
# we hand it the same ICC profile, read once, under our own name; a name other than
# "srgb" keeps WeasyPrint from opening the file again. Remove this once WeasyPrint closes it.
_SRGB_ICC: bytes = (files("weasyprint.pdf") / "sRGB2014.icc").read_bytes()
_OUTPUT_INTENT = "--cascade-srgb"


def _color_profiles() -> dict[str, ColorProfile]:
    # A fresh object per render: WeasyPrint stores the PDF object reference on it.
    profile = ColorProfile(
        io.BytesIO(_SRGB_ICC), "sRGB2014.icc", "relative-colorimetric", (["r"], ["g"], ["b"])
    )
    return {_OUTPUT_INTENT: profile}


_SECTIONS = ("document", "programme", "call", "application", "organisation", "event", "details")

# ChainableUndefined so that a missing optional key, even nested (`details.x.y`), renders as
# an empty string instead of crashing a job that runs long after the snapshot was taken.
# `finalize` does the same for JSON nulls, which Jinja would otherwise print as "None".
_env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    # Every sentence is marked for translation; the catalogues come with the languages.
    extensions=["jinja2.ext.i18n"],
    autoescape=True,
    undefined=ChainableUndefined,
    finalize=lambda value: "" if value is None else value,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)

_env.install_null_translations(newstyle=True)


class SnapshotError(ValueError):
    """The snapshot lacks a field every document must carry, or names another kind."""


class DocumentRenderError(RuntimeError):
    """WeasyPrint could not produce the PDF (for instance a template asked for a URL)."""


class _DataOnlyURLFetcher(URLFetcher):
    # Documents must render identically offline and years later, and snapshot text must
    # never make the worker reach the network or the filesystem: only inline data: URIs.
    # fail_on_errors turns a refused URL into an error instead of a silently missing image.
    def __init__(self) -> None:
        super().__init__(allowed_protocols={"data"}, allow_redirects=False, fail_on_errors=True)

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> Any:
        if not url.lower().startswith("data:"):
            raise ValueError(f"documents may only use data: URIs, refused {url[:80]!r}")
        return super().fetch(url, headers)


def _kind(kind: str) -> DocumentKind:
    # Validating against the enum also keeps `kind` from choosing an arbitrary template path.
    try:
        return DocumentKind(kind)
    except ValueError:
        raise SnapshotError(f"unknown document kind: {kind!r}") from None


def _context(kind: DocumentKind, snapshot: Mapping[str, Any]) -> dict[str, Any]:
    # The call guide and a ranked list belong to a call, not to any application.
    call_level = kind in (DocumentKind.CALL_GUIDE, DocumentKind.RANKED_LIST)
    required = [
        (section, field)
        for section, field in REQUIRED_FIELDS
        if not (call_level and section == "application")
    ]
    missing = [
        f"{section}.{field}"
        for section, field in required
        if not str((snapshot.get(section) or {}).get(field) or "").strip()
    ]
    if missing:
        raise SnapshotError(f"snapshot for {kind} lacks required field(s): {', '.join(missing)}")
    document = snapshot["document"]
    declared = document.get("kind")
    if declared and declared != kind.value:
        raise SnapshotError(f"snapshot is for {declared!r}, asked to render {kind.value!r}")

    context: dict[str, Any] = {section: snapshot.get(section) or {} for section in _SECTIONS}
    context["kind"] = kind.value
    context["title"] = document.get("title") or TITLES[kind]
    return context


def _html(kind: str, snapshot: Mapping[str, Any], *, inline_stylesheet: bool) -> str:
    document_kind = _kind(kind)
    template = _env.get_template(f"{document_kind.value}.html")
    context = _context(document_kind, snapshot)
    context["stylesheet"] = Markup(_STYLESHEET_TEXT) if inline_stylesheet else ""
    return template.render(context)


def render_html(kind: str, snapshot: Mapping[str, Any]) -> str:
    """Render the snapshot as the HTML that render_pdf prints, its stylesheet inlined: a
    standalone page for previews and tests."""
    return _html(kind, snapshot, inline_stylesheet=True)


class _Resources:
    """What every render can share, parsed once per thread (so once per worker process).

    A FontConfiguration gathers the system's fonts and caches Pango font maps and line
    metrics; the stylesheet's rules would otherwise be tokenised, validated and compiled
    into selectors at each render. Neither changes what is drawn: the bytes of a render are
    the same with fresh or reused ones (tests/unit/test_documents.py checks it). Per thread,
    because Pango objects are not thread-safe and a web process may render a call guide in
    a request thread while its outbox thread renders documents.
    """

    def __init__(self) -> None:
        self.font_config = FontConfiguration()
        # The same font_config as the render: @font-face rules (none yet) would register
        # their fonts in it.
        self.stylesheets = [
            CSS(
                string=_STYLESHEET_TEXT,
                base_url=_BASE_URL,
                url_fetcher=_DataOnlyURLFetcher(),
                font_config=self.font_config,
            )
        ]


_per_thread = threading.local()


def _shared() -> _Resources:
    """This thread's resources, made at its first render (not at import)."""
    resources: _Resources | None = getattr(_per_thread, "resources", None)
    if resources is None:
        resources = _per_thread.resources = _Resources()
    return resources


def render_pdf(kind: str, snapshot: Mapping[str, Any]) -> bytes:
    """Render the snapshot as a PDF/A-3b document and return its bytes.

    The PDF title metadata is "<title> <application reference>" (from the HTML <title>).
    """
    html = _html(kind, snapshot, inline_stylesheet=False)
    # PDF/A variants write a file identifier; deriving it from the document id (rather
    # than from the default content hash) keeps it stable across re-renders of a document.
    identifier = hashlib.md5(
        str(snapshot["document"]["id"]).encode(), usedforsecurity=False
    ).hexdigest()
    resources = _shared()
    try:
        return HTML(string=html, base_url=_BASE_URL, url_fetcher=_DataOnlyURLFetcher()).write_pdf(
            stylesheets=resources.stylesheets,
            font_config=resources.font_config,
            color_profiles=_color_profiles(),
            pdf_variant=PDF_VARIANT,
            pdf_identifier=identifier.encode(),
            output_intent=_OUTPUT_INTENT,
        )
    except FatalURLFetchingError as exc:
        # FatalURLFetchingError derives from BaseException; a worker's `except Exception`
        # would not catch it, so translate it into an ordinary error.
        raise DocumentRenderError(str(exc)) from exc


# -- in a render process ---------------------------------------------------------------------


def prepare_render_process(niceness: int = 0) -> None:
    """Set up a process that only renders (the initializer of a worker's process pool).

    Its parent handles Ctrl-C and stops the pool, so the process finishes its render instead
    of dying with a traceback; should the parent die without stopping it (SIGKILL, the OOM
    killer), the process ends too instead of waiting forever for work. ``niceness`` lowers
    its CPU priority below the web processes on a shared machine. One throw-away render
    loads fonts and stylesheet before any job.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if niceness:
        os.nice(niceness)
    threading.Thread(
        target=_exit_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True
    ).start()
    render_pdf(
        "call_guide",
        {
            "document": {"id": "warm-up", "generated_at": "-"},
            "programme": {"name": "-", "disclaimer": "-"},
            "call": {"reference": "-"},
        },
    )


def _exit_with_parent(parent: int, interval: float = 1.0) -> None:
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(1)  # orphaned: adopted by init (or a subreaper)


def render_outcome(kind: str, snapshot: Mapping[str, Any]) -> tuple[bytes | None, str | None]:
    """render_pdf for a render process: (the PDF, None) or (None, the error with its trace).

    Only bytes and text go back to the parent: an exception object might not survive
    pickling, and its traceback would be lost on the way.
    """
    try:
        return render_pdf(kind, snapshot), None
    except Exception:
        return None, traceback.format_exc(limit=5)
